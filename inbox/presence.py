"""Which agents are connected right now (presence), from the open sockets' rows.

An agent is online while at least one of their sockets has sent a heartbeat within
PRESENCE_TIMEOUT. Sockets ping every ~25 s; the row's heartbeat is written at most every
HEARTBEAT_WRITE_EVERY to keep writes cheap.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from inbox.models import SocketSession

PRESENCE_TIMEOUT = timedelta(seconds=90)
HEARTBEAT_WRITE_EVERY = timedelta(seconds=30)


def _live() -> QuerySet[SocketSession]:
    return SocketSession.objects.filter(heartbeat_at__gte=timezone.now() - PRESENCE_TIMEOUT)


def socket_opened(*, user_id: int, channel_name: str) -> bool:
    """Record the socket; True when it makes the user come online."""
    was_online = _live().filter(user_id=user_id).exists()
    SocketSession.objects.update_or_create(
        channel_name=channel_name, defaults={"user_id": user_id, "heartbeat_at": timezone.now()}
    )
    return not was_online


def socket_closed(*, user_id: int, channel_name: str) -> bool:
    """Forget the socket; True when the user has no live socket left."""
    SocketSession.objects.filter(channel_name=channel_name).delete()
    return not _live().filter(user_id=user_id).exists()


def heartbeat(*, channel_name: str) -> None:
    now = timezone.now()
    SocketSession.objects.filter(
        channel_name=channel_name, heartbeat_at__lt=now - HEARTBEAT_WRITE_EVERY
    ).update(heartbeat_at=now)


def online_user_ids(user_ids: list[int] | None = None) -> set[int]:
    live = _live()
    if user_ids is not None:
        live = live.filter(user_id__in=user_ids)
    return set(live.values_list("user_id", flat=True).distinct())


def forget_stale_sockets() -> int:
    deleted, _ = SocketSession.objects.filter(
        heartbeat_at__lt=timezone.now() - PRESENCE_TIMEOUT
    ).delete()
    return deleted
