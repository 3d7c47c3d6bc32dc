"""Event ids follow commit order, so "resume after id N" never skips an event that
committed late (the trap in ../shared/DESIGN.md §2). Two real concurrent writers on
PostgreSQL, and a resume in between."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from inbox.consumers import _replay
from inbox.events import record_event, writing
from inbox.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_slow_transaction_cannot_commit_an_id_below_one_already_visible(make_inbox) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    inbox = make_inbox()
    stream = f"inbox:{inbox.pk}"
    a_appended, a_may_commit = threading.Event(), threading.Event()
    b_done = threading.Event()
    ids: dict[str, int] = {}

    def writer_a() -> None:
        try:
            with transaction.atomic():  # A keeps its transaction open after appending
                with writing():
                    record_event(stream=stream, kind="a", payload={})
                ids["a"] = Event.objects.get(kind="a").id
                a_appended.set()
                a_may_commit.wait(10)
        finally:
            connections.close_all()

    def writer_b() -> None:
        try:
            with writing():
                record_event(stream=stream, kind="b", payload={})
            ids["b"] = Event.objects.get(kind="b").id
            b_done.set()
        finally:
            connections.close_all()

    start = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    thread_a = threading.Thread(target=writer_a)
    thread_a.start()
    assert a_appended.wait(10)
    thread_b = threading.Thread(target=writer_b)
    thread_b.start()
    time.sleep(0.5)
    # B cannot take an id (and commit) while A, which holds the lower id, is uncommitted.
    assert not b_done.is_set()
    status, frames = _replay(0, [inbox.pk], start)
    assert status == "ok" and frames == []  # a client resuming now sees nothing yet
    a_may_commit.set()
    thread_a.join(10)
    thread_b.join(10)
    assert ids["b"] == ids["a"] + 1
    # A client that saw A resumes after it and gets exactly B.
    status, frames = _replay(0, [inbox.pk], ids["a"])
    assert status == "ok" and [event_id for event_id, _ in frames] == [ids["b"]]
    seqs = list(Event.objects.filter(stream=stream, id__gt=start).values_list("seq", flat=True))
    assert seqs == sorted(seqs) and len(set(seqs)) == 2


def test_a_row_lock_and_the_event_counter_do_not_deadlock(make_inbox, inbound) -> None:
    """B holds the event counter and, at COMMIT, checks its foreign key to the conversation
    (FOR KEY SHARE). A locks that conversation and waits for the counter. With a plain
    FOR UPDATE this deadlocked; actions take FOR NO KEY UPDATE."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from accounts.models import User
    from inbox import actions
    from inbox.models import Conversation, Message

    agent = User.objects.create_user("ana@example.com", "x", name="Ana")
    conversation = inbound(make_inbox(members=[agent])).conversation
    b_holds_counter, b_may_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_b() -> None:
        try:
            with transaction.atomic():
                with writing():
                    Message.objects.create(
                        conversation=conversation,
                        inbox_id=conversation.inbox_id,
                        direction="outgoing",
                        kind="note",
                        text="b",
                    )
                    record_event(stream=f"inbox:{conversation.inbox_id}", kind="b", payload={})
                b_holds_counter.set()
                b_may_commit.wait(10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def writer_a() -> None:
        try:
            actions.assign(
                conversation=Conversation.objects.get(pk=conversation.pk),
                assignee=agent,
                actor=agent,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread_b = threading.Thread(target=writer_b)
    thread_b.start()
    assert b_holds_counter.wait(10)
    thread_a = threading.Thread(target=writer_a)
    thread_a.start()
    time.sleep(0.5)  # A now holds its row lock and waits for the counter
    b_may_commit.set()
    thread_b.join(15)
    thread_a.join(15)
    assert errors == []
    conversation.refresh_from_db()
    assert conversation.assignee == agent
