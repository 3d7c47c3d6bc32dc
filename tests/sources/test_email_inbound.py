"""Receiving email: the SMTP server (a real smtplib conversation), the pipe command, parsing
a corpus of real-world-shaped messages, threading, duplicates, bounces and auto-replies."""

from __future__ import annotations

import io
import smtplib
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Contact, Conversation, InboundEmail, Inbox, Message
from inbox.sources.email.inbound import (
    process_inbound_email,
    reprocess_inbound_email,
    store_inbound_email,
)
from inbox.sources.email.parsing import UnreadableEmail, parse_email
from inbox.sources.email.smtp import InboxHandler, SenderRateLimit, smtp_protocol
from inbox.sources.email.tokens import reply_address
from tests.factories import AdminFactory, UserFactory
from tests.servers import free_port

CORPUS = Path(__file__).parent / "email_corpus"


@pytest.fixture
def inbox(db: None) -> Inbox:
    agent = UserFactory(name="Ana")
    return actions.create_inbox(
        name="Support",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"address": "Support@Example.com", "aliases": ["help@example.com"]},
        members=[agent],
    )


def mail(
    text: str = "Hello, my order never arrived.",
    *,
    sender: str = "Ann Archer <ann@example.net>",
    to: str = "support@example.com",
    subject: str = "Order 1001",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.net"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


def raw_of(row: InboundEmail) -> bytes:
    with row.raw.open("rb") as handle:
        return handle.read()


def receive(raw: bytes, inbox: Inbox | None = None, **kwargs: Any) -> InboundEmail:
    """Store and process at once (what the worker does after the SMTP server's 250)."""
    row = store_inbound_email(raw, via=kwargs.pop("via", "pipe"), inbox=inbox, **kwargs)
    if row.status == InboundEmail.Status.PENDING:
        row = process_inbound_email(row)
    return row


# --- Parsing: the corpus ----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_every_corpus_message_parses_or_is_refused_with_a_reason(path: Path) -> None:
    raw = path.read_bytes()
    try:
        parsed = parse_email(raw)
    except UnreadableEmail as exc:
        assert path.name == "no-headers-at-all.eml" and "no headers" in str(exc)
        return
    assert parsed.sender is not None
    assert parsed.text or parsed.html or parsed.attachments


def test_corpus_details() -> None:
    def parse(name: str):
        return parse_email((CORPUS / name).read_bytes())

    jp = parse("iso-2022-jp.eml")
    assert (jp.sender.name, jp.subject, jp.text) == (
        "山田",
        "お問い合わせ",
        "注文について質問です。",
    )
    outlook = parse("outlook-windows-1252.eml")
    assert outlook.subject == "Café order – wrong size"
    assert outlook.sender.name == "Renée François"
    assert outlook.text.startswith("Bonjour, the café mugs are the wrong size – can")
    inline = parse("inline-image-and-attachment.eml")
    assert [(a.filename, a.content_id, a.inline) for a in inline.attachments] == [
        ("photo.png", "photo1@example.com", True),
        ("invoice.pdf", "", False),
    ]
    assert 'src="cid:photo1@example.com"' in inline.html
    forwarded = parse("forwarded-rfc822-and-calendar.eml")
    assert forwarded.text == "See the forwarded message and the invite."
    assert [a.content_type for a in forwarded.attachments] == ["message/rfc822", "text/calendar"]
    assert b"Inner body that must not become the main text." in forwarded.attachments[0].content
    html_only = parse("html-only.eml")
    assert html_only.text == "Hello there\nclick"
    uu = parse("uuencode.eml")
    assert uu.attachments[0].content == b"hello world"
    broken = parse("malformed-mime.eml")
    assert broken.sender.address == "broken@example.com"
    assert "Second part with a broken soft break" in broken.text
    assert "CloseBoundaryNotFoundDefect" in broken.defects
    huge = parse("huge-header.eml")
    assert huge.text == "Body after huge headers." and len(huge.subject) <= 300
    bounce = parse("bounce-dsn.eml")
    assert bounce.automated == "bounce"
    assert bounce.bounced_message_ids == ["<parley-out-1@example.com>"]
    assert "User unknown" in bounce.bounce_reason
    assert parse("out-of-office.eml").automated == "auto_reply"
    assert parse("gmail-reply-quoted.eml").automated == ""


# --- Storing and processing -------------------------------------------------------------------


def test_an_email_becomes_a_conversation_with_its_contact(inbox: Inbox) -> None:
    row = receive(mail(cc="Bo <bo@example.org>, help@example.com"), via="pipe")

    assert row.status == "processed" and row.inbox == inbox
    message = row.message
    assert message.direction == "incoming" and message.text == "Hello, my order never arrived."
    assert message.data["email"]["from"] == "Ann Archer <ann@example.net>"
    conversation = message.conversation
    assert conversation.subject == "Order 1001"
    assert conversation.contact.name == "Ann Archer"
    assert conversation.contact.email == "ann@example.net"
    assert conversation.cc == ["Bo <bo@example.org>"]  # our own alias is not a CC
    assert row.size == len(raw_of(row))


def test_the_raw_message_is_kept_byte_for_byte(inbox: Inbox) -> None:
    raw = (CORPUS / "outlook-windows-1252.eml").read_bytes()
    row = receive(raw)
    assert raw_of(row) == raw
    assert row.message.conversation.subject == "Café order – wrong size"


def test_the_same_message_id_is_stored_once(inbox: Inbox) -> None:
    raw = mail(message_id="<same@example.net>")
    first, second = receive(raw, via="imap"), receive(raw, via="webhook")

    assert (first.status, second.status) == ("processed", "duplicate")
    assert second.message == first.message
    assert Message.objects.filter(inbox=inbox).count() == 1


def test_a_message_without_message_id_is_deduplicated_by_content(inbox: Inbox) -> None:
    raw = (CORPUS / "no-message-id-plain.eml").read_bytes()
    assert [receive(raw).status, receive(raw).status] == ["processed", "duplicate"]


def test_mail_for_an_unknown_address_is_kept_as_failed_and_can_be_reprocessed(
    inbox: Inbox,
) -> None:
    row = receive(mail(to="sales@example.com"))
    assert row.status == "failed" and row.inbox is None
    assert "No email inbox has this address" in row.error

    actions.update_inbox(
        inbox=inbox,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"aliases": ["help@example.com", "sales@example.com"]},
    )
    again = reprocess_inbound_email(row)
    assert again.status == "processed" and again.inbox == inbox


def test_unreadable_bytes_fail_with_the_reason_and_nothing_is_lost(inbox: Inbox) -> None:
    raw = (CORPUS / "no-headers-at-all.eml").read_bytes()
    row = receive(raw, inbox=inbox)
    assert row.status == "failed" and row.error == "The message has no headers."
    assert raw_of(row) == raw


def test_oversized_email_is_refused(inbox: Inbox, settings: Any) -> None:
    settings.INBOUND_EMAIL_MAX_BYTES = 1000
    with pytest.raises(Exception, match="too large"):
        store_inbound_email(mail("x" * 2000), via="pipe")
    assert InboundEmail.objects.count() == 0


# --- Threading --------------------------------------------------------------------------------


def our_reply(conversation: Conversation, message_id: str) -> Message:
    """An agent's reply as the email source will send it: its Message-ID is stored."""
    reply = actions.send_reply(conversation=conversation, author=UserFactory(), text="Try again")
    reply.external_id = message_id
    reply.save(update_fields=["external_id"])
    return reply


def test_a_reply_threads_by_in_reply_to_and_references(inbox: Inbox) -> None:
    first = receive(mail()).message.conversation
    our_reply(first, "<parley-out-1@example.com>")

    reply = receive(mail("Thanks", in_reply_to="<parley-out-1@example.com>"))
    via_references = receive(
        mail("More", references="<unknown@x> <parley-out-1@example.com>", subject="Other")
    )

    assert reply.message.conversation == first
    assert reply.message.data["email"]["threaded_by"] == "references"
    assert via_references.message.conversation == first


def test_a_stranger_quoting_a_message_id_does_not_join_the_conversation(inbox: Inbox) -> None:
    first = receive(mail()).message.conversation
    our_reply(first, "<parley-out-1@example.com>")

    forged = receive(
        mail(
            "I am Ann, honest",
            sender="Mallory <mallory@evil.example>",
            in_reply_to="<parley-out-1@example.com>",
        )
    )

    assert forged.message.conversation != first
    assert forged.message.conversation.contact.email == "mallory@evil.example"


def test_someone_we_copied_may_reply_into_the_thread(inbox: Inbox) -> None:
    first = receive(mail(cc="Bo <bo@example.org>")).message.conversation
    our_reply(first, "<parley-out-1@example.com>")
    bo = receive(mail("Bo here", sender="bo@example.org", in_reply_to="<parley-out-1@example.com>"))
    assert bo.message.conversation == first


def test_the_reply_address_token_threads_from_any_address(inbox: Inbox) -> None:
    first = receive(mail()).message.conversation
    token_address = reply_address("support@example.com", first.pk)

    other_address = receive(
        mail("From my work address", sender="ann@work.example", to=token_address)
    )
    bad_token = receive(
        mail("Guessing", sender="x@evil.example", to="support+c1deadbeefdeadbeef0@example.com")
    )

    assert other_address.message.conversation == first
    assert other_address.message.data["email"]["threaded_by"] == "token"
    assert bad_token.status == "processed" and bad_token.message.conversation != first


def test_a_subject_match_alone_never_threads(inbox: Inbox) -> None:
    first = receive(mail(subject="Order 1001")).message.conversation
    again = receive(mail("Second question", subject="Re: Order 1001"))
    assert again.message.conversation != first  # no reference: a new conversation
    assert again.message.conversation.contact == first.contact


# --- Automated mail ---------------------------------------------------------------------------


def test_a_bounce_fails_our_message_with_the_reason(inbox: Inbox) -> None:
    conversation = receive(mail(sender="nobody@example.net")).message.conversation
    ours = our_reply(conversation, "<parley-out-1@example.com>")

    row = receive((CORPUS / "bounce-dsn.eml").read_bytes())

    ours.refresh_from_db()
    assert ours.delivery_status == "failed"
    assert "Recipient address rejected: User unknown" in ours.delivery_error
    assert row.message.conversation == conversation
    assert row.message.data["email"]["automated"] == "bounce"


def test_an_auto_reply_does_not_reopen_or_make_the_customer_wait(inbox: Inbox) -> None:
    conversation = receive(mail()).message.conversation
    our_reply(conversation, "<parley-out-1@example.com>")
    actions.set_status(conversation=conversation, status="resolved", actor=None)

    row = receive((CORPUS / "out-of-office.eml").read_bytes())

    conversation.refresh_from_db()
    assert row.message.conversation == conversation
    assert conversation.status == "resolved" and conversation.waiting_since is None
    assert row.message.data["email"]["automated"] == "auto_reply"


def test_quoted_history_is_split_off_and_kept(inbox: Inbox) -> None:
    row = receive((CORPUS / "gmail-reply-quoted.eml").read_bytes())
    email = row.message.data["email"]
    assert email["new_text"] == "Thanks, that works now ✓\n\nAnn"
    assert (
        email["new_html"]
        == '<div dir="ltr">Thanks, that works now ✓<div><br></div><div>Ann</div></div>'
    )
    assert "Please try again." in row.message.text  # the full message stays


def test_html_is_sanitised_and_inline_images_kept(inbox: Inbox) -> None:
    html_only = receive((CORPUS / "html-only.eml").read_bytes()).message
    assert "<script" not in html_only.html and "onclick" not in html_only.html
    assert "javascript:" not in html_only.html
    inline = receive((CORPUS / "inline-image-and-attachment.eml").read_bytes()).message
    assert 'src="cid:photo1@example.com"' in inline.html
    assert [(a.filename, a.content_id, a.inline) for a in inline.attachments.order_by("id")] == [
        ("photo.png", "photo1@example.com", True),
        ("invoice.pdf", "", False),
    ]


def test_a_display_name_fills_a_contact_known_only_by_address(inbox: Inbox) -> None:
    contact = Contact.objects.create(name="", email="ann@example.net")
    contact.identities.create(kind="email", value="ann@example.net")
    receive(mail(sender="Ann Archer <ann@example.net>"))
    contact.refresh_from_db()
    assert contact.name == "Ann Archer"


# --- The pipe command -------------------------------------------------------------------------


def pipe(raw: bytes, monkeypatch: Any, *args: str) -> str:
    stdin = io.TextIOWrapper(io.BytesIO(raw))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = io.StringIO()
    call_command("inbound_email", *args, stdout=out)
    return out.getvalue()


def test_pipe_command_stores_and_answers_like_a_delivery_agent(
    inbox: Inbox, monkeypatch: Any, settings: Any
) -> None:
    assert pipe(mail(), monkeypatch).startswith("Stored email #")
    row = InboundEmail.objects.get()
    assert (row.via, row.status) == ("pipe", "pending")  # the worker processes it

    with pytest.raises(CommandError) as unknown:
        pipe(mail(), monkeypatch, "--inbox", "nobody@example.com")
    assert unknown.value.returncode == 65

    settings.INBOUND_EMAIL_MAX_BYTES = 100
    with pytest.raises(CommandError) as too_big:
        pipe(mail(), monkeypatch)
    assert too_big.value.returncode == 65 and "too large" in str(too_big.value)


# --- The SMTP server: a real SMTP conversation --------------------------------------------------


class _Controller(Controller):
    def factory(self):  # type: ignore[no-untyped-def]
        return smtp_protocol(self.handler)


@pytest.fixture
def smtp_server(transactional_db: None) -> Iterator[tuple[str, int]]:
    port = free_port()
    controller = _Controller(InboxHandler(rate=SenderRateLimit(3)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()
        # The server's worker threads hold pooled connections; let the test database go.
        from django.db import connections

        for connection in connections.all():
            if hasattr(connection, "close_pool"):
                connection.close_pool()


@pytest.mark.django_db(transaction=True)
def test_smtp_delivery_end_to_end(smtp_server, run_tasks, settings: Any) -> None:
    inbox = actions.create_inbox(
        name="Support",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"address": "support@example.com"},
    )
    host, port = smtp_server
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("ann@example.net")
        assert code == 250
        code, reply = client.rcpt("ghost@example.com")
        assert code == 550 and b"No such mailbox" in reply
        client.rset()
        answer = client.sendmail("ann@example.net", ["support@example.com"], mail())
        assert answer == {}  # accepted for every recipient

    row = InboundEmail.objects.get()
    assert (row.via, row.envelope_from, row.envelope_to) == (
        "smtp",
        "ann@example.net",
        ["support@example.com"],
    )
    assert row.status == "pending"
    run_tasks()
    row.refresh_from_db()
    assert row.status == "processed"
    assert row.message.conversation.inbox == inbox
    assert row.message.text == "Hello, my order never arrived."


@pytest.mark.django_db(transaction=True)
def test_smtp_size_limit_and_sender_rate_limit(smtp_server, settings: Any) -> None:
    actions.create_inbox(
        name="Support",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"address": "support@example.com"},
    )
    settings.INBOUND_EMAIL_MAX_BYTES = 5000
    host, port = smtp_server
    with smtplib.SMTP(host, port, timeout=10) as client:
        # smtplib announces the size, so the server refuses at MAIL FROM already.
        with pytest.raises(smtplib.SMTPSenderRefused) as too_big:
            client.sendmail("big@example.net", ["support@example.com"], mail("x" * 10_000))
        assert too_big.value.smtp_code == 552
    with smtplib.SMTP(host, port, timeout=10) as client:
        for _ in range(3):  # the limit is 3 a minute per sender
            client.sendmail("busy@example.net", ["support@example.com"], mail())
        with pytest.raises(smtplib.SMTPSenderRefused) as limited:
            client.sendmail("busy@example.net", ["support@example.com"], mail())
        assert limited.value.smtp_code == 451
    assert InboundEmail.objects.count() == 3


# --- Admins see what failed and reprocess it ------------------------------------------------


def test_admins_review_and_reprocess_failed_emails(inbox: Inbox, admin_web, agent_web) -> None:
    raw = mail(to="sales@example.com", subject="Quote request")
    row = receive(raw)
    assert row.status == "failed"

    assert agent_web.get("/settings/email/failed/").status_code in (302, 403)
    assert "1 email could not be processed" in admin_web.get("/settings/inboxes/").content.decode()
    page = admin_web.get("/settings/email/failed/").content.decode()
    assert "Quote request" in page and "No email inbox has this address: " in page
    download = admin_web.get(f"/settings/email/{row.pk}/raw/")
    assert download["Content-Type"] == "message/rfc822"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == raw

    # Still no such address: it stays failed, with the reason.
    response = admin_web.post(f"/settings/email/failed/{row.pk}/reprocess/", follow=True)
    assert "still failed" in response.content.decode()
    actions.update_inbox(
        inbox=inbox,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"aliases": ["sales@example.com"]},
    )
    response = admin_web.post("/settings/email/failed/reprocess/", follow=True)
    assert "1 email(s) processed." in response.content.decode()
    row.refresh_from_db()
    assert row.status == "processed" and row.message.conversation.inbox == inbox
    assert "Nothing failed" in admin_web.get("/settings/email/failed/").content.decode()


# --- Provider webhooks (django-anymail) ---------------------------------------------------------


def postmark(client: Any, raw: bytes, auth: str | None):
    import base64
    import json

    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    payload = {
        "FromFull": {"Email": "ann@example.net", "Name": "Ann Archer"},
        "ToFull": [{"Email": "support@example.com", "Name": ""}],
        "Subject": "Order 1001",
        "Headers": [],
        "RawEmail": raw.decode(),
    }
    return client.post(
        "/webhooks/email/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        **headers,
    )


def test_a_provider_webhook_delivers_into_the_inbox(
    inbox: Inbox, client: Any, settings: Any, run_tasks, django_capture_on_commit_callbacks
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value"}
    raw = mail(message_id="<via-webhook@example.net>")
    with django_capture_on_commit_callbacks(execute=True):
        response = postmark(client, raw, "hook:s3cret-value")
    assert response.status_code == 200
    run_tasks()
    row = InboundEmail.objects.get()
    assert (row.via, row.status) == ("webhook", "processed")
    assert row.message.conversation.inbox == inbox
    assert row.message.external_id == "<via-webhook@example.net>"
    # The same email again through SMTP/IMAP later: stored once.
    assert receive(raw, via="imap").status == "duplicate"


@pytest.mark.parametrize("auth", [None, "hook:wrong", "other:s3cret-value"])
def test_a_webhook_without_the_secret_is_refused_and_stores_nothing(
    inbox: Inbox, client: Any, settings: Any, auth: str | None
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value"}
    response = postmark(client, mail(), auth)
    assert 400 <= response.status_code < 500
    assert InboundEmail.objects.count() == 0


def test_webhooks_are_off_until_a_secret_is_configured(
    inbox: Inbox, client: Any, settings: Any
) -> None:
    settings.ANYMAIL = {}
    assert postmark(client, mail(), None).status_code == 404
    assert InboundEmail.objects.count() == 0


def test_a_forged_from_of_an_agent_is_still_a_customer_message(inbox: Inbox) -> None:
    agent = UserFactory(name="Ana Agent", email="ana@example.com")
    row = receive(mail("Please refund everyone", sender="Ana Agent <ana@example.com>"))
    message = row.message
    assert message.direction == "incoming" and message.sender_user_id is None
    assert message.sender_contact.email == "ana@example.com"  # a contact, never the agent
    assert message.kind == "message" and agent.pk not in (message.sender_user_id,)


def test_a_reused_message_id_from_another_sender_is_not_dropped(inbox: Inbox) -> None:
    first = receive(mail("Original", message_id="<same-id@forms.example>"))
    other = receive(
        mail("A different email", sender="bo@example.org", message_id="<same-id@forms.example>")
    )
    assert (first.status, other.status) == ("processed", "processed")
    assert other.message != first.message and other.message.text == "A different email"


def test_an_email_left_waiting_is_shown_to_admins(inbox: Inbox, admin_web) -> None:
    from datetime import timedelta

    from django.utils import timezone

    row = store_inbound_email(mail(), via="smtp", envelope_from="ann@example.net")
    InboundEmail.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(hours=1))
    page = admin_web.get("/settings/email/failed/").content.decode()
    assert "is a worker running?" in page
    admin_web.post(f"/settings/email/failed/{row.pk}/reprocess/")
    row.refresh_from_db()
    assert row.status == "processed"
