"""The agent websocket, `/ws/agent/` (protocol: docs/realtime.md).

Thin by design: authenticate at connect, join the groups `socket_groups()` computes, forward
event frames as the text they were published with (no ORM work per forwarded event), and
relay rate-limited ephemeral frames (typing, viewing) to the other agents of an inbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from inbox import presence
from inbox.events import chat_stream, group_for_stream, inbox_group, user_group
from inbox.relay import ensure_running as ensure_relay_running

CLOSE_UNAUTHENTICATED = 4001
CLOSE_SESSION_ENDED = 4003
MAX_REPLAY = 5000
SENT_IDS_KEPT = MAX_REPLAY + 1000
EPHEMERAL_BURST = 10  # frames per socket
EPHEMERAL_WINDOW = 10.0  # seconds
TYPING_MIN_INTERVAL = 2.0  # seconds between forwarded "typing start" per conversation
PRESENCE_BATCH_SECONDS = 1.0

logger = logging.getLogger(__name__)


def _visible_inbox_ids(user: Any) -> list[int]:
    from inbox.queries.access import visible_inbox_ids

    user.refresh_from_db(fields=["role", "is_active"])
    return visible_inbox_ids(user) if user.is_active else []


def _replay(user_id: int, inbox_ids: list[int], after: int) -> tuple[str, list[tuple[int, str]]]:
    """("ok", [(id, frame)…]) or ("resync", []) when the log no longer reaches `after`."""
    from inbox.events import frame_text, inbox_stream, user_stream
    from inbox.models import Event, EventCounter

    last = EventCounter.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0
    if after >= last:
        return "ok", []
    oldest = Event.objects.order_by("id").values_list("id", flat=True).first()
    if oldest is None or after < oldest - 1:
        return "resync", []
    streams = [inbox_stream(i) for i in inbox_ids] + [user_stream(user_id)]
    events = list(
        Event.objects.filter(id__gt=after, stream__in=streams).order_by("id")[: MAX_REPLAY + 1]
    )
    if len(events) > MAX_REPLAY:
        return "resync", []
    return "ok", [(e.id, frame_text(e)) for e in events]


def _stream_positions(user_id: int, inbox_ids: list[int]) -> dict[str, Any]:
    """Where each of the socket's streams stands, so a client notices a frame lost even
    before its first event. The counter is read first: anything after these seqs has an id
    above `last_event_id`."""
    from inbox.events import inbox_stream, user_stream
    from inbox.models import EventCounter, EventStream

    last = EventCounter.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0
    names = [inbox_stream(i) for i in inbox_ids] + [user_stream(user_id)]
    streams = dict.fromkeys(names, 0)
    streams.update(EventStream.objects.filter(name__in=names).values_list("name", "last_seq"))
    return {"last_event_id": last, "streams": streams}


def _is_widget_inbox(inbox_id: int) -> bool:
    from inbox.actions.common import widget_inbox

    return widget_inbox(inbox_id) is not None


def _conversation_inbox(conversation_id: int) -> int | None:
    from inbox.models import Conversation

    return (
        Conversation.objects.filter(pk=conversation_id).values_list("inbox_id", flat=True).first()
    )


class PresenceOutbox:
    """Presence changes of this process, sent once per PRESENCE_BATCH_SECONDS as one frame
    per inbox listing every agent who came or went. Announcing each change at once costs a
    frame per agent of the inbox per change: when 2,000 agents reconnect together (a
    deploy), that is millions of frames and the connections time out (bench/socket_memory.py).
    """

    _by_loop: ClassVar[dict[Any, PresenceOutbox]] = {}

    def __init__(self) -> None:
        self.pending: dict[int, dict[int, dict[str, Any]]] = {}
        self.flushing: asyncio.Task[None] | None = None

    @classmethod
    def for_this_loop(cls) -> PresenceOutbox:
        loop = asyncio.get_running_loop()
        outbox = cls._by_loop.get(loop)
        if outbox is None:
            for old in [key for key in cls._by_loop if key.is_closed()]:
                del cls._by_loop[old]
            outbox = cls._by_loop[loop] = cls()
        return outbox

    def add(self, layer: Any, inbox_ids: list[int], change: dict[str, Any]) -> None:
        for inbox_id in inbox_ids:
            self.pending.setdefault(inbox_id, {})[change["user_id"]] = change
        if self.flushing is None and self.pending:
            self.flushing = asyncio.get_running_loop().create_task(self._flush_later(layer))

    async def _flush_later(self, layer: Any) -> None:
        await asyncio.sleep(PRESENCE_BATCH_SECONDS)
        pending, self.pending, self.flushing = self.pending, {}, None
        for inbox_id, changes in pending.items():
            text = json.dumps(
                {"type": "presence", "agents": list(changes.values())}, separators=(",", ":")
            )
            try:
                await layer.group_send(
                    inbox_group(inbox_id), {"type": "ephemeral.frame", "sender": "", "text": text}
                )
            except Exception:  # best effort, like every ephemeral frame
                logger.exception("could not send presence for inbox %s", inbox_id)


class EventSocket(AsyncWebsocketConsumer):
    """What the agents' and the visitors' sockets share: forwarding event frames as
    published (no ORM work per frame), replays that hold live frames back until they are
    done, and dropping ids already sent (a replay overlaps the live stream; live frames may
    arrive slightly out of id order, so this is a set of recent ids, not a high-water mark).
    """

    ids_kept = SENT_IDS_KEPT

    def start_stream(self) -> None:
        self.replaying = False
        self.buffered: list[tuple[int, str]] = []
        self.sent_ids: set[int] = set()
        self.sent_order: deque[int] = deque()

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def _error(self, message: str) -> None:
        await self._send({"type": "error", "error": message})

    async def _send_replay(self, fetch: Any, *, after: int | None = None) -> None:
        """Send what `fetch()` (a coroutine: ("ok" | "resync", [(id, frame)…])) returns,
        then the live frames that arrived meanwhile. With `after`: answer as a resume
        (`resumed`, or `resync` when the log cannot serve it)."""
        self.replaying, self.buffered = True, []
        try:
            status, frames = await fetch()
            if status == "resync":
                await self._send({"type": "resync"})
                return
            for event_id, text in frames:
                await self._send_event(event_id, text)
            if after is not None:
                await self._send({"type": "resumed", "after": after, "replayed": len(frames)})
        finally:
            self.replaying = False
            buffered, self.buffered = self.buffered, []
            for event_id, text in buffered:
                await self._send_event(event_id, text)

    async def _send_event(self, event_id: int, text: str) -> None:
        if event_id in self.sent_ids:
            return
        await self.send(text_data=text)
        self.sent_ids.add(event_id)
        self.sent_order.append(event_id)
        if len(self.sent_order) > self.ids_kept:
            self.sent_ids.discard(self.sent_order.popleft())

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections() in a worker thread before every handler.
        # Forwarding a frame touches no database, so skip that thread hop on the hot path.
        if message["type"] == "event.frame":
            await self.event_frame(message)
        elif message["type"] == "ephemeral.frame":
            await self.ephemeral_frame(message)
        else:
            await super().dispatch(message)

    async def event_frame(self, message: dict[str, Any]) -> None:
        if self.replaying:
            self.buffered.append((message["id"], message["text"]))
            return
        await self._send_event(message["id"], message["text"])

    async def ephemeral_frame(self, message: dict[str, Any]) -> None:
        if message["sender"] != self.channel_name:
            await self.send(text_data=message["text"])


class AgentConsumer(EventSocket):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.inbox_ids: list[int] = []
        self.groups_joined: set[str] = set()
        self.start_stream()
        self.ephemeral_times: deque[float] = deque()
        self.typing_sent: dict[int, float] = {}
        self.conversation_inboxes: dict[int, int | None] = {}
        await self.accept()
        ensure_relay_running()
        await self._follow_inboxes()
        if await database_sync_to_async(presence.socket_opened)(
            user_id=user.pk, channel_name=self.channel_name
        ):
            await self._announce_presence(online=True)
        positions = await database_sync_to_async(_stream_positions)(user.pk, self.inbox_ids)
        await self._send(
            {"type": "hello", "user_id": user.pk, "inbox_ids": self.inbox_ids, **positions}
        )

    async def _follow_inboxes(self) -> list[int]:
        inbox_ids = await database_sync_to_async(_visible_inbox_ids)(self.user)
        wanted = {user_group(self.user.pk)} | {inbox_group(i) for i in inbox_ids}
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        gained = sorted(set(inbox_ids) - set(self.inbox_ids))
        self.groups_joined, self.inbox_ids = wanted, sorted(inbox_ids)
        return gained

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "user") and await database_sync_to_async(presence.socket_closed)(
            user_id=self.user.pk, channel_name=self.channel_name
        ):
            await self._announce_presence(online=False)
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
        for conversation_id, inbox_id in getattr(self, "viewing", {}).items():
            await self._ephemeral(
                inbox_id, {"type": "viewing", "conversation_id": conversation_id, "state": "closed"}
            )

    # --- client → server -----------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self._error("Frames must be JSON objects.")
            return
        if not isinstance(content, dict):
            await self._error("Frames must be JSON objects.")
            return
        kind = content.get("type")
        if "resume_from" in content and kind in (None, "resume"):
            await self._resume(content["resume_from"])
        elif kind == "ping":
            await database_sync_to_async(presence.heartbeat)(channel_name=self.channel_name)
            await self._send({"type": "pong"})
        elif kind in ("typing", "viewing"):
            await self._relay(kind, content)
        else:
            await self._error(f"Unknown frame type: {str(kind)[:40]!r}.")

    async def _resume(self, after: Any) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self._error("resume_from must be a non-negative integer event id.")
            return

        async def fetch() -> tuple[str, list[tuple[int, str]]]:
            return await database_sync_to_async(_replay)(self.user.pk, self.inbox_ids, after)

        await self._send_replay(fetch, after=after)

    async def _relay(self, kind: str, content: dict[str, Any]) -> None:
        conversation_id = content.get("conversation_id")
        state = content.get("state")
        valid_states = {"typing": {"start", "stop"}, "viewing": {"opened", "closed"}}[kind]
        if not isinstance(conversation_id, int) or state not in valid_states:
            await self._error(
                f"{kind} needs an integer conversation_id and a state in {sorted(valid_states)}."
            )
            return
        if conversation_id not in self.conversation_inboxes:
            self.conversation_inboxes[conversation_id] = await database_sync_to_async(
                _conversation_inbox
            )(conversation_id)
        inbox_id = self.conversation_inboxes[conversation_id]
        if inbox_id is None or inbox_id not in self.inbox_ids:
            await self._error("No such conversation.")
            return
        now = time.monotonic()
        if kind == "typing" and state == "start":
            if now - self.typing_sent.get(conversation_id, -1e9) < TYPING_MIN_INTERVAL:
                return  # still typing; already told
            self.typing_sent[conversation_id] = now
        elif kind == "typing":
            self.typing_sent.pop(conversation_id, None)
        while self.ephemeral_times and now - self.ephemeral_times[0] > EPHEMERAL_WINDOW:
            self.ephemeral_times.popleft()
        if len(self.ephemeral_times) >= EPHEMERAL_BURST:
            return  # a burst: dropped, not fanned out
        self.ephemeral_times.append(now)
        viewing = self.__dict__.setdefault("viewing", {})
        if kind == "viewing":
            if state == "opened":
                viewing[conversation_id] = inbox_id
            else:
                viewing.pop(conversation_id, None)
        await self._ephemeral(
            inbox_id, {"type": kind, "conversation_id": conversation_id, "state": state}
        )
        note = content.get("mode") == "note"  # a private note: never shown to the visitor
        if (
            kind == "typing"
            and not note
            and await database_sync_to_async(_is_widget_inbox)(inbox_id)
        ):
            # The website visitor sees "Ben is typing…" (a name, nothing else about the agent).
            await self.channel_layer.group_send(
                group_for_stream(chat_stream(conversation_id)),
                {
                    "type": "ephemeral.frame",
                    "sender": self.channel_name,
                    "text": json.dumps(
                        {"type": "typing", "state": state, "author": {"name": self.user.name}},
                        separators=(",", ":"),
                    ),
                },
            )

    async def _announce_presence(self, *, online: bool) -> None:
        """Tell the agents of this user's inboxes that they came online or went away
        (batched per inbox: see PresenceOutbox)."""
        change = {"user_id": self.user.pk, "online": online, "availability": self.user.availability}
        PresenceOutbox.for_this_loop().add(self.channel_layer, self.inbox_ids, change)

    async def _ephemeral(self, inbox_id: int, frame: dict[str, Any]) -> None:
        frame["user"] = {"id": self.user.pk, "name": self.user.name}
        await self.channel_layer.group_send(
            inbox_group(inbox_id),
            {
                "type": "ephemeral.frame",
                "sender": self.channel_name,
                "text": json.dumps(frame, separators=(",", ":")),
            },
        )

    # --- server → client (channel layer handlers) ---------------------------------------
    async def membership_changed(self, message: dict[str, Any]) -> None:
        gained = await self._follow_inboxes()
        await self._send({"type": "inboxes", "inbox_ids": self.inbox_ids, "gained": gained})

    async def session_ended(self, message: dict[str, Any]) -> None:
        only = message.get("only_session_key")
        if only is not None and only != self.session_key:
            return
        if self.session_key in message.get("keep_session_keys", []):
            return
        await self._send({"type": "session.ended", "reason": message.get("reason")})
        await self.close(code=CLOSE_SESSION_ENDED)

    async def user_availability(self, message: dict[str, Any]) -> None:
        await self._send({"type": "user.availability", "availability": message["availability"]})
