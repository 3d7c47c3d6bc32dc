from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Message(models.Model):
    class Direction(models.TextChoices):
        INCOMING = "incoming", "Incoming"
        OUTGOING = "outgoing", "Outgoing"

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        NOTE = "note", "Private note"
        ACTIVITY = "activity", "Activity"

    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="messages"
    )
    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MESSAGE)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sender_contact = models.ForeignKey(
        "inbox.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitised HTML, when the source sent HTML")
    external_id = models.CharField(max_length=255, blank=True)
    delivery_status = models.CharField(max_length=10, choices=Delivery.choices, blank=True)
    delivery_error = models.TextField(blank=True)
    # Activity lines: {"verb": "assigned", "actor": ..., "target": ...}; source extras.
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=~Q(external_id=""),
                name="message_external_id_unique_per_inbox",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "id"], name="message_conversation_id"),
            # The "needs a person" lines the insights count: a handful among millions.
            models.Index(
                fields=["inbox", "created_at"],
                condition=Q(kind="activity", data__verb="needs_person"),
                name="message_needs_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} #{self.pk}"

    @property
    def sender_type(self) -> str:
        if self.sender_user_id:
            return "agent"
        if self.sender_contact_id:
            return "contact"
        return "system"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # An email's inline image: the HTML refers to it as `cid:<content_id>`.
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.filename
