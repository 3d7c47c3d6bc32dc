"""An agent's reply to a website visitor. The visitor's socket already received it with the
event (the `chat.<id>` stream); delivering marks it `delivered` when one of the visitor's
widgets is open now, else `sent` (the widget shows it on their next visit)."""

from __future__ import annotations

from inbox.models import Message, WidgetVisitor


def deliver_widget_message(message: Message) -> str:
    from inbox.actions import set_delivery_status

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"
    online = WidgetVisitor.objects.filter(
        inbox_id=message.inbox_id,
        contact_id=message.conversation.contact_id,
        online=True,
        revoked_at=None,
    ).exists()
    status = Message.Delivery.DELIVERED if online else Message.Delivery.SENT
    set_delivery_status(message=message, status=status)
    return status
