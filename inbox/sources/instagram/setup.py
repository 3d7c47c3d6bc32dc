"""What the Instagram setup page asks for and how "test connection" checks it
(docs/sources/instagram.md). Instagram direct messages go through the Messenger Platform
with the access token of the Facebook Page linked to the Instagram professional account."""

from __future__ import annotations

from inbox.models import Inbox
from inbox.sources.messenger.platform import INSTAGRAM, account
from inbox.sources.messenger.setup import APP_SECRET_FIELD, HUMAN_AGENT_FIELD
from inbox.sources.setup import SetupField, SourceSetup

FIELDS = ("messages", "messaging_postbacks", "messaging_seen", "message_reactions")


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    found = account(INSTAGRAM, inbox, "id,username,name")
    who = f"@{found['username']}" if found.get("username") else str(found["id"])
    return (
        f"Connected to the Instagram account {who}. Meta sends its messages to the callback "
        f"URL set in the app's dashboard (Instagram webhooks: {', '.join(FIELDS)}), which "
        f"must be {webhook_url}"
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
            "instagram_basic, instagram_manage_messages and pages_messaging.",
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
        "Fill in the account ID, app ID, app secret and token here and press Test connection.",
    ),
)
