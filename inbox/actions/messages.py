from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from accounts.models import User
from inbox.actions.common import (
    add_activity,
    conversation_changed,
    lock_conversation,
    message_created,
    message_updated,
)
from inbox.actions.contacts import IdentityInput, find_or_create_contact
from inbox.actions.drafts import record_reply_metric
from inbox.actions.errors import InboxError
from inbox.events import writing
from inbox.models import Attachment, Contact, Conversation, Inbox, Message
from inbox.payloads import CONVERSATION_PREFETCH, CONVERSATION_SELECT

PREVIEW_LENGTH = 200
# Buttons the customer taps to answer: WhatsApp (3 as buttons, up to 10 as a list),
# Messenger and Instagram (13), Telegram (a keyboard). The lowest common limits.
QUICK_REPLY_KINDS = {
    Inbox.Kind.WHATSAPP,
    Inbox.Kind.MESSENGER,
    Inbox.Kind.INSTAGRAM,
    Inbox.Kind.TELEGRAM,
}
MAX_QUICK_REPLIES = 10
QUICK_REPLY_CHARS = 20


@dataclass(frozen=True)
class AttachmentInput:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # an email's inline image, referred to as cid:<content_id>
    inline: bool = False


@dataclass
class InboundResult:
    message: Message
    conversation: Conversation
    created: bool  # False when the external id was already stored (a redelivery)
    new_conversation: bool = False
    contact: Contact | None = field(default=None)
    new_contact: bool = False  # set by receive_inbound_texts (the batch path) only
    # With created=True: the stored attachments, and `conversation` has its payload's
    # relations loaded (no further reads needed to show either).
    attachments: list[Attachment] = field(default_factory=list)


def sanitize_html(html: str) -> str:
    """Customer HTML as we keep and show it: no scripts, handlers or remote loads."""
    return nh3.clean(html, link_rel="noopener noreferrer nofollow") if html else ""


def _preview(text: str) -> str:
    return " ".join(text.split())[:PREVIEW_LENGTH]


def _store_attachments(
    message: Message, attachments: Sequence[AttachmentInput]
) -> list[Attachment]:
    stored = []
    for item in attachments:
        digest = hashlib.sha256(item.content).hexdigest()
        attachment = Attachment(
            message=message,
            filename=item.filename[:255] or "attachment",
            content_type=item.content_type[:100] or "application/octet-stream",
            size=len(item.content),
            sha256=digest,
            content_id=item.content_id[:255],
            inline=item.inline,
        )
        attachment.file.save(f"{digest[:16]}", ContentFile(item.content), save=False)
        attachment.save()
        stored.append(attachment)
    return stored


def _next_conversation_number(inbox: Inbox, count: int = 1) -> int:
    """Reserve `count` conversation numbers of the inbox; the first of them."""
    # One statement: the increment takes the inbox row's lock (FOR NO KEY UPDATE strength).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_inbox SET last_conversation_number = "
            "last_conversation_number + %s WHERE id = %s RETURNING last_conversation_number",
            [count, inbox.pk],
        )
        return int(cursor.fetchone()[0]) - count + 1


def _new_conversation(
    *,
    inbox: Inbox,
    contact: Contact,
    subject: str,
    at: datetime | None = None,
    assignee: User | None = None,
) -> Conversation:
    at = at or timezone.now()
    conversation = Conversation.objects.create(
        inbox=inbox,
        contact=contact,
        number=_next_conversation_number(inbox),
        subject=subject[:300],
        assignee=assignee,
        last_activity_at=at,
        created_at=at,
    )
    # Nobody else sees it before commit: its payload can be built from this object.
    prefetch_related_objects([conversation], *CONVERSATION_PREFETCH)
    conversation._payload_ready = True  # type: ignore[attr-defined]
    return conversation


def _stored_redelivery(inbox: Inbox, external_id: str) -> InboundResult | None:
    existing = (
        Message.objects.select_related("conversation")
        .filter(inbox=inbox, external_id=external_id[:255])
        .first()
    )
    if existing is None:
        return None
    return InboundResult(existing, existing.conversation, created=False)


def receive_inbound_message(
    *,
    inbox: Inbox,
    identity: IdentityInput,
    text: str,
    html: str = "",
    subject: str = "",
    external_id: str = "",
    attachments: Sequence[AttachmentInput] = (),
    conversation: Conversation | None = None,
    received_at: datetime | None = None,
    start_new: bool = False,
    automated: bool = False,
    data: dict[str, Any] | None = None,
    html_sanitizer: Callable[[str], str] | None = None,
    cc: Sequence[str] = (),
    preview: str | None = None,
) -> InboundResult:
    """Store a customer's message. Idempotent on `external_id` (per inbox): a redelivery
    returns the stored message with created=False. Threads into `conversation` when the
    source knows it, else (unless `start_new`) into the contact's latest conversation in
    this inbox; else starts a new conversation. A resolved or snoozed conversation reopens,
    unless the message is `automated` (an auto-reply or a bounce: stored, shown, but it
    neither reopens nor makes the customer count as waiting). `data`: the source's extras
    kept on the message; `html_sanitizer` replaces the default one (email keeps its layout,
    shown sandboxed); `cc`: addresses to remember on the conversation; `preview`: the words
    to show in the conversation list (default: the text), e.g. an email without its quotes.

    A redelivery is caught by the unique (inbox, external_id) constraint rather than by a
    read before every insert: redeliveries are rare and the read would cost every message."""
    at = received_at or timezone.now()
    try:
        with writing():
            contact = find_or_create_contact(inbox=inbox, identity=identity)
            if conversation is not None:
                conversation = lock_conversation(conversation.pk)
            elif start_new:
                pass
            else:
                conversation = (
                    Conversation.objects.select_for_update(no_key=True, of=("self",))
                    .select_related(*CONVERSATION_SELECT)
                    .prefetch_related(*CONVERSATION_PREFETCH)
                    .filter(inbox=inbox, contact=contact)
                    .order_by("-last_activity_at", "-id")
                    .first()
                )
                if conversation is not None:
                    conversation._payload_ready = True  # type: ignore[attr-defined]
            new = conversation is None
            if conversation is None:
                conversation = _new_conversation(
                    inbox=inbox, contact=contact, subject=subject, at=at
                )
            changes = ["last_activity_at"]
            reopens = conversation.status in (
                Conversation.Status.RESOLVED,
                Conversation.Status.SNOOZED,
            )
            if reopens and not automated:
                previous = conversation.get_status_display().lower()
                conversation.status = Conversation.Status.OPEN
                conversation.snoozed_until = None
                changes.append("status")
                add_activity(
                    conversation=conversation,
                    actor=None,
                    text=f"Reopened ({previous}) because the customer wrote again",
                    data={"verb": "reopened", "from": previous},
                )
            message = Message.objects.create(
                conversation=conversation,
                inbox=inbox,
                direction=Message.Direction.INCOMING,
                sender_contact=contact,
                text=text,
                html=(html_sanitizer or sanitize_html)(html) if html else "",
                external_id=external_id[:255],
                created_at=at,
                data={**({"subject": subject} if subject else {}), **(data or {})},
            )
            stored = _store_attachments(message, attachments)
            _note_customer_message(conversation, message, preview or text, automated=automated)
            if cc:
                known = {entry.lower() for entry in conversation.cc}
                added = [entry for entry in cc if entry.lower() not in known]
                if added:
                    conversation.cc = [*conversation.cc, *added][:50]
                    changes.append("cc")
            conversation.save()
            if not automated and settings.DRAFTS_ENABLED:
                _after_customer_message(message.pk)
            if new:
                conversation_changed(conversation, kind="conversation.created")
                message_created(message, attachments=stored)
            else:
                message_created(
                    message, attachments=stored, conversation=conversation, changes=changes
                )
    except IntegrityError:
        # Stored before (a redelivery), or two deliveries of it raced and the other won.
        redelivery = _stored_redelivery(inbox, external_id) if external_id else None
        if redelivery is None:
            raise
        return redelivery
    return InboundResult(
        message,
        conversation,
        created=True,
        new_conversation=new,
        contact=contact,
        attachments=stored,
    )


def _note_customer_message(
    conversation: Conversation, message: Message, preview: str, *, automated: bool = False
) -> None:
    """What a new customer message changes on its conversation (saved by the caller)."""
    at = message.created_at
    conversation.last_activity_at = max(conversation.last_activity_at, at)
    if not automated:
        conversation.waiting_since = conversation.waiting_since or at
    conversation.last_message_preview = _preview(preview) or "(attachment)"
    conversation.last_incoming_message_id = message.pk
    conversation.last_customer_message_at = max(conversation.last_customer_message_at or at, at)


def _after_customer_message(message_id: int) -> None:
    """Queue the drafts and human-touch task. With the database queue the task row is
    written in the message's own transaction: one commit for both (after-commit enqueueing
    cost ingestion 16 %, bench/drafts.py), and no message without its task after a crash."""
    from inbox.tasks import after_customer_message

    if settings.TASK_BACKEND == "database":
        after_customer_message.enqueue(message_id)
    else:
        transaction.on_commit(lambda: after_customer_message.enqueue(message_id))


def _valid_cc(entries: Sequence[str]) -> list[str]:
    import email.utils

    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    valid = []
    for entry in entries:
        entry = " ".join(str(entry).split())
        address = email.utils.parseaddr(entry)[1]
        try:
            validate_email(address)
        except ValidationError as exc:
            raise InboxError(f"{entry} is not an email address.", field="cc") from exc
        valid.append(entry)
    return valid


def send_reply(
    *,
    conversation: Conversation,
    author: User,
    text: str,
    attachments: Sequence[AttachmentInput] = (),
    cc: Sequence[str] = (),
    started_from: dict[str, Any] | None = None,
    canned_attachment_ids: Sequence[int] = (),
    tag: str = "",
    template: dict[str, Any] | None = None,
    quick_replies: Sequence[str] = (),
) -> Message:
    """An agent's reply to the customer, queued for delivery by the inbox's source. `cc`:
    email addresses to copy ("Name <address>" or an address). `started_from`: the suggested
    draft or canned reply the agent started from (see `record_reply_metric`);
    `canned_attachment_ids`: files of canned replies the author may use, sent along.
    `tag`: a Messenger/Instagram message tag; `template`: a WhatsApp template send (see
    `send_template`); `quick_replies`: button titles the customer can tap to answer
    (messaging apps that have them; at most 10, 20 characters each). Refused (InboxError)
    when the platform's rules forbid it now (inbox/sources/rules.py)."""
    from inbox.sources.rules import possible_tags, refusal

    attachments = [*attachments, *_canned_files(author, conversation, canned_attachment_ids)]
    if not text.strip() and not attachments:
        raise InboxError("Write something or attach a file.", field="text")
    copies = _valid_cc(cc)
    buttons = [" ".join(str(title).split()) for title in quick_replies if str(title).strip()]
    if len(buttons) > MAX_QUICK_REPLIES or any(len(b) > QUICK_REPLY_CHARS for b in buttons):
        raise InboxError(
            f"At most {MAX_QUICK_REPLIES} quick replies of {QUICK_REPLY_CHARS} characters each.",
            field="quick_replies",
        )
    if len({b.casefold() for b in buttons}) != len(buttons):
        raise InboxError("Each quick reply must be different.", field="quick_replies")
    if buttons and not text.strip():
        raise InboxError("Quick replies need a message to go with them.", field="text")
    with writing():
        conversation = lock_conversation(conversation.pk)
        if buttons and conversation.inbox.kind not in QUICK_REPLY_KINDS:
            raise InboxError("This channel has no quick replies.", field="quick_replies")
        if tag and tag not in possible_tags(conversation):
            raise InboxError(
                f"{tag} is not a message tag of {conversation.inbox.get_kind_display()}.",
                field="tag",
            )
        refused = refusal(conversation, template=template is not None, tag=tag)
        if refused:
            raise InboxError(refused, field="text")
        now = timezone.now()
        extras: dict[str, Any] = {"cc": copies} if copies else {}
        if tag:
            extras["message_tag"] = tag
        if template is not None:
            extras["template"] = template
        if buttons:
            extras["quick_replies"] = buttons
        message = Message.objects.create(
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Message.Direction.OUTGOING,
            kind=Message.Kind.MESSAGE,
            sender_user=author,
            text=text,
            delivery_status=Message.Delivery.QUEUED,
            created_at=now,
            data=extras,
        )
        stored = _store_attachments(message, attachments)
        record_reply_metric(
            message=message,
            conversation=conversation,
            agent=author,
            waiting_since=conversation.waiting_since,
            started_from=started_from,
        )
        conversation.last_activity_at = now
        conversation.waiting_since = None
        conversation.first_response_at = conversation.first_response_at or now
        conversation.last_message_preview = _preview(text) or "(attachment)"
        conversation.save()
        message_created(
            message,
            attachments=stored,
            conversation=conversation,
            changes=["last_activity_at", "waiting_since"],
        )
        message_id = message.pk
        transaction.on_commit(lambda: _deliver(message_id))
    return message


def _canned_files(
    author: User, conversation: Conversation, ids: Sequence[int]
) -> list[AttachmentInput]:
    from inbox.models import CannedAttachment
    from inbox.queries.canned import visible_canned_replies

    if not ids:
        return []
    usable = visible_canned_replies(author, inbox_id=conversation.inbox_id)
    rows = list(CannedAttachment.objects.filter(pk__in=ids, canned_reply__in=usable))
    if len(rows) != len(set(ids)):
        raise InboxError("One of the canned reply's files is no longer there.", field="text")
    files = []
    for row in rows:
        with row.file.open("rb") as handle:
            files.append(AttachmentInput(row.filename, row.content_type, handle.read()))
    return files


def _deliver(message_id: int) -> None:
    from inbox.tasks import deliver_message

    deliver_message.enqueue(message_id)


def start_conversation(
    *,
    inbox: Inbox,
    author: User,
    to: IdentityInput,
    subject: str,
    text: str,
    attachments: Sequence[AttachmentInput] = (),
) -> Message:
    """An agent writes first: a new conversation with the contact `to` (found or created
    by their address), assigned to the author, whose first message is this reply. For
    inboxes whose source can start conversations (email). Raises InboxError."""
    if inbox.kind != Inbox.Kind.EMAIL:
        raise InboxError("Only email inboxes can start conversations.", field="inbox")
    if not subject.strip():
        raise InboxError("Write a subject.", field="subject")
    if not text.strip():
        raise InboxError("Write a message.", field="text")
    with writing():
        contact = find_or_create_contact(inbox=inbox, identity=to)
        conversation = _new_conversation(
            inbox=inbox, contact=contact, subject=subject.strip(), assignee=author
        )
        conversation_changed(conversation, kind="conversation.created")
        message = send_reply(
            conversation=conversation, author=author, text=text, attachments=attachments
        )
    return message


def add_note(*, conversation: Conversation, author: User, text: str) -> Message:
    """A private note: visible to agents only, never sent."""
    if not text.strip():
        raise InboxError("A note needs some text.", field="text")
    with writing():
        conversation = lock_conversation(conversation.pk)
        message = Message.objects.create(
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Message.Direction.OUTGOING,
            kind=Message.Kind.NOTE,
            sender_user=author,
            text=text,
        )
        conversation.last_activity_at = message.created_at
        conversation.save(update_fields=["last_activity_at", "updated_at"])
        message_created(
            message, attachments=[], conversation=conversation, changes=["last_activity_at"]
        )
    return message


_DELIVERY_ORDER = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


def set_delivery_status(*, message: Message, status: str, error: str = "") -> Message:
    """Move an outgoing message along queued → sent → delivered → read, or to failed.
    Status reports may arrive out of order: a later state is never replaced by an earlier
    one; `failed` replaces anything but `read`, and a retry (queued) replaces `failed`."""
    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        current = message.delivery_status
        if status == Message.Delivery.FAILED:
            allowed = current != Message.Delivery.READ
        elif current == Message.Delivery.FAILED:
            allowed = status == Message.Delivery.QUEUED
        else:
            allowed = _DELIVERY_ORDER.get(status, -1) > _DELIVERY_ORDER.get(current, -1)
        if not allowed:
            return message
        message.delivery_status = status
        message.delivery_error = error if status == Message.Delivery.FAILED else ""
        message.save(update_fields=["delivery_status", "delivery_error", "updated_at"])
        message_updated(message)
    return message


def record_delivery_attempt(
    *,
    message: Message,
    error: str = "",
    counted: bool = False,
    provider_id: str = "",
    external_id: str = "",
    extras: dict[str, Any] | None = None,
) -> int:
    """Count a delivery attempt of an outgoing message (`counted`: this attempt was counted
    already, only record its `error`, or the `provider_id` the sending service gave it, to
    match its later delivery and bounce reports). `external_id`: the provider's id of the
    message, which its status reports name; `extras`: the source's own notes, merged into
    `message.data` by key. Returns the attempt number. Kept in `message.data`; agents see
    the outcome as the status."""
    with transaction.atomic():
        locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        data = {**(locked.data or {}), **(extras or {})}
        if not counted:
            data["delivery_attempts"] = int(data.get("delivery_attempts", 0)) + 1
        if error:
            data["delivery_last_error"] = error
        if provider_id:
            data["provider_message_id"] = provider_id
        locked.data = data
        fields = ["data", "updated_at"]
        if external_id:
            locked.external_id = external_id[:255]
            fields.append("external_id")
        locked.save(update_fields=fields)
    message.data, message.external_id = data, locked.external_id
    return int(data.get("delivery_attempts", 0))


def record_sent_part(message: Message, provider_id: str, *, path: Sequence[str]) -> list[str]:
    """Add the provider id of a part just sent to the list at `path` in `message.data`,
    under a row lock, and return the list. The first non-empty id becomes the message's
    external id, unless another message of the inbox holds it already (its echo was stored
    first): then only the ids are kept."""
    from inbox.sources.delivery import sent_in

    with transaction.atomic():
        locked = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        data = dict(locked.data or {})
        sent = [*sent_in(data, path), provider_id]
        *parents, last = path
        node: dict[str, Any] = data
        for key in parents:
            child = node.get(key)
            node[key] = dict(child) if isinstance(child, dict) else {}
            node = node[key]
        node[last] = sent
        locked.data = data
        fields = ["data", "updated_at"]
        first = next((part for part in sent if part), "")
        if first and not locked.external_id:
            locked.external_id = first[:255]
            fields.append("external_id")
        try:
            with transaction.atomic():
                locked.save(update_fields=fields)
        except IntegrityError:
            locked.external_id = ""
            locked.save(update_fields=["data", "updated_at"])
    message.data, message.external_id = locked.data, locked.external_id
    return sent


def retry_delivery(*, message: Message, actor: User) -> Message:
    """Queue a failed outgoing message for delivery again, with a fresh attempt count.
    A message the provider failed after taking it (a status report) is sent again whole;
    one that failed on the way resumes after the parts already sent. Raises InboxError for
    anything but a failed outgoing message, or when the platform's rules forbid the send
    now (e.g. the 24-hour window has closed since)."""
    from inbox.sources.delivery import forget_sent_parts
    from inbox.sources.rules import refusal

    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        if (
            message.direction != Message.Direction.OUTGOING
            or message.delivery_status != Message.Delivery.FAILED
        ):
            raise InboxError("Only a failed message can be sent again.")
        data = dict(message.data or {})
        refused = refusal(
            lock_conversation(message.conversation_id),
            template=bool(data.get("template")),
            tag=str(data.get("message_tag") or ""),
        )
        if refused:
            raise InboxError(refused)
        fields = ["delivery_status", "delivery_error", "data", "updated_at"]
        if data.pop("provider_failed", False):
            data = forget_sent_parts(data)
            message.external_id = ""  # late reports about the earlier send match nothing
            fields.append("external_id")
        message.delivery_status = Message.Delivery.QUEUED
        message.delivery_error = ""
        message.data = {**data, "delivery_attempts": 0, "retried_by": actor.pk}
        message.save(update_fields=fields)
        message_updated(message)
        message_id = message.pk
        transaction.on_commit(lambda: _deliver(message_id))
    return message


def edit_inbound_message(*, message: Message, text: str, edited_at: datetime) -> Message:
    """The customer edited a message on their platform (Telegram, WhatsApp…): the stored text
    follows, marked edited, and the first version is kept for agents in `data`."""
    with writing():
        message = Message.objects.select_for_update(no_key=True).get(pk=message.pk)
        if message.direction != Message.Direction.INCOMING or message.text == text:
            return message
        data = dict(message.data or {})
        data.setdefault("original_text", message.text)
        data["edited_at"] = edited_at.isoformat()
        message.text, message.data = text, data
        message.save(update_fields=["text", "data", "updated_at"])
        message_updated(message)
    return message
