"""Source adapters, one package per channel. `deliver()` hands an outgoing message to the
adapter of its inbox's kind."""

from __future__ import annotations

from inbox.models import Inbox, Message


def deliver(message: Message) -> str:
    from inbox.sources.api.outbound import deliver_api_message
    from inbox.sources.email.outbound import deliver_email_message
    from inbox.sources.telegram.outbound import deliver_telegram_message
    from inbox.sources.widget.outbound import deliver_widget_message

    if message.inbox.kind == Inbox.Kind.API:
        return deliver_api_message(message)
    if message.inbox.kind == Inbox.Kind.EMAIL:
        return deliver_email_message(message)
    if message.inbox.kind == Inbox.Kind.TELEGRAM:
        return deliver_telegram_message(message)
    if message.inbox.kind == Inbox.Kind.WIDGET:
        return deliver_widget_message(message)
    return "no adapter"
