"""A reply to a website visitor who has left goes out by email (a real SMTP conversation with
a sink on loopback) through the email inbox the chat names, and their email answer comes
back into the same chat conversation; a visitor still on the site gets it in the chat only."""

from __future__ import annotations

import email
from email import policy

import pytest

from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions import widget as visitor_actions
from inbox.models import Conversation, Message, WidgetVisitor
from inbox.sources.email.inbound import process_inbound_email, store_inbound_email
from inbox.sources.email.tokens import reply_address
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(email_inbox):
    agent = UserFactory(name="Ben Okafor")
    inbox = actions.create_inbox(
        name="Acme chat",
        kind="widget",
        actor=AdminFactory(),
        origin=SYSTEM,
        members=[agent],
        settings={
            "widget": {
                "allowed_origins": ["https://acme.example"],
                "email_inbox_id": email_inbox.pk,
            }
        },
    )
    visitor, _ = visitor_actions.start_session(inbox=inbox)
    visitor_actions.visitor_writes(
        visitor=visitor, text="Do you ship to Norway?", name="Ann", email="ann@example.net"
    )
    return {"inbox": inbox, "agent": agent, "visitor": visitor}


def reply(chat, text, run_tasks, capture):
    conversation = Conversation.objects.get(inbox=chat["inbox"])
    with capture(execute=True):
        message = actions.send_reply(conversation=conversation, author=chat["agent"], text=text)
    run_tasks()
    message.refresh_from_db()
    return conversation, message


def test_a_visitor_who_left_gets_the_reply_by_email_and_answers_into_the_chat(
    chat,
    sink,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    received, _ = sink
    conversation, message = reply(
        chat, "Yes, in 3 to 5 days.", run_tasks, django_capture_on_commit_callbacks
    )
    assert message.delivery_status == "sent" and message.external_id
    mail_from, rcpt_tos, raw = received.received[0]
    assert (mail_from, rcpt_tos) == ("support@acme.example", ["ann@example.net"])
    sent = email.message_from_bytes(raw, policy=policy.default)
    assert sent["Subject"] == "Your chat with Acme chat"
    assert sent["Reply-To"] == reply_address("support@acme.example", conversation.pk)
    body = sent.get_body(("plain",)).get_content()
    assert "Yes, in 3 to 5 days." in body and "reply to this email" in body

    answer = "\r\n".join(
        [
            "From: Ann <ann@example.net>",
            f"To: {sent['Reply-To']}",
            "Subject: Re: Your chat with Acme chat",
            "Message-ID: <ann-answer@example.net>",
            f"In-Reply-To: {message.external_id}",
            "",
            "Great, and is customs included?",
            "",
        ]
    ).encode()
    row = process_inbound_email(store_inbound_email(answer, via="pipe"))
    assert row.status == "processed", row.error
    stored = row.message
    assert stored.conversation == conversation and stored.inbox_id == chat["inbox"].pk
    assert stored.text.startswith("Great, and is customs included?")
    conversation.refresh_from_db()
    assert conversation.waiting_since is not None  # waiting for us again
    texts = list(
        Message.objects.filter(conversation=conversation, kind="message").values_list(
            "text", flat=True
        )
    )
    assert len(texts) == 3


def test_a_visitor_still_on_the_site_gets_it_in_the_chat_only(
    chat,
    sink,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    received, _ = sink
    WidgetVisitor.objects.update(sockets=1)  # a widget open now
    _, message = reply(chat, "Yes!", run_tasks, django_capture_on_commit_callbacks)
    assert message.delivery_status == "delivered"
    assert received.received == []


def test_without_an_address_it_waits_for_their_next_visit(
    chat,
    sink,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    received, _ = sink
    conversation = Conversation.objects.get(inbox=chat["inbox"])
    conversation.contact.email = ""
    conversation.contact.save()
    _, message = reply(chat, "Yes!", run_tasks, django_capture_on_commit_callbacks)
    assert message.delivery_status == "sent" and received.received == []


def test_a_token_of_an_unlinked_chat_does_not_thread(
    chat,
    email_inbox,
    run_tasks,
) -> None:
    conversation = Conversation.objects.get(inbox=chat["inbox"])
    actions.update_inbox(
        inbox=chat["inbox"],
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"widget": {"email_inbox_id": None}},  # no longer answered by email
    )
    forged = "\r\n".join(
        [
            "From: Mallory <m@example.org>",
            f"To: {reply_address('support@acme.example', conversation.pk)}",
            "Subject: hi",
            "Message-ID: <m-1@example.org>",
            "",
            "let me in",
            "",
        ]
    ).encode()
    row = process_inbound_email(store_inbound_email(forged, via="pipe"))
    assert row.message.conversation != conversation
    assert row.message.conversation.inbox == email_inbox
