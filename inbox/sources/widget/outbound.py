"""An agent's reply to a website visitor. The visitor's socket already received it with the
event (the `chat.<id>` stream). Delivering marks it `delivered` when one of the visitor's
widgets is open now. When none is and the visitor left an email address, and the widget
inbox names an email inbox for this (`email_inbox_id`), the reply is emailed through that
inbox (retries, failures and the reply address as for any email); their answer by email
comes back into this conversation (inbox/sources/email/inbound.py). Otherwise it is `sent`:
the widget shows it on their next visit."""

from __future__ import annotations

from inbox.models import Inbox, Message, WidgetVisitor
from inbox.sources.widget.config import config_for


def deliver_widget_message(message: Message) -> str:
    from inbox.actions import set_delivery_status
    from inbox.sources.email.outbound import deliver_email_message

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"
    online = WidgetVisitor.objects.filter(
        WidgetVisitor.online_q(),
        inbox_id=message.inbox_id,
        contact_id=message.conversation.contact_id,
    ).exists()
    if online:
        set_delivery_status(message=message, status=Message.Delivery.DELIVERED)
        return "delivered to the open chat"
    email_inbox_id = config_for(message.inbox).email_inbox_id
    via = (
        Inbox.objects.filter(pk=email_inbox_id, kind=Inbox.Kind.EMAIL, is_active=True).first()
        if email_inbox_id
        else None
    )
    if via is not None and message.conversation.contact.email:
        return "by email: " + deliver_email_message(message, via=via)
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return "sent (shown on their next visit)"
