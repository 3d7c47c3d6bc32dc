from __future__ import annotations

from django.db import models
from django.utils import timezone


class InboxAddress(models.Model):
    """An address whose mail belongs to an email inbox: its own address, or an alias."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="addresses")
    address = models.CharField(max_length=254, unique=True, help_text="Lower case")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "address"]
        verbose_name_plural = "inbox addresses"

    def __str__(self) -> str:
        return self.address


class InboundEmail(models.Model):
    """Every email received, kept raw before anything parses it: agents can download it, and
    one that cannot be processed stays here as `failed`, with the reason, to reprocess."""

    class Via(models.TextChoices):
        SMTP = "smtp", "SMTP server"
        PIPE = "pipe", "Piped from a mail server"
        IMAP = "imap", "IMAP"
        WEBHOOK = "webhook", "Provider webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate (already stored)"
        FAILED = "failed", "Failed"

    inbox = models.ForeignKey(
        "inbox.Inbox", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via = models.CharField(max_length=10, choices=Via.choices)
    raw = models.FileField(upload_to="email/raw/%Y/%m/")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    envelope_from = models.CharField(max_length=254, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    # Read from the headers when stored, for lists and duplicate checks; may be empty.
    header_message_id = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"], name="inbound_email_status"),
            models.Index(fields=["inbox", "header_message_id"], name="inbound_email_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_via_display()} email #{self.pk} ({self.status})"


class ImapState(models.Model):
    """Where IMAP polling of an email inbox stands: the folder's UIDVALIDITY and the last UID
    stored (so no message is imported twice and a restart backfills what arrived meanwhile),
    and the outcome of the last attempt, shown to admins."""

    inbox = models.OneToOneField("inbox.Inbox", on_delete=models.CASCADE, related_name="imap")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    imported = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"IMAP of inbox {self.inbox_id} at UID {self.last_uid}"
