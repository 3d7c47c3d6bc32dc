"""What the messaging sources share, checked across them: a retry after the provider failed a
message sends it again whole, message tags and quick replies are checked before queuing, an
unsent message leaves no words in the list, processed webhooks are pruned, the provider's
trusted origin is trusted for provider calls only, and a bad signature header is a 401."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions.platform import record_provider_status, unsend_message
from inbox.actions.templates import start_whatsapp_conversation, store_templates
from inbox.models import Conversation, Message, MessageTemplate, ProviderEvent
from inbox.sources import http
from tests.factories import AdminFactory, UserFactory
from tests.sources.test_whatsapp import (
    APP_SECRET,
    NUMBER_ID,
    TEMPLATES,
    conversation_with_customer,
    graph,
    inbox,
    reply,
    run_all,
)

pytestmark = pytest.mark.django_db
__all__ = ["graph", "inbox"]  # the fixtures, imported for this module's tests


def test_a_retry_after_the_provider_failed_it_sends_it_again_whole(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = reply(
        conversation, "Your refund is on its way", run_tasks, django_capture_on_commit_callbacks
    )
    first = sent.external_id
    record_provider_status(
        inbox=inbox, provider_id=first, status="failed", error="WhatsApp: (#131026)"
    )
    sent.refresh_from_db()
    assert sent.delivery_status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        actions.retry_delivery(message=sent, actor=UserFactory())
    run_all(run_tasks)
    sent.refresh_from_db()
    calls = graph.calls(f"/v21.0/{NUMBER_ID}/messages")
    assert len(calls) == 2 and calls[1].json["text"]["body"] == "Your refund is on its way"
    assert sent.delivery_status == "sent" and sent.external_id not in ("", first)
    assert sent.data["previous_sends"] == [first]
    # A late report about the first send no longer moves the new one, and is not kept
    # waiting for a message that will never have that id.
    assert record_provider_status(inbox=inbox, provider_id=first, status="read") is None
    from tests.sources.test_whatsapp import post, status

    post(inbox, status(first, "read"))
    run_tasks()
    assert ProviderEvent.objects.order_by("-id").first().status == "processed"
    sent.refresh_from_db()
    assert sent.delivery_status == "sent"


def test_a_retry_outside_the_window_is_refused(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    graph.queue(
        f"/v21.0/{NUMBER_ID}/messages",
        400,
        {"error": {"message": "Invalid parameter", "code": 100}},
    )
    failed = reply(conversation, "Hello", run_tasks, django_capture_on_commit_callbacks)
    assert failed.delivery_status == "failed"
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=30)
    )
    with pytest.raises(actions.InboxError, match="24-hour window closed"):
        actions.retry_delivery(message=failed, actor=UserFactory())


def test_tags_and_quick_replies_are_checked_before_queuing(inbox, run_tasks) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    agent = UserFactory()
    with pytest.raises(actions.InboxError, match="not a message tag of WhatsApp"):
        actions.send_reply(conversation=conversation, author=agent, text="Hi", tag="HUMAN_AGENT")
    with pytest.raises(actions.InboxError, match="must be different"):
        actions.send_reply(
            conversation=conversation, author=agent, text="Hi", quick_replies=["Yes", "yes"]
        )
    with pytest.raises(actions.InboxError, match="need a message"):
        actions.send_reply(
            conversation=conversation,
            author=agent,
            text="",
            quick_replies=["Yes"],
            attachments=[actions.AttachmentInput("a.txt", "text/plain", b"x")],
        )
    assert not Message.objects.filter(direction="outgoing").exists()


def test_an_unsent_message_leaves_no_words_in_the_list() -> None:
    messenger = actions.create_inbox(
        name="Page", kind="messenger", actor=AdminFactory(), origin=SYSTEM
    )
    result = actions.receive_inbound_message(
        inbox=messenger,
        identity=actions.IdentityInput(kind="external", value="psid-1", name="Sam"),
        text="my card number is 4111 1111 1111 1111",
        external_id="m_1",
    )
    unsend_message(message=result.message)
    conversation = Conversation.objects.get()
    assert conversation.last_message_preview == "(message unsent by the customer)"
    stored = Message.objects.get(pk=result.message.pk)
    assert stored.text == "" and stored.data["unsent_at"]


def test_processed_webhooks_are_pruned_after_the_retention(settings) -> None:
    from inbox.actions.maintenance import prune_events

    bot = actions.create_inbox(name="Bot", kind="telegram", actor=AdminFactory(), origin=SYSTEM)
    old = timezone.now() - settings.PROVIDER_EVENT_RETENTION - timedelta(minutes=1)
    kept_recent = ProviderEvent.objects.create(
        inbox=bot, body=b"{}", status="processed", processed_at=timezone.now()
    )
    ProviderEvent.objects.create(inbox=bot, body=b"{}", status="processed", processed_at=old)
    kept_for_admins = ProviderEvent.objects.create(
        inbox=bot, body=b"{}", status="unprocessable", processed_at=old
    )
    prune_events()
    assert set(ProviderEvent.objects.values_list("pk", flat=True)) == {
        kept_recent.pk,
        kept_for_admins.pk,
    }


def test_the_provider_origin_is_trusted_for_provider_calls_only(settings, graph) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    same_origin = graph.url + "/hook"  # e.g. an API inbox's callback URL on the provider's host
    with pytest.raises(http.DeliveryRefused, match="loopback"):
        http.resolve_target(same_origin)
    assert http.resolve_target(same_origin, trust_providers=True).port == int(
        graph.url.rsplit(":", 1)[1]
    )
    other_scheme = graph.url.replace("http://", "https://")
    with pytest.raises(http.DeliveryRefused, match="loopback"):
        http.resolve_target(other_scheme, trust_providers=True)


def test_a_non_ascii_signature_header_is_a_401_not_a_500(inbox) -> None:
    response = Client().post(
        f"/sources/whatsapp/{inbox.public_id}/",
        json.dumps({"object": "whatsapp_business_account", "entry": []}),
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=é",
    )
    assert response.status_code == 401 and ProviderEvent.objects.count() == 0
    assert APP_SECRET  # the inbox has one: the header is what is wrong


def test_templates_with_buttons_parley_cannot_fill_are_not_sendable_and_order_is_numeric(
    inbox,
) -> None:
    from inbox.sources.whatsapp.templates import api_object, spec

    store_templates(
        inbox=inbox,
        rows=[
            {
                "name": "login_code",
                "language": "en",
                "status": "APPROVED",
                "category": "AUTHENTICATION",
                "components": [
                    {"type": "BODY", "text": "{{1}} is your code."},
                    {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "123"}]},
                ],
            }
        ],
    )
    described = spec(MessageTemplate.objects.get(name="login_code"))
    assert not described["sendable"] and "copy code" in described["reason"]
    body = api_object(
        {"name": "t", "language": "en", "params": {"body": {"2": "b", "1": "a", "10": "j"}}}
    )
    assert [p["text"] for p in body["components"][0]["parameters"]] == ["a", "b", "j"]


def test_writing_first_continues_the_customers_open_conversation(inbox, run_tasks) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    store_templates(inbox=inbox, rows=TEMPLATES)
    template = MessageTemplate.objects.get(name="order_update")
    params: dict[str, Any] = {"header": ["#1"], "body": ["Kerry", "ready"], "buttons": {"0": ["1"]}}
    message = start_whatsapp_conversation(
        inbox=inbox, author=UserFactory(), phone="+44 7700 900123", template=template, params=params
    )
    assert message.conversation_id == conversation.pk and Conversation.objects.count() == 1


def test_whatsapp_parts_failures_ids_and_uploads(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    from tests.sources.test_whatsapp import CUSTOMER, JPEG, post, status

    conversation = conversation_with_customer(inbox, run_tasks)
    messages_path = f"/v21.0/{NUMBER_ID}/messages"
    # The first part is answered with another WhatsApp id for the customer (Brazil's ninth
    # digit…): kept, so their answers find this contact. The file part then hits an outage.
    graph.queue(
        messages_path,
        200,
        {
            "contacts": [{"input": CUSTOMER, "wa_id": "5511999990000"}],
            "messages": [{"id": "wamid.T1"}],
        },
    )
    graph.queue(messages_path, 503, {"error": {"message": "Service unavailable", "code": 2}})
    photos = [
        actions.AttachmentInput("label.jpg", "image/jpeg", JPEG),
        actions.AttachmentInput("receipt.jpg", "image/jpeg", JPEG),
    ]
    sent = reply(
        conversation,
        "Your label",
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=photos,
    )
    assert sent.delivery_status == "sent"
    # The first file (with the text as caption) went; the retry uploads only the second.
    assert len(graph.calls(f"/v21.0/{NUMBER_ID}/media")) == 3
    assert [c.json["type"] for c in graph.calls(messages_path)] == ["image", "image", "image"]
    identities = set(conversation.contact.identities.values_list("value", flat=True))
    assert identities == {CUSTOMER, "5511999990000"}
    # WhatsApp then fails the second part: the message says which.
    second = sent.data["whatsapp_sent"][1]
    error = {"code": 131053, "title": "Media upload error"}
    post(inbox, status(second, "failed", errors=[error]))
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "failed"
    assert sent.delivery_error.startswith("Part 2 of 2 not delivered: (#131053) Media upload error")
