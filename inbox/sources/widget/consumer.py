"""The visitor websocket, `/ws/widget/?inbox=<public id>` (protocol: docs/sources/widget.md).

The handshake is refused unless the `Origin` is one of the inbox's allowed websites. The
first frame must be `hello` with the visitor token (not in the URL: URLs end up in logs);
the socket then joins only that visitor's conversations (`chat.<id>` groups, whose events
hold customer-facing messages only) and resumes from the last event the widget saw, like
the agents' socket. Typing goes both ways as ephemeral frames; the visitor's presence
(online, page, referrer) is told to the agents of the inbox."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from inbox.consumers import EventSocket
from inbox.events import inbox_group
from inbox.relay import ensure_running as ensure_relay_running

logger = logging.getLogger(__name__)

CLOSE_UNKNOWN_VISITOR = 4001
CLOSE_ORIGIN = 4003
CLOSE_UNKNOWN_INBOX = 4004
HELLO_TIMEOUT = 10.0
MAX_REPLAY = 1000
CONVERSATIONS_FOLLOWED = 20
FRAMES_PER_WINDOW = 20  # client frames per socket per window; more are refused with a notice
WINDOW = 10.0
TYPING_MIN_INTERVAL = 2.0
PING_WRITE_EVERY = 45.0  # seconds between "still here" writes of one socket (pings every 25 s)


def visitor_group(visitor_id: int) -> str:
    """Control messages for one visitor's sockets (a new conversation to follow, reset)."""
    return f"visitor.{visitor_id}"


def tell_visitor(visitor_id: int, kind: str) -> None:
    """Control message to a visitor's open sockets: "visitor.follow" (a new conversation of
    theirs: follow it) or "visitor.reset" (signed out: close). Best effort (the widget
    reconnects and resumes from the log anyway)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(visitor_group(visitor_id), {"type": kind})
    except Exception:
        logger.exception("could not tell visitor %s: %s", visitor_id, kind)


def tell_contact_visitors(inbox_id: int, contact_id: int | None, kind: str) -> None:
    """tell_visitor() for every browser of this contact in the inbox (a signed-in user's
    phone and laptop both follow a conversation started on either)."""
    from inbox.models import WidgetVisitor

    if contact_id is None:
        return
    for visitor_id in WidgetVisitor.objects.filter(
        inbox_id=inbox_id, contact_id=contact_id, revoked_at=None
    ).values_list("pk", flat=True):
        tell_visitor(visitor_id, kind)


def _inbox(public_id: str) -> Any:
    from inbox.models import Inbox

    try:
        return Inbox.objects.filter(
            public_id=public_id, kind=Inbox.Kind.WIDGET, is_active=True
        ).first()
    except Exception:  # not a UUID
        return None


def _visitor(inbox: Any, token: str) -> Any:
    from inbox.actions.widget import visitor_for_token

    return visitor_for_token(inbox=inbox, token=token)


def _conversation_ids(visitor_id: int) -> list[int]:
    from inbox.models import Conversation, WidgetVisitor

    visitor = WidgetVisitor.objects.filter(pk=visitor_id, revoked_at=None).first()
    if visitor is None or not visitor.contact_id:
        return []
    return list(
        Conversation.objects.filter(inbox_id=visitor.inbox_id, contact_id=visitor.contact_id)
        .order_by("-id")
        .values_list("id", flat=True)[:CONVERSATIONS_FOLLOWED]
    )


def _replay(conversation_ids: list[int], after: int) -> tuple[str, list[tuple[int, str]]]:
    from inbox.events import chat_stream, frame_text
    from inbox.models import Event, EventCounter

    last = EventCounter.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0
    if after >= last or not conversation_ids:
        return "ok", []
    oldest = Event.objects.order_by("id").values_list("id", flat=True).first()
    if oldest is None or after < oldest - 1:
        return "resync", []
    events = list(
        Event.objects.filter(
            id__gt=after, stream__in=[chat_stream(i) for i in conversation_ids]
        ).order_by("id")[: MAX_REPLAY + 1]
    )
    if len(events) > MAX_REPLAY:
        return "resync", []
    return "ok", [(e.id, frame_text(e)) for e in events]


def _stream_events(conversation_ids: list[int]) -> list[tuple[int, str]]:
    """What the log still holds of these conversations' streams (newly followed ones)."""
    from inbox.events import chat_stream, frame_text
    from inbox.models import Event

    events = Event.objects.filter(stream__in=[chat_stream(i) for i in conversation_ids])
    return [(e.id, frame_text(e)) for e in events.order_by("id")[:MAX_REPLAY]]


def _available(inbox: Any) -> bool:
    from inbox.sources.widget.views import available

    return available(inbox)


def _last_event_id() -> int:
    from inbox.models import EventCounter

    return EventCounter.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0


def _seen(
    visitor_id: int, sockets: int = 0, page: str = "", title: str = "", referrer: str = ""
) -> None:
    from inbox.actions.widget import visitor_seen

    visitor_seen(
        visitor_id=visitor_id, sockets=sockets, page_url=page, page_title=title, referrer=referrer
    )


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class VisitorConsumer(EventSocket):
    async def connect(self) -> None:
        from inbox.sources.widget.config import config_for

        query = parse_qs((self.scope.get("query_string") or b"").decode())
        self.inbox = await database_sync_to_async(_inbox)((query.get("inbox") or [""])[0])
        if self.inbox is None:
            await self.close(code=CLOSE_UNKNOWN_INBOX)
            return
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not config_for(self.inbox).allows(origin):
            await self.close(code=CLOSE_ORIGIN)
            return
        self.visitor: Any = None
        self.groups_joined: set[str] = set()
        self.conversation_ids: list[int] = []
        self.start_stream()
        self.frame_times: deque[float] = deque()
        self.typing_sent = 0.0
        self.pinged_at = 0.0
        await self.accept()
        ensure_relay_running()
        self.hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT, lambda: asyncio.ensure_future(self._no_hello())
        )

    async def _no_hello(self) -> None:
        """A socket that never says who it is does not stay open."""
        if self.visitor is None:
            await self.close(code=CLOSE_UNKNOWN_VISITOR)

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "hello_timer", None)
        if timer is not None:
            timer.cancel()
        visitor = getattr(self, "visitor", None)
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
        if visitor is not None:
            await database_sync_to_async(_seen)(visitor.pk, -1)
            await self._presence(online=False)

    # --- visitor → server --------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self._error("Frames must be JSON objects.")
            return
        if not isinstance(content, dict):
            await self._error("Frames must be JSON objects.")
            return
        now = time.monotonic()
        while self.frame_times and now - self.frame_times[0] > WINDOW:
            self.frame_times.popleft()
        if len(self.frame_times) >= FRAMES_PER_WINDOW:
            retry = max(1, int(WINDOW - (now - self.frame_times[0]) + 1))
            await self._send(
                {
                    "type": "throttled",
                    "error": f"Too many updates at once. Try again in {retry} s.",
                    "retry_after": retry,
                }
            )
            return
        self.frame_times.append(now)
        kind = content.get("type")
        if kind == "hello":
            await self._hello(content)
        elif self.visitor is None:
            await self._error("Say hello with your visitor token first.")
        elif kind == "ping":
            if time.monotonic() - self.pinged_at > PING_WRITE_EVERY:
                self.pinged_at = time.monotonic()
                await database_sync_to_async(_seen)(self.visitor.pk)  # still here
            await self._send({"type": "pong"})
        elif kind == "typing":
            await self._typing(content.get("state"))
        elif kind == "page":
            await database_sync_to_async(_seen)(
                self.visitor.pk,
                0,
                _text(content.get("url"), 2000),
                _text(content.get("title"), 300),
            )
            await self._presence(online=True)
        elif "resume_from" in content and kind in (None, "resume"):
            await self._resume(content["resume_from"])
        else:
            await self._error(f"Unknown frame type: {str(kind)[:40]!r}.")

    async def _hello(self, content: dict[str, Any]) -> None:
        if self.visitor is not None:
            await self._error("Already said hello.")
            return
        token = content.get("token")
        visitor = (
            await database_sync_to_async(_visitor)(self.inbox, token)
            if isinstance(token, str)
            else None
        )
        if visitor is None:
            await self.close(code=CLOSE_UNKNOWN_VISITOR)
            return
        self.visitor = visitor
        await self.channel_layer.group_add(visitor_group(visitor.pk), self.channel_name)
        self.groups_joined.add(visitor_group(visitor.pk))
        await self._follow_conversations()
        await database_sync_to_async(_seen)(
            visitor.pk,
            1,
            _text(content.get("page"), 2000),
            _text(content.get("title"), 300),
            _text(content.get("referrer"), 2000),
        )
        self.pinged_at = time.monotonic()
        last = await database_sync_to_async(_last_event_id)()
        await self._send({"type": "ready", "last_event_id": last})
        # Whether someone answers now (the config the page loaded may be minutes old).
        await self._send(
            {"type": "agents", "available": await database_sync_to_async(_available)(self.inbox)}
        )
        resume = content.get("resume_from")
        if resume is not None:
            await self._resume(resume)
        await self._presence(online=True)

    async def _follow_conversations(self) -> list[int]:
        """Join the groups of the visitor's conversations; returns the ones newly followed."""
        from inbox.events import chat_stream, group_for_stream

        ids = await database_sync_to_async(_conversation_ids)(self.visitor.pk)
        added = [i for i in ids if i not in self.conversation_ids]
        wanted = {group_for_stream(chat_stream(i)) for i in ids} | {visitor_group(self.visitor.pk)}
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined, self.conversation_ids = wanted, ids
        return added

    async def _resume(self, after: Any) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self._error("resume_from must be a non-negative integer event id.")
            return

        async def fetch() -> tuple[str, list[tuple[int, str]]]:
            return await database_sync_to_async(_replay)(self.conversation_ids, after)

        await self._send_replay(fetch, after=after)

    async def _typing(self, state: Any) -> None:
        if state not in ("start", "stop") or not self.conversation_ids:
            if state not in ("start", "stop"):
                await self._error("typing needs a state: start or stop.")
            return
        now = time.monotonic()
        if state == "start":
            if now - self.typing_sent < TYPING_MIN_INTERVAL:
                return
            self.typing_sent = now
        else:
            self.typing_sent = 0.0
        frame = {
            "type": "visitor.typing",
            "conversation_id": self.conversation_ids[0],
            "state": state,
        }
        await self.channel_layer.group_send(
            inbox_group(self.inbox.pk),
            {"type": "ephemeral.frame", "sender": self.channel_name, "text": json.dumps(frame)},
        )

    async def _presence(self, *, online: bool) -> None:
        """Tell the inbox's agents where the visitor is (not logged: presence is now)."""
        visitor = self.visitor
        frame = {
            "type": "visitor.presence",
            "visitor": str(visitor.public_id),
            "contact_id": visitor.contact_id,
            "conversation_id": self.conversation_ids[0] if self.conversation_ids else None,
            "online": online,
        }
        await self.channel_layer.group_send(
            inbox_group(self.inbox.pk),
            {"type": "ephemeral.frame", "sender": self.channel_name, "text": json.dumps(frame)},
        )

    # --- server → visitor (channel layer) -------------------------------------------------
    async def visitor_follow(self, message: dict[str, Any]) -> None:
        """A new conversation of this visitor (their first message): follow it too, and
        send what it published before this socket joined its group."""
        if self.visitor is None:
            return
        added = await self._follow_conversations()
        if added:
            # Everything the new streams hold (an event published before the join included);
            # ids already sent are dropped.
            async def fetch() -> tuple[str, list[tuple[int, str]]]:
                return "ok", await database_sync_to_async(_stream_events)(added)

            await self._send_replay(fetch)

    async def visitor_reset(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_UNKNOWN_VISITOR)
