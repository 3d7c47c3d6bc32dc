"""The event relay of the embedded shape (EVENT_PUBLISHING=poll).

A task on the web server's event loop reads new events from the log and publishes them to
the in-memory channel layer, so a change committed by any process (a `manage.py` command
piped an email, say) reaches the sockets this process holds. Event ids follow commit order
(inbox/events.py), so "everything above the last id published" misses nothing. It runs on
the server's own loop because the in-memory layer's queues belong to that loop.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)
INTERVAL = 0.1  # seconds between looks at the log
PRUNE_EVERY = 3600.0  # seconds
_task: asyncio.Task[None] | None = None


def ensure_running() -> None:
    """Start the relay on the running loop if this process relays and it is not running."""
    global _task
    if settings.EVENT_PUBLISHING != "poll":
        return
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_relay())


def _last_id() -> int:
    from inbox.models import EventCounter

    return EventCounter.objects.filter(pk=1).values_list("last_id", flat=True).first() or 0


def _frames_after(after: int) -> list[tuple[str, int, str]]:
    from inbox.events import frame_text, group_for_stream
    from inbox.models import Event

    return [
        (group_for_stream(e.stream), e.id, frame_text(e))
        for e in Event.objects.filter(id__gt=after).order_by("id")[:1000]
    ]


def _prune() -> None:
    from inbox.actions.maintenance import prune_events

    prune_events()


async def _relay() -> None:
    layer = get_channel_layer()
    assert layer is not None
    last = await database_sync_to_async(_last_id)()
    next_prune = time.monotonic() + 60
    logger.info("event relay started after event %s", last)
    while True:
        try:
            for group, event_id, text in await database_sync_to_async(_frames_after)(last):
                await layer.group_send(group, {"type": "event.frame", "id": event_id, "text": text})
                last = event_id
            if time.monotonic() > next_prune:
                await database_sync_to_async(_prune)()
                next_prune = time.monotonic() + PRUNE_EVERY
        except Exception:
            logger.exception("event relay failed; retrying")
            await asyncio.sleep(1)
        await asyncio.sleep(INTERVAL)
