"""What the messaging platforms report about messages besides new ones: delivery statuses by
the provider's message id, reactions, messages the customer unsent, the business's own
messages sent from the platform's app (echoes), and SMS opt-outs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.actions.common import (
    add_activity,
    conversation_changed,
    lock_conversation,
    message_created,
    message_updated,
)
from inbox.actions.contacts import IdentityInput, find_or_create_contact, normalize_identity
from inbox.actions.messages import (
    AttachmentInput,
    _new_conversation,
    _preview,
    _store_attachments,
    set_delivery_status,
)
from inbox.events import writing
from inbox.models import Contact, ContactIdentity, Conversation, Inbox, Message, SmsOptOut


def provider_message(inbox: Inbox, provider_id: str) -> Message | None:
    """The message this inbox stored under the provider's id (ours or the customer's)."""
    if not provider_id:
        return None
    return Message.objects.filter(inbox=inbox, external_id=provider_id[:255]).first()


def record_provider_status(
    *, inbox: Inbox, provider_id: str, status: str, error: str = ""
) -> Message | None:
    """A status report (sent, delivered, read, failed) for one of our messages, by the
    provider's id. Reports may come in any order (set_delivery_status keeps the furthest).
    Returns None when no message of this inbox has that id, or its sending is not finished
    (yet): the caller tries the report again later."""
    message = provider_message(inbox, provider_id)
    if message is None or message.direction != Message.Direction.OUTGOING:
        return None
    if message.delivery_status == Message.Delivery.QUEUED and status != Message.Delivery.FAILED:
        # Its first part was taken, the rest is still being sent (or retried): moving it to
        # delivered now would stop the delivery task from sending the rest. Report later.
        return None
    if status == Message.Delivery.FAILED:
        # The provider took it, then failed it: a retry sends it again whole.
        with transaction.atomic():
            locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
            if locked.delivery_status != Message.Delivery.READ:
                locked.data = {**(locked.data or {}), "provider_failed": True}
                locked.save(update_fields=["data", "updated_at"])
    return set_delivery_status(message=message, status=status, error=error)


def remember_identity(*, contact_id: int, inbox: Inbox, value: str) -> bool:
    """Another provider id of this contact in this inbox (WhatsApp answers a send to a typed
    number with the customer's real WhatsApp id, which can differ: Brazil's ninth digit,
    Mexico's 52/521), so their answers thread to the same contact. Returns True when added;
    an id another contact already has is left to a merge."""
    if not value:
        return False
    try:
        with transaction.atomic():
            ContactIdentity.objects.get_or_create(
                kind=ContactIdentity.Kind.EXTERNAL,
                value=value[:255],
                inbox=inbox,
                defaults={"contact_id": contact_id},
            )
    except IntegrityError:
        return False
    return True


def react_to_message(*, message: Message, emoji: str, by: str = "customer") -> Message:
    """A reaction on a message (`by`: "customer" or "business"); an empty emoji removes it.
    Shown on the message in the thread."""
    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        data = dict(message.data or {})
        reactions = dict(data.get("reactions") or {})
        if emoji:
            reactions[by] = emoji[:16]
        elif by in reactions:
            del reactions[by]
        else:
            return message
        data["reactions"] = reactions
        message.data = data
        message.save(update_fields=["data", "updated_at"])
        message_updated(message)
    return message


def unsend_message(*, message: Message, at: datetime | None = None) -> Message:
    """The customer deleted ("unsent") a message on their platform: its words and files go,
    as the customer asked; agents keep a line saying a message was there and was unsent."""
    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        if message.direction != Message.Direction.INCOMING or (message.data or {}).get("unsent_at"):
            return message
        for attachment in message.attachments.all():
            attachment.file.delete(save=False)
            attachment.delete()
        data = {
            key: value
            for key, value in (message.data or {}).items()
            if key not in ("original_text", "raw")
        }
        data["unsent_at"] = (at or timezone.now()).isoformat()
        words = _preview(message.text)
        message.text, message.html, message.data = "", "", data
        message.save(update_fields=["text", "html", "data", "updated_at"])
        conversation = lock_conversation(message.conversation_id)
        if words and conversation.last_message_preview == words:  # its words were the preview
            conversation.last_message_preview = "(message unsent by the customer)"
            conversation.save(update_fields=["last_message_preview", "updated_at"])
            conversation_changed(conversation, changes=["last_message_preview"])
        message_updated(message)
    return message


def append_to_inbound_message(
    *, message: Message, attachments: Sequence[AttachmentInput], text: str = "", part_id: str
) -> Message:
    """Another part of one customer message (a Telegram media group: several photos sent
    together arrive as separate updates): its files join the stored message, its text is
    appended. Idempotent on `part_id` (kept in data["parts"])."""
    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        data = dict(message.data or {})
        parts = list(data.get("parts") or [])
        if part_id in parts:
            return message
        data["parts"] = [*parts, part_id]
        _store_attachments(message, attachments)
        if text and text not in message.text:
            message.text = f"{message.text}\n{text}" if message.text else text
        message.data = data
        message.save(update_fields=["text", "data", "updated_at"])
        message_updated(message)
    return message


def record_echo(
    *,
    inbox: Inbox,
    identity: IdentityInput,
    text: str,
    external_id: str,
    via: str,
    attachments: Sequence[AttachmentInput] = (),
    sent_at: datetime | None = None,
    data: dict[str, object] | None = None,
) -> Message | None:
    """A message the business sent to the customer from the platform's own app (a
    Messenger/Instagram echo, WhatsApp coexistence): stored as an outgoing message, sent, no
    agent. Idempotent on `external_id`: the echo of a message Parley sent itself is already
    stored under that id and is not stored again (no loop). Returns the new message or
    None when it was already stored."""
    if not external_id:
        raise ValueError("an echo needs the provider's message id")
    if provider_message(inbox, external_id) is not None:
        return None
    at = sent_at or timezone.now()
    try:
        with writing():
            contact = find_or_create_contact(inbox=inbox, identity=identity)
            latest = (
                Conversation.objects.filter(inbox=inbox, contact=contact)
                .order_by("-last_activity_at", "-id")
                .values_list("pk", flat=True)
                .first()
            )
            if latest is None:
                conversation = _new_conversation(inbox=inbox, contact=contact, subject="", at=at)
                new = True
            else:
                conversation, new = lock_conversation(latest), False
            message = Message.objects.create(
                conversation=conversation,
                inbox=inbox,
                direction=Message.Direction.OUTGOING,
                text=text,
                external_id=external_id[:255],
                delivery_status=Message.Delivery.SENT,
                created_at=at,
                data={"echo": True, "sent_via": via, **(data or {})},
            )
            stored = _store_attachments(message, attachments)
            conversation.last_activity_at = max(conversation.last_activity_at, at)
            conversation.last_message_preview = _preview(text) or "(attachment)"
            conversation.save()
            if new:
                conversation_changed(conversation, kind="conversation.created")
                message_created(message, attachments=stored)
            else:
                message_created(
                    message,
                    attachments=stored,
                    conversation=conversation,
                    changes=["last_activity_at"],
                )
    except IntegrityError:
        return None  # stored meanwhile by our own send or another delivery of the echo
    return message


def set_sms_opt_out(*, inbox: Inbox, phone: str, opted_out: bool, keyword: str = "") -> bool:
    """A number opted out of (STOP, or the provider's signal) or back into (START) messages
    from this SMS inbox. An activity line tells agents in the contact's latest conversation.
    Returns True when the state changed."""
    phone = normalize_identity("phone", phone)
    with writing():
        if opted_out:
            try:
                with transaction.atomic():
                    SmsOptOut.objects.create(inbox=inbox, phone=phone, keyword=keyword[:40])
            except IntegrityError:
                return False
        elif not SmsOptOut.objects.filter(inbox=inbox, phone=phone).delete()[0]:
            return False
        contact = Contact.objects.filter(phone=phone, merged_into__isnull=True).first()
        latest = (
            Conversation.objects.filter(inbox=inbox, contact=contact)
            .order_by("-last_activity_at", "-id")
            .values_list("pk", flat=True)
            .first()
            if contact
            else None
        )
        if latest is not None:
            conversation = lock_conversation(latest)
            text = (
                f"Opted out of SMS from this inbox ({keyword or 'provider signal'}): "
                "nothing can be sent until they text START"
                if opted_out
                else f"Opted back in to SMS from this inbox ({keyword or 'provider signal'})"
            )
            add_activity(
                conversation=conversation,
                actor=None,
                text=text,
                data={"verb": "sms_opt_out" if opted_out else "sms_opt_in"},
            )
        if contact is not None:
            from inbox.actions.contacts import _contact_changed

            _contact_changed(contact)
    return True


__all__ = [
    "append_to_inbound_message",
    "provider_message",
    "react_to_message",
    "record_echo",
    "record_provider_status",
    "remember_identity",
    "set_sms_opt_out",
    "unsend_message",
]
