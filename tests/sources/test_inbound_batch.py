"""The worker's batch path for provider webhooks (inbox/sources/webhooks.py: process_events,
inbox/actions/inbound_batch.py): deliveries of plain text stored together give exactly what
storing them one by one gives (messages, threads, reopened conversations, redeliveries,
events), in the order they arrived around deliveries that are not plain text; a batch
takes the other waiting deliveries along; a delivery another worker holds is left to it;
a batch that fails goes one by one."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connections, transaction
from django_tasks_db.models import DBTaskResult

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Conversation, Event, Inbox, Message, ProviderEvent
from inbox.sources.webhooks import keep_deliveries, process_event, process_events, store_event
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db
KNOWN, RETURNING, NEW = "447700900001", "447700900002", "447700900003"


def whatsapp_inbox(number_id: str) -> Inbox:
    return actions.create_inbox(
        name=f"WhatsApp {number_id}",
        kind="whatsapp",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"phone_number_id": number_id, "business_account_id": "WABA1"},
        secrets={"app_secret": "secret", "access_token": "token", "verify_token": "v"},
    )


def delivery(inbox: Inbox, sender: str, wamid: str, kind: str = "text", **body: Any) -> bytes:
    message: dict[str, Any] = {"from": sender, "id": wamid, "timestamp": "1763900000"}
    message.update({"type": kind, kind: body or {"body": f"text of {wamid}"}})
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": inbox.settings["phone_number_id"]},
        "contacts": [{"profile": {"name": f"Customer {sender[-1]}"}, "wa_id": sender}],
        "messages": [message],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def scenario(inbox: Inbox, admin: Any) -> list[bytes]:
    """A customer with an open conversation, one whose conversation was resolved, and a new
    one; a redelivery, and a reaction (not plain text) between the texts."""
    for sender in (KNOWN, RETURNING):
        actions.receive_inbound_message(
            inbox=inbox,
            identity=actions.IdentityInput(kind="external", value=sender, phone=f"+{sender}"),
            text="Earlier message",
        )
    returning = Conversation.objects.get(inbox=inbox, contact__phone=f"+{RETURNING}")
    actions.set_status(conversation=returning, status="resolved", actor=admin)
    return [
        delivery(inbox, KNOWN, "wamid.k1"),
        delivery(inbox, NEW, "wamid.n1"),
        delivery(inbox, RETURNING, "wamid.r1"),
        delivery(inbox, NEW, "wamid.n2"),
        delivery(inbox, KNOWN, "wamid.k1"),  # redelivered
        delivery(inbox, NEW, "wamid.x1", "reaction", message_id="wamid.n1", emoji="👍"),
        delivery(inbox, RETURNING, "wamid.r2"),
    ]


def snapshot(inbox: Inbox) -> list[Any]:
    """What agents see of the inbox: each conversation, its messages, and its events."""
    events: dict[int, list[tuple[str, str]]] = {}
    for event in Event.objects.filter(stream=f"inbox:{inbox.pk}").order_by("id"):
        message = event.payload.get("message") or {}
        conversation = message.get("conversation_id") or event.payload["conversation"]["id"]
        events.setdefault(conversation, []).append((event.kind, message.get("text", "")))
    return [
        (
            c.number,
            c.contact.name,
            c.contact.phone,
            c.status,
            c.last_message_preview,
            c.waiting_since is not None,
            c.last_customer_message_at is not None,
            [
                (m.kind, m.direction, m.text, m.external_id, (m.data or {}).get("reactions"))
                for m in c.messages.order_by("id")
            ],
            events.get(c.pk, []),
        )
        for c in Conversation.objects.filter(inbox=inbox).order_by("number")
    ]


def test_a_batch_gives_what_one_by_one_gives(run_tasks, caplog) -> None:
    batched, single, admin = whatsapp_inbox("111"), whatsapp_inbox("222"), AdminFactory()
    keep_deliveries([(batched.pk, body) for body in scenario(batched, admin)])
    for body in scenario(single, admin):  # the parser itself, one delivery at a time
        assert process_event(ProviderEvent.objects.create(inbox=single, body=body)) == "processed"
    run_tasks()
    assert set(ProviderEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert "goes one by one" not in caplog.text  # the batch path itself gave this
    assert DBTaskResult.objects.filter(task_path__endswith="after_customer_messages").exists()
    got = snapshot(batched)
    assert got == snapshot(single)
    new = got[2]
    assert new[1:3] == ("Customer 3", f"+{NEW}")
    assert [m[2] for m in new[7]] == ["text of wamid.n1", "text of wamid.n2"]
    assert new[7][0][4] == {"customer": "👍"}  # the reaction found the message before it
    returning = got[1]
    assert returning[3] == "open"
    assert [m[2] for m in returning[7] if m[0] == "message"] == [
        "Earlier message",
        "text of wamid.r1",
        "text of wamid.r2",
    ]
    assert "Reopened (resolved) because the customer wrote again" in [m[2] for m in returning[7]]
    assert Message.objects.filter(inbox=batched, external_id="wamid.k1").count() == 1


def test_drafts_tasks_follow_a_batch(run_tasks) -> None:
    inbox = whatsapp_inbox("111")
    senders = [f"44770090{n % 30:04d}" for n in range(45)]  # 30 customers, 15 twice
    keep_deliveries([(inbox.pk, delivery(inbox, who, f"w.{n}")) for n, who in enumerate(senders)])
    run_tasks()
    tasks = DBTaskResult.objects.filter(task_path__endswith="after_customer_messages")
    assert [len(t.args_kwargs["args"][0]) for t in tasks.order_by("enqueued_at")] == [20, 20, 5]
    assert {t.status for t in tasks} == {"SUCCESSFUL"}
    queued = sorted(pk for t in tasks for pk in t.args_kwargs["args"][0])
    assert queued == sorted(Message.objects.filter(inbox=inbox).values_list("pk", flat=True))
    by_conversation = [
        {Message.objects.get(pk=pk).conversation_id for pk in t.args_kwargs["args"][0]}
        for t in tasks
    ]
    assert sum(len(c) for c in by_conversation) <= 31  # a conversation's messages together


def test_every_message_of_a_batch_is_checked_the_last_one_answered(run_tasks) -> None:
    inbox = whatsapp_inbox("111")
    asks = delivery(inbox, KNOWN, "w.1", body="Can I speak to a real person please?")
    keep_deliveries([(inbox.pk, asks), (inbox.pk, delivery(inbox, KNOWN, "w.2"))])
    run_tasks()
    assert Conversation.objects.get(inbox=inbox).needs_person  # the earlier message counts
    [drafts] = DBTaskResult.objects.filter(task_path__endswith="after_customer_messages")
    assert "flagged, a newer message will be answered" in drafts.return_value


def test_a_task_takes_every_waiting_delivery(monkeypatch) -> None:
    inbox = whatsapp_inbox("111")
    events = [store_event(inbox, delivery(inbox, KNOWN, f"wamid.{n}")) for n in range(3)]
    monkeypatch.setattr("inbox.sources.webhooks.SWEEP", 2)  # two at a time, until none left
    assert process_events([events[0].pk]) == "3 processed"
    assert process_events([events[1].pk]) == "nothing new"  # its own task, later
    assert Message.objects.filter(inbox=inbox).count() == 3


def test_a_failed_batch_goes_one_by_one(monkeypatch) -> None:
    inbox = whatsapp_inbox("111")
    events = keep_deliveries([(inbox.pk, delivery(inbox, NEW, f"wamid.{n}")) for n in range(3)])

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("a fault injected into the batch path")

    monkeypatch.setattr("inbox.actions.inbound_batch.receive_inbound_texts", broken)
    assert process_events([e.pk for e in events]) == "3 processed"
    assert list(Message.objects.order_by("id").values_list("text", flat=True)) == [
        "text of wamid.0",
        "text of wamid.1",
        "text of wamid.2",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["text", "reaction"])
def test_a_delivery_another_worker_holds_is_left_to_it(kind: str) -> None:
    inbox = whatsapp_inbox("111")
    actions.receive_inbound_message(
        inbox=inbox,
        identity=actions.IdentityInput(kind="external", value=KNOWN),
        text="First",
        external_id="wamid.first",
    )
    body = (
        delivery(inbox, KNOWN, "wamid.2")
        if kind == "text"
        else delivery(inbox, KNOWN, "wamid.3", "reaction", message_id="wamid.first", emoji="🙏")
    )
    event = store_event(inbox, body)
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                list(ProviderEvent.objects.select_for_update().filter(pk=event.pk))
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        assert process_events([event.pk]) == "nothing new"
    finally:
        release.set()
        thread.join(10)
    assert ProviderEvent.objects.get(pk=event.pk).status == "pending"
    assert process_events([event.pk]) == "1 processed"
