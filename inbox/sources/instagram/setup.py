"""What the Instagram setup page asks for and how "test connection" checks it
(docs/sources/instagram.md). Instagram direct messages go through the Messenger Platform
with the access token of the Facebook Page linked to the Instagram professional account."""

from __future__ import annotations

from inbox.models import Inbox
from inbox.sources.messenger.platform import INSTAGRAM, account
from inbox.sources.messenger.setup import APP_SECRET_FIELD, HUMAN_AGENT_FIELD
from inbox.sources.meta import GraphError
from inbox.sources.setup import ConnectionProblem, SetupField, SourceSetup

FIELDS = ("messages", "messaging_postbacks", "messaging_seen", "message_reactions")


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    """Reads the account, then finds the Facebook Page the token is for (a Page token's
    `me`), checks it is the one linked to the account, and subscribes it to the app
    (`POST /{page-id}/subscribed_apps`): Meta sends Instagram messages only for accounts
    whose Page has enabled subscriptions."""
    found = account(INSTAGRAM, inbox, "id,username,name")
    who = f"@{found['username']}" if found.get("username") else str(found["id"])
    graph = INSTAGRAM.graph(inbox)
    try:
        page = graph.request(
            graph.url("me", {"fields": "id,name,instagram_business_account"}), method="GET"
        )
    except GraphError as exc:
        raise ConnectionProblem(f"Meta did not say which Page the token is for: {exc}") from exc
    linked = str((page.get("instagram_business_account") or {}).get("id") or "")
    if linked and linked != found["id"]:
        raise ConnectionProblem(
            f"The token is the Page {page.get('name') or page.get('id')}'s, which is linked "
            f"to the Instagram account {linked}, not {found['id']}: use the token of the Page "
            f"linked to {who}."
        )
    try:
        graph.request(f"{page['id']}/subscribed_apps", {"subscribed_fields": "messages"})
    except (GraphError, KeyError) as exc:
        raise ConnectionProblem(
            f"{who} was found, but subscribing its Page to the app's webhook failed: {exc}. "
            "The token needs the pages_messaging and pages_manage_metadata permissions."
        ) from exc
    return (
        f"Connected to the Instagram account {who} (Page {page.get('name') or page['id']}, "
        f"subscribed). Meta sends its messages to the callback URL set in the app's "
        f"dashboard (Instagram webhooks: {', '.join(FIELDS)}), which must be {webhook_url}"
    )


SETUP = SourceSetup(
    kind=Inbox.Kind.INSTAGRAM,
    fields=(
        SetupField(
            "instagram_account_id",
            "Instagram account ID",
            help="The Instagram professional account's ID (not its @username): shown in the "
            "app dashboard's Instagram settings, or GET /{page-id}?fields="
            "instagram_business_account.",
        ),
        SetupField(
            "app_id",
            "App ID",
            help="The Meta app's ID (App dashboard → App settings → Basic). Parley uses it to "
            "tell its own replies from those written in the Instagram app.",
        ),
        HUMAN_AGENT_FIELD,
        APP_SECRET_FIELD,
        SetupField(
            "access_token",
            "Page access token",
            help="The access token of the Facebook Page linked to the Instagram account, with "
            "instagram_basic, instagram_manage_messages, pages_messaging and "
            "pages_manage_metadata.",
            secret=True,
        ),
    ),
    webhook_url_name="instagram:webhook",
    test_connection=test_connection,
    docs="docs/sources/instagram.md",
    verify_token=True,
    steps=(
        "Make the Instagram account a professional (business or creator) account and link "
        "it to a Facebook Page.",
        "Create a Meta app of the Business type and add Messenger with Instagram settings.",
        "Generate the linked Page's access token in the app's Instagram settings.",
        "In Webhooks (Instagram object), paste the callback URL and verify token shown here, "
        "then subscribe to messages, messaging_postbacks, messaging_seen and "
        "message_reactions.",
        "In the Instagram app: Settings → Messages and story replies → Message controls → "
        "Connected tools: allow access to messages.",
        "Fill in the account ID, app ID, app secret and token here and press Test connection "
        "(it also subscribes the linked Page to the app, without which Meta sends nothing).",
    ),
)
