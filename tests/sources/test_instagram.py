"""Instagram direct messages as a source (issue 8): the same Messenger Platform as Messenger
(inbox/sources/messenger/), with Instagram's own events: unsent messages, story mentions and
replies, shared posts and reels, echoes in the messages field, seen by mid, usernames, the
1000-byte text limit and the file types Instagram takes. Payloads shaped as
https://developers.facebook.com/docs/messenger-platform/instagram documents them."""

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
from inbox.models import Conversation, Message, ProviderEvent
from inbox.sources.meta import signature
from tests.factories import AdminFactory, UserFactory
from tests.fake_provider import FakeProvider, Recorded

pytestmark = pytest.mark.django_db

APP_SECRET = "ig-app-secret-1"
VERIFY_TOKEN = "ig-verify-token"
ACCOUNT_ID = "17841400000000001"
APP_ID = "555000111333"
IGSID = "1234567890123456"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def graph(settings: Any) -> Iterator[FakeProvider]:
    fake = FakeProvider()

    def answer(request: Recorded) -> tuple[int, Any, dict[str, str]]:
        if request.method == "GET" and request.path == f"/{IGSID}":
            return 200, {"name": "Ana Silva", "username": "ana.silva", "id": IGSID}, {}
        if request.path == "/me/messages":
            sent = len(fake.calls("/me/messages"))
            return 200, {"recipient_id": IGSID, "message_id": f"ig_out_{sent}"}, {}
        return 404, {"error": {"message": "Unknown path", "type": "GraphMethodException"}}, {}

    fake.default = answer
    settings.META_GRAPH_URL = fake.url
    yield fake
    fake.close()


@pytest.fixture
def account(graph: FakeProvider) -> Any:
    return actions.create_inbox(
        name="Acme on Instagram",
        kind="instagram",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"instagram_account_id": ACCOUNT_ID, "app_id": APP_ID},
        secrets={
            "app_secret": APP_SECRET,
            "access_token": "EAAG-linked-page-token",
            "verify_token": VERIFY_TOKEN,
        },
    )


def delivery(*items: dict[str, Any], account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    return {
        "object": "instagram",
        "entry": [{"id": account_id, "time": now_ms(), "messaging": list(items)}],
    }


def from_customer(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "sender": {"id": IGSID},
        "recipient": {"id": ACCOUNT_ID},
        "timestamp": now_ms(),
        key: value,
    }


def message(mid: str, words: str = "", **extra: Any) -> dict[str, Any]:
    return from_customer("message", {"mid": mid, **({"text": words} if words else {}), **extra})


def post(inbox: Any, payload: dict[str, Any] | bytes, *, secret: str | None = APP_SECRET) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {} if secret is None else {"HTTP_X_HUB_SIGNATURE_256": signature(secret, body)}
    return Client().post(
        f"/sources/instagram/{inbox.public_id}/", body, content_type="application/json", **headers
    )


@pytest.fixture
def send(run_tasks, django_capture_on_commit_callbacks) -> Any:
    def reply(conversation: Conversation, words: str, **extra: Any) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            sent = actions.send_reply(
                conversation=conversation, author=UserFactory(), text=words, **extra
            )
        run_tasks()
        sent.refresh_from_db()
        return sent

    return reply


def customer_conversation(account: Any, run_tasks: Any) -> Conversation:
    post(account, delivery(message("ig_in_1", "Hi! Do you have this in blue?")))
    run_tasks()
    return Conversation.objects.get()


def statuses() -> list[tuple[str, str]]:
    return list(ProviderEvent.objects.order_by("id").values_list("status", "error"))


# ---------------------------------------------------------------- the webhook


def test_handshake_and_signatures(account, run_tasks) -> None:
    url = f"/sources/instagram/{account.public_id}/"
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    assert Client().get(url, query).content == b"42"
    assert Client().get(url, {**query, "hub.verify_token": "no"}).status_code == 403
    payload = delivery(message("ig_1", "hello"))
    assert post(account, payload, secret="wrong").status_code == 401
    assert post(account, payload, secret=None).status_code == 401
    assert post(account, b"[1, 2").status_code == 400
    assert post(account, {**payload, "object": "page"}).status_code == 400
    assert ProviderEvent.objects.count() == 0
    assert post(account, payload).status_code == 200
    run_tasks()
    assert Message.objects.get().text == "hello"


# ---------------------------------------------------------------- the customer writes


def test_a_message_arrives_once_with_name_and_username(account, graph, run_tasks) -> None:
    first = message("ig_in_1", "Do you ship to Porto?")
    post(account, delivery(first))
    post(account, delivery(first))
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "Do you ship to Porto?" and stored.external_id == "ig_in_1"
    contact = Conversation.objects.get().contact
    assert contact.name == "Ana Silva"
    assert contact.custom_attributes["instagram_username"] == "ana.silva"
    [lookup] = graph.calls(f"/{IGSID}")
    assert lookup.query["fields"] == ["name,username"]


def test_stories_shares_and_reels(account, graph, run_tasks, settings) -> None:
    settings.MESSAGING_MEDIA_MAX_BYTES = 4000
    story = graph.serve("/cdn/story.jpg", b"\xff\xd8\xff story", "image/jpeg")
    post_image = graph.serve("/cdn/post.jpg", b"\xff\xd8\xff post", "image/jpeg")
    reel = graph.serve("/cdn/reel.mp4", b"0" * 5000, "video/mp4")
    mention = [{"type": "story_mention", "payload": {"url": story}}]
    post(account, delivery(message("ig_mention", attachments=mention)))
    replied = {"story": {"url": story, "id": "18012345678901234"}}
    post(account, delivery(message("ig_story_reply", "Love this!", reply_to=replied)))
    share = [{"type": "share", "payload": {"url": post_image}}]
    post(account, delivery(message("ig_share", attachments=share)))
    reel_payload = {"reel_video_id": "1790", "title": "Summer drop", "url": reel}
    post(
        account,
        delivery(message("ig_reel", attachments=[{"type": "ig_reel", "payload": reel_payload}])),
    )
    post(account, delivery(message("ig_odd", is_unsupported=True)))
    run_tasks()
    assert {status for status, _ in statuses()} == {"processed"}
    mentioned = Message.objects.get(external_id="ig_mention")
    assert mentioned.text == "[Story mention]"
    assert mentioned.attachments.get().content_type == "image/jpeg"
    story_reply = Message.objects.get(external_id="ig_story_reply")
    assert story_reply.text == "[Replied to your story]\nLove this!"
    assert story_reply.data["story_reply"] == {"id": "18012345678901234", "url": story}
    shared = Message.objects.get(external_id="ig_share")
    assert shared.text == "[Shared post]" and shared.attachments.count() == 1
    reel_message = Message.objects.get(external_id="ig_reel")
    assert reel_message.text == (
        "[Shared reel: Summer drop]\n"
        "[Shared reel not downloaded: 5,000 bytes is over the 4,000-byte limit]"
    )
    assert reel_message.data["raw"]["message"]["attachments"][0]["payload"]["url"] == reel
    assert "does not show yet" in Message.objects.get(external_id="ig_odd").text


def test_a_photo_of_the_wrong_type_is_a_placeholder(account, graph, run_tasks) -> None:
    odd = graph.serve("/cdn/photo", b"%PDF-1.4", "application/pdf")
    post(
        account,
        delivery(message("ig_img", attachments=[{"type": "image", "payload": {"url": odd}}])),
    )
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "[Photo not downloaded: a photo cannot be application/pdf]"
    assert stored.attachments.count() == 0


def test_an_unsent_message_leaves_only_the_fact(account, graph, run_tasks) -> None:
    photo = graph.serve("/cdn/card.jpg", b"\xff\xd8\xff card", "image/jpeg")
    attachments = [{"type": "image", "payload": {"url": photo}}]
    post(account, delivery(message("ig_oops", "my card is 4242...", attachments=attachments)))
    run_tasks()
    assert Message.objects.get().attachments.count() == 1
    unsent = from_customer("message", {"mid": "ig_oops", "is_deleted": True})
    post(account, delivery(unsent))
    post(account, delivery(unsent))
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "" and "unsent_at" in stored.data
    assert "4242" not in json.dumps(stored.data) and stored.attachments.count() == 0
    assert {status for status, _ in statuses()} == {"processed"}


def test_reactions_and_edits(account, run_tasks) -> None:
    post(account, delivery(message("ig_1", "one blue please")))
    run_tasks()
    react = {"mid": "ig_1", "action": "react", "reaction": "love", "emoji": "\u2764\ufe0f"}
    post(account, delivery(from_customer("reaction", react)))
    post(
        account,
        delivery(
            from_customer("message_edit", {"mid": "ig_1", "text": "two blue please", "num_edit": 1})
        ),
    )
    run_tasks()
    stored = Message.objects.get()
    assert stored.data["reactions"] == {"customer": "\u2764\ufe0f"}
    assert stored.text == "two blue please"
    post(account, delivery(from_customer("reaction", {"mid": "ig_1", "action": "unreact"})))
    run_tasks()
    stored.refresh_from_db()
    assert stored.data["reactions"] == {}


def test_unknown_events_and_other_accounts_are_kept_with_the_reason(account, run_tasks) -> None:
    post(account, delivery(from_customer("referral", {"ref": "ad-42", "source": "ADS"})))
    post(account, delivery(message("ig_x", "hello"), account_id="17841499999999999"))
    run_tasks()
    reasons = statuses()
    assert [status for status, _ in reasons] == ["unprocessable", "unprocessable"]
    assert "Instagram event of a kind Parley does not handle: referral." in reasons[0][1]
    assert "Instagram account 17841499999999999" in reasons[1][1]
    assert Message.objects.count() == 0


# ---------------------------------------------------------------- echoes and statuses


def test_echoes_from_the_instagram_app_and_of_our_own_replies(
    account, graph, run_tasks, send
) -> None:
    conversation = customer_conversation(account, run_tasks)
    business = {
        "sender": {"id": ACCOUNT_ID},
        "recipient": {"id": IGSID},
        "timestamp": now_ms(),
        "message": {"mid": "ig_app_1", "text": "Yes, in blue too", "is_echo": True},
    }
    post(account, delivery(business))
    run_tasks()
    from_app = Message.objects.get(external_id="ig_app_1")
    assert from_app.direction == "outgoing" and from_app.data["sent_via"] == "Instagram app"
    assert from_app.conversation == conversation
    sent = send(conversation, "Here you go")
    assert sent.external_id == "ig_out_1"
    assert "metadata" not in graph.calls("/me/messages")[0].json["message"]
    ours = {**business, "message": {"mid": "ig_out_1", "text": "Here you go", "is_echo": True}}
    post(account, delivery(ours))
    run_tasks()
    assert Message.objects.filter(direction="outgoing", kind="message").count() == 2


def test_without_the_app_id_an_echo_waits_for_a_reply_being_sent(account, run_tasks) -> None:
    conversation = customer_conversation(account, run_tasks)
    actions.update_inbox(
        inbox=account, actor=AdminFactory(), origin=SYSTEM, settings={"app_id": ""}
    )
    # Queued, its Send API answer not recorded yet (the task has not run).
    actions.send_reply(conversation=conversation, author=UserFactory(), text="On its way")
    echo = {
        "sender": {"id": ACCOUNT_ID},
        "recipient": {"id": IGSID},
        "timestamp": now_ms(),
        "message": {"mid": "ig_out_race", "text": "On its way", "is_echo": True},
    }
    post(account, delivery(echo))
    run_tasks()
    event = ProviderEvent.objects.order_by("id").last()
    assert event is not None and event.status == "pending"
    assert event.error.startswith("Waiting: A reply to this customer is being sent")
    assert not Message.objects.filter(external_id="ig_out_race").exists()


def test_seen_by_mid_marks_that_message_and_those_before(account, run_tasks, send) -> None:
    conversation = customer_conversation(account, run_tasks)
    first, second, third = (send(conversation, words) for words in ("One", "Two", "Three"))
    post(account, delivery(from_customer("read", {"mid": second.external_id})))
    run_tasks()
    for message_, expected in ((first, "read"), (second, "read"), (third, "sent")):
        message_.refresh_from_db()
        assert message_.delivery_status == expected


def test_seen_of_a_later_part_and_before_the_send_is_recorded(account, run_tasks, send) -> None:
    from django_tasks_db.models import DBTaskResult

    from inbox.sources.instagram.outbound import deliver

    conversation = customer_conversation(account, run_tasks)
    photo = actions.AttachmentInput("blue.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * 50)
    sent = send(conversation, "In blue:", attachments=[photo])
    assert sent.data["meta_message_ids"] == ["ig_out_1", "ig_out_2"]
    post(account, delivery(from_customer("read", {"mid": "ig_out_2"})))
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "read"
    # Seen before its send was recorded: waits for it.
    queued = actions.send_reply(conversation=conversation, author=UserFactory(), text="Thanks!")
    post(account, delivery(from_customer("read", {"mid": "ig_out_3"})))
    run_tasks()
    event = ProviderEvent.objects.order_by("id").last()
    assert event is not None and event.status == "pending"
    assert event.error.startswith("Waiting: A read report for ig_out_3")
    assert deliver(queued).startswith("sent")
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()
    queued.refresh_from_db()
    assert queued.delivery_status == "read"
    assert {status for status, _ in statuses()} == {"processed"}


def test_without_the_app_id_the_echo_of_a_file_waits_for_a_reply_with_files(
    account, run_tasks
) -> None:
    conversation = customer_conversation(account, run_tasks)
    actions.update_inbox(
        inbox=account, actor=AdminFactory(), origin=SYSTEM, settings={"app_id": ""}
    )
    photo = actions.AttachmentInput("blue.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * 50)
    actions.send_reply(
        conversation=conversation, author=UserFactory(), text="In blue:", attachments=[photo]
    )
    echo = {
        "sender": {"id": ACCOUNT_ID},
        "recipient": {"id": IGSID},
        "timestamp": now_ms(),
        "message": {"mid": "ig_out_2", "is_echo": True, "attachments": []},
    }
    post(account, delivery(echo))
    run_tasks()
    event = ProviderEvent.objects.order_by("id").last()
    assert event is not None and event.status == "pending"
    assert not Message.objects.filter(external_id="ig_out_2").exists()


# ---------------------------------------------------------------- replies


def test_replies_their_limits_and_refusals(account, graph, run_tasks, send) -> None:
    conversation = customer_conversation(account, run_tasks)
    sent = send(conversation, "Olá Ana! 👋")
    assert sent.delivery_status == "sent"
    assert graph.calls("/me/messages")[0].json == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Olá Ana! 👋"},
    }
    too_long = send(conversation, "é" * 501)  # 1002 bytes
    assert too_long.delivery_status == "failed"
    assert "limited to 1000 bytes (this one is 1002)" in too_long.delivery_error
    archive = actions.AttachmentInput("photos.zip", "application/zip", b"PK\x03\x04")
    zipped = send(conversation, "", attachments=[archive])
    assert zipped.delivery_status == "failed"
    assert "photos.zip is application/zip" in zipped.delivery_error
    photo = actions.AttachmentInput("blue.png", "image/png", b"\x89PNG\r\n\x1a\n")
    with_photo = send(conversation, "", attachments=[photo])
    assert with_photo.delivery_status == "sent"
    assert (
        b'{"type": "image", "payload": {"is_reusable": false}}'
        in graph.calls("/me/messages")[-1].body
    )
    graph.queue(
        "/me/messages",
        400,
        {
            "error": {
                "message": "This message is sent outside of allowed window.",
                "code": 10,
                "error_subcode": 2534022,
            }
        },
    )
    refused = send(conversation, "Still interested?")
    assert refused.delivery_error.startswith("Instagram refused it: (#10) This message is sent")
    assert "24-hour window has closed" in refused.delivery_error
    assert len(graph.calls("/me/messages")) == 3


def test_after_24_hours_human_agent_when_allowed(account, graph, run_tasks, send) -> None:
    conversation = customer_conversation(account, run_tasks)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=26)
    )
    with pytest.raises(actions.InboxError, match="24-hour window closed"):
        actions.send_reply(conversation=conversation, author=UserFactory(), text="Hi")
    with pytest.raises(actions.InboxError):  # Messenger's update tags are not Instagram's
        actions.send_reply(
            conversation=conversation, author=UserFactory(), text="Hi", tag="ACCOUNT_UPDATE"
        )
    actions.update_inbox(
        inbox=account, actor=AdminFactory(), origin=SYSTEM, settings={"human_agent_tag": True}
    )
    sent = send(conversation, "Sorry for the wait: it is in blue", tag="HUMAN_AGENT")
    assert sent.delivery_status == "sent"
    body = graph.calls("/me/messages")[-1].json
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_test_connection_reads_the_account(account, graph) -> None:
    from inbox.sources.instagram.setup import SETUP
    from inbox.sources.setup import ConnectionProblem

    graph.queue(f"/{ACCOUNT_ID}", 200, {"id": ACCOUNT_ID, "username": "acme", "name": "Acme"})
    graph.queue("/app", 200, {"id": APP_ID})
    page = {"id": "PAGE9", "name": "Acme", "instagram_business_account": {"id": ACCOUNT_ID}}
    graph.queue("/me", 200, page)
    graph.queue("/PAGE9/subscribed_apps", 200, {"success": True})
    said = SETUP.test_connection(account, "https://parley.example/x/")
    assert "@acme" in said and "Page Acme, subscribed" in said
    assert graph.calls(f"/{ACCOUNT_ID}")[0].query["fields"] == ["id,username,name"]
    assert graph.calls("/PAGE9/subscribed_apps")[0].json == {"subscribed_fields": "messages"}
    # The token of a Page linked to another Instagram account: said, nothing subscribed.
    graph.queue(f"/{ACCOUNT_ID}", 200, {"id": ACCOUNT_ID, "username": "acme"})
    graph.queue("/me", 200, {**page, "instagram_business_account": {"id": "17800000000"}})
    with pytest.raises(ConnectionProblem, match="linked to the Instagram account 17800000000"):
        SETUP.test_connection(account, "https://parley.example/x/")
    assert len(graph.calls("/PAGE9/subscribed_apps")) == 1
    graph.queue(f"/{ACCOUNT_ID}", 200, {"id": ACCOUNT_ID, "username": "acme"})
    graph.queue("/me", 200, page)
    graph.queue(
        "/PAGE9/subscribed_apps",
        403,
        {"error": {"message": "(#200) Permissions error", "code": 200}},
    )
    with pytest.raises(ConnectionProblem, match="pages_manage_metadata"):
        SETUP.test_connection(account, "https://parley.example/x/")
    graph.queue(
        f"/{ACCOUNT_ID}",
        400,
        {"error": {"message": "Unsupported get request.", "code": 100, "error_subcode": 33}},
    )
    with pytest.raises(ConnectionProblem, match=r"\(#100\) Unsupported get request"):
        SETUP.test_connection(account, "https://parley.example/x/")
