"""The webhook intake as providers meet it: a real Daphne process (the production entry
point, inbox.asgi) taking signed deliveries over HTTP, checking them with each source's
door, keeping many at once and answering only once they are committed; anything else
passes through to Django."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Inbox, Message, ProviderEvent
from inbox.sources.meta import signature
from inbox.sources.sms.twilio import signature as twilio_signature
from tests.factories import AdminFactory
from tests.servers import daphne, scaled_env

pytestmark = pytest.mark.django_db(transaction=True)
APP_SECRET = "intake-app-secret"
NUMBER_ID = "106540352242922"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token"


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Any:
    # WEBHOOK_INBOX_CACHE_SECONDS=0: every delivery reads its inbox afresh.
    with daphne(scaled_env(WEBHOOK_INBOX_CACHE_SECONDS="0")) as base:
        yield base


@pytest.fixture
def whatsapp() -> Inbox:
    return actions.create_inbox(
        name="Shop WhatsApp",
        kind="whatsapp",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"phone_number_id": NUMBER_ID, "business_account_id": "WABA1"},
        secrets={"app_secret": APP_SECRET, "access_token": "token", "verify_token": "v-123"},
    )


def text_delivery(n: int, sender: str = "447700900123") -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": NUMBER_ID},
        "contacts": [{"profile": {"name": "Alex"}, "wa_id": sender}],
        "messages": [
            {
                "from": sender,
                "id": f"wamid.IN{n}",
                "timestamp": "1763900000",
                "type": "text",
                "text": {"body": f"Message {n}"},
            }
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), dict(refused.headers)


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}


def test_concurrent_deliveries_are_all_kept_then_stored(server, whatsapp, run_tasks) -> None:
    url = f"{server}/sources/whatsapp/{whatsapp.public_id}/"
    bodies = [text_delivery(n, sender=f"4477009{n % 5:05d}") for n in range(40)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda body: post(url, body, signed(body)), bodies))
    assert {(status, text) for status, text, _ in answers} == {(200, "EVENT_RECEIVED")}
    kept = ProviderEvent.objects.filter(inbox=whatsapp)
    assert sorted(bytes(event.body) for event in kept) == sorted(bodies)
    tasks = DBTaskResult.objects.filter(task_path__endswith="process_provider_events")
    queued = sorted(pk for task in tasks for pk in task.args_kwargs["args"][0])
    assert queued == sorted(event.pk for event in kept)  # each queued once
    run_tasks()
    assert Message.objects.filter(inbox=whatsapp).count() == 40
    assert set(kept.values_list("status", flat=True)) == {"processed"}
    assert whatsapp.conversations.count() == 5  # one per customer, threaded


def test_refusals_store_nothing(server, whatsapp) -> None:
    url = f"{server}/sources/whatsapp/{whatsapp.public_id}/"
    body = text_delivery(1)
    status, text, _ = post(url, body, signed(body, secret="not-the-app-secret"))
    assert (status, json.loads(text)["detail"]) == (401, "Wrong or missing X-Hub-Signature-256.")
    assert post(url, body, {"Content-Type": "application/json"})[0] == 401
    unsigned_shape = json.dumps({"object": "page", "entry": []}).encode()
    status, text, _ = post(url, unsigned_shape, signed(unsigned_shape))
    assert status == 400 and "whatsapp_business_account" in text
    huge = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert post(url, huge, signed(huge))[0] == 413
    other = f"{server}/sources/whatsapp/00000000-0000-4000-8000-000000000000/"
    assert post(other, body, signed(body))[0] == 404
    assert post(f"{server}/sources/telegram/{whatsapp.public_id}/", body, signed(body))[0] == 404
    assert not ProviderEvent.objects.exists()


def test_a_deactivated_inbox_stops_taking_deliveries(server, whatsapp) -> None:
    url = f"{server}/sources/whatsapp/{whatsapp.public_id}/"
    body = text_delivery(1)
    assert post(url, body, signed(body))[0] == 200
    Inbox.objects.filter(pk=whatsapp.pk).update(is_active=False)
    assert post(url, text_delivery(2), signed(text_delivery(2)))[0] == 404
    assert ProviderEvent.objects.count() == 1


def test_other_requests_reach_django(server, whatsapp) -> None:
    query = urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": "v-123", "hub.challenge": "1158201444"}
    )
    url = f"{server}/sources/whatsapp/{whatsapp.public_id}/?{query}"
    with urllib.request.urlopen(url, timeout=10) as answer:  # Meta's handshake is a GET
        assert answer.read() == b"1158201444"
    with urllib.request.urlopen(f"{server}/healthz", timeout=10) as answer:
        assert answer.status == 200


def test_twilio_signs_the_url_it_called(server) -> None:
    inbox = actions.create_inbox(
        name="SMS",
        kind="sms",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"account_sid": ACCOUNT_SID, "phone_number": "+15550001111"},
        secrets={"auth_token": AUTH_TOKEN},
    )
    url = f"{server}/sources/sms/{inbox.public_id}/"
    params = [
        ("AccountSid", ACCOUNT_SID),
        ("Body", "Is my parcel on its way?"),
        ("From", "+447700900123"),
        ("MessageSid", "SM" + "a" * 32),
        ("NumMedia", "0"),
        ("To", "+15550001111"),
    ]
    body = urllib.parse.urlencode(params).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    good = {**form, "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)}
    status, text, headers = post(url, body, good)
    assert status == 200 and text.endswith("<Response/>")
    assert headers["Content-Type"].startswith("text/xml")
    wrong = {**form, "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url + "x", params)}
    assert post(url, body, wrong)[0] == 403
    assert post(url + "status/", body, good)[0] == 403  # signed for the other URL
    assert ProviderEvent.objects.filter(inbox=inbox).count() == 1
