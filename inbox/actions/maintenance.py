from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from inbox.models import Event, ProviderEvent


def prune_events() -> int:
    """Delete events older than EVENT_RETENTION (and forget sockets that stopped beating).
    Clients resuming from before the oldest kept event get `resync`. Returns the number
    of events deleted."""
    from inbox.presence import forget_stale_sockets

    forget_stale_sockets()
    deleted, _ = Event.objects.filter(
        created_at__lt=timezone.now() - settings.EVENT_RETENTION
    ).delete()
    # Messaging webhooks processed long enough ago: the messages hold what agents need, and
    # the raw bodies must not outlive what a customer deleted ("unsent") on their app.
    ProviderEvent.objects.filter(
        status=ProviderEvent.Status.PROCESSED,
        processed_at__lt=timezone.now() - settings.PROVIDER_EVENT_RETENTION,
    ).delete()
    return deleted
