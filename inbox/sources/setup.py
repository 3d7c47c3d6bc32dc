"""What each messaging source's setup page asks for (inbox/web/messaging_views.py renders
it): the fields, which of them are secrets, the webhook URL and verify token to copy into
the provider's dashboard, and "test connection", which calls the provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.module_loading import import_string

from inbox.models import Inbox


class ConnectionProblem(Exception):
    """The provider did not accept the inbox's settings (the message says what to fix)."""


@dataclass(frozen=True)
class SetupField:
    name: str
    label: str
    help: str = ""
    secret: bool = False  # kept encrypted in the inbox's secrets; left blank on edit: kept
    required: bool = True
    kind: str = "text"  # text, or checkbox


@dataclass(frozen=True)
class SourceSetup:
    kind: str
    fields: tuple[SetupField, ...]
    webhook_url_name: str  # a URL name taking `inbox_id` (the inbox's public id)
    # test_connection(inbox, webhook_url) calls the provider with the inbox's settings (and
    # may register the webhook URL, as Telegram's setWebhook); returns a line saying what
    # worked; raises ConnectionProblem.
    test_connection: Callable[[Inbox, str], str]
    docs: str  # e.g. "docs/sources/whatsapp.md"
    # Meta's subscription handshake: a verify token is generated and shown to copy.
    verify_token: bool = False
    # Secrets generated when the inbox is created, e.g. Telegram's webhook secret token.
    generated_secrets: tuple[str, ...] = ()
    # Steps shown above the form, one per line.
    steps: tuple[str, ...] = ()


SETUPS: dict[str, str] = {
    Inbox.Kind.WHATSAPP: "inbox.sources.whatsapp.setup.SETUP",
    Inbox.Kind.MESSENGER: "inbox.sources.messenger.setup.SETUP",
    Inbox.Kind.INSTAGRAM: "inbox.sources.instagram.setup.SETUP",
    Inbox.Kind.TELEGRAM: "inbox.sources.telegram.setup.SETUP",
    Inbox.Kind.SMS: "inbox.sources.sms.setup.SETUP",
}


def setup_for(kind: str) -> SourceSetup | None:
    path = SETUPS.get(kind)
    if path is None:
        return None
    setup: SourceSetup = import_string(path)
    return setup
