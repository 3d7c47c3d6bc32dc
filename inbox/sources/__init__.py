"""Source adapters, one package per channel. `deliver()` hands an outgoing message to the
adapter of its inbox's kind; inbox/sources/webhooks.py hands a provider's webhook delivery to
its parser."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.module_loading import import_string

from inbox.models import Inbox, Message

DELIVERERS: dict[str, str] = {
    Inbox.Kind.API: "inbox.sources.api.outbound.deliver_api_message",
    Inbox.Kind.EMAIL: "inbox.sources.email.outbound.deliver_email_message",
    Inbox.Kind.WIDGET: "inbox.sources.widget.outbound.deliver_widget_message",
    Inbox.Kind.TELEGRAM: "inbox.sources.telegram.outbound.deliver_telegram_message",
    Inbox.Kind.WHATSAPP: "inbox.sources.whatsapp.outbound.deliver",
    Inbox.Kind.MESSENGER: "inbox.sources.messenger.outbound.deliver",
    Inbox.Kind.INSTAGRAM: "inbox.sources.instagram.outbound.deliver",
    Inbox.Kind.SMS: "inbox.sources.sms.outbound.deliver",
}


def deliver(message: Message) -> str:
    path = DELIVERERS.get(message.inbox.kind)
    if path is None:
        return "no adapter"
    adapter: Callable[[Message], str] = import_string(path)
    return adapter(message)
