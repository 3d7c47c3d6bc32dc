from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from inbox.models import Event


def prune_events() -> int:
    from inbox.presence import forget_stale_sockets

    forget_stale_sockets()
    """Delete events older than EVENT_RETENTION. Clients resuming from before the oldest
    kept event get `resync`. Returns the number deleted."""
    deleted, _ = Event.objects.filter(
        created_at__lt=timezone.now() - settings.EVENT_RETENTION
    ).delete()
    return deleted
