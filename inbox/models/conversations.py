from __future__ import annotations

from typing import Any

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
    # When the customer last wrote: opens the messaging apps' 24-hour reply window.
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    # Email: other people on the thread ("Name <address>"), offered as CC on replies.
    cc = models.JSONField(default=list, blank=True)
    # Human-touch policy (inbox/humantouch.py): why this conversation needs a person, e.g.
    # ["Asks for a person (“talk to a human”)"]. Non-empty: no automatic message is sent.
    needs_person = models.JSONField(default=list, blank=True)
    # The customer's satisfaction rating (the website widget asks once it is resolved).
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 (bad) to 5 (great)
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
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
            # Search for a very common word walks conversations by recency.
            models.Index(fields=["-last_activity_at", "-id"], name="conv_activity"),
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Keeps ConversationTally in step (inbox/tallies.py): a move is reported when the
        # conversation is new or its inbox, status or assignee changed.
        from inbox import tallies

        before: tuple[int, str, int] | None = None
        if not self._state.adding:
            before = getattr(self, "_saved_tally_key", None) or tallies.stored_key(self.pk)
        super().save(*args, **kwargs)
        after = self.tally_key()
        if before != after:
            tallies.moved(before, after)
        self._saved_tally_key = after

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Conversation:
        instance = super().from_db(*args, **kwargs)
        loaded = instance.__dict__
        if "inbox_id" in loaded and "status" in loaded and "assignee_id" in loaded:
            instance._saved_tally_key = instance.tally_key()  # else save() reads it
        return instance

    def tally_key(self) -> tuple[int, str, int]:
        return (self.inbox_id, self.status, self.assignee_id or 0)


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


class ConversationTally(models.Model):
    """How many conversations each (inbox, status, assignee) has, so the sidebar counts read
    a few rows instead of counting conversations (bench/list_at_scale.py). Kept by
    `Conversation.save()` in the same transaction (inbox/tallies.py); `assignee_key` is the
    assignee's id, 0 when unassigned. `manage.py recount_conversations` rebuilds it."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10)
    assignee_key = models.BigIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "status", "assignee_key"], name="conversation_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"inbox {self.inbox_id} {self.status} assignee {self.assignee_key}: {self.count}"
