"""Sending an agent's reply as email, one attempt per run of the `deliver_message` task.

The Message-ID is chosen and stored before the first attempt, so every retry sends the very
same message (and a reply to any copy threads back here). `In-Reply-To` and `References`
come from the thread, `Reply-To` carries the conversation's signed reply address. The
connection is the inbox's own SMTP server when it has one (`smtp_host` in its settings,
`smtp_password` in its secrets), else the site's EMAIL_BACKEND (SMTP or an anymail ESP).
A 4xx answer or a network error is retried with backoff and jitter; a 5xx fails the message
with the server's words."""

from __future__ import annotations

import html
import logging
import random
import smtplib
from datetime import timedelta
from email.utils import formataddr, make_msgid
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from inbox.models import Inbox, InboxAddress, Message
from inbox.sources.email.tokens import reply_address

logger = logging.getLogger(__name__)

RETRY_DELAYS = (30, 2 * 60, 10 * 60, 30 * 60, 2 * 60 * 60)  # then the message fails
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2  # ± this share of each delay, so a burst of failures does not retry in step


class PermanentError(Exception):
    pass


class TransientError(Exception):
    pass


def _one_line(value: str) -> str:
    """Header text copied from anywhere (names, subjects): never a CR or LF in it."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def inbox_address(inbox: Inbox) -> str:
    row = InboxAddress.objects.filter(inbox=inbox, is_primary=True).first()
    if row is None:
        raise PermanentError("This email inbox has no address")
    return row.address


def _thread_headers(message: Message) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for a reply in this conversation: the latest message with
    a Message-ID before it, and the chain it continues."""
    earlier = (
        Message.objects.filter(conversation_id=message.conversation_id, id__lt=message.pk)
        .exclude(external_id="")
        .exclude(kind=Message.Kind.NOTE)
        .order_by("-id")
        .values_list("external_id", "data")[:50]
    )
    rows = list(earlier)
    if not rows:
        return "", []
    parent_id, parent_data = rows[0]
    parent_refs = ((parent_data or {}).get("email") or {}).get("references") or []
    references = [*parent_refs[-20:], parent_id]
    if len(references) == 1:  # the parent named none: the thread as we know it
        references = [mid for mid, _ in reversed(rows)][-20:]
    return parent_id, list(dict.fromkeys(references))


def config_quote(inbox: Inbox) -> bool:
    return bool((inbox.settings or {}).get("quote_history", True))


def _quoted_history(message: Message) -> str:
    """The customer's last message, quoted below the reply ("On …, … wrote:")."""
    last = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            id__lt=message.pk,
            direction=Message.Direction.INCOMING,
            kind=Message.Kind.MESSAGE,
        )
        .select_related("sender_contact")
        .order_by("-id")
        .first()
    )
    if last is None:
        return ""
    body = ((last.data or {}).get("email") or {}).get("new_text") or last.text
    who = last.sender_contact.display_name if last.sender_contact else "the customer"
    when = last.created_at.strftime("%a, %d %b %Y at %H:%M UTC")
    quoted = "\n".join("> " + line if line else ">" for line in body.strip().splitlines())
    return f"On {when}, {_one_line(who)} wrote:\n{quoted}"


def _subject(message: Message, *, reply: bool) -> str:
    subject = _one_line(message.conversation.subject) or "Your message"
    if not reply or subject.lower().startswith("re:"):
        return subject
    return f"Re: {subject}"


def _html_body(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p.strip()
    )


def build_email(message: Message, via: Inbox | None = None) -> EmailMultiAlternatives:
    """The email of an agent's reply. `via`: the email inbox to send it through when the
    conversation is another channel's (a website visitor who left, see
    inbox/sources/widget/outbound.py); its address, signature and reply token are used."""
    inbox = via or message.inbox
    conversation = message.conversation
    contact = conversation.contact
    if not contact.email:
        raise PermanentError("The contact has no email address")
    address = inbox_address(inbox)
    author = message.sender_user.name if message.sender_user else ""
    from_name = _one_line(f"{author} ({inbox.name})" if author else inbox.name)
    signatures = [
        message.sender_user.signature.strip() if message.sender_user else "",
        str((inbox.settings or {}).get("signature") or "").strip(),
    ]
    signature = "\n".join(part for part in signatures if part)
    text = message.text + (f"\n\n-- \n{signature}" if signature else "")
    if via is not None:
        text += "\n\n(You had left our website chat: reply to this email to answer.)"
    in_reply_to, references = _thread_headers(message)
    # A chat reply emailed to a visitor who left quotes nothing of theirs: the address they
    # typed is unverified, and our email must not carry a stranger's words to it.
    quote = config_quote(inbox) and in_reply_to and via is None
    quoted = _quoted_history(message) if quote else ""
    if quoted:
        text = f"{text}\n\n{quoted}"
    headers = {"Message-ID": message.external_id}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = " ".join(references)
    recipients_cc = [
        _one_line(entry) for entry in (message.data or {}).get("cc", []) if "@" in str(entry)
    ]
    email = EmailMultiAlternatives(
        subject=(
            _subject(message, reply=bool(in_reply_to))
            if via is None
            else _one_line(conversation.subject) or f"Your chat with {message.inbox.name}"
        ),
        body=text,
        from_email=formataddr((from_name, address)),
        to=[formataddr((_one_line(contact.name), contact.email))],
        cc=recipients_cc,
        reply_to=[reply_address(address, conversation.pk)],
        headers=headers,
    )
    email.attach_alternative(_html_body(text), "text/html")
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            email.attach(attachment.filename, handle.read(), attachment.content_type)
    return email


def connection_for(inbox: Inbox) -> Any:
    """The email connection replies from this inbox go through."""
    settings = inbox.settings or {}
    host = str(settings.get("smtp_host") or "").strip()
    if not host:
        return get_connection(fail_silently=False)
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=host,
        port=int(settings.get("smtp_port") or 587),
        username=str(settings.get("smtp_username") or ""),
        password=str(inbox.get_secrets().get("smtp_password") or ""),
        use_tls=bool(settings.get("smtp_starttls", True)) and not settings.get("smtp_ssl"),
        use_ssl=bool(settings.get("smtp_ssl", False)),
        timeout=30,
        fail_silently=False,
    )


def _text(words: Any) -> str:
    return words.decode("utf-8", "replace") if isinstance(words, bytes) else str(words)


def send(message: Message, via: Inbox | None = None) -> str:
    """One attempt. Returns the id the sending service gave the message ("" for plain
    SMTP). Raises PermanentError or TransientError."""
    email = build_email(message, via)
    try:
        with connection_for(via or message.inbox) as connection:
            connection.send_messages([email])
        status = getattr(email, "anymail_status", None)  # an anymail provider backend
        return str(status.message_id) if status and status.message_id is not None else ""
    except smtplib.SMTPResponseException as exc:
        words = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        reason = f"{exc.smtp_code} {words}"
        if 400 <= exc.smtp_code < 500:
            raise TransientError(reason) from exc
        raise PermanentError(reason) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(
            f"{addr}: {code} {_text(words)}" for addr, (code, words) in exc.recipients.items()
        )
        if all(400 <= code < 500 for code in codes):
            raise TransientError(reason) from exc
        raise PermanentError(reason) from exc
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out…
        raise TransientError(f"Cannot reach the mail server: {exc}") from exc


def deliver_email_message(message: Message, via: Inbox | None = None) -> str:
    """Send an agent's reply by email, through its own (email) inbox or `via`."""
    from inbox.actions import record_delivery_attempt, set_delivery_status
    from inbox.tasks import deliver_message

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"
    if not message.external_id:
        # Fixed before the first attempt: every retry is the same email.
        try:
            domain = inbox_address(via or message.inbox).partition("@")[2]
        except PermanentError as exc:
            set_delivery_status(message=message, status=Message.Delivery.FAILED, error=str(exc))
            return f"failed: {exc}"
        message.external_id = make_msgid(domain=domain)
        message.save(update_fields=["external_id", "updated_at"])
    attempts = record_delivery_attempt(message=message)
    try:
        provider_id = send(message, via)
    except PermanentError as exc:
        set_delivery_status(message=message, status=Message.Delivery.FAILED, error=str(exc))
        return f"failed: {exc}"
    except TransientError as exc:
        error = str(exc)
        record_delivery_attempt(message=message, error=error, counted=True)
        if attempts >= MAX_ATTEMPTS or not deliver_message.get_backend().supports_defer:
            set_delivery_status(
                message=message,
                status=Message.Delivery.FAILED,
                error=f"{error} (gave up after {attempts} attempts)",
            )
            return f"failed: {error}"
        delay = RETRY_DELAYS[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
        run_after = timezone.now() + timedelta(seconds=delay)
        deliver_message.using(run_after=run_after).enqueue(message.pk)
        return f"attempt {attempts}: {error}; retry at {run_after.isoformat()}"
    if provider_id:
        record_delivery_attempt(message=message, counted=True, provider_id=provider_id)
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts}"
