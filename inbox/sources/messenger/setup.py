"""What the Messenger setup page asks for and how "test connection" checks it
(docs/sources/messenger.md)."""

from __future__ import annotations

from inbox.models import Inbox
from inbox.sources.messenger.platform import MESSENGER, account
from inbox.sources.meta import GraphError
from inbox.sources.setup import ConnectionProblem, SetupField, SourceSetup

# The Page's webhook fields Parley reads (the same list is ticked in the app's dashboard).
FIELDS = (
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "message_reactions",
    "message_edits",
    "messaging_postbacks",
)


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    """Reads the Page with the token, then subscribes the Page to the app's webhook for
    FIELDS (`POST /{page-id}/subscribed_apps`): without it Meta sends nothing even when
    the app's webhook is verified."""
    page = account(MESSENGER, inbox, "id,name")
    graph = MESSENGER.graph(inbox)
    try:
        graph.request(f"{page['id']}/subscribed_apps", {"subscribed_fields": ",".join(FIELDS)})
    except GraphError as exc:
        raise ConnectionProblem(
            f"The Page {page.get('name') or page['id']} was found, but subscribing it to the "
            f"app's webhook failed: {exc}. The token needs the pages_messaging and "
            "pages_manage_metadata permissions."
        ) from exc
    return (
        f"Connected to the Page {page.get('name') or page['id']}, subscribed to "
        f"{', '.join(FIELDS)}. Meta sends them to the callback URL set in the app's "
        f"dashboard, which must be {webhook_url}"
    )


# What the Messenger and Instagram setups share (instagram/setup.py uses them too).
HUMAN_AGENT_FIELD = SetupField(
    "human_agent_tag",
    "The app has the Human Agent permission",
    help="Lets agents answer up to 7 days after the customer wrote, with the "
    "HUMAN_AGENT tag. Tick it only once Meta has approved the permission.",
    required=False,
    kind="checkbox",
)
APP_SECRET_FIELD = SetupField(
    "app_secret",
    "App secret",
    help="App dashboard → App settings → Basic. Checks that deliveries come from Meta.",
    secret=True,
)


SETUP = SourceSetup(
    kind=Inbox.Kind.MESSENGER,
    fields=(
        SetupField(
            "page_id",
            "Page ID",
            help="The Facebook Page's ID (Page settings → About → Page transparency, or the "
            "Page's entry in the app dashboard's Messenger settings).",
        ),
        SetupField(
            "app_id",
            "App ID",
            help="The Meta app's ID (App dashboard → App settings → Basic). Parley uses it to "
            "tell its own replies from those written in the Page inbox.",
        ),
        HUMAN_AGENT_FIELD,
        APP_SECRET_FIELD,
        SetupField(
            "access_token",
            "Page access token",
            help="A long-lived Page access token with pages_messaging "
            "(Messenger settings → Access tokens → Generate).",
            secret=True,
        ),
    ),
    webhook_url_name="messenger:webhook",
    test_connection=test_connection,
    docs="docs/sources/messenger.md",
    verify_token=True,
    steps=(
        "Create a Meta app of the Business type and add the Messenger product.",
        "In Messenger settings, connect the Page and generate its access token.",
        "In Webhooks, paste the callback URL and verify token shown here, then subscribe to "
        "messages, message_echoes, message_deliveries, message_reads, message_reactions, "
        "message_edits and messaging_postbacks.",
        "Fill in the Page ID, app ID, app secret and token here and press Test connection: "
        "it subscribes the Page to the app.",
    ),
)
