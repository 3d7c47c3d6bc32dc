"""Pieces every inbox action uses: the events for a changed conversation or a new message,
and activity lines."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from inbox.events import chat_stream, inbox_stream, record_event
from inbox.models import Attachment, Conversation, Inbox, Message
from inbox.payloads import (
    CONVERSATION_PREFETCH,
    CONVERSATION_SELECT,
    MESSAGE_PREFETCH,
    MESSAGE_SELECT,
    conversation_payload,
    message_payload,
    visitor_conversation_payload,
    visitor_message_payload,
)

_widget_inboxes: dict[
    int, Inbox | None
] = {}  # inbox id → the inbox if a widget one (kinds never change)


def forget_inbox_kind(inbox_id: int) -> None:
    """A new inbox: never trust what this process remembered under its id (a test database
    reuses ids; production never does)."""
    _widget_inboxes.pop(inbox_id, None)


def widget_inbox(inbox_id: int) -> Inbox | None:
    """The inbox when it is a website-chat one (its visitors get their own events)."""
    if inbox_id not in _widget_inboxes:
        inbox = Inbox.objects.filter(pk=inbox_id).only("id", "kind", "public_id").first()
        _widget_inboxes[inbox_id] = inbox if inbox and inbox.kind == Inbox.Kind.WIDGET else None
    return _widget_inboxes[inbox_id]


def chat_message_event(message: Message, kind: str, attachments: list[Attachment] | None) -> None:
    """The visitor's copy of a message event: customer-facing messages only."""
    if message.kind != Message.Kind.MESSAGE:
        return
    inbox = widget_inbox(message.inbox_id)
    if inbox is None:
        return
    record_event(
        stream=chat_stream(message.conversation_id),
        kind=kind,
        payload={"message": visitor_message_payload(message, inbox, attachments=attachments)},
    )


def _chat_conversation_event(conversation: Conversation, changes: list[str]) -> None:
    if not {"status", "rating"} & set(changes) or widget_inbox(conversation.inbox_id) is None:
        return
    record_event(
        stream=chat_stream(conversation.pk),
        kind="conversation.updated",
        payload={"conversation": visitor_conversation_payload(conversation)},
    )


def lock_conversation(pk: int) -> Conversation:
    """The conversation, locked until commit, with what its event payload needs loaded.
    Apply changes to this object (not with `.update()`): `conversation_changed` then builds
    the payload from it without reading it again."""
    conversation = (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .get(pk=pk)
    )
    conversation._payload_ready = True  # type: ignore[attr-defined]
    return conversation


def conversation_changed(
    conversation: Conversation,
    *,
    kind: str = "conversation.updated",
    changes: list[str] | None = None,
) -> dict[str, Any]:
    """Record the conversation's new state for its inbox. Returns the payload. Reads the
    conversation again unless it came from `lock_conversation` (or was just created)."""
    if getattr(conversation, "_payload_ready", False):
        fresh = conversation
    else:
        fresh = (
            Conversation.objects.select_related(*CONVERSATION_SELECT)
            .prefetch_related(*CONVERSATION_PREFETCH)
            .get(pk=conversation.pk)
        )
    payload = conversation_payload(fresh)
    record_event(
        stream=inbox_stream(fresh.inbox_id),
        kind=kind,
        payload={"conversation": payload, "changes": changes or []},
    )
    _chat_conversation_event(fresh, changes or [])
    return payload


def _message_event(message: Message, kind: str) -> None:
    fresh = (
        Message.objects.select_related(*MESSAGE_SELECT)
        .prefetch_related(*MESSAGE_PREFETCH)
        .get(pk=message.pk)
    )
    record_event(
        stream=inbox_stream(fresh.inbox_id), kind=kind, payload={"message": message_payload(fresh)}
    )
    chat_message_event(fresh, kind, None)


def message_created(
    message: Message,
    *,
    attachments: list[Attachment] | None = None,
    conversation: Conversation | None = None,
    changes: list[str] | None = None,
) -> None:
    """`message` was just created in this transaction with its sender set as an object;
    `attachments` are the ones stored with it (None: read them, and the message, again).
    With `conversation` (from `lock_conversation`, changes applied) the event also carries
    its new state and `changes`, in place of a `conversation.updated` event: one frame per
    agent instead of two for every new message (bench/push_latency.py)."""
    if attachments is None:
        _message_event(message, "message.created")
        return
    payload: dict[str, Any] = {"message": message_payload(message, attachments=attachments)}
    if conversation is not None:
        payload["conversation"] = conversation_payload(conversation)
        payload["changes"] = changes or []
    record_event(stream=inbox_stream(message.inbox_id), kind="message.created", payload=payload)
    chat_message_event(message, "message.created", attachments)
    if conversation is not None:
        _chat_conversation_event(conversation, changes or [])


def message_updated(message: Message) -> None:
    _message_event(message, "message.updated")


def add_activity(
    *, conversation: Conversation, actor: User | None, text: str, data: dict[str, Any]
) -> Message:
    """A system line in the thread, such as “Ana assigned this to Ben”."""
    message = Message.objects.create(
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        direction=Message.Direction.OUTGOING,
        kind=Message.Kind.ACTIVITY,
        text=text,
        data={**data, "actor_id": actor.pk if actor else None},
    )
    message_created(message, attachments=[])
    return message


def actor_name(actor: User | None) -> str:
    return actor.name if actor else "Parley"
