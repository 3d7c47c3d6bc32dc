from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Label(models.Model):
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, default="#6366f1", help_text="#rrggbb")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="label_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"

    class Priority(models.IntegerChoices):
        NONE = 0, "None"
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(
        "inbox.Contact", on_delete=models.PROTECT, related_name="conversations"
    )
    number = models.PositiveIntegerField(help_text="Short display number, per inbox")
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    last_activity_at = models.DateTimeField(default=timezone.now)
    # Set while the customer is waiting for us: their message is the latest word.
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_incoming_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["inbox", "number"], name="conversation_number_unique")
        ]
        indexes = [
            models.Index(
                fields=["inbox", "status", "-last_activity_at", "-id"],
                name="conv_inbox_status_activity",
            ),
            models.Index(
                fields=["assignee", "status", "-last_activity_at", "-id"],
                name="conv_assignee_status_activity",
            ),
            models.Index(
                fields=["status", "-last_activity_at", "-id"], name="conv_status_activity"
            ),
            models.Index(fields=["contact", "-last_activity_at"], name="conv_contact_activity"),
            models.Index(fields=["status", "snoozed_until"], name="conv_snoozed_until"),
            # sort=waiting (customers waiting longest first); measured in bench/list_at_scale.py:
            # admin first page p95 396 -> 28 ms at 1M conversations.
            models.Index(
                fields=["inbox", "status", "waiting_since", "id"],
                condition=models.Q(waiting_since__isnull=False),
                name="conv_inbox_status_waiting",
            ),
            models.Index(
                fields=["status", "waiting_since", "id"],
                condition=models.Q(waiting_since__isnull=False),
                name="conv_status_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}".strip()


class ReadPosition(models.Model):
    """How far an agent has read a conversation: unread = incoming messages after it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_message_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="read_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} to {self.last_read_message_id}"
