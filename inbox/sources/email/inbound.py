"""Receiving email: every way in (SMTP server, pipe, IMAP, provider webhook) calls
`store_inbound_email`, which keeps the raw message durably and queues it; the worker then
calls `process_inbound_email`, which parses, threads and stores it as a message.

Threading, in this order:
1. our reply address (`<local>+<token>@…`, see tokens.py) among the recipients: that
   conversation, whoever writes (only people we wrote to know the token);
2. `In-Reply-To` / `References` naming a message of the same inbox, when the sender is the
   conversation's contact or one of its known CC addresses (Message-IDs are not secret, so
   a stranger quoting one starts a conversation of their own);
3. otherwise a new conversation. A subject match never threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inbox.models import Contact, Conversation, InboundEmail, Inbox, InboxAddress, Message
from inbox.sources.email import quotes
from inbox.sources.email.parsing import Address, ParsedEmail, UnreadableEmail, parse_email, peek
from inbox.sources.email.sanitize import sanitize_email_html
from inbox.sources.email.tokens import conversation_id_from_token, split_address

logger = logging.getLogger(__name__)


class EmailRefused(Exception):
    """We do not take this email; `smtp_code` is what an SMTP server answers."""

    def __init__(self, reason: str, smtp_code: int = 550) -> None:
        super().__init__(reason)
        self.reason = reason
        self.smtp_code = smtp_code


class ProcessingFailed(Exception):
    """This email cannot become a message; the reason is shown to admins."""


# --- addresses ------------------------------------------------------------------------------


def inbox_for_address(address: str) -> Inbox | None:
    """The active email inbox an address (or its +token variant) belongs to."""
    base, _ = split_address(address)
    row = (
        InboxAddress.objects.select_related("inbox")
        .filter(address=base, inbox__is_active=True, inbox__kind=Inbox.Kind.EMAIL)
        .first()
    )
    return row.inbox if row else None


def _inbox_for_recipients(recipients: Iterable[str]) -> Inbox | None:
    for address in recipients:
        inbox = inbox_for_address(address)
        if inbox is not None:
            return inbox
    return None


# --- storing --------------------------------------------------------------------------------


def _fsync(row: InboundEmail) -> None:
    # On local disk, make the file survive a crash before we answer "stored" (an MTA
    # deletes its copy on our 250). Remote storages are durable once the upload returns.
    try:
        path = row.raw.path
    except NotImplementedError:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_inbound_email(
    raw: bytes,
    *,
    via: str,
    envelope_from: str = "",
    envelope_to: Iterable[str] = (),
    inbox: Inbox | None = None,
    refuse_oversized: bool = True,
) -> InboundEmail:
    """Keep an email durably and queue its processing. Over INBOUND_EMAIL_MAX_BYTES it
    raises EmailRefused (the sender's server is told and keeps its copy), or, with
    `refuse_oversized=False` (a provider or mailbox already took it), keeps it as failed.
    Without `inbox`, the recipients decide (envelope first, then the To/Cc headers); an
    email no inbox claims is kept as failed, never dropped."""
    limit = settings.INBOUND_EMAIL_MAX_BYTES
    too_large = f"Message too large: the limit is {limit // (1024 * 1024)} MB."
    if len(raw) > limit and refuse_oversized:
        raise EmailRefused(too_large, smtp_code=552)
    recipients = [r.lower() for r in envelope_to]
    message_id, subject = peek(raw)
    if inbox is None:
        inbox = _inbox_for_recipients(recipients or _header_recipients(raw))
    digest = hashlib.sha256(raw).hexdigest()
    row = InboundEmail(
        inbox=inbox,
        via=via,
        size=len(raw),
        sha256=digest,
        envelope_from=envelope_from[:254],
        envelope_to=recipients[:100],
        header_message_id=message_id,
        subject=subject,
    )
    if inbox is None:
        row.status = InboundEmail.Status.FAILED
        row.error = "No email inbox has this address: " + (", ".join(recipients) or "(none)")
    elif len(raw) > limit:
        row.status = InboundEmail.Status.FAILED
        row.error = too_large
    with transaction.atomic():
        row.raw.save(f"{digest[:24]}.eml", ContentFile(raw), save=False)
        _fsync(row)
        row.save()
        if row.status == InboundEmail.Status.PENDING:
            # In the same transaction (the task queue is a table): the email and its
            # processing are committed together, never one without the other.
            _enqueue(row.pk)
    return row


def _header_recipients(raw: bytes) -> list[str]:
    import email
    from email import policy

    try:
        head = email.message_from_bytes(raw.split(b"\n\n", 1)[0] + b"\n\n", policy=policy.compat32)
        values = [
            str(v)
            for name in ("Delivered-To", "X-Original-To", "To", "Cc")
            for v in head.get_all(name, [])
        ]
        return [a.lower() for _, a in email.utils.getaddresses(values) if "@" in a]
    except Exception:
        return []


def _enqueue(row_id: int) -> None:
    from inbox.tasks import process_inbound_email

    process_inbound_email.enqueue(row_id)


# --- processing -----------------------------------------------------------------------------


def process_inbound_email(row: InboundEmail) -> InboundEmail:
    """Parse and store one received email as a message. Never raises for a bad email: the
    row ends `processed`, `duplicate` or `failed` with the reason."""
    row.attempts += 1
    try:
        if row.inbox_id is None:
            raise ProcessingFailed(row.error or "No email inbox has this address.")
        with row.raw.open("rb") as handle:
            raw = handle.read()
        # Only our SMTP server knows the envelope sender for sure ("" is the null sender of
        # bounces); a pipe without --sender, IMAP and webhooks do not.
        envelope = row.envelope_from if row.via == InboundEmail.Via.SMTP else None
        if row.via == InboundEmail.Via.PIPE and row.envelope_from:
            envelope = row.envelope_from
        parsed = parse_email(raw, envelope_from=envelope)
        assert row.inbox is not None
        message, created = receive_email(row.inbox, parsed, row)
    except (UnreadableEmail, ProcessingFailed) as exc:
        return _finish(row, InboundEmail.Status.FAILED, error=str(exc))
    except Exception as exc:  # a bug of ours: kept for reprocessing, never lost
        logger.exception("inbound email %s could not be processed", row.pk)
        return _finish(
            row, InboundEmail.Status.FAILED, error=f"Unexpected error: {type(exc).__name__}: {exc}"
        )
    status = InboundEmail.Status.PROCESSED if created else InboundEmail.Status.DUPLICATE
    return _finish(row, status, message=message)


def _finish(
    row: InboundEmail, status: str, *, error: str = "", message: Message | None = None
) -> InboundEmail:
    row.status = status
    row.error = error[:2000]
    row.message = message
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "error", "message", "attempts", "processed_at"])
    return row


@dataclass(frozen=True)
class _Thread:
    conversation: Conversation | None
    how: str  # "token", "references" or "new"


def _find_thread(inbox: Inbox, parsed: ParsedEmail, recipients: list[str], sender: str) -> _Thread:
    own = set(InboxAddress.objects.filter(inbox=inbox).values_list("address", flat=True))
    for address in recipients:
        base, token = split_address(address)
        if base in own and token:
            conversation_id = conversation_id_from_token(token)
            if conversation_id is None:
                continue
            found = (
                Conversation.objects.select_related("inbox", "contact")
                .filter(Q(inbox=inbox) | Q(inbox__in=_chats_answered_through(inbox)))
                .filter(pk=conversation_id)
                .first()
            )
            if found is not None:
                return _Thread(found, "token")
    ids = parsed.thread_ids
    if ids:
        known = {
            m.external_id: m.conversation
            for m in Message.objects.select_related("conversation__contact").filter(
                inbox=inbox, external_id__in=ids
            )
        }
        for message_id in ids:
            conversation = known.get(message_id)
            if conversation is not None and _may_join(conversation, sender):
                return _Thread(conversation, "references")
    return _Thread(None, "new")


def _chats_answered_through(inbox: Inbox) -> list[int]:
    """Website chat inboxes whose replies to visitors who left go out through this email
    inbox: a visitor's email answer (to the reply token) belongs to their chat."""
    return [
        chat.pk
        for chat in Inbox.objects.filter(kind=Inbox.Kind.WIDGET).only("id", "settings")
        if ((chat.settings or {}).get("widget") or {}).get("email_inbox_id") == inbox.pk
    ]


def _may_join(conversation: Conversation, sender: str) -> bool:
    from inbox.models import ContactIdentity

    contact_addresses = set(
        ContactIdentity.objects.filter(
            contact=conversation.contact, kind=ContactIdentity.Kind.EMAIL
        ).values_list("value", flat=True)
    )
    if conversation.contact.email:
        contact_addresses.add(conversation.contact.email.lower())
    cc = {split_address(_address_of(entry))[0] for entry in conversation.cc}
    return sender in contact_addresses or sender in cc


def _address_of(entry: str) -> str:
    import email.utils

    return email.utils.parseaddr(entry)[1].lower()


def receive_email(inbox: Inbox, parsed: ParsedEmail, row: InboundEmail) -> tuple[Message, bool]:
    """Store a parsed email in `inbox`. Returns (message, created); created is False for a
    Message-ID this inbox already has (the same mail through IMAP and a webhook)."""
    from inbox.actions import AttachmentInput, IdentityInput, receive_inbound_message

    sender = parsed.sender or (
        Address("", row.envelope_from.lower()) if "@" in row.envelope_from else None
    )
    if sender is None:
        raise ProcessingFailed("The email has no sender address (no From header).")
    own = set(InboxAddress.objects.filter(inbox=inbox).values_list("address", flat=True))
    recipients = [
        *row.envelope_to,
        *(a.address for a in parsed.to),
        *(a.address for a in parsed.cc),
    ]
    bounced = _mark_bounced(inbox, parsed) if parsed.automated == "bounce" else None
    if bounced is not None:  # shown in the conversation whose message bounced
        thread = _Thread(bounced, "bounce")
    else:
        thread = _find_thread(inbox, parsed, recipients, sender.address)
    message_id = parsed.message_id or f"<sha256.{row.sha256}@parley.no-message-id>"
    if _reused_message_id(inbox, message_id, sender.address):
        # Another sender (or we ourselves) used this Message-ID for a different email: not a
        # duplicate of it. Kept under its own key so it is not dropped.
        message_id = f"<sha256.{row.sha256}@parley.reused-message-id>"
    cc = [
        a.formatted()
        for a in [*parsed.to, *parsed.cc]
        if split_address(a.address)[0] not in own and a.address != sender.address
    ]
    html = sanitize_email_html(parsed.html)
    email_data: dict[str, Any] = {
        "from": sender.formatted(),
        "to": [a.formatted() for a in parsed.to],
        "cc": [a.formatted() for a in parsed.cc],
        "message_id": message_id,
        "in_reply_to": parsed.in_reply_to[:1],
        "references": parsed.references[-20:],
        "inbound_email_id": row.pk,
        "threaded_by": thread.how,
    }
    if parsed.automated:
        email_data["automated"] = parsed.automated
    if parsed.automated == "bounce":
        email_data["bounce_reason"] = parsed.bounce_reason
    reply_text = quotes.new_text(parsed.text)
    if reply_text is not None:
        email_data["new_text"] = reply_text
    reply_html = quotes.new_html(html)
    if reply_html is not None:
        email_data["new_html"] = sanitize_email_html(reply_html)
    if parsed.defects:
        email_data["defects"] = parsed.defects
    if thread.conversation is not None and thread.conversation.inbox_id != inbox.pk:
        # A website visitor's answer to a reply we emailed them: it goes into the chat.
        inbox = thread.conversation.inbox
    result = receive_inbound_message(
        inbox=inbox,
        identity=IdentityInput(kind="email", value=sender.address, name=sender.name),
        text=parsed.text,
        html=html,
        html_sanitizer=lambda already_clean: already_clean,
        subject=parsed.subject,
        external_id=message_id,
        attachments=[
            AttachmentInput(
                filename=a.filename,
                content_type=a.content_type,
                content=a.content,
                content_id=a.content_id,
                inline=a.inline,
            )
            for a in parsed.attachments
        ],
        conversation=thread.conversation,
        start_new=thread.conversation is None,
        automated=bool(parsed.automated),
        received_at=None,
        data={"email": email_data},
        cc=cc,
        preview=reply_text,
    )
    if result.created and result.contact is not None:
        _refresh_contact_name(result.contact, sender)
    return result.message, result.created


def _reused_message_id(inbox: Inbox, message_id: str, sender: str) -> bool:
    import email.utils

    stored = (
        Message.objects.filter(inbox=inbox, external_id=message_id)
        .values_list("direction", "data")
        .first()
    )
    if stored is None:
        return False
    direction, data = stored
    if direction == Message.Direction.OUTGOING:
        return True
    first_sender = ((data or {}).get("email") or {}).get("from", "")
    return email.utils.parseaddr(first_sender)[1].lower() != sender


def _refresh_contact_name(contact: Contact, sender: Address) -> None:
    """A contact we only knew by address gets the display name their mail carries."""
    from django.core.exceptions import ValidationError

    from inbox.actions import update_contact

    if not sender.name or contact.name.strip() not in ("", sender.address):
        return
    try:
        update_contact(contact=contact, actor=None, name=sender.name)
    except ValidationError:  # the message is stored; a name we cannot keep changes nothing
        logger.info("kept the name of contact %s: %r refused", contact.pk, sender.name)


def _mark_bounced(inbox: Inbox, parsed: ParsedEmail) -> Conversation | None:
    """A bounce of one of our outgoing messages marks it failed, with the reason. Returns
    the conversation of the (first) bounced message, if it is ours."""
    from inbox.actions import set_delivery_status

    conversation = None
    for message in Message.objects.select_related("conversation").filter(
        Q(inbox=inbox) | Q(inbox__in=_chats_answered_through(inbox)),  # emailed chat replies
        direction=Message.Direction.OUTGOING,
        external_id__in=parsed.bounced_message_ids,
    ):
        set_delivery_status(
            message=message,
            status=Message.Delivery.FAILED,
            error=f"Bounced: {parsed.bounce_reason}",
        )
        conversation = conversation or message.conversation
    return conversation


STUCK_AFTER = timedelta(minutes=10)


def needs_attention() -> Any:
    """Emails an admin should look at: failed, or still waiting long after they arrived
    (a worker that was down, a task lost to a crash)."""
    from django.db.models import Q

    return InboundEmail.objects.filter(
        Q(status=InboundEmail.Status.FAILED)
        | Q(status=InboundEmail.Status.PENDING, received_at__lt=timezone.now() - STUCK_AFTER)
    )


def reprocess_inbound_email(row: InboundEmail) -> InboundEmail:
    """Process a failed (or any) stored email again, now: after a fix, or once the inbox
    its address names exists. An email whose message is already stored stays a duplicate."""
    if row.inbox_id is None:
        inbox = _inbox_for_recipients(row.envelope_to)
        if inbox is None:
            with row.raw.open("rb") as handle:
                inbox = _inbox_for_recipients(_header_recipients(handle.read()))
        row.inbox = inbox
        if inbox is not None:
            row.error = ""
            row.save(update_fields=["inbox", "error"])
    row.status = InboundEmail.Status.PENDING
    return process_inbound_email(row)
