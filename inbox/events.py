"""Group names and publish-after-commit helpers for the realtime layer.

The inbox issue grows this into the event log (monotonic ids, resume). What is here now is
the part accounts need: a per-user group that every socket of that user joins, so that
sign-out, password change and deactivation can close them at once.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """Every open socket of a user joins this group."""
    return f"user.{user_id}"


def publish_to_user_on_commit(user_id: int, message: dict[str, Any]) -> None:
    """Send `message` to all of a user's sockets once the surrounding transaction commits.
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
