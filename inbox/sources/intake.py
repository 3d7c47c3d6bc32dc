"""The intake: provider webhooks served under ASGI without Django's request stack.

A provider delivery needs three things: the signature checked, the raw body kept durably,
and a quick answer. Through Django each request costs ~5 ms of CPU (middleware, a thread per
request, a transaction and a task row of its own), which caps a two-core machine far below
what a busy WhatsApp number or SMS campaign sends. Here a POST whose URL resolves to a
webhook `Door` (inbox/sources/webhooks.py) is answered on the event loop:

- the inbox comes from a short-lived in-process cache (WEBHOOK_INBOX_CACHE_SECONDS: a
  rotated secret or a deactivated inbox takes effect within that time);
- the door's `check` runs as in the Django view (same code, same answers);
- the body joins the deliveries waiting to be kept; one thread writes everything waiting in
  one transaction with one task for the worker (`keep_deliveries`), and each request is
  answered once its delivery is committed. Under load, the requests that arrive during one
  write are kept together by the next: one commit for many deliveries;
- if the write fails, the provider gets 503 and sends again: nothing is answered 200
  without being stored.

Everything else (GETs such as Meta's handshake, other paths) goes to Django untouched.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from inbox.models import Inbox
from inbox.sources.webhooks import (
    MAX_BODY_BYTES,
    Door,
    door_inbox,
    keep_deliveries,
    receive,
    refusal,
)

logger = logging.getLogger(__name__)
BATCH_LIMIT = 500  # deliveries per transaction
Receive = Any
Send = Any


class _TooLarge(Exception):
    pass


async def _body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the provider went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, response: HttpResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    content = response.content
    headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})


class Intake:
    """The ASGI application: webhook POSTs here, everything else to `django`."""

    def __init__(self, django: Any) -> None:
        self.django = django
        self.inboxes: dict[tuple[str, str], tuple[float, Inbox | None]] = {}
        self.waiting: list[tuple[int, bytes, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-intake")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        door = self._door(scope)
        if door is None:
            await self.django(scope, receive, send)
            return
        door_, inbox_id = door
        try:
            body = await _body(receive)
        except _TooLarge:
            await _answer(send, refusal("Delivery too large.", 413))
            return
        except ConnectionError:
            return
        try:
            response = await self._take(scope, door_, inbox_id, body)
        except Exception:
            logger.exception("webhook intake failed for %s", scope.get("path"))
            response = refusal("Not kept: try again.", 503)
        await _answer(send, response)

    def _door(self, scope: dict[str, Any]) -> tuple[Door, str] | None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return None
        path, root = scope.get("path", ""), scope.get("root_path", "")
        if root and path.startswith(root):  # served under a prefix, as Django reads it
            path = path[len(root) :]
        return _door_at(path) if path.startswith("/sources/") else None

    async def _take(self, scope: dict[str, Any], door: Door, inbox_id: str, body: bytes) -> Any:
        inbox = await self._inbox(door, inbox_id)
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            answer = receive(door, request, inbox)
        except DisallowedHost:
            return refusal("Unknown host.", 400)
        if answer is not None:
            return answer
        assert inbox is not None
        await self._keep(inbox.pk, body)
        return door.answer()

    async def _inbox(self, door: Door, inbox_id: str) -> Inbox | None:
        key = (door.kind, inbox_id)
        cached = self.inboxes.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        loop = asyncio.get_running_loop()
        inbox = await loop.run_in_executor(self.thread, _load_inbox, door, inbox_id)
        if len(self.inboxes) > 10_000:  # unknown ids are cached too: keep it bounded
            self.inboxes.clear()
        self.inboxes[key] = (now + settings.WEBHOOK_INBOX_CACHE_SECONDS, inbox)
        return inbox

    async def _keep(self, inbox_id: int, body: bytes) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((inbox_id, body, future))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._write())
        await future

    async def _write(self) -> None:
        """Keep everything waiting, a batch at a time, until nothing waits."""
        loop = asyncio.get_running_loop()
        while self.waiting:
            batch, self.waiting = self.waiting[:BATCH_LIMIT], self.waiting[BATCH_LIMIT:]
            rows = [(inbox_id, body) for inbox_id, body, _ in batch]
            try:
                await loop.run_in_executor(self.thread, _keep, rows)
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, _, future in batch:
                    if not future.done():
                        future.set_result(None)


@functools.lru_cache(maxsize=4096)
def _door_at(path: str) -> tuple[Door, str] | None:
    """The webhook door at this path and the inbox id in it (resolved once per path)."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    door = getattr(match.func, "door", None)
    return None if door is None else (door, str(match.kwargs["inbox_id"]))


def _load_inbox(door: Door, inbox_id: str) -> Inbox | None:
    try:
        return door_inbox(door, inbox_id)
    finally:
        close_old_connections()


def _keep(rows: list[tuple[int, bytes]]) -> None:
    try:
        keep_deliveries(rows)
    finally:
        close_old_connections()
