"""The Telegram inbox's setup page (rendered from SETUP by the generic messaging setup view):
one field, the bot token, and "test connection", which checks the token with `getMe` and
then points the bot's webhook at this inbox with `setWebhook` (URL, the generated secret
token, and the update types Parley reads)."""

from __future__ import annotations

from inbox.models import Inbox
from inbox.sources.http import DeliveryRefused
from inbox.sources.setup import ConnectionProblem, SetupField, SourceSetup
from inbox.sources.telegram.api import Reply, bot_call

# message_reaction is not sent unless asked for; the others are what inbound.py reads.
ALLOWED_UPDATES = ("message", "edited_message", "message_reaction")


def _problem(step: str, reply: Reply) -> ConnectionProblem:
    if reply.status == 0:
        return ConnectionProblem(f"Telegram could not be reached ({step}): {reply.description}")
    if reply.status in (401, 404) and step == "getMe":
        return ConnectionProblem(
            f"Telegram does not know this bot token ({reply.description}). Copy the token "
            "@BotFather gave you again (/mybots → your bot → API Token)."
        )
    return ConnectionProblem(f"Telegram refused {step}: {reply.description}")


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    """getMe, then setWebhook. Raises ConnectionProblem with Telegram's words."""
    secrets = inbox.get_secrets()
    token = str(secrets.get("bot_token") or "").strip()
    secret = str(secrets.get("webhook_secret") or "")
    if not token:
        raise ConnectionProblem("Enter the bot token @BotFather gave you.")
    if not secret:
        raise ConnectionProblem("This inbox has no webhook secret: save it again to make one.")
    try:
        me = bot_call(token, "getMe")
        if not me.ok:
            raise _problem("getMe", me)
        hooked = bot_call(
            token,
            "setWebhook",
            {"url": webhook_url, "secret_token": secret, "allowed_updates": list(ALLOWED_UPDATES)},
        )
    except DeliveryRefused as exc:
        raise ConnectionProblem(f"Parley will not call TELEGRAM_API_URL: {exc}") from exc
    if not hooked.ok:
        raise _problem("setWebhook", hooked)
    result = me.result if isinstance(me.result, dict) else {}
    name = (
        f"@{result['username']}"
        if result.get("username")
        else str(result.get("first_name") or "the bot")
    )
    return f"Connected to {name}; Telegram now sends its updates to {webhook_url}"


SETUP = SourceSetup(
    kind="telegram",
    fields=(
        SetupField(
            "bot_token",
            "Bot token",
            help="From @BotFather, e.g. 123456789:AAE…; kept encrypted.",
            secret=True,
        ),
    ),
    webhook_url_name="telegram:webhook",
    test_connection=test_connection,
    docs="docs/sources/telegram.md",
    generated_secrets=("webhook_secret",),
    steps=(
        "In Telegram, open @BotFather and send /newbot (or /mybots to pick an existing bot).",
        "Choose the bot's name and username; BotFather answers with its token.",
        "Paste the token below and save.",
        "Press “Test connection”: Parley checks the token and tells Telegram to send the "
        "bot's messages to this inbox (setWebhook, with a secret only Telegram and Parley "
        "know).",
        "Write to your bot in Telegram: the message appears in this inbox.",
    ),
)
