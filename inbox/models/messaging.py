"""Messaging apps' own rules: WhatsApp message templates and SMS opt-outs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class MessageTemplate(models.Model):
    """A WhatsApp message template as the provider holds it (synced, never edited here):
    the only thing a business may send outside the 24-hour window, and how it starts a
    conversation."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    category = models.CharField(max_length=30, blank=True)  # MARKETING, UTILITY, AUTHENTICATION
    status = models.CharField(max_length=30, blank=True)  # APPROVED, PENDING, REJECTED, PAUSED…
    components = models.JSONField(default=list, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "name", "language"], name="template_unique_per_inbox"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def approved(self) -> bool:
        return self.status == "APPROVED"


class SmsOptOut(models.Model):
    """A phone number that asked one SMS inbox (one sending number) to stop: nothing is sent
    to it from that inbox until it opts in again (START)."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=32)  # E.164
    keyword = models.CharField(max_length=40, blank=True)  # "STOP", or the provider's signal
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "phone"], name="sms_opt_out_unique")
        ]

    def __str__(self) -> str:
        return f"{self.phone} opted out of inbox {self.inbox_id}"
