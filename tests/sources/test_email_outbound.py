"""An agent's reply sent as email to a real SMTP server on loopback (an aiosmtpd sink that
records what it receives, and answers what the test tells it to): headers that thread in the
customer's mail client, retries that resend the identical message, failures with reasons."""

from __future__ import annotations

import email
from email import policy
from typing import Any

import pytest

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Inbox, Message
from inbox.sources.email.inbound import process_inbound_email, store_inbound_email
from inbox.sources.email.tokens import reply_address
from tests.factories import AdminFactory, UserFactory
from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(email_inbox: Inbox) -> Inbox:
    return email_inbox  # tests/sources/conftest.py


def customer_email(**headers: str) -> bytes:
    lines = [
        "From: Ann Archer <ann@example.net>",
        "To: support@acme.example",
        "Subject: Where is my parcel?",
        "Message-ID: <ann-1@example.net>",
        *[f"{k.replace('_', '-')}: {v}" for k, v in headers.items()],
        "",
        "It has been two weeks.",
        "",
    ]
    return "\r\n".join(lines).encode()


def first_conversation(inbox: Inbox):
    row = store_inbound_email(customer_email(), via="pipe")
    return process_inbound_email(row).message.conversation


def test_a_reply_threads_under_the_customers_email(
    inbox: Inbox, sink, run_tasks, django_capture_on_commit_callbacks
) -> None:
    received, _ = sink
    conversation = first_conversation(inbox)
    agent = UserFactory(name="Ben Okafor", signature="Ben Okafor, customer care")
    with django_capture_on_commit_callbacks(execute=True):
        reply = actions.send_reply(
            conversation=conversation, author=agent, text="It left our depot today.\n\nBen"
        )
    run_tasks()

    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    mail_from, rcpt_tos, raw = received.received[0]
    assert (mail_from, rcpt_tos) == ("support@acme.example", ["ann@example.net"])
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert sent["Message-ID"] == reply.external_id
    assert sent["In-Reply-To"] == "<ann-1@example.net>"
    assert sent["References"] == "<ann-1@example.net>"
    assert sent["Subject"] == "Re: Where is my parcel?"
    sender = sent["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "Ben Okafor (Acme Support)",
        "support@acme.example",
    )
    assert sent["To"] == "Ann Archer <ann@example.net>"
    assert sent["Reply-To"] == reply_address("support@acme.example", conversation.pk)
    plain = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.startswith(
        "It left our depot today.\n\nBen\n\n-- \nBen Okafor, customer care\nAcme Support"
    )
    assert "Ann Archer wrote:\n> It has been two weeks." in plain  # the quoted history
    assert "<p>It left our depot today.</p>" in sent.get_body(("html",)).get_content()

    # The customer answers the reply: it threads back through In-Reply-To.
    answer = customer_email(
        Message_ID="<ann-2@example.net>", In_Reply_To=reply.external_id
    ).replace(b"Message-ID: <ann-1@example.net>\r\n", b"")
    row = process_inbound_email(store_inbound_email(answer, via="pipe"))
    assert row.message.conversation == conversation


def test_header_injection_through_names_and_subjects_is_impossible(
    inbox: Inbox, sink, run_tasks, django_capture_on_commit_callbacks
) -> None:
    received, _ = sink
    conversation = first_conversation(inbox)
    conversation.subject = "Hi\r\nBcc: victim@example.org"
    conversation.save()
    agent = UserFactory(name="Mallory\r\nBcc: other@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        actions.send_reply(conversation=conversation, author=agent, text="Hello")
    run_tasks()
    _, rcpt_tos, raw = received.received[0]
    assert rcpt_tos == ["ann@example.net"]
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert sent["Bcc"] is None
    assert "\n" not in sent["Subject"] and "\n" not in sent["From"]


def test_a_temporary_failure_retries_the_identical_message_then_sends(
    inbox: Inbox, sink, run_tasks, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from inbox.sources.email import outbound

    monkeypatch.setattr(outbound, "RETRY_DELAYS", (0, 0, 0, 0, 0))
    received, _ = sink
    received.replies = ["451 4.3.0 Try again later"]
    conversation = first_conversation(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        reply = actions.send_reply(conversation=conversation, author=UserFactory(), text="Hi")
    run_tasks()  # attempt 1 (451), then the retry the task scheduled

    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    assert reply.data["delivery_attempts"] == 2
    assert reply.data["delivery_last_error"] == "451 4.3.0 Try again later"
    sent = email.message_from_bytes(received.received[0][2], policy=policy.default)
    assert sent["Message-ID"] == reply.external_id  # the one chosen before attempt 1


def test_a_permanent_failure_fails_the_message_with_the_reason_and_can_be_retried(
    inbox: Inbox, sink, run_tasks, django_capture_on_commit_callbacks
) -> None:
    received, _ = sink
    received.replies = ["550 5.7.1 Relaying denied"]
    conversation = first_conversation(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        reply = actions.send_reply(conversation=conversation, author=UserFactory(), text="Hi")
    run_tasks()
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "550 5.7.1 Relaying denied"
    first_id = reply.external_id

    with django_capture_on_commit_callbacks(execute=True):
        actions.retry_delivery(message=reply, actor=AdminFactory())
    run_tasks()
    reply.refresh_from_db()
    assert reply.delivery_status == "sent" and reply.external_id == first_id


def test_an_unreachable_server_is_retried_not_failed(
    inbox: Inbox, run_tasks, django_capture_on_commit_callbacks
) -> None:
    inbox.settings = {**inbox.settings, "smtp_port": free_port()}  # nobody listens
    inbox.save()
    conversation = first_conversation(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        reply = actions.send_reply(conversation=conversation, author=UserFactory(), text="Hi")
    run_tasks()
    reply.refresh_from_db()
    assert reply.delivery_status == "queued"  # a retry is scheduled for later
    assert "Cannot reach the mail server" in reply.data["delivery_last_error"]
    assert Message.objects.get(pk=reply.pk).data["delivery_attempts"] == 1


def test_an_agent_writes_first_through_the_api(
    inbox: Inbox, sink, api, run_tasks, django_capture_on_commit_callbacks
) -> None:
    received, _ = sink
    agent = UserFactory(name="Ben Okafor")
    actions.set_inbox_access(
        inbox=inbox, users=[agent], teams=[], actor=AdminFactory(), origin=SYSTEM
    )
    client = api(agent)
    body = {
        "inbox": inbox.pk,
        "to_email": "dora@example.org",
        "to_name": "Dora Diaz",
        "subject": "Your refund",
        "text": "It was sent today.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/conversations/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["assignee"]["id"] == agent.pk
    assert response.json()["contact"]["email"] == "dora@example.org"
    run_tasks()
    sent = email.message_from_bytes(received.received[0][2], policy=policy.default)
    assert sent["Subject"] == "Your refund" and sent["In-Reply-To"] is None
    assert sent["To"].addresses[0].addr_spec == "dora@example.org"

    outsider = api(UserFactory())
    assert outsider.post("/api/v1/conversations/", body, format="json").status_code == 400
    api_inbox = actions.create_inbox(name="App", kind="api", actor=AdminFactory(), origin=SYSTEM)
    admin = api(AdminFactory())
    refused = admin.post("/api/v1/conversations/", {**body, "inbox": api_inbox.pk}, format="json")
    assert refused.status_code == 400
    assert "Only email inboxes can start conversations." in refused.content.decode()


def test_a_reply_copies_the_people_the_agent_keeps_in_cc(
    inbox: Inbox, sink, api, run_tasks, django_capture_on_commit_callbacks
) -> None:
    received, _ = sink
    raw = customer_email(Cc="Bo Brown <bo@example.org>, Cy <cy@example.org>")
    conversation = process_inbound_email(store_inbound_email(raw, via="pipe")).message.conversation
    assert conversation.cc == ["Bo Brown <bo@example.org>", "Cy <cy@example.org>"]
    client = api(AdminFactory())
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    bad = client.post(url, {"text": "Hi", "cc": ["not an address"]}, format="json")
    assert bad.status_code == 400 and "not an email address" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(
            url, {"text": "Hi all", "cc": ["Bo Brown <bo@example.org>"]}, format="json"
        )
    assert ok.status_code == 201
    run_tasks()
    _, rcpt_tos, data = received.received[0]
    assert sorted(rcpt_tos) == ["ann@example.net", "bo@example.org"]  # not Cy: unticked
    sent = email.message_from_bytes(data, policy=policy.default)
    assert sent["Cc"] == "Bo Brown <bo@example.org>"


def test_provider_reports_update_the_delivery_status(
    db: None, client, settings, run_tasks, django_capture_on_commit_callbacks
) -> None:
    import base64
    import json

    # Sent through an anymail provider backend (its test double), then reported on by the
    # provider's tracking webhook: delivered, then (another message) bounced.
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret-value"}
    inbox = actions.create_inbox(
        name="Acme",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"address": "support@acme.example"},
    )
    conversation = first_conversation(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.send_reply(conversation=conversation, author=UserFactory(), text="One")
        second = actions.send_reply(conversation=conversation, author=UserFactory(), text="Two")
    run_tasks()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.delivery_status, second.delivery_status) == ("sent", "sent")
    auth = "Basic " + base64.b64encode(b"hook:s3cret-value").decode()

    def report(**event: Any):
        return client.post(
            "/webhooks/email/postmark/tracking/",
            data=json.dumps({"Recipient": "ann@example.net", **event}),
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )

    assert (
        report(RecordType="Delivery", MessageID=first.data["provider_message_id"]).status_code
        == 200
    )
    assert (
        report(
            RecordType="Bounce",
            Type="HardBounce",
            ID=42,
            MessageID=second.data["provider_message_id"],
            Description="The server was unable to deliver your message",
            Details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        ).status_code
        == 200
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivery_status == "delivered"
    assert second.delivery_status == "failed"
    assert second.delivery_error.startswith("Postmark: bounced")
    assert "does not exist" in second.delivery_error
