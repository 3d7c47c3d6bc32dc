"""The event log and realtime publishing.

Every change an agent should see is an `Event` row appended in the same transaction as the
change, then published after commit to a channel-layer group:

- `inbox.<id>` for events of an inbox (every socket of a member joins it);
- `user.<id>` for events meant for one user (and control messages such as session.ended);
- `chat.<id>` for the visitor's view of a website-chat conversation (customer-facing
  messages and status only: no notes, no activity lines).

Locks: actions lock their domain rows with `select_for_update(no_key=True)` (FOR NO KEY
UPDATE), never plain FOR UPDATE. Django's foreign keys are checked at COMMIT with FOR KEY
SHARE on the referenced row; a plain FOR UPDATE held by a transaction waiting for the event
counter would block the commit of the transaction holding the counter: a deadlock.

Ordering: actions write inside `writing()`. Events are buffered and appended at the end of
the outermost `writing()` block, under a lock on the single `EventCounter` row held until
commit. So event ids are handed out in commit order and contiguous: once a client has seen
id N, every event with a smaller id is already committed, and "resume after N" misses
nothing. Each stream also gets a contiguous `seq`, so a client notices when the channel
layer dropped one of its events and resumes from the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """Every open socket of a user joins this group."""
    return f"user.{user_id}"


def inbox_group(inbox_id: int) -> str:
    """Every open socket of a user who may see the inbox joins this group."""
    return f"inbox.{inbox_id}"


def group_for_stream(stream: str) -> str:
    kind, _, ident = stream.partition(":")
    return f"{kind}.{ident}"


def inbox_stream(inbox_id: int) -> str:
    return f"inbox:{inbox_id}"


def user_stream(user_id: int) -> str:
    return f"user:{user_id}"


def chat_stream(conversation_id: int) -> str:
    """A website-chat conversation as its visitor sees it (inbox/sources/widget/)."""
    return f"chat:{conversation_id}"


@dataclass
class _Pending:
    stream: str
    kind: str
    payload: dict[str, Any]


class NotInsideWriting(RuntimeError):
    """record_event() was called outside `writing()`."""


def _state() -> dict[str, Any]:
    # Kept on the (thread-local) connection: events belong to its transaction.
    conn = connections[DEFAULT_DB_ALIAS]
    state = getattr(conn, "_parley_events", None)
    if state is None:
        state = {"depth": 0, "pending": [], "tallies": []}
        conn._parley_events = state  # type: ignore[attr-defined]
    return state


def in_writing() -> bool:
    return bool(_state()["depth"])


def buffered_tallies() -> list[Any] | None:
    """Inside `writing()`: the list conversation-count changes are buffered in (applied
    at the end of the block, before the events; see inbox/tallies.py). Outside: None."""
    state = _state()
    return state["tallies"] if state["depth"] else None


@contextmanager
def writing() -> Iterator[None]:
    """The transaction of a domain write. Use instead of `transaction.atomic()` in actions
    that record events; nesting is fine (only the outermost block appends the events, and
    an inner block that fails takes its events with it)."""
    from inbox import tallies

    state = _state()
    with transaction.atomic():
        state["depth"] += 1
        mark, tally_mark = len(state["pending"]), len(state["tallies"])
        try:
            yield
            if state["depth"] == 1:
                tallies.apply(state["tallies"])
                if state["pending"]:
                    _append(state["pending"])
        except BaseException:
            del state["pending"][mark:]
            del state["tallies"][tally_mark:]
            raise
        finally:
            state["depth"] -= 1
            if state["depth"] == 0:
                state["pending"], state["tallies"] = [], []


def record_event(*, stream: str, kind: str, payload: dict[str, Any]) -> None:
    """Queue an event for the surrounding `writing()` block. `payload` must be complete:
    consumers forward it without querying."""
    state = _state()
    if state["depth"] == 0:
        raise NotInsideWriting(f"record_event({kind}) outside writing()")
    # Serialise now, so later changes to the objects cannot leak into the event.
    state["pending"].append(
        _Pending(stream, kind, json.loads(json.dumps(payload, cls=DjangoJSONEncoder)))
    )


def _append(pending: list[_Pending]) -> None:
    from inbox.models import Event

    names = sorted({p.stream for p in pending})
    per_stream = {name: sum(1 for p in pending if p.stream == name) for name in names}
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        # One statement takes the counter's row lock (held until commit) and reserves the
        # ids; the streams are locked after it, in name order, so writers never cross.
        # (An upsert: the row comes from a migration, but a test flush may have removed it.)
        cursor.execute(
            "INSERT INTO inbox_eventcounter (id, last_id) VALUES (1, %s) "
            "ON CONFLICT (id) DO UPDATE SET last_id = inbox_eventcounter.last_id + "
            "EXCLUDED.last_id RETURNING last_id",
            [len(pending)],
        )
        row = cursor.fetchone()
        next_id = row[0] - len(pending)
        next_seq = {}
        for name in names:
            cursor.execute(
                "INSERT INTO inbox_eventstream (name, last_seq) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET last_seq = inbox_eventstream.last_seq + "
                "EXCLUDED.last_seq RETURNING last_seq",
                [name, per_stream[name]],
            )
            next_seq[name] = cursor.fetchone()[0] - per_stream[name]
    now = timezone.now()
    rows = []
    for item in pending:
        next_id += 1
        next_seq[item.stream] += 1
        rows.append(
            Event(
                id=next_id,
                stream=item.stream,
                seq=next_seq[item.stream],
                kind=item.kind,
                payload=item.payload,
                created_at=now,
            )
        )
    Event.objects.bulk_create(rows)
    if settings.EVENT_PUBLISHING == "commit":
        frames = [(group_for_stream(e.stream), e.id, frame_text(e)) for e in rows]
        transaction.on_commit(lambda: _publish(frames), robust=True)


def frame_text(event: Any) -> str:
    """The websocket frame of an event, serialised once."""
    return json.dumps(
        {
            "type": "event",
            "id": event.id,
            "stream": event.stream,
            "seq": event.seq,
            "kind": event.kind,
            "at": event.created_at.isoformat(),
            "payload": event.payload,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def _publish(frames: list[tuple[str, int, str]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        # One hop into async for the whole transaction: async_to_sync per frame costs an
        # event loop (and, with Redis, a connection) each time.
        for group, event_id, text in frames:
            await layer.group_send(group, {"type": "event.frame", "id": event_id, "text": text})

    try:
        async_to_sync(send_all)()
    except Exception:
        # Best effort: clients notice the gap in `seq` and resume from the log.
        logger.exception("could not publish %d events", len(frames))


def publish_to_user_on_commit(user_id: int, message: dict[str, Any]) -> None:
    """Send a control message (not logged) to all of a user's sockets after commit.
    The channel layer is at-most-once; callers must not rely on delivery for correctness."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), message)
        except Exception:
            # A Redis outage must not fail the write that already committed (or a
            # sign-out); sockets that miss this are refused when they reconnect.
            logger.exception("could not publish %s to user %s", message.get("type"), user_id)

    transaction.on_commit(send, robust=True)


def end_user_sockets_on_commit(
    user_id: int,
    *,
    reason: str,
    keep_session_keys: list[str] | None = None,
    only_session_key: str | None = None,
) -> None:
    """Close a user's open websockets (consumers handle `session.ended` by closing with
    code 4003): all of them, all but those opened from `keep_session_keys`, or only those
    of `only_session_key`. The sessions are already gone from the database, so a socket
    that misses this message is refused when it reconnects."""
    publish_to_user_on_commit(
        user_id,
        {
            "type": "session.ended",
            "reason": reason,
            "keep_session_keys": keep_session_keys or [],
            "only_session_key": only_session_key,
        },
    )


def membership_changed_on_commit(user_ids: list[int]) -> None:
    """Tell these users' open sockets to recompute which inboxes they follow."""
    for user_id in user_ids:
        publish_to_user_on_commit(user_id, {"type": "membership.changed"})
