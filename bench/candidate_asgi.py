"""inbox.asgi with changes the benchmarks propose but the product does not have yet, so a
before/after can be measured in one run. Never used outside bench/.

BENCH_CANDIDATES is a comma-separated list of:
- `nokey`:  the conversation-number lock takes `FOR NO KEY UPDATE` on the inbox row instead
            of `FOR UPDATE` (which conflicts with the `FOR KEY SHARE` lock every insert of a
            row referencing the inbox takes, and deadlocks with the event-counter lock).
- `batch`:  publish all frames of a transaction from one `async_to_sync` call instead of one
            call (one new event loop and Redis connection) per frame.
- `nohop`:  the agent consumer skips `aclose_old_connections()` (a thread hop) before
            forwarding an event frame, which does no ORM work.
- `pubsub`: channels_redis' RedisPubSubChannelLayer instead of RedisChannelLayer.
- `pool`:   a psycopg connection pool (Django's `OPTIONS["pool"]`, CONN_MAX_AGE 0) instead of
            persistent connections: under ASGI every request runs in a thread of its own
            (ThreadSensitiveContext), so a per-thread persistent connection is a new
            PostgreSQL connection (and SCRAM handshake) per request. Needs psycopg_pool
            (`psycopg[pool]`); the benchmarks put it on PYTHONPATH from /tmp/bench-extra.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")
import django

django.setup()

from django.conf import settings  # noqa: E402

CANDIDATES = {c.strip() for c in os.environ.get("BENCH_CANDIDATES", "").split(",") if c.strip()}
KNOWN = {"nokey", "batch", "nohop", "pubsub", "pool"}
if CANDIDATES - KNOWN:
    raise SystemExit(f"unknown BENCH_CANDIDATES {sorted(CANDIDATES - KNOWN)}; use {sorted(KNOWN)}")

if "pool" in CANDIDATES:
    # Before the first connection is made: `connections` reads settings lazily.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    settings.DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": 20,
    }

if "pubsub" in CANDIDATES:
    settings.CHANNEL_LAYERS["default"] = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
            "prefix": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        },
    }

if "nokey" in CANDIDATES:
    from inbox.actions import messages as message_actions
    from inbox.models import Conversation, Inbox

    def _new_conversation(*, inbox, contact, subject, at):  # type: ignore[no-untyped-def]
        locked = Inbox.objects.select_for_update(no_key=True).get(pk=inbox.pk)
        locked.last_conversation_number += 1
        locked.save(update_fields=["last_conversation_number"])
        return Conversation.objects.create(
            inbox=inbox,
            contact=contact,
            number=locked.last_conversation_number,
            subject=subject[:300],
            last_activity_at=at,
            created_at=at,
        )

    message_actions._new_conversation = _new_conversation

if "batch" in CANDIDATES:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from inbox import events

    def _publish(frames):  # type: ignore[no-untyped-def]
        layer = get_channel_layer()
        if layer is None:
            return

        async def send_all() -> None:
            for group, event_id, text in frames:
                await layer.group_send(group, {"type": "event.frame", "id": event_id, "text": text})

        try:
            async_to_sync(send_all)()
        except Exception:
            events.logger.exception("could not publish %d events", len(frames))

    events._publish = _publish

if "nohop" in CANDIDATES:
    from channels.consumer import get_handler_name
    from channels.db import aclose_old_connections

    from inbox.consumers import AgentConsumer

    async def dispatch(self, message):  # type: ignore[no-untyped-def]
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"] != "event.frame":
            await aclose_old_connections()
        await handler(message)

    AgentConsumer.dispatch = dispatch

from inbox.asgi import application  # noqa: E402,F401
