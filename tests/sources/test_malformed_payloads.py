"""Malformed but signed webhook deliveries (WhatsApp, Telegram): a field of the wrong type
never crashes the parser. What a message cannot do without makes the delivery
`unprocessable` with a readable reason and stores nothing; an optional field of the wrong
shape is ignored and the message is stored (a timestamp out of range: received now). A
Telegram edit that arrives before its message is tried again, then applied."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from inbox.models import Message, ProviderEvent
from tests.sources.test_telegram import JPEG as TELEGRAM_JPEG
from tests.sources.test_telegram import bot, deliver, message, photo_sizes, telegram
from tests.sources.test_whatsapp import (
    CUSTOMER,
    NUMBER_ID,
    change,
    customer_message,
    graph,
    inbox,
    post,
)

pytestmark = pytest.mark.django_db
__all__ = ["bot", "graph", "inbox", "telegram"]  # fixtures, shared with the source tests


def run_retries(run_tasks: Any) -> None:
    """Run queued tasks, including retries scheduled for later."""
    for _ in range(10):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        if not run_tasks():
            return


def only_event() -> ProviderEvent:
    event = ProviderEvent.objects.get()
    assert "Unexpected error" not in event.error, event.error
    return event


def assert_unprocessable(reason: str) -> None:
    event = only_event()
    assert event.status == "unprocessable", (event.status, event.error)
    assert reason in event.error, event.error
    assert Message.objects.count() == 0


def assert_processed() -> Message:
    event = only_event()
    assert event.status == "processed", (event.status, event.error)
    return Message.objects.get()


# ---------------------------------------------------------------- WhatsApp


def whatsapp_message(**fields: Any) -> dict[str, Any]:
    """A customer's text message with `fields` replaced (a value None removes the field)."""
    payload = customer_message()
    row = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    row.update(fields)
    for key in [k for k, v in fields.items() if v is None]:
        del row[key]
    return payload


def with_metadata(metadata: Any) -> dict[str, Any]:
    payload = customer_message()
    payload["entry"][0]["changes"][0]["value"]["metadata"] = metadata
    return payload


ECHO = {"from": NUMBER_ID, "to": CUSTOMER, "timestamp": "1763900000", "type": "text"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"object": "whatsapp_business_account", "entry": ["oops"]}, "entry"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": [7]}]}, "change"),
        (with_metadata("106540352242922"), "phone number id (none)"),
        (
            change({"errors": [{"code": 131000, "title": "Failure", "error_data": "text"}]}),
            "WhatsApp reported an error: (#131000) Failure",
        ),
        (
            change(
                {"message_echoes": [{**ECHO, "text": {"body": "Sent from the phone"}}]},
                field="smb_message_echoes",
            ),
            "An echo without its message id",
        ),
        (whatsapp_message(**{"from": "１２３"}), "without its sender"),
    ],
    ids=["entry", "change", "metadata", "error_data", "echo-id", "sender-not-ascii"],
)
def test_whatsapp_malformed_deliveries_are_unprocessable(inbox, run_tasks, payload, reason) -> None:
    assert post(inbox, payload).status_code == 200
    run_tasks()
    assert_unprocessable(reason)


def test_whatsapp_a_profile_that_is_not_an_object_is_ignored(inbox, run_tasks) -> None:
    payload = customer_message()
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"] = "Kerry"
    post(inbox, payload)
    run_tasks()
    stored = assert_processed()
    assert stored.text == "Hello, where is my parcel?"
    assert stored.conversation.contact.identities.get().value == CUSTOMER


def test_whatsapp_a_reply_context_that_is_not_an_object_is_ignored(inbox, run_tasks) -> None:
    post(inbox, whatsapp_message(context="wamid.OUT1"))
    run_tasks()
    stored = assert_processed()
    assert stored.text == "Hello, where is my parcel?"
    assert "reply_to" not in stored.data["whatsapp"]


def test_whatsapp_a_button_reply_that_is_not_an_object_is_a_placeholder(inbox, run_tasks) -> None:
    post(inbox, customer_message("interactive", type="button_reply", button_reply="yes"))
    run_tasks()
    stored = assert_processed()
    assert "interactive reply" in stored.text.lower()
    assert stored.data["whatsapp"]["reply_id"] == ""


def test_whatsapp_a_contact_card_name_that_is_not_an_object_is_ignored(inbox, run_tasks) -> None:
    card = {"name": "Olga", "phones": [{"phone": "+447700900999", "type": "CELL"}]}
    post(inbox, whatsapp_message(type="contacts", text=None, contacts=[card]))
    run_tasks()
    stored = assert_processed()
    assert stored.text == "👤 Contact · +447700900999"
    assert stored.attachments.get().content_type == "text/vcard"


def test_whatsapp_error_details_that_are_not_an_object_are_ignored(inbox, run_tasks) -> None:
    errors = [{"code": 131051, "title": "Message type unknown", "error_data": "none"}]
    post(inbox, whatsapp_message(type="unsupported", text=None, errors=errors))
    run_tasks()
    stored = assert_processed()
    assert stored.data["whatsapp"]["provider_error"] == "(#131051) Message type unknown"


@pytest.mark.parametrize("timestamp", ["99999999999999999", "99999999999"])
def test_whatsapp_an_impossible_timestamp_is_ignored(inbox, run_tasks, timestamp) -> None:
    before = timezone.now()
    post(inbox, whatsapp_message(timestamp=timestamp))
    run_tasks()
    stored = assert_processed()
    assert before - timedelta(seconds=1) <= stored.created_at <= timezone.now()


def test_whatsapp_nan_is_not_json(inbox, run_tasks) -> None:
    body = json.dumps(customer_message()).replace('"Hello, where is my parcel?"', "NaN")
    post(inbox, body.encode())
    run_tasks()
    assert_unprocessable("not JSON")


# ---------------------------------------------------------------- Telegram


def test_telegram_a_chat_that_is_not_an_object_is_unprocessable(bot, run_tasks) -> None:
    deliver(bot, {"update_id": 1, "message": message(chat="777")})
    run_tasks()
    assert_unprocessable("no chat.id")


@pytest.mark.parametrize("update", ["message", "edited_message", "message_reaction"])
def test_telegram_ids_that_are_not_integers_are_unprocessable(bot, run_tasks, update) -> None:
    body = message(chat={"id": True}, message_id=10**40)
    if update == "message_reaction":
        body = {"chat": "777", "message_id": 1, "user": {"id": 777}, "new_reaction": []}
    deliver(bot, {"update_id": 1, update: body})
    run_tasks()
    assert_unprocessable("no chat.id or message_id")


@pytest.mark.parametrize("date", [10**20, -(10**20), 10**11, True])
def test_telegram_an_impossible_date_is_ignored(bot, run_tasks, date) -> None:
    before = timezone.now()
    deliver(bot, {"update_id": 1, "message": message("Hi", date=date)})
    run_tasks()
    stored = assert_processed()
    assert stored.text == "Hi"
    assert before - timedelta(seconds=1) <= stored.created_at <= timezone.now()


def test_telegram_a_contact_user_id_that_is_not_a_number_is_ignored(bot, run_tasks) -> None:
    contact = {"phone_number": "+79001234567", "first_name": "Olga", "user_id": "abc"}
    deliver(bot, {"update_id": 1, "message": message("", contact=contact)})
    run_tasks()
    stored = assert_processed()
    assert stored.text == "Contact: Olga, +79001234567"
    card = stored.attachments.get().file.read().decode()
    assert "FN:Olga\r\n" in card and "X-TELEGRAM-ID" not in card
    assert "user_id" not in stored.data["contact"]


def test_telegram_photo_sizes_that_are_not_numbers_are_ignored(bot, telegram, run_tasks) -> None:
    telegram.add_file("AgAD-x", "photos/file_7.jpg", TELEGRAM_JPEG, "image/jpeg")
    sizes = photo_sizes("AgAD")
    sizes[0]["width"], sizes[1]["height"], sizes[1]["file_size"] = "x", [], "big"
    deliver(bot, {"update_id": 1, "message": message("", caption="Look", photo=sizes)})
    run_tasks()
    stored = assert_processed()
    assert stored.text == "Look"
    assert stored.attachments.get().content_type == "image/jpeg"


def test_telegram_poll_options_that_are_not_a_list_are_ignored(bot, run_tasks) -> None:
    poll = {"id": "p1", "question": "Which colour?", "options": 5}
    deliver(bot, {"update_id": 1, "message": message("", poll=poll)})
    run_tasks()
    assert assert_processed().text == "[Telegram poll: Which colour? ()]"


@pytest.mark.parametrize("latitude", [91, 10**400], ids=["91", "10**400"])
def test_telegram_a_location_out_of_range_has_no_coordinates(bot, run_tasks, latitude) -> None:
    location = {"latitude": latitude, "longitude": 37.6}
    deliver(bot, {"update_id": 1, "message": message("", location=location)})
    run_tasks()
    assert assert_processed().text == "[Telegram location without coordinates]"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
def test_telegram_numbers_json_columns_cannot_hold_are_unprocessable(
    bot, run_tasks, number
) -> None:
    body = json.dumps({"update_id": 1, "message": message("", location={"latitude": 0.5})})
    deliver(bot, body.replace("0.5", number))
    run_tasks()
    assert_unprocessable("not JSON")


def test_telegram_an_edit_before_its_message_is_retried_then_applied(bot, run_tasks) -> None:
    edited = message("Two mugs, not one", message_id=5, edit_date=1763900100)
    deliver(bot, {"update_id": 2, "edited_message": edited})
    run_tasks()
    event = ProviderEvent.objects.get()
    assert event.status == "pending" and "never received" in event.error
    assert Message.objects.count() == 0
    # The original arrives (another worker was still downloading its files), then the edit
    # is tried again and applied.
    deliver(bot, {"update_id": 1, "message": message("One mug", message_id=5)})
    run_retries(run_tasks)
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    stored = Message.objects.get(external_id="777:5")
    assert stored.text == "Two mugs, not one"
    assert stored.data["original_text"] == "One mug"


def test_telegram_an_edit_of_a_message_never_received_is_kept_after_the_retries(
    bot, run_tasks
) -> None:
    deliver(bot, {"update_id": 3, "edited_message": message("never seen", message_id=99)})
    run_retries(run_tasks)
    event = ProviderEvent.objects.get()
    assert event.status == "unprocessable" and event.attempts == 5
    assert "never received" in event.error and "gave up" in event.error
    assert Message.objects.count() == 0
