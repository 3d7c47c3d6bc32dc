"""Provider webhooks as received: kept raw and durably before they are answered, then
processed by the worker (inbox/sources/webhooks.py)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ProviderEvent(models.Model):
    """One webhook delivery of a messaging provider (Telegram, WhatsApp, Messenger…) to an
    inbox, its signature already checked. A delivery that cannot be understood stays here
    with the reason (`unprocessable`), visible to admins; nothing is dropped."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSED = "processed", "Processed"
        UNPROCESSABLE = "unprocessable", "Could not be understood"

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    body = models.BinaryField()
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "received_at"], name="provider_event_status")]

    def __str__(self) -> str:
        return f"{self.inbox_id} event {self.pk} ({self.status})"
