"""Suggested drafts and the numbers that watch them: the drafts computed for a customer
message, where every reply started, team memory, and auto-send rules."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DraftSuggestion(models.Model):
    """The drafts computed (in the background) for one customer message. `candidates`, best
    first: {"template", "score", "engine", "reason", "canned_reply_id", "language"}; the
    templates still hold canned-reply variables, filled for each agent who sees them."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Not answered yet"
        USED = "used", "Sent as suggested"
        EDITED = "edited", "Sent with edits"
        DISCARDED = "discarded", "Discarded"
        EXPIRED = "expired", "Answered before anyone saw it"

    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    message = models.OneToOneField("inbox.Message", on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=8, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    engine = models.CharField(max_length=30, blank=True, help_text="The best candidate's engine")
    created_at = models.DateTimeField(default=timezone.now)
    shown_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_at = models.DateTimeField(null=True, blank=True)
    outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["inbox", "created_at"], name="draft_inbox_created"),
            models.Index(fields=["created_at"], name="draft_created"),
            models.Index(fields=["conversation", "-id"], name="draft_conversation"),
        ]

    def __str__(self) -> str:
        return f"drafts for message {self.message_id} ({self.outcome})"


class SuggestionView(models.Model):
    """An agent had the suggestion in front of them (their composer showed it): what the
    insights count as "shown" per agent. `DraftSuggestion.shown_at` is the first time anyone
    did."""

    suggestion = models.ForeignKey(DraftSuggestion, on_delete=models.CASCADE, related_name="views")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shown_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["suggestion", "agent"], name="suggestion_view_once")
        ]

    def __str__(self) -> str:
        return f"suggestion {self.suggestion_id} shown to {self.agent_id}"


class ReplyMetric(models.Model):
    """For every reply sent to a customer: where it started (a suggestion, a canned reply
    inserted by hand, typed, or automated), how much the agent changed it, and how long
    the customer had waited."""

    class Origin(models.TextChoices):
        SUGGESTION = "suggestion", "Suggested draft"
        CANNED = "canned", "Canned reply"
        TYPED = "typed", "Typed"
        AUTOMATED = "automated", "Automated"

    message = models.OneToOneField("inbox.Message", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey("inbox.Contact", on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.CharField(max_length=12, choices=Origin.choices)
    engine = models.CharField(max_length=30, blank=True)
    canned_reply = models.ForeignKey(
        "inbox.CannedReply", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggestion = models.ForeignKey(
        DraftSuggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # 1.0: sent exactly as inserted; lower: the agent rewrote more of it.
    similarity = models.FloatField(null=True, blank=True)
    # Seconds from the customer's (oldest unanswered) message to this reply.
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    automated_kind = models.CharField(max_length=20, blank=True)
    # The conversation's first reply (what "first response time" measures).
    first_response = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["inbox", "created_at"], name="reply_metric_inbox_created"),
            models.Index(fields=["created_at"], name="reply_metric_created"),
            models.Index(
                fields=["inbox", "created_at"],
                condition=models.Q(first_response=True),
                name="reply_metric_first_response",
            ),
            models.Index(fields=["contact", "origin", "created_at"], name="reply_metric_contact"),
        ]

    def __str__(self) -> str:
        return f"reply {self.message_id}: {self.origin}"


class ReplyMemory(models.Model):
    """Team memory: a customer's question and the agent's answer from a resolved
    conversation, names and numbers in the answer replaced by variables or placeholders."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    answer_message = models.OneToOneField(
        "inbox.Message", on_delete=models.CASCADE, related_name="+"
    )
    question = models.TextField()
    answer = models.TextField()
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["inbox", "id"], name="reply_memory_inbox")]

    def __str__(self) -> str:
        return f"memory from #{self.conversation_id}"


class AutoSendRule(models.Model):
    """An admin's explicit choice: on this inbox, this canned reply is sent without an agent
    when it is the best suggestion with at least this confidence (logged as automated)."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    canned_reply = models.ForeignKey(
        "inbox.CannedReply", on_delete=models.CASCADE, related_name="auto_send_rules"
    )
    min_confidence = models.FloatField(default=0.8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "canned_reply"], name="auto_send_unique")
        ]

    def __str__(self) -> str:
        return f"auto-send {self.canned_reply_id} on {self.inbox_id} ≥ {self.min_confidence}"
