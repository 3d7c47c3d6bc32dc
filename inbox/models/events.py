from __future__ import annotations

from django.db import models
from django.utils import timezone


class EventCounter(models.Model):
    """A single row (pk=1) holding the last event id handed out. Locking it while a write
    transaction appends its events makes event ids follow commit order (see
    inbox/events.py), which is what lets a client resume "after id N" safely."""

    last_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"last event id {self.last_id}"


class EventStream(models.Model):
    """Per-stream contiguous sequence, so a client can notice a dropped event."""

    name = models.CharField(max_length=40, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_seq}"


class Event(models.Model):
    id = models.BigIntegerField(primary_key=True)
    stream = models.CharField(max_length=40, help_text="inbox:<id> or user:<id>")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="event_stream_seq_unique")
        ]
        indexes = [models.Index(fields=["stream", "id"], name="event_stream_id")]

    def __str__(self) -> str:
        return f"{self.id} {self.stream} {self.kind}"


class SocketSession(models.Model):
    """One open agent websocket, for presence. A row whose heartbeat is older than
    PRESENCE_TIMEOUT belongs to a socket that vanished without closing (a crashed server)
    and no longer counts."""

    channel_name = models.CharField(max_length=200, primary_key=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    connected_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.user_id} on {self.channel_name}"
