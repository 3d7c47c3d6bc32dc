"""What Messenger and Instagram direct messages share: both are Meta's Messenger Platform,
with the same webhook deliveries (`entry[].messaging[]`), the same Send API
(`POST /me/messages` with the Page access token) and the same 24-hour window and message
tags. A `Platform` says what differs; receiving.py (with content.py) and sending.py do the
work for both, and inbox/sources/instagram/ only describes Instagram's `Platform`.

The inbox's settings: the account id (`page_id` or `instagram_account_id`), `app_id` (so
the echo of a message Parley sent is recognised as ours), `human_agent_tag`. Its secrets:
`app_secret`, `access_token` (a Page access token), `verify_token`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from inbox.models import Inbox
from inbox.sources.http import DeliveryRefused
from inbox.sources.meta import Graph, GraphError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platform:
    kind: str  # Inbox.Kind
    name: str  # shown to agents: "Messenger refused it: …"
    account_setting: str  # the inbox setting holding the id Meta puts in entry[].id
    account_label: str  # "Page", "Instagram account"
    echo_via: str  # what agents read under a message the business sent from Meta's apps
    profile_fields: str  # the Graph API fields of a customer's profile
    max_text: int
    text_limit_in_bytes: bool  # Instagram counts UTF-8 bytes, Messenger characters
    max_file_bytes: dict[str, int]  # by Send API attachment type
    image_types: frozenset[str]  # sent as "image"; other images go as files (Messenger)
    file_types: frozenset[str] | None  # what a "file" may be; None: anything
    # Messenger gives back `message.metadata` in the echo of our send: "parley:<message id>"
    # tells it apart even before its Send API answer is recorded. Instagram has no metadata.
    send_metadata: bool

    def account_id(self, inbox: Inbox) -> str:
        return str((inbox.settings or {}).get(self.account_setting) or "").strip()

    def graph(self, inbox: Inbox) -> Graph:
        return Graph(str(inbox.get_secrets().get("access_token") or ""))

    def text_too_long(self, text: str) -> str | None:
        if self.text_limit_in_bytes:
            size = len(text.encode())
            if size > self.max_text:
                return (
                    f"{self.name} messages are limited to {self.max_text} bytes "
                    f"(this one is {size}): shorten it or send it in parts"
                )
        elif len(text) > self.max_text:
            return (
                f"{self.name} messages are limited to {self.max_text} characters "
                f"(this one has {len(text)}): shorten it or send it in parts"
            )
        return None

    def refusal(self, exc: GraphError) -> str:
        """What agents read when Meta refused a send for good."""
        words = str(exc)
        lower = words.lower()
        hint = ""
        # 2018278: outside the allowed window; 2018108/2018109: a tag not allowed here.
        if exc.subcode in (2018278, 2018108, 2018109) or "window" in lower:
            hint = (
                "The 24-hour window has closed on Meta's side: send with a message tag "
                "(Human agent, when allowed) or wait for the customer to write again."
            )
        elif exc.code == 551 or "isn't available" in lower:
            hint = (
                "The customer cannot receive messages from you now: they may have blocked "
                f"the {self.account_label} or deactivated their account."
            )
        elif exc.code == 190:
            hint = (
                "The Page access token expired or was revoked: an admin must paste a new "
                "one in the inbox's settings."
            )
        elif exc.code == 10 or 200 <= exc.code < 300:
            hint = "The access token lacks a permission Meta requires for sending messages."
        refused = f"{self.name} refused it: {words}"
        if not hint:
            return refused
        return f"{refused}{' ' if refused.endswith('.') else '. '}{hint}"


MESSENGER = Platform(
    kind=Inbox.Kind.MESSENGER,
    name="Messenger",
    account_setting="page_id",
    account_label="Page",
    echo_via="Messenger app",
    profile_fields="first_name,last_name",
    max_text=2000,
    text_limit_in_bytes=False,
    max_file_bytes={"image": 25 << 20, "audio": 25 << 20, "video": 25 << 20, "file": 25 << 20},
    image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
    file_types=None,
    send_metadata=True,
)

INSTAGRAM = Platform(
    kind=Inbox.Kind.INSTAGRAM,
    name="Instagram",
    account_setting="instagram_account_id",
    account_label="Instagram account",
    echo_via="Instagram app",
    profile_fields="name,username",
    max_text=1000,
    text_limit_in_bytes=True,
    # https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    max_file_bytes={"image": 8 << 20, "audio": 25 << 20, "video": 25 << 20, "file": 25 << 20},
    image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
    file_types=frozenset({"application/pdf"}),
    send_metadata=False,
)

PLATFORMS = {MESSENGER.kind: MESSENGER, INSTAGRAM.kind: INSTAGRAM}


def profile(platform: Platform, inbox: Inbox, user_id: str) -> dict[str, Any]:
    """The customer's public profile (name; Instagram username), or {} when Meta will not
    say (no permission, the user's privacy settings, an outage): never worth failing a
    message for."""
    graph = platform.graph(inbox)
    if not graph.token:
        return {}
    try:
        return graph.request(graph.url(user_id, {"fields": platform.profile_fields}), method="GET")
    except (GraphError, DeliveryRefused) as exc:
        logger.info("%s profile of %s not fetched: %s", platform.name, user_id, exc)
        return {}


def account(platform: Platform, inbox: Inbox, fields: str) -> dict[str, Any]:
    """The inbox's Page / Instagram account as the Graph API sees it with the inbox's token,
    and a check that the token's app is the inbox's `app_id`. Raises ConnectionProblem with
    Meta's words."""
    from inbox.sources.setup import ConnectionProblem

    account_id = platform.account_id(inbox)
    graph = platform.graph(inbox)
    if not account_id or not graph.token:
        raise ConnectionProblem(
            f"Fill in the {platform.account_label} ID and the Page access token first."
        )
    try:
        found = graph.request(graph.url(account_id, {"fields": fields}), method="GET")
    except (GraphError, DeliveryRefused) as exc:
        raise ConnectionProblem(
            f"Meta did not accept the {platform.account_label} ID or the access token: {exc}"
        ) from exc
    if str(found.get("id") or "") != account_id:
        raise ConnectionProblem(
            f"Meta answered for {found.get('id') or 'nothing'}, not {platform.account_label} "
            f"{account_id}: check the ID."
        )
    app_id = str((inbox.settings or {}).get("app_id") or "").strip()
    if app_id:
        try:
            app = graph.request(graph.url("app", {"fields": "id,name"}), method="GET")
        except (GraphError, DeliveryRefused):
            app = {}  # not every token may read its app: the check is a courtesy
        if app.get("id") and str(app["id"]) != app_id:
            raise ConnectionProblem(
                f"The access token belongs to the Meta app {app['id']} "
                f"({app.get('name') or 'no name'}), not to the app ID {app_id} given here. "
                "Parley tells its own messages from the business's by the app ID: fix one."
            )
    return found
