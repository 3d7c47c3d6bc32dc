"""Telegram as a source, inbound (issue 8, first slice): the webhook's secret token, updates
stored before they are answered and processed by the worker, text, /start payloads, edits,
redeliveries stored once, media placeholders, and what cannot be understood kept with the
reason. Payloads shaped as https://core.telegram.org/bots/api documents them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Conversation, Message, ProviderEvent
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db
SECRET = "telegram-webhook-secret-1"


@pytest.fixture
def bot() -> Any:
    return actions.create_inbox(
        name="Shop bot",
        kind="telegram",
        actor=AdminFactory(),
        origin=SYSTEM,
        secrets={"webhook_secret": SECRET, "bot_token": "123:abc"},
    )


def message(text: str = "Hello bot", *, message_id: int = 11, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "from": {
            "id": 777,
            "is_bot": False,
            "first_name": "Ivan",
            "last_name": "Petrov",
            "username": "ivanp",
            "language_code": "en",
        },
        "chat": {"id": 777, "first_name": "Ivan", "type": "private"},
        "date": 1763900000,
        **({"text": text} if text else {}),
        **extra,
    }


def deliver(bot: Any, update: dict[str, Any] | str, secret: str | None = SECRET) -> Any:
    headers = {} if secret is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    body = update if isinstance(update, str) else json.dumps(update)
    return Client().post(
        f"/sources/telegram/{bot.public_id}/", body, content_type="application/json", **headers
    )


def test_a_message_arrives_once_however_often_it_is_delivered(bot, run_tasks) -> None:
    update = {"update_id": 1, "message": message("Where is my order?")}
    assert deliver(bot, update).status_code == 200
    assert deliver(bot, update).status_code == 200  # Telegram retries
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "Where is my order?" and stored.external_id == "777:11"
    conversation = Conversation.objects.get()
    assert conversation.contact.name == "Ivan Petrov"
    assert conversation.contact.identities.get().value == "777"
    assert conversation.contact.custom_attributes["telegram_username"] == "ivanp"
    assert list(ProviderEvent.objects.values_list("status", flat=True)) == [
        "processed",
        "processed",
    ]


def test_wrong_or_missing_secret_stores_nothing(bot) -> None:
    update = {"update_id": 1, "message": message()}
    assert deliver(bot, update, secret="guess").status_code == 401
    assert deliver(bot, update, secret=None).status_code == 401
    assert ProviderEvent.objects.count() == 0 and Message.objects.count() == 0
    assert deliver(bot, "{not json").status_code == 400
    assert deliver(bot, {"message": message()}).status_code == 400  # no update_id
    assert ProviderEvent.objects.count() == 0


def test_start_payload_edits_and_media(bot, run_tasks) -> None:
    deliver(bot, {"update_id": 1, "message": message("/start promo-42", message_id=1)})
    photo = message(
        "",
        message_id=2,
        photo=[
            {"file_id": "AgAD", "file_unique_id": "u", "width": 90, "height": 90, "file_size": 1200}
        ],
    )
    deliver(bot, {"update_id": 2, "message": photo})
    deliver(bot, {"update_id": 3, "message": message("I ordered a mug", message_id=3)})
    edited = message("I ordered two mugs", message_id=3, edit_date=1763900100)
    deliver(bot, {"update_id": 4, "edited_message": edited})
    run_tasks()
    contact = Conversation.objects.get().contact
    assert contact.custom_attributes["telegram_start"] == "promo-42"
    texts = list(Message.objects.order_by("id").values_list("text", flat=True))
    assert texts == ["/start promo-42", "[Telegram photo]", "I ordered two mugs"]
    edited_message = Message.objects.get(external_id="777:3")
    assert edited_message.data["original_text"] == "I ordered a mug"
    assert edited_message.data["edited_at"].startswith("2025-11-23")
    assert Message.objects.get(external_id="777:2").data["telegram"]["raw"]["photo"]


def test_what_cannot_be_understood_is_kept_with_the_reason(bot, run_tasks) -> None:
    deliver(bot, {"update_id": 1, "callback_query": {"id": "x", "data": "yes"}})
    deliver(bot, {"update_id": 2, "message": {"message_id": 5, "text": "no sender"}})
    deliver(bot, {"update_id": 3, "edited_message": message("never seen", message_id=99)})
    run_tasks()
    reasons = list(ProviderEvent.objects.order_by("id").values_list("status", "error"))
    assert [status for status, _ in reasons] == ["unprocessable"] * 3
    assert "callback_query" in reasons[0][1]
    assert "sender" in reasons[1][1]
    assert "never received" in reasons[2][1]
    assert Message.objects.count() == 0


def test_an_update_for_another_kind_of_inbox_is_404(run_tasks) -> None:
    api_inbox = actions.create_inbox(name="API", kind="api", actor=AdminFactory(), origin=SYSTEM)
    response = Client().post(
        f"/sources/telegram/{api_inbox.public_id}/",
        json.dumps({"update_id": 1, "message": message()}),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET,
    )
    assert response.status_code == 404 and ProviderEvent.objects.count() == 0


# ---------------------------------------------------------------- replies


class FakeTelegram:
    """Telegram's Bot API on loopback: records what we send, answers what the test queues."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.calls.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
                status, body = (
                    fake.answers.pop(0)
                    if fake.answers
                    else (200, {"ok": True, "result": {"message_id": 500 + len(fake.calls)}})
                )
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def telegram(settings) -> Any:
    fake = FakeTelegram()
    settings.TELEGRAM_API_URL = fake.url  # trusted on loopback: it is the configured provider
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def customer_conversation(bot, run_tasks) -> Conversation:
    deliver(bot, {"update_id": 1, "message": message("Hi", message_id=1)})
    run_tasks()
    return Conversation.objects.get()


def reply(conversation, text, run_tasks, capture) -> Message:
    from tests.factories import UserFactory

    with capture(execute=True):
        sent = actions.send_reply(
            conversation=conversation, author=UserFactory(name="Ben"), text=text
        )
    run_tasks()
    sent.refresh_from_db()
    return sent


def test_a_reply_reaches_the_chat(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    sent = reply(conversation, "Hello Ivan!", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "sent" and sent.external_id == "777:501"
    [(path, body)] = telegram.calls
    assert path == "/bot123:abc/sendMessage"
    assert body == {"chat_id": 777, "text": "Hello Ivan!"}


def test_rate_limits_are_honoured_then_it_goes_through(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    conversation = customer_conversation(bot, run_tasks)
    telegram.answers = [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 40",
                "parameters": {"retry_after": 40},
            },
        ),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ]
    sent = reply(conversation, "Thanks!", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "queued"
    retry = DBTaskResult.objects.get(status="READY")
    assert (retry.run_after - timezone.now()).total_seconds() > 30  # retry_after honoured
    for _ in range(2):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "sent" and len(telegram.calls) == 3
    assert sent.data["delivery_attempts"] == 3


def test_a_permanent_error_is_shown_on_the_message(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    telegram.answers = [
        (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )
    ]
    sent = reply(conversation, "Are you there?", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "failed"
    assert sent.delivery_error == "Telegram refused it: Forbidden: bot was blocked by the user"
    assert len(telegram.calls) == 1


def test_the_configured_provider_is_trusted_on_loopback_without_opening_private_networks(
    bot, telegram, run_tasks, settings, django_capture_on_commit_callbacks
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    conversation = customer_conversation(bot, run_tasks)
    sent = reply(conversation, "hello", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "sent"
    assert telegram.calls[-1][1] == {"chat_id": 777, "text": "hello"}


def test_admins_see_what_could_not_be_processed_and_process_it_again(
    bot, run_tasks, admin_web, agent_web
) -> None:
    deliver(bot, {"update_id": 9, "edited_message": message("<b>late</b> edit", message_id=4)})
    run_tasks()
    listing = admin_web.get("/settings/inboxes/").content.decode()
    assert "1 messaging delivery could not be processed" in listing
    page = admin_web.get("/settings/messaging/unprocessed/").content.decode()
    assert "An edit of a message Parley never received." in page
    assert "&lt;b&gt;late&lt;/b&gt; edit" in page and "<b>late</b>" not in page
    assert agent_web.get("/settings/messaging/unprocessed/").status_code in (302, 403)
    # The original arrives late; processing the edit again now works.
    deliver(bot, {"update_id": 8, "message": message("early text", message_id=4)})
    run_tasks()
    event = ProviderEvent.objects.get(status="unprocessable")
    done = admin_web.post(f"/settings/messaging/unprocessed/{event.pk}/process/")
    assert done.status_code == 302
    event.refresh_from_db()
    assert event.status == "processed"
    assert Message.objects.get(external_id="777:4").text == "<b>late</b> edit"
    assert (
        "Nothing to look at" in admin_web.get("/settings/messaging/unprocessed/").content.decode()
    )
