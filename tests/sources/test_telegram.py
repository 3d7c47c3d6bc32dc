"""Telegram as a source (issue 8): the webhook's secret token, updates stored before they are
answered and processed by the worker, text, /start payloads, edits, redeliveries stored
once, media downloaded through getFile (size and type checked, placeholders with the reason
otherwise), media groups as one message, locations and contacts, reactions, replies with
files, quick replies, retries, and the setup page's test connection. Payloads shaped as
https://core.telegram.org/bots/api documents them; Telegram is a fake server on loopback."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from django.test import Client

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Conversation, Message, ProviderEvent
from tests.factories import AdminFactory
from tests.fake_provider import FakeProvider, Recorded

pytestmark = pytest.mark.django_db
SECRET = "telegram-webhook-secret-1"
TOKEN = "123:abc"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 8


@pytest.fixture
def bot() -> Any:
    return actions.create_inbox(
        name="Shop bot",
        kind="telegram",
        actor=AdminFactory(),
        origin=SYSTEM,
        secrets={"webhook_secret": SECRET, "bot_token": TOKEN},
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


class FakeTelegram(FakeProvider):
    """The Bot API: getFile knows the files a test serves, getMe names @shop_bot, setWebhook
    accepts, and every send answers a new message id (501, 502…)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.file_paths: dict[str, tuple[str, int]] = {}
        ids = itertools.count(501)

        def default(request: Recorded) -> Any:
            method = request.path.rsplit("/", 1)[-1]
            if method == "getFile":
                file_id = request.json["file_id"]
                if file_id not in self.file_paths:
                    return 400, telegram_error(400, "Bad Request: invalid file_id"), {}
                path, size = self.file_paths[file_id]
                result = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": size}
                return 200, {"ok": True, "result": {**result, "file_path": path}}, {}
            if method == "getMe":
                bot = {"id": 123, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}
                return 200, {"ok": True, "result": bot}, {}
            if method == "setWebhook":
                return 200, {"ok": True, "result": True, "description": "Webhook was set"}, {}
            sent = {"message_id": next(ids), "date": 1763900500, "chat": {"id": 777}}
            return 200, {"ok": True, "result": sent}, {}

        self.default = default

    def add_file(self, file_id: str, path: str, content: bytes, content_type: str) -> None:
        self.file_paths[file_id] = (path, len(content))
        self.serve(f"/file/bot{TOKEN}/{path}", content, content_type)

    def sends(self) -> list[Recorded]:
        return [r for r in self.calls(f"/bot{TOKEN}/send")]


def telegram_error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    error = {"ok": False, "error_code": code, "description": description}
    return {**error, "parameters": parameters} if parameters else error


@pytest.fixture
def telegram(settings) -> Any:
    fake = FakeTelegram()
    settings.TELEGRAM_API_URL = fake.url  # trusted on loopback: it is the configured provider
    yield fake
    fake.close()


def form(request: Recorded) -> dict[str, Any]:
    """A multipart/form-data body: field → text, or file field → (filename, type, bytes)."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    fields: dict[str, Any] = {}
    for chunk in request.body.split(b"--" + boundary)[1:-1]:
        head, _, value = chunk[2:].partition(b"\r\n\r\n")
        value = value[:-2]  # the CRLF before the next boundary
        headers = head.decode()
        name = re.search(r'form-data; name="([^"]*)"', headers)
        filename = re.search(r'filename="([^"]*)"', headers)
        assert name
        if filename:
            content_type = re.search(r"Content-Type: (\S+)", headers)
            assert content_type
            fields[name.group(1)] = (filename.group(1), content_type.group(1), value)
        else:
            fields[name.group(1)] = value.decode()
    return fields


# ---------------------------------------------------------------- text in


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


def test_start_payload_and_edits(bot, run_tasks) -> None:
    deliver(bot, {"update_id": 1, "message": message("/start promo-42", message_id=1)})
    deliver(bot, {"update_id": 3, "message": message("I ordered a mug", message_id=3)})
    edited = message("I ordered two mugs", message_id=3, edit_date=1763900100)
    deliver(bot, {"update_id": 4, "edited_message": edited})
    run_tasks()
    contact = Conversation.objects.get().contact
    assert contact.custom_attributes["telegram_start"] == "promo-42"
    texts = list(Message.objects.order_by("id").values_list("text", flat=True))
    assert texts == ["/start promo-42", "I ordered two mugs"]
    edited_message = Message.objects.get(external_id="777:3")
    assert edited_message.data["original_text"] == "I ordered a mug"
    assert edited_message.data["edited_at"].startswith("2025-11-23")


def test_what_cannot_be_understood_is_kept_with_the_reason(bot, run_tasks) -> None:
    deliver(bot, {"update_id": 1, "callback_query": {"id": "x", "data": "yes"}})
    deliver(bot, {"update_id": 2, "message": {"message_id": 5, "text": "no sender"}})
    deliver(bot, {"update_id": 3, "edited_message": message("never seen", message_id=99)})
    run_tasks()
    reasons = list(ProviderEvent.objects.order_by("id").values_list("status", "error"))
    assert [status for status, _ in reasons] == ["unprocessable", "unprocessable", "pending"]
    assert "callback_query" in reasons[0][1]
    assert "sender" in reasons[1][1]
    assert "never received" in reasons[2][1]  # tried again: the original may be on its way
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


# ---------------------------------------------------------------- media in


def photo_sizes(prefix: str, largest_size: int = len(JPEG)) -> list[dict[str, Any]]:
    return [
        {"file_id": f"{prefix}-s", "file_unique_id": f"{prefix}s", "width": 90, "height": 67,
         "file_size": 1200},
        {"file_id": f"{prefix}-m", "file_unique_id": f"{prefix}m", "width": 320, "height": 240,
         "file_size": 1500},
        {"file_id": f"{prefix}-x", "file_unique_id": f"{prefix}x", "width": 1280, "height": 960,
         "file_size": largest_size},
    ]  # fmt: skip


def test_a_photo_is_downloaded_and_stored_with_its_caption(bot, telegram, run_tasks) -> None:
    # Telegram's file server answers application/octet-stream: the type comes from the path.
    telegram.add_file("AgAD-x", "photos/file_7.jpg", JPEG, "application/octet-stream")
    photo = message("", message_id=2, photo=photo_sizes("AgAD"), caption="The mug came broken")
    deliver(bot, {"update_id": 2, "message": photo})
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "The mug came broken" and stored.external_id == "777:2"
    [attachment] = stored.attachments.all()
    assert (attachment.filename, attachment.content_type) == ("photo.jpg", "image/jpeg")
    assert attachment.size == len(JPEG) and attachment.file.read() == JPEG
    [get_file] = telegram.calls(f"/bot{TOKEN}/getFile")
    assert get_file.json == {"file_id": "AgAD-x"}  # the largest size
    assert stored.data["telegram"]["raw"]["photo"][2]["file_id"] == "AgAD-x"


def test_voice_document_and_sticker(bot, telegram, run_tasks) -> None:
    telegram.add_file(
        "voice-1", "voice/file_3.oga", b"OggS" + b"\0" * 60, "application/octet-stream"
    )
    telegram.add_file("doc-1", "documents/file_4.pdf", b"%PDF-1.7 ...", "application/pdf")
    telegram.add_file("stk-1", "stickers/file_5.webp", b"RIFF....WEBP", "image/webp")
    voice = {"duration": 3, "mime_type": "audio/ogg", "file_id": "voice-1",
             "file_unique_id": "v1", "file_size": 64}  # fmt: skip
    document = {"file_name": "Invoice 42.pdf", "mime_type": "application/pdf",
                "file_id": "doc-1", "file_unique_id": "d1"}  # fmt: skip
    sticker = {"file_id": "stk-1", "file_unique_id": "s1", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False, "emoji": "😀"}  # fmt: skip
    animated = {**sticker, "file_id": "stk-2", "is_animated": True}
    deliver(bot, {"update_id": 1, "message": message("", message_id=1, voice=voice)})
    deliver(bot, {"update_id": 2, "message": message("", message_id=2, document=document)})
    deliver(bot, {"update_id": 3, "message": message("", message_id=3, sticker=sticker)})
    deliver(bot, {"update_id": 4, "message": message("", message_id=4, sticker=animated)})
    run_tasks()
    files = {
        m.external_id: [(a.filename, a.content_type) for a in m.attachments.all()]
        for m in Message.objects.all()
    }
    assert files == {
        "777:1": [("voice.oga", "audio/ogg")],
        "777:2": [("Invoice_42.pdf", "application/pdf")],
        "777:3": [("sticker.webp", "image/webp")],
        "777:4": [],
    }
    assert "Animated sticker 😀" in Message.objects.get(external_id="777:4").text


def test_oversized_or_wrong_type_files_become_placeholders_with_the_raw_kept(
    bot, telegram, run_tasks, settings
) -> None:
    settings.MESSAGING_MEDIA_MAX_BYTES = 1000
    big = {"file_name": "scan.pdf", "mime_type": "application/pdf", "file_id": "big-1",
           "file_unique_id": "b1", "file_size": 5000}  # fmt: skip
    telegram.add_file("big-1", "documents/file_1.pdf", b"x" * 5000, "application/pdf")
    # No file_size in the update: the download itself stops at the cap.
    unsized = {"file_name": "log.txt", "file_id": "big-2", "file_unique_id": "b2"}
    telegram.add_file("big-2", "documents/file_2.txt", b"y" * 2000, "text/plain")
    telegram.add_file("html-x", "photos/file_3.jpg", b"<html>login</html>", "text/html")
    telegram.add_file("voice-png", "voice/file_4.oga", b"\x89PNG....", "image/png")
    voice = {"duration": 1, "file_id": "voice-png", "file_unique_id": "vp", "file_size": 8}
    updates = [
        message("", message_id=1, document=big, caption="my scan"),
        message("", message_id=2, document=unsized),
        message("", message_id=3, photo=photo_sizes("html", 18)),
        message("", message_id=4, voice=voice),
    ]
    for number, update in enumerate(updates, 1):
        deliver(bot, {"update_id": number, "message": update})
    run_tasks()
    stored = {m.external_id: m for m in Message.objects.all()}
    assert stored["777:1"].text == (
        "[Document not downloaded: 5,000 bytes is over the 1,000-byte limit]\nmy scan"
    )
    assert stored["777:2"].text == (
        "[Document not downloaded: 2,000 bytes is over the 1,000-byte limit]"
    )
    assert stored["777:3"].text == (
        "[Photo not downloaded: the provider answered text/html, not a file]"
    )
    assert stored["777:4"].text == (
        "[Voice message not downloaded: a voice message cannot be image/png]"
    )
    for m in stored.values():
        assert not m.attachments.exists() and m.data["media_error"]
    assert stored["777:1"].data["telegram"]["raw"]["document"]["file_id"] == "big-1"
    # Over the cap by the update's own word: not even asked for.
    assert [r.json["file_id"] for r in telegram.calls(f"/bot{TOKEN}/getFile")] == [
        "big-2",
        "html-x",
        "voice-png",
    ]
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_file_telegram_will_not_give_is_a_placeholder(bot, telegram, run_tasks) -> None:
    document = {"file_name": "a.zip", "file_id": "gone", "file_unique_id": "g"}
    deliver(bot, {"update_id": 1, "message": message("", message_id=1, document=document)})
    run_tasks()
    stored = Message.objects.get(direction="incoming")
    assert stored.text == "[Document not downloaded: Telegram: Bad Request: invalid file_id]"


def test_a_download_that_fails_on_the_network_is_tried_again(bot, telegram, run_tasks) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    telegram.add_file("AgAD-x", "photos/file_7.jpg", JPEG, "image/jpeg")
    telegram.queue(f"/bot{TOKEN}/getFile", 502, telegram_error(502, "Bad Gateway"))
    deliver(bot, {"update_id": 2, "message": message("", message_id=2, photo=photo_sizes("AgAD"))})
    run_tasks()
    event = ProviderEvent.objects.get()
    assert event.status == "pending" and "Bad Gateway" in event.error
    assert Message.objects.count() == 0
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()
    assert Message.objects.get().attachments.get().content_type == "image/jpeg"


def test_a_media_group_is_one_message_whatever_the_order(bot, telegram, run_tasks) -> None:
    parts = []
    for number in (1, 2, 3):
        content = JPEG + bytes([number])
        telegram.add_file(f"album{number}-x", f"photos/file_{number}.jpg", content, "image/jpeg")
        extra: dict[str, Any] = {
            "media_group_id": "13890111",
            "photo": photo_sizes(f"album{number}"),
        }
        if number == 1:
            extra["caption"] = "Three angles of the crack"
        parts.append(message("", message_id=20 + number, **extra))
    # The second part is processed first, the captioned one last; one part comes twice.
    for number, index in enumerate((1, 2, 0, 2), 1):
        deliver(bot, {"update_id": number, "message": parts[index]})
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "Three angles of the crack"
    contents = sorted(a.file.read()[-1] for a in stored.attachments.all())
    assert contents == [1, 2, 3]
    assert sorted(stored.data["parts"]) == ["777:21", "777:22", "777:23"]
    assert stored.external_id == "777:22"
    assert len(telegram.calls(f"/bot{TOKEN}/getFile")) == 3  # the redelivery downloads nothing
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    # A reaction to any photo of the album lands on the one message.
    deliver(bot, reaction_update(23, "🔥"))
    run_tasks()
    stored.refresh_from_db()
    assert stored.data["reactions"] == {"customer": "🔥"}


@pytest.mark.django_db(transaction=True)
def test_two_parts_of_a_media_group_processed_at_the_same_time_make_one_message(
    bot, telegram, monkeypatch
) -> None:
    import threading

    from django.db import connection

    from inbox.sources.telegram import inbound
    from inbox.sources.webhooks import store_event

    events = []
    for number in (1, 2):
        telegram.add_file(f"pair{number}-x", f"photos/p{number}.jpg", JPEG, "image/jpeg")
        part = message(
            "", message_id=30 + number, media_group_id="777000", photo=photo_sizes(f"pair{number}")
        )
        events.append(store_event(bot, json.dumps({"update_id": number, "message": part}).encode()))
    # Both parts finish downloading together, then race to store.
    barrier = threading.Barrier(2, timeout=10)
    describe = inbound.describe

    def in_step(*args: Any, **kwargs: Any) -> Any:
        content = describe(*args, **kwargs)
        barrier.wait()
        return content

    monkeypatch.setattr(inbound, "describe", in_step)
    errors: list[BaseException] = []

    def process(event: ProviderEvent) -> None:
        try:
            inbound.process(ProviderEvent.objects.select_related("inbox").get(pk=event.pk))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=process, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors
    stored = Message.objects.get(direction="incoming")
    assert stored.attachments.count() == 2
    assert sorted(stored.data["parts"]) == ["777:31", "777:32"]


def test_locations_contacts_polls_and_dice(bot, run_tasks) -> None:
    location = {"latitude": 55.751244, "longitude": 37.618423}
    venue = {"location": location, "title": "Red Square", "address": "Moscow, 109012"}
    contact = {"phone_number": "+79001234567", "first_name": "Olga", "last_name": "Ivanova",
               "user_id": 888}  # fmt: skip
    vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Boris\r\nTEL:+79007654321\r\nEND:VCARD\r\n"
    with_vcard = {"phone_number": "+79007654321", "first_name": "Boris", "vcard": vcard}
    poll = {"id": "p1", "question": "Which colour?", "options": [
        {"text": "Red", "voter_count": 0}, {"text": "Blue", "voter_count": 0}],
        "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
        "allows_multiple_answers": False}  # fmt: skip
    updates = [
        message("", message_id=1, location=location),
        message("", message_id=2, location=location, venue=venue),
        message("", message_id=3, contact=contact),
        message("", message_id=4, contact=with_vcard),
        message("", message_id=5, poll=poll),
        message("", message_id=6, dice={"emoji": "🎲", "value": 4}),
        message("", message_id=7, game={"title": "Tetris"}),
    ]
    for number, update in enumerate(updates, 1):
        deliver(bot, {"update_id": number, "message": update})
    run_tasks()
    stored = {m.external_id: m for m in Message.objects.all()}
    link = "https://www.openstreetmap.org/?mlat=55.751244&mlon=37.618423#map=17/55.751244/37.618423"
    assert stored["777:1"].text == f"Location: 55.751244, 37.618423\n{link}"
    assert stored["777:1"].data["location"] == {"latitude": 55.751244, "longitude": 37.618423}
    assert stored["777:2"].text == f"Red Square\nMoscow, 109012\n{link}"
    assert stored["777:2"].data["location"]["title"] == "Red Square"
    assert stored["777:3"].text == "Contact: Olga Ivanova, +79001234567"
    card = stored["777:3"].attachments.get()
    assert (card.filename, card.content_type) == ("Olga_Ivanova.vcf", "text/vcard")
    text = card.file.read().decode()
    assert "FN:Olga Ivanova\r\n" in text and "TEL;TYPE=CELL:+79001234567\r\n" in text
    assert stored["777:4"].attachments.get().file.read().decode() == vcard  # Telegram's own
    assert stored["777:5"].text == "[Telegram poll: Which colour? (Red / Blue)]"
    assert stored["777:6"].text == "[Telegram dice 🎲: 4]"
    assert stored["777:7"].text == "[Telegram game: Parley does not show these yet]"
    assert stored["777:7"].data["telegram"]["raw"]["game"] == {"title": "Tetris"}


# ---------------------------------------------------------------- reactions


def reaction_update(message_id: int, *emoji: str, update_id: int = 90) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message_reaction": {
            "chat": {"id": 777, "first_name": "Ivan", "type": "private"},
            "message_id": message_id,
            "user": {"id": 777, "is_bot": False, "first_name": "Ivan"},
            "date": 1763900200,
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in emoji],
        },
    }


def test_reactions_on_our_messages_and_theirs(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    sent = reply(conversation, "Sorted!", run_tasks, django_capture_on_commit_callbacks)
    assert sent.external_id == "777:501"
    deliver(bot, reaction_update(501, "👍", update_id=91))
    deliver(bot, reaction_update(1, "❤", update_id=92))  # on their own message
    deliver(bot, reaction_update(4242, "👍", update_id=93))
    run_tasks()
    sent.refresh_from_db()
    assert sent.data["reactions"] == {"customer": "👍"}
    assert Message.objects.get(external_id="777:1").data["reactions"] == {"customer": "❤"}
    assert ProviderEvent.objects.get(status="unprocessable").error == (
        "A reaction to a message Parley does not have."
    )
    deliver(bot, reaction_update(501, update_id=94))  # taken back
    run_tasks()
    sent.refresh_from_db()
    assert sent.data["reactions"] == {}


# ---------------------------------------------------------------- replies


def customer_conversation(bot, run_tasks) -> Conversation:
    deliver(bot, {"update_id": 1, "message": message("Hi", message_id=1)})
    run_tasks()
    return Conversation.objects.get()


def reply(
    conversation, text, run_tasks, capture, *, attachments=(), data: dict[str, Any] | None = None
) -> Message:
    from tests.factories import UserFactory

    with capture(execute=True):
        sent = actions.send_reply(
            conversation=conversation,
            author=UserFactory(name="Ben"),
            text=text,
            attachments=list(attachments),
        )
        if data:
            Message.objects.filter(pk=sent.pk).update(data={**sent.data, **data})
    run_tasks()
    sent.refresh_from_db()
    return sent


def test_a_reply_reaches_the_chat(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    sent = reply(conversation, "Hello Ivan!", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "sent" and sent.external_id == "777:501"
    [call] = telegram.sends()
    assert call.path == f"/bot{TOKEN}/sendMessage"
    assert call.json == {"chat_id": 777, "text": "Hello Ivan!"}


def test_a_reply_with_a_photo_is_uploaded_with_the_text_as_caption(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    photo = actions.AttachmentInput("label.jpg", "image/jpeg", JPEG)
    sent = reply(
        conversation,
        "Here is your return label",
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=[photo],
        data={"quick_replies": ["Got it", "Need help"]},
    )
    assert sent.delivery_status == "sent" and sent.external_id == "777:501"
    [call] = telegram.sends()
    assert call.path == f"/bot{TOKEN}/sendPhoto"
    assert call.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = form(call)
    assert fields["chat_id"] == "777"
    assert fields["caption"] == "Here is your return label"
    assert fields["photo"] == ("label.jpg", "image/jpeg", JPEG)
    assert json.loads(fields["reply_markup"]) == {
        "keyboard": [[{"text": "Got it"}], [{"text": "Need help"}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }
    assert sent.data["telegram"]["sent"] == ["777:501"]


def test_a_long_text_goes_first_then_each_file(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    text = "Details: " + "x" * 1100  # over the 1,024-character caption
    files = [
        actions.AttachmentInput("terms.pdf", "application/pdf", b"%PDF-1.7 terms"),
        actions.AttachmentInput("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40),
    ]
    sent = reply(
        conversation,
        text,
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=files,
        data={"quick_replies": ["Thanks"]},
    )
    calls = telegram.sends()
    assert [c.path.rsplit("/", 1)[1] for c in calls] == ["sendMessage", "sendDocument", "sendPhoto"]
    assert calls[0].json == {"chat_id": 777, "text": text}
    document = form(calls[1])
    assert document["document"] == ("terms.pdf", "application/pdf", b"%PDF-1.7 terms")
    assert "caption" not in document and "reply_markup" not in document
    assert "reply_markup" in form(calls[2])  # the keyboard comes with the last piece
    assert sent.delivery_status == "sent" and sent.external_id == "777:501"
    assert sent.data["telegram"]["sent"] == ["777:501", "777:502", "777:503"]
    # The customer's reaction to the last piece is on this message.
    deliver(bot, reaction_update(503, "🙏"))
    run_tasks()
    sent.refresh_from_db()
    assert sent.data["reactions"] == {"customer": "🙏"}


def test_a_file_send_rate_limited_goes_on_from_where_it_stopped(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    conversation = customer_conversation(bot, run_tasks)
    telegram.queue(
        f"/bot{TOKEN}/sendPhoto",
        429,
        telegram_error(429, "Too Many Requests: retry after 40", retry_after=40),
    )
    photo = actions.AttachmentInput("a.jpg", "image/jpeg", JPEG)
    sent = reply(
        conversation,
        "y" * 2000,
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=[photo],
    )
    assert sent.delivery_status == "queued" and sent.external_id == "777:501"
    assert "1 of 2 parts were sent" in sent.data["delivery_last_error"]
    retry = DBTaskResult.objects.get(status="READY")
    assert (retry.run_after - timezone.now()).total_seconds() > 30  # retry_after honoured
    retry.run_after = timezone.now()
    retry.save()
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "sent"
    paths = [c.path.rsplit("/", 1)[1] for c in telegram.sends()]
    assert paths == ["sendMessage", "sendPhoto", "sendPhoto"]  # the text was not sent twice
    assert form(telegram.sends()[-1])["photo"][2] == JPEG
    assert sent.data["telegram"]["sent"] == ["777:501", "777:502"]


def test_a_photo_telegram_refuses_as_a_photo_goes_as_a_document_and_big_files_fail(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    from inbox.models import Attachment

    conversation = customer_conversation(bot, run_tasks)
    telegram.queue(
        f"/bot{TOKEN}/sendPhoto", 400, telegram_error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    )
    panorama = actions.AttachmentInput("wide.jpg", "image/jpeg", JPEG)
    sent = reply(
        conversation, "", run_tasks, django_capture_on_commit_callbacks, attachments=[panorama]
    )
    assert sent.delivery_status == "sent"
    assert [c.path.rsplit("/", 1)[1] for c in telegram.sends()] == ["sendPhoto", "sendDocument"]
    assert form(telegram.sends()[-1])["document"][0] == "wide.jpg"
    # Over the 50 MB a bot may upload: refused before anything is sent.
    with django_capture_on_commit_callbacks(execute=True):
        big = actions.send_reply(
            conversation=conversation,
            author=sent.sender_user,
            text="",
            attachments=[actions.AttachmentInput("film.mp4", "video/mp4", b"0")],
        )
        Attachment.objects.filter(message=big).update(size=60 * 1024 * 1024)
    run_tasks()
    big.refresh_from_db()
    assert big.delivery_status == "failed"
    assert big.delivery_error == "film.mp4 is 60.0 MB: Telegram bots can send files up to 50 MB"
    assert len(telegram.sends()) == 2


def test_rate_limits_are_honoured_then_it_goes_through(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    conversation = customer_conversation(bot, run_tasks)
    telegram.queue(
        f"/bot{TOKEN}/sendMessage",
        429,
        telegram_error(429, "Too Many Requests: retry after 40", retry_after=40),
    )
    telegram.queue(f"/bot{TOKEN}/sendMessage", 502, telegram_error(502, "Bad Gateway"))
    sent = reply(conversation, "Thanks!", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "queued"
    retry = DBTaskResult.objects.get(status="READY")
    assert (retry.run_after - timezone.now()).total_seconds() > 30  # retry_after honoured
    for _ in range(2):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "sent" and len(telegram.sends()) == 3
    assert sent.data["delivery_attempts"] == 3


def test_a_permanent_error_is_shown_on_the_message(
    bot, telegram, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = customer_conversation(bot, run_tasks)
    telegram.queue(
        f"/bot{TOKEN}/sendMessage",
        403,
        telegram_error(403, "Forbidden: bot was blocked by the user"),
    )
    sent = reply(conversation, "Are you there?", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "failed"
    assert sent.delivery_error == "Telegram refused it: Forbidden: bot was blocked by the user"
    assert len(telegram.sends()) == 1


def test_the_configured_provider_is_trusted_on_loopback_without_opening_private_networks(
    bot, telegram, run_tasks, settings, django_capture_on_commit_callbacks
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    conversation = customer_conversation(bot, run_tasks)
    sent = reply(conversation, "hello", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "sent"
    assert telegram.sends()[-1].json == {"chat_id": 777, "text": "hello"}


def test_media_urls_on_private_addresses_other_than_the_provider_are_refused(
    telegram, settings
) -> None:
    from inbox.sources.media import MediaProblem, fetch_media

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    elsewhere = FakeProvider()  # loopback, but not the configured Telegram host
    try:
        url = elsewhere.serve("/internal/secret.jpg", JPEG, "image/jpeg")
        with pytest.raises(MediaProblem, match="loopback"):
            fetch_media(url, kind="image", attempt=1)
    finally:
        elsewhere.close()
    own = telegram.serve(f"/file/bot{TOKEN}/photos/file_9.jpg", JPEG, "image/jpeg")
    got = fetch_media(own, kind="image", attempt=1)
    assert got.content == JPEG and got.content_type == "image/jpeg"


# ---------------------------------------------------------------- setup


def test_test_connection_checks_the_token_and_sets_the_webhook(bot, telegram) -> None:
    from inbox.sources.setup import setup_for

    setup = setup_for("telegram")
    assert setup is not None and setup.generated_secrets == ("webhook_secret",)
    assert [f.name for f in setup.fields if f.secret] == ["bot_token"]
    url = f"https://parley.example.com/sources/telegram/{bot.public_id}/"
    outcome = setup.test_connection(bot, url)
    assert outcome == f"Connected to @shop_bot; Telegram now sends its updates to {url}"
    assert [r.path for r in telegram.requests] == [f"/bot{TOKEN}/getMe", f"/bot{TOKEN}/setWebhook"]
    assert telegram.requests[1].json == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "message_reaction"],
    }


def test_test_connection_reports_telegrams_refusals(bot, telegram) -> None:
    from inbox.sources.setup import ConnectionProblem, setup_for

    setup = setup_for("telegram")
    assert setup is not None
    telegram.queue(f"/bot{TOKEN}/getMe", 401, telegram_error(401, "Unauthorized"))
    with pytest.raises(ConnectionProblem, match="does not know this bot token \\(Unauthorized\\)"):
        setup.test_connection(bot, "https://parley.example.com/x/")
    telegram.queue(
        f"/bot{TOKEN}/setWebhook",
        400,
        telegram_error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"),
    )
    with pytest.raises(
        ConnectionProblem, match=r"refused setWebhook: .*HTTPS URL must be provided"
    ):
        setup.test_connection(bot, "http://parley.example.com/x/")


def test_the_setup_page_creates_the_inbox_and_test_connection_points_the_bot_at_it(
    telegram, admin_web, settings
) -> None:
    from inbox.models import Inbox

    page = admin_web.get("/settings/inboxes/new/telegram/").content.decode()
    assert "Bot token" in page and "@BotFather" in page
    created = admin_web.post(
        "/settings/inboxes/new/telegram/", {"name": "Shop bot", "bot_token": TOKEN}
    )
    assert created.status_code == 302
    inbox = Inbox.objects.get(kind="telegram")
    secret = inbox.get_secrets()["webhook_secret"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)  # what Telegram accepts
    tested = admin_web.post(f"/settings/inboxes/{inbox.pk}/messaging/test/", follow=True)
    webhook = f"{settings.SITE_URL}/sources/telegram/{inbox.public_id}/"
    assert "Connected to @shop_bot" in tested.content.decode()
    [set_webhook] = telegram.calls(f"/bot{TOKEN}/setWebhook")
    assert set_webhook.json["url"] == webhook and set_webhook.json["secret_token"] == secret
    # Telegram then delivers with that secret, and the update is accepted.
    assert deliver(inbox, {"update_id": 1, "message": message()}, secret=secret).status_code == 200


# ---------------------------------------------------------------- admin


def test_admins_see_what_could_not_be_processed_and_process_it_again(
    bot, run_tasks, admin_web, agent_web
) -> None:
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    deliver(bot, {"update_id": 9, "edited_message": message("<b>late</b> edit", message_id=4)})
    for _ in range(5):  # an edit of a message not stored is tried again, then kept
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
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
