"""Facebook Messenger as a source (issue 8): Meta's webhook handshake and signatures,
customer messages (text, media, quick replies, postbacks, edits, reactions), the business's
own messages from the Page inbox (echoes), delivery and read watermarks, entries for other
Pages, and replies through the Send API (tags, retries, refusals, the 24-hour window).
Payloads shaped as https://developers.facebook.com/docs/messenger-platform/webhooks and
the Send API reference document them; Meta's Graph API is a fake server on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Contact, Conversation, Event, Message, ProviderEvent
from inbox.sources.meta import signature
from tests.factories import AdminFactory, UserFactory
from tests.fake_provider import FakeProvider, Recorded

pytestmark = pytest.mark.django_db

APP_SECRET = "meta-app-secret-1"
VERIFY_TOKEN = "verify-me-please"
PAGE_ID = "104857600123"
APP_ID = "555000111222"
PSID = "6011223344556677"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def graph(settings: Any) -> Iterator[FakeProvider]:
    fake = FakeProvider()

    def answer(request: Recorded) -> tuple[int, Any, dict[str, str]]:
        if request.method == "GET" and request.path == f"/{PSID}":
            return 200, {"first_name": "Ana", "last_name": "Silva", "id": PSID}, {}
        if request.path == "/me/messages":
            sent = len(fake.calls("/me/messages"))
            return 200, {"recipient_id": PSID, "message_id": f"m_out_{sent}"}, {}
        return 404, {"error": {"message": "Unknown path", "type": "GraphMethodException"}}, {}

    fake.default = answer
    settings.META_GRAPH_URL = fake.url  # the configured provider: trusted on loopback
    yield fake
    fake.close()


@pytest.fixture
def page(graph: FakeProvider) -> Any:
    return actions.create_inbox(
        name="Acme on Messenger",
        kind="messenger",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"page_id": PAGE_ID, "app_id": APP_ID, "human_agent_tag": False},
        secrets={
            "app_secret": APP_SECRET,
            "access_token": "EAAG-page-token",
            "verify_token": VERIFY_TOKEN,
        },
    )


def delivery(*items: dict[str, Any], page_id: str = PAGE_ID) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": now_ms(), "messaging": list(items)}],
    }


def from_customer(key: str, value: dict[str, Any], *, sender: str = PSID) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": PAGE_ID},
        "timestamp": now_ms(),
        key: value,
    }


def text(mid: str, words: str, **extra: Any) -> dict[str, Any]:
    return from_customer("message", {"mid": mid, "text": words, **extra})


def echo(mid: str, words: str, **extra: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": PSID},
        "timestamp": now_ms(),
        "message": {"is_echo": True, "mid": mid, "text": words, **extra},
    }


def post(inbox: Any, payload: dict[str, Any] | bytes, *, secret: str | None = APP_SECRET) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {} if secret is None else {"HTTP_X_HUB_SIGNATURE_256": signature(secret, body)}
    return Client().post(
        f"/sources/messenger/{inbox.public_id}/", body, content_type="application/json", **headers
    )


def customer_conversation(page: Any, run_tasks: Any) -> Conversation:
    post(page, delivery(text("m_in_1", "Hi, is my order shipped?")))
    run_tasks()
    return Conversation.objects.get()


def reply(
    conversation: Conversation, words: str, run_tasks: Any, capture: Any, **extra: Any
) -> Message:
    with capture(execute=True):
        sent = actions.send_reply(
            conversation=conversation, author=UserFactory(name="Ben"), text=words, **extra
        )
    run_tasks()
    sent.refresh_from_db()
    return sent


def errors() -> list[tuple[str, str]]:
    return list(ProviderEvent.objects.order_by("id").values_list("status", "error"))


# ---------------------------------------------------------------- the webhook


def test_the_subscription_handshake_needs_the_verify_token(page) -> None:
    url = f"/sources/messenger/{page.public_id}/"
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = Client().get(url, query)
    assert answer.status_code == 200 and answer.content == b"1158201444"
    assert Client().get(url, {**query, "hub.verify_token": "guess"}).status_code == 403
    assert Client().get(url, {**query, "hub.mode": "unsubscribe"}).status_code == 403


def test_only_deliveries_signed_with_the_app_secret_are_stored(page, run_tasks) -> None:
    payload = delivery(text("m_1", "hello"))
    assert post(page, payload, secret="not-the-secret").status_code == 401
    assert post(page, payload, secret=None).status_code == 401
    assert ProviderEvent.objects.count() == 0
    assert post(page, b"{not json").status_code == 400
    assert post(page, {**payload, "object": "instagram"}).status_code == 400
    assert post(page, {"object": "page"}).status_code == 400
    assert ProviderEvent.objects.count() == 0
    answer = post(page, payload)
    assert answer.status_code == 200 and answer.content == b"EVENT_RECEIVED"
    run_tasks()
    assert Message.objects.get().text == "hello"


# ---------------------------------------------------------------- the customer writes


def test_new_customers_of_a_batch_are_named_by_one_task(page, graph, run_tasks) -> None:
    from django_tasks_db.models import DBTaskResult

    from inbox.sources.webhooks import keep_deliveries

    people = {"6011000000000001": "Ana", "6011000000000002": "Ben", "6011000000000003": "Caz"}

    def answer(request: Any) -> tuple[int, Any, dict[str, str]]:
        first = people.get(request.path.strip("/"))
        if first is None:
            return 404, {"error": {"message": "Unknown path", "code": 100}}, {}
        return 200, {"first_name": first, "last_name": "Lee"}, {}

    graph.default = answer

    def said(mid: str, words: str, psid: str) -> dict[str, Any]:
        return from_customer("message", {"mid": mid, "text": words}, sender=psid)

    items = [said(f"m_{n}", "Hello", psid) for n, psid in enumerate(people)]
    items.append(said("m_9", "Still there?", "6011000000000001"))
    keep_deliveries([(page.pk, json.dumps(delivery(item)).encode()) for item in items])
    run_tasks()
    names = {c.identities.get().value: c.name for c in Contact.objects.all()}
    assert names == {psid: f"{first} Lee" for psid, first in people.items()}
    [task] = DBTaskResult.objects.filter(task_path__endswith="learn_meta_profiles")
    assert task.return_value == "3 of 3 named"
    assert len(graph.calls("/6011")) == 3  # once per new customer
    named = Event.objects.filter(kind="contact.updated", stream=f"inbox:{page.pk}")
    assert sorted(e.payload["contact"]["name"] for e in named) == ["Ana Lee", "Ben Lee", "Caz Lee"]


def test_a_message_arrives_once_with_the_customers_name(page, graph, run_tasks) -> None:
    first = text("m_AbC1", "Where is my order?", quick_reply={"payload": "ORDER_STATUS"})
    post(page, delivery(first))
    post(page, delivery(first))  # Meta redelivers when we were slow to answer
    post(page, delivery(text("m_AbC2", "It's #1234", reply_to={"mid": "m_AbC1"})))
    run_tasks()
    assert [status for status, _ in errors()] == ["processed"] * 3
    stored = Message.objects.order_by("id")
    assert [m.text for m in stored] == ["Where is my order?", "It's #1234"]
    assert stored[0].external_id == "m_AbC1" and stored[0].direction == "incoming"
    assert stored[0].data["quick_reply_payload"] == "ORDER_STATUS"
    assert stored[1].data["reply_to"] == {"mid": "m_AbC1", "message_id": stored[0].pk}
    contact = Conversation.objects.get().contact
    assert contact.name == "Ana Silva" and contact.identities.get().value == PSID
    # The profile is fetched once, for the new contact, with the Page token.
    [lookup] = graph.calls(f"/{PSID}")
    assert lookup.query["fields"] == ["first_name,last_name"]
    assert lookup.headers["authorization"] == "Bearer EAAG-page-token"


def test_a_profile_meta_will_not_give_never_blocks_the_message(page, graph, run_tasks) -> None:
    graph.queue(f"/{PSID}", 400, {"error": {"message": "(#100) No profile", "code": 100}})
    post(page, delivery(text("m_1", "hello")))
    run_tasks()
    assert Message.objects.get().text == "hello"
    assert Conversation.objects.get().contact.name == ""


def test_files_are_downloaded_and_what_cannot_be_is_said(page, graph, run_tasks, settings) -> None:
    settings.MESSAGING_MEDIA_MAX_BYTES = 5000
    photo = graph.serve("/cdn/photo.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")
    huge = graph.serve("/cdn/big.mp4", b"0" * 6000, "video/mp4")
    wrong = graph.serve("/cdn/login", b"<html>sign in</html>", "text/html")
    attachments = [
        {"type": "image", "payload": {"url": photo}},
        {"type": "video", "payload": {"url": huge}},
        {"type": "audio", "payload": {"url": wrong}},
    ]
    post(page, delivery(from_customer("message", {"mid": "m_media", "attachments": attachments})))
    location = {
        "type": "location",
        "title": "Ana's place",
        "payload": {"coordinates": {"lat": 38.72, "long": -9.14}},
    }
    post(page, delivery(from_customer("message", {"mid": "m_loc", "attachments": [location]})))
    like = {"type": "image", "payload": {"url": photo, "sticker_id": 369239263222822}}
    post(page, delivery(from_customer("message", {"mid": "m_like", "attachments": [like]})))
    run_tasks()
    media = Message.objects.get(external_id="m_media")
    [file] = media.attachments.all()
    assert file.content_type == "image/jpeg" and file.size == 103
    assert "[Video not downloaded: 6,000 bytes is over the 5,000-byte limit]" in media.text
    assert "[Audio not downloaded: the provider answered text/html, not a file]" in media.text
    assert media.data["raw"]["message"]["attachments"][1]["payload"]["url"] == huge
    where = Message.objects.get(external_id="m_loc").text
    assert where.startswith("Location: Ana's place · 38.72, -9.14")
    assert Message.objects.get(external_id="m_like").text == "\U0001f44d"


def test_a_button_press_is_stored_as_its_title(page, run_tasks) -> None:
    postback = {"title": "Talk to a person", "payload": "HUMAN", "mid": "m_pb_1"}
    post(page, delivery(from_customer("postback", postback)))
    run_tasks()
    stored = Message.objects.get(direction="incoming")  # (it also flags "needs a person")
    assert stored.text == "Talk to a person" and stored.external_id == "m_pb_1"
    assert stored.data["postback"] == {"title": "Talk to a person", "payload": "HUMAN"}


def test_edits_and_reactions_follow_the_message(page, run_tasks, capture_reply) -> None:
    post(page, delivery(text("m_1", "I want 2 mugs")))
    run_tasks()
    edit = {"mid": "m_1", "text": "I want 3 mugs", "num_edit": 1}
    post(page, delivery(from_customer("message_edit", edit)))
    reaction = {"reaction": "love", "emoji": "\u2764\ufe0f", "action": "react", "mid": "m_1"}
    post(page, delivery(from_customer("reaction", reaction)))
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "I want 3 mugs" and stored.data["original_text"] == "I want 2 mugs"
    assert stored.data["reactions"] == {"customer": "\u2764\ufe0f"}
    post(page, delivery(from_customer("reaction", {"action": "unreact", "mid": "m_1"})))
    run_tasks()
    stored.refresh_from_db()
    assert stored.data["reactions"] == {}
    # The customer reacts to the agent's reply.
    sent = capture_reply(Conversation.objects.get(), "We have 3 in stock")
    like = {"reaction": "like", "emoji": "\U0001f44d", "action": "react", "mid": sent.external_id}
    post(page, delivery(from_customer("reaction", like)))
    run_tasks()
    sent.refresh_from_db()
    assert sent.data["reactions"] == {"customer": "\U0001f44d"}


def test_what_cannot_be_used_is_kept_with_the_reason(page, run_tasks) -> None:
    post(page, delivery(from_customer("optin", {"ref": "landing", "user_ref": "u1"})))
    post(page, delivery(text("m_9", "wrong page"), page_id="999999999"))
    post(
        page,
        {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "changes": [{"field": "feed"}]}]},
    )
    run_tasks()
    reasons = errors()
    assert [status for status, _ in reasons] == ["unprocessable"] * 3
    assert "does not handle: optin" in reasons[0][1]
    assert "Page 999999999" in reasons[1][1] and "nothing was stored" in reasons[1][1]
    assert "feed" in reasons[2][1]
    assert Message.objects.count() == 0


def test_a_good_event_is_kept_when_its_neighbour_is_not(page, run_tasks) -> None:
    post(page, delivery(from_customer("optin", {"ref": "x"}), text("m_ok", "still here")))
    run_tasks()
    assert Message.objects.get().text == "still here"
    [(status, reason)] = errors()
    assert status == "unprocessable" and "optin" in reason


def test_a_page_on_the_same_app_reaches_its_own_inbox(page, run_tasks) -> None:
    other = actions.create_inbox(
        name="Acme Outlet",
        kind="messenger",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"page_id": "200300400"},
        secrets={"app_secret": APP_SECRET, "access_token": "t2", "verify_token": "v2"},
    )
    stranger = actions.create_inbox(
        name="Someone else",
        kind="messenger",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"page_id": "300400500"},
        secrets={"app_secret": "another-app", "access_token": "t3", "verify_token": "v3"},
    )
    item = {**text("m_outlet", "Do you ship to Porto?"), "recipient": {"id": "200300400"}}
    post(page, delivery(item, page_id="200300400"))  # the app's one webhook URL
    post(page, delivery(text("m_stranger", "hi"), page_id="300400500"))
    run_tasks()
    assert Message.objects.get().inbox == other
    assert Conversation.objects.get().inbox == other
    assert errors()[1][0] == "unprocessable"
    assert not Message.objects.filter(inbox=stranger).exists()


# ---------------------------------------------------------------- echoes and statuses


@pytest.fixture
def capture_reply(run_tasks, django_capture_on_commit_callbacks) -> Any:
    def send(conversation: Conversation, words: str, **extra: Any) -> Message:
        return reply(conversation, words, run_tasks, django_capture_on_commit_callbacks, **extra)

    return send


def test_the_business_writing_from_the_page_inbox_is_shown_as_sent(page, run_tasks) -> None:
    customer_conversation(page, run_tasks)
    post(page, delivery(echo("m_page_1", "Yes, it left today", app_id=263902037430900)))
    post(page, delivery(echo("m_page_1", "Yes, it left today", app_id=263902037430900)))
    run_tasks()
    stored = Message.objects.get(external_id="m_page_1")
    assert stored.direction == "outgoing" and stored.delivery_status == "sent"
    assert stored.sender_contact is None and stored.data["sent_via"] == "Messenger app"
    assert Message.objects.count() == 2 and Conversation.objects.count() == 1


def test_the_echo_of_our_own_reply_is_not_stored_again(
    page, graph, run_tasks, capture_reply
) -> None:
    conversation = customer_conversation(page, run_tasks)
    sent = capture_reply(conversation, "On its way!")
    assert sent.external_id == "m_out_1"
    metadata = f"parley:{page.public_id}:{sent.pk}"
    post(page, delivery(echo("m_out_1", "On its way!", app_id=int(APP_ID), metadata=metadata)))
    # Even when it arrives before our send was recorded, the app id tells it apart.
    post(page, delivery(echo("m_out_unrecorded", "On its way!", app_id=int(APP_ID))))
    run_tasks()
    assert Message.objects.filter(direction="outgoing").count() == 1
    assert len(graph.calls("/me/messages")) == 1  # and nothing was sent again
    # Without the app id setting, the mid still recognises it.
    actions.update_inbox(inbox=page, actor=AdminFactory(), origin=SYSTEM, settings={"app_id": ""})
    post(page, delivery(echo("m_out_1", "On its way!", app_id=int(APP_ID))))
    run_tasks()
    assert Message.objects.filter(direction="outgoing").count() == 1


def test_delivery_and_read_watermarks_move_what_was_sent(page, run_tasks, capture_reply) -> None:
    conversation = customer_conversation(page, run_tasks)
    first = capture_reply(conversation, "First")
    second = capture_reply(conversation, "Second")
    assert (first.delivery_status, second.delivery_status) == ("sent", "sent")
    # The read arrives before the delivery report; the delivery then changes nothing.
    post(page, delivery(from_customer("read", {"watermark": now_ms()})))
    run_tasks()
    post(
        page,
        delivery(from_customer("delivery", {"mids": [first.external_id], "watermark": now_ms()})),
    )
    run_tasks()
    for message in (first, second):
        message.refresh_from_db()
        assert message.delivery_status == "read"
    third = capture_reply(conversation, "Third")
    watermark = now_ms()
    fourth = capture_reply(conversation, "Fourth, after the watermark")
    Message.objects.filter(pk=fourth.pk).update(created_at=timezone.now() + timedelta(seconds=5))
    post(
        page,
        delivery(from_customer("delivery", {"mids": [third.external_id], "watermark": watermark})),
    )
    run_tasks()
    third.refresh_from_db()
    fourth.refresh_from_db()
    assert third.delivery_status == "delivered" and fourth.delivery_status == "sent"
    assert {status for status, _ in errors()} == {"processed"}


def test_reports_and_echoes_of_a_later_part_find_the_reply(
    page, graph, run_tasks, capture_reply
) -> None:
    conversation = customer_conversation(page, run_tasks)
    photo = actions.AttachmentInput("mug.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * 50)
    sent = capture_reply(conversation, "Here is the mug", attachments=[photo])
    assert sent.external_id == "m_out_1" and sent.data["meta_message_ids"] == ["m_out_1", "m_out_2"]
    # Without the app id, the echo of the photo is known by its mid: not stored again.
    actions.update_inbox(inbox=page, actor=AdminFactory(), origin=SYSTEM, settings={"app_id": ""})
    served = graph.serve("/cdn/mug.jpg", b"\xff\xd8\xff" + b"0" * 50, "image/jpeg")
    file = {"type": "image", "payload": {"url": served}}
    post(page, delivery(echo("m_out_2", "", attachments=[file])))
    run_tasks()
    assert Message.objects.filter(direction="outgoing").count() == 1
    # Meta reports the photo (the second send) delivered: that is the reply.
    post(page, delivery(from_customer("delivery", {"mids": ["m_out_2"]})))
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    # "m_out" is in the list as text, not as a part: no message has it.
    post(page, delivery(from_customer("reaction", {"action": "unreact", "mid": "m_out"})))
    run_tasks()
    assert ProviderEvent.objects.order_by("id").last().status == "pending"
    assert {status for status, _ in errors()} == {"processed", "pending"}


def test_a_report_before_the_send_is_recorded_waits_for_it(page, run_tasks) -> None:
    from django_tasks_db.models import DBTaskResult

    from inbox.sources.messenger.outbound import deliver

    conversation = customer_conversation(page, run_tasks)
    # Queued, its Send API answer not recorded yet (the task has not run).
    queued = actions.send_reply(conversation=conversation, author=UserFactory(), text="Hello")
    post(page, delivery(from_customer("delivery", {"mids": ["m_out_1"]})))
    post(page, delivery(from_customer("read", {"watermark": now_ms()})))
    run_tasks()
    early_delivery, early_read = ProviderEvent.objects.order_by("id")[1:]
    assert (early_delivery.status, early_read.status) == ("pending", "pending")
    assert early_delivery.error.startswith("Waiting: A delivery report for m_out_1")
    assert early_read.error.startswith("Waiting: A read report for a reply still being sent")
    assert deliver(queued).startswith("sent")
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()
    queued.refresh_from_db()
    assert queued.delivery_status == "read"
    assert {status for status, _ in errors()} == {"processed"}


# ---------------------------------------------------------------- replies


def test_a_reply_goes_to_the_customer_through_the_send_api(
    page, graph, run_tasks, capture_reply
) -> None:
    conversation = customer_conversation(page, run_tasks)
    sent = capture_reply(conversation, "Hello Ana!")
    assert sent.delivery_status == "sent" and sent.external_id == "m_out_1"
    [call] = graph.calls("/me/messages")
    assert call.method == "POST" and call.headers["authorization"] == "Bearer EAAG-page-token"
    assert call.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello Ana!", "metadata": f"parley:{page.public_id}:{sent.pk}"},
    }


def test_quick_replies_and_files_go_along(page, graph, run_tasks, capture_reply) -> None:
    conversation = customer_conversation(page, run_tasks)
    with_quick = capture_reply(
        conversation,
        "Here is the invoice. Anything else?",
        attachments=[actions.AttachmentInput("invoice.pdf", "application/pdf", b"%PDF-1.4 x")],
    )
    # Quick replies are an API client's choice, kept on the message before it is sent.
    assert with_quick.delivery_status == "sent"
    text_call, file_call = graph.calls("/me/messages")
    assert text_call.json["message"]["text"] == "Here is the invoice. Anything else?"
    assert file_call.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="filedata"; filename="invoice.pdf"' in file_call.body
    assert b"%PDF-1.4 x" in file_call.body
    assert b'{"type": "file", "payload": {"is_reusable": false}}' in file_call.body
    assert with_quick.external_id == "m_out_1"
    assert with_quick.data["meta_message_ids"] == ["m_out_1", "m_out_2"]

    from inbox.sources.messenger.outbound import deliver

    queued = actions.send_reply(conversation=conversation, author=UserFactory(), text="Rate us?")
    Message.objects.filter(pk=queued.pk).update(data={"quick_replies": ["Great", "OK", "Bad"]})
    queued.refresh_from_db()
    assert deliver(queued).startswith("sent")
    quick = graph.calls("/me/messages")[-1].json["message"]["quick_replies"]
    assert quick[0] == {"content_type": "text", "title": "Great", "payload": "Great"}
    assert len(quick) == 3


def test_rate_limits_and_outages_are_retried_then_it_goes_through(
    page, graph, run_tasks, capture_reply
) -> None:
    from django_tasks_db.models import DBTaskResult

    conversation = customer_conversation(page, run_tasks)
    graph.queue(
        "/me/messages",
        400,
        {"error": {"message": "Calls to this API have exceeded the rate limit.", "code": 613}},
    )
    graph.queue("/me/messages", 500, {"error": {"message": "Internal error", "code": 1}})
    sent = capture_reply(conversation, "Thanks for waiting")
    assert sent.delivery_status == "queued"
    retry = DBTaskResult.objects.get(status="READY")
    assert (retry.run_after - timezone.now()).total_seconds() > 50  # a rate limit waits
    for _ in range(2):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "sent" and len(graph.calls("/me/messages")) == 3
    assert sent.data["delivery_attempts"] == 3


def test_a_refusal_is_shown_on_the_message_in_words_agents_understand(
    page, graph, run_tasks, capture_reply
) -> None:
    conversation = customer_conversation(page, run_tasks)
    graph.queue(
        "/me/messages",
        400,
        {
            "error": {
                "message": "This message is sent outside of allowed window.",
                "type": "OAuthException",
                "code": 10,
                "error_subcode": 2018278,
                "fbtrace_id": "A1b2",
            }
        },
    )
    sent = capture_reply(conversation, "Still there?")
    assert sent.delivery_status == "failed"
    assert sent.delivery_error.startswith(
        "Messenger refused it: (#10) This message is sent outside of allowed window. "
        "The 24-hour window has closed"
    )
    graph.queue(
        "/me/messages",
        400,
        {"error": {"message": "This person isn't available right now.", "code": 551}},
    )
    blocked = capture_reply(conversation, "Hello?")
    assert "(#551) This person isn't available right now." in blocked.delivery_error
    assert "blocked the Page" in blocked.delivery_error
    assert len(graph.calls("/me/messages")) == 2
    too_long = capture_reply(conversation, "x" * 2001)
    assert too_long.delivery_status == "failed"
    assert "limited to 2000 characters" in too_long.delivery_error
    assert len(graph.calls("/me/messages")) == 2


def test_after_24_hours_only_an_allowed_tag_may_be_sent(
    page, graph, run_tasks, capture_reply
) -> None:
    conversation = customer_conversation(page, run_tasks)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=30)
    )
    with pytest.raises(actions.InboxError, match="24-hour window closed"):
        actions.send_reply(conversation=conversation, author=UserFactory(), text="Hi again")
    with pytest.raises(actions.InboxError):  # the inbox lacks the Human Agent permission
        actions.send_reply(
            conversation=conversation, author=UserFactory(), text="Hi", tag="HUMAN_AGENT"
        )
    actions.update_inbox(
        inbox=page, actor=AdminFactory(), origin=SYSTEM, settings={"human_agent_tag": True}
    )
    sent = capture_reply(conversation, "Your refund is done", tag="HUMAN_AGENT")
    assert sent.delivery_status == "sent"
    body = graph.calls("/me/messages")[-1].json
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(days=8)
    )
    with pytest.raises(actions.InboxError):
        actions.send_reply(
            conversation=conversation, author=UserFactory(), text="Hi", tag="HUMAN_AGENT"
        )
    update = capture_reply(conversation, "Your order shipped", tag="POST_PURCHASE_UPDATE")
    assert graph.calls("/me/messages")[-1].json["tag"] == "POST_PURCHASE_UPDATE"
    assert update.delivery_status == "sent"


# ---------------------------------------------------------------- setup


def test_test_connection_reads_the_page_and_subscribes_it(page, graph) -> None:
    from inbox.sources.messenger.setup import SETUP
    from inbox.sources.setup import ConnectionProblem

    graph.queue(f"/{PAGE_ID}/subscribed_apps", 200, {"success": True})
    graph.queue(f"/{PAGE_ID}", 200, {"id": PAGE_ID, "name": "Acme"})
    graph.queue("/app", 200, {"id": APP_ID, "name": "Acme support"})
    said = SETUP.test_connection(page, "https://parley.example/sources/messenger/x/")
    assert "Connected to the Page Acme" in said
    subscribe = graph.calls(f"/{PAGE_ID}/subscribed_apps")[0]
    assert "message_echoes" in subscribe.json["subscribed_fields"]
    graph.queue(
        f"/{PAGE_ID}",
        400,
        {"error": {"message": "Error validating access token", "code": 190}},
    )
    with pytest.raises(ConnectionProblem, match=r"\(#190\) Error validating access token"):
        SETUP.test_connection(page, "https://parley.example/")
    graph.queue(f"/{PAGE_ID}", 200, {"id": PAGE_ID, "name": "Acme"})
    graph.queue("/app", 200, {"id": "999", "name": "Another app"})
    with pytest.raises(ConnectionProblem, match="belongs to the Meta app 999"):
        SETUP.test_connection(page, "https://parley.example/")


def test_an_admin_sets_it_up_on_the_setup_page(admin_web, graph) -> None:
    created = admin_web.post(
        "/settings/inboxes/new/messenger/",
        {
            "name": "Acme on Messenger",
            "page_id": PAGE_ID,
            "app_id": APP_ID,
            "human_agent_tag": "on",
            "app_secret": APP_SECRET,
            "access_token": "EAAG-page-token",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    from inbox.models import Inbox

    inbox = Inbox.objects.get(kind="messenger")
    assert inbox.settings["page_id"] == PAGE_ID and inbox.settings["human_agent_tag"] is True
    keys = inbox.get_secrets()
    assert keys["app_secret"] == APP_SECRET and keys["verify_token"]
    page_html = admin_web.get(created["Location"]).content.decode()
    assert f"/sources/messenger/{inbox.public_id}/" in page_html
    assert keys["verify_token"] in page_html and APP_SECRET not in page_html
    handshake = Client().get(
        f"/sources/messenger/{inbox.public_id}/",
        {"hub.mode": "subscribe", "hub.verify_token": keys["verify_token"], "hub.challenge": "7"},
    )
    assert handshake.content == b"7"
    graph.queue(f"/{PAGE_ID}/subscribed_apps", 200, {"success": True})
    graph.queue(f"/{PAGE_ID}", 200, {"id": PAGE_ID, "name": "Acme"})
    tested = admin_web.post(f"/settings/inboxes/{inbox.pk}/messaging/test/", follow=True)
    assert "Connected to the Page Acme" in tested.content.decode()
