"""The JSON shapes of domain objects, shared by events and the REST API so that a client
handles one shape whatever carried it. Callers pass objects with their relations loaded
(see the `*_related` tuples) so building a payload does not query."""

from __future__ import annotations

from typing import Any

from inbox.models import Attachment, Contact, Conversation, Inbox, Label, Message
from inbox.sources.rules import reply_rules

CONVERSATION_SELECT = ("contact", "assignee", "team", "inbox")
CONVERSATION_PREFETCH = ("labels",)
MESSAGE_SELECT = ("sender_user", "sender_contact")
MESSAGE_PREFETCH = ("attachments",)


def _dt(value: Any) -> str | None:
    return value.isoformat() if value else None


def person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "name": user.name,
        "avatar_url": user.avatar.url if user.avatar else None,
    }


def label_payload(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "name": label.name, "color": label.color}


def contact_summary(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "name": contact.display_name,
        "email": contact.email,
        "phone": contact.phone,
        "is_vip": contact.is_vip,
        "is_blocked": contact.is_blocked,
    }


def contact_payload(contact: Contact) -> dict[str, Any]:
    return {
        **contact_summary(contact),
        "notes": contact.notes,
        "custom_attributes": contact.custom_attributes,
        "avatar_url": contact.avatar.url if contact.avatar else None,
        "identities": [
            {"kind": i.kind, "value": i.value, "inbox_id": i.inbox_id}
            for i in contact.identities.all()
        ],
        "created_at": _dt(contact.created_at),
        "updated_at": _dt(contact.updated_at),
    }


def inbox_summary(inbox: Inbox) -> dict[str, Any]:
    return {"id": inbox.pk, "name": inbox.name, "kind": inbox.kind}


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "number": conversation.number,
        "inbox": inbox_summary(conversation.inbox),
        "contact": contact_summary(conversation.contact),
        "subject": conversation.subject,
        "status": conversation.status,
        "snoozed_until": _dt(conversation.snoozed_until),
        "priority": conversation.priority,
        "assignee": person(conversation.assignee),
        "team": (
            {"id": conversation.team.pk, "name": conversation.team.name}
            if conversation.team
            else None
        ),
        "labels": [label_payload(label) for label in conversation.labels.all()],
        "last_activity_at": _dt(conversation.last_activity_at),
        "waiting_since": _dt(conversation.waiting_since),
        "first_response_at": _dt(conversation.first_response_at),
        "resolved_at": _dt(conversation.resolved_at),
        "last_message_preview": conversation.last_message_preview,
        "last_incoming_message_id": conversation.last_incoming_message_id,
        "cc": conversation.cc,
        "needs_person": conversation.needs_person,
        # Messaging apps' 24-hour window and message tags (inbox/sources/rules.py).
        "reply_rules": reply_rules(conversation),
        "rating": (
            {
                "score": conversation.rating,
                "comment": conversation.rating_comment,
                "at": _dt(conversation.rated_at),
            }
            if conversation.rating
            else None
        ),
        "created_at": _dt(conversation.created_at),
        # Lets a client drop an answer older than what it already applied.
        "updated_at": _dt(conversation.updated_at),
    }


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "content_id": attachment.content_id,
        "inline": attachment.inline,
        "url": f"/api/v1/attachments/{attachment.pk}/download",
    }


def message_payload(
    message: Message, *, attachments: list[Attachment] | None = None
) -> dict[str, Any]:
    sender: dict[str, Any] | None
    if message.sender_user_id:
        sender = {"type": "agent", **(person(message.sender_user) or {})}
    elif message.sender_contact_id:
        assert message.sender_contact is not None
        sender = {
            "type": "contact",
            "id": message.sender_contact_id,
            "name": message.sender_contact.display_name,
        }
    else:
        sender = {"type": "system"}
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "inbox_id": message.inbox_id,
        "direction": message.direction,
        "kind": message.kind,
        "sender": sender,
        "text": message.text,
        "html": message.html,
        "attachments": [
            attachment_payload(a)
            for a in (message.attachments.all() if attachments is None else attachments)
        ],
        "external_id": message.external_id,
        "delivery_status": message.delivery_status or None,
        "delivery_error": message.delivery_error,
        "data": message.data,
        "created_at": _dt(message.created_at),
        "updated_at": _dt(message.updated_at),
    }


# ---------------------------------------------------------------- what a website visitor sees
# Never notes or activity lines, never agents' email addresses or internal data.


def visitor_attachment_url(inbox: Any, attachment_id: int) -> str:
    from django.core import signing

    # Timestamped: a link copied out of a visitor's chat stops working after a day (the
    # widget gets fresh links each time it loads the messages).
    token = signing.TimestampSigner(salt="widget-file").sign(str(attachment_id)).split(":", 1)[1]
    return f"/widget/v1/{inbox.public_id}/files/{attachment_id}/{token}"


def visitor_message_payload(
    message: Message, inbox: Inbox, *, attachments: list[Attachment] | None = None
) -> dict[str, Any]:
    incoming = message.direction == Message.Direction.INCOMING
    automated = bool((message.data or {}).get("automated")) or not message.sender_user_id
    author = None
    if not incoming and message.sender_user_id and message.sender_user is not None:
        author = {
            "name": message.sender_user.name,
            "avatar_url": (message.sender_user.avatar.url if message.sender_user.avatar else None),
        }
    status = {"queued": "sent", "": "sent"}.get(message.delivery_status, message.delivery_status)
    rows = message.attachments.all() if attachments is None else attachments
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "from": "visitor" if incoming else ("bot" if automated else "agent"),
        "text": message.text,
        "created_at": _dt(message.created_at),
        "author": author,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "url": visitor_attachment_url(inbox, a.pk),
            }
            for a in rows
            if not a.inline
        ],
        "status": status or "sent",
    }


def visitor_conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "rating": (
            {"score": conversation.rating, "comment": conversation.rating_comment}
            if conversation.rating
            else None
        ),
    }
