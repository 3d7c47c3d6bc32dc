"""The WhatsApp inbox's setup page (rendered by inbox/web/messaging_views.py)."""

from __future__ import annotations

from inbox.models import Inbox
from inbox.sources.meta import Graph, GraphError
from inbox.sources.setup import ConnectionProblem, SetupField, SourceSetup


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    """Read the phone number from the Cloud API, then sync the templates."""
    from inbox.actions.templates import store_templates
    from inbox.sources.whatsapp import templates

    number = str((inbox.settings or {}).get("phone_number_id") or "")
    graph = Graph(str(inbox.get_secrets().get("access_token") or ""))
    try:
        phone = graph.request(
            graph.url(number, {"fields": "display_phone_number,verified_name,quality_rating"}),
            method="GET",
        )
        count = store_templates(inbox=inbox, rows=templates.fetch(inbox))
    except GraphError as exc:
        raise ConnectionProblem(f"WhatsApp answered: {exc}") from exc
    name = phone.get("verified_name") or "(no verified name)"
    shown = phone.get("display_phone_number") or number
    plural = "" if count == 1 else "s"
    return f"Connected to “{name}” ({shown}); {count} message template{plural} synced."


SETUP = SourceSetup(
    kind=Inbox.Kind.WHATSAPP,
    fields=(
        SetupField(
            "phone_number_id",
            "Phone number id",
            "WhatsApp Manager → API setup: the id of the number, not the number itself.",
        ),
        SetupField(
            "business_account_id",
            "WhatsApp Business Account id",
            "Where the message templates live (synced by “Test connection”).",
        ),
        SetupField(
            "access_token",
            "Access token",
            "A system user's permanent token with whatsapp_business_messaging and "
            "whatsapp_business_management.",
            secret=True,
        ),
        SetupField(
            "app_secret",
            "App secret",
            "Meta app → Settings → Basic. Every webhook delivery is checked with it.",
            secret=True,
        ),
        SetupField(
            "list_button_label",
            "List button label",
            "The button that opens a list of 4 to 10 quick replies, in your customers' "
            "language (at most 20 characters). Empty: “Choose”.",
            required=False,
        ),
    ),
    webhook_url_name="whatsapp:webhook",
    test_connection=test_connection,
    docs="docs/sources/whatsapp.md",
    verify_token=True,
    steps=(
        "In your Meta app, add the WhatsApp product and a phone number.",
        "Fill in the ids, the access token and the app secret below, and save.",
        "In the app's WhatsApp → Configuration, paste the callback URL and the verify "
        "token shown here, then subscribe to the “messages” field (and "
        "“message_template_status_update”, “smb_message_echoes” if you use the app too).",
        "Press “Test connection”: it reads the number and syncs your templates.",
    ),
)
