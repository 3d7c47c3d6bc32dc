from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class CannedReply(models.Model):
    """A reply agents insert and personalise. Its body may use variables such as
    `{{contact.first_name|there}}` (inbox/canned.py lists them)."""

    class Scope(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        TEAM = "team", "A team"
        PERSONAL = "personal", "Personal"

    title = models.CharField(max_length=200)
    shortcode = models.SlugField(max_length=50, help_text="Typed after / in the composer")
    body = models.TextField()
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.EVERYONE)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        help_text="Whose personal reply this is",
    )
    inbox = models.ForeignKey(
        "inbox.Inbox",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only offered in this inbox",
    )
    tags = models.JSONField(default=list, blank=True)
    examples = models.JSONField(
        default=list, blank=True, help_text="Customer questions this reply answers"
    )
    language = models.CharField(max_length=8, blank=True, help_text="e.g. en, fr; empty: any")
    usage_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["scope", "shortcode"], name="canned_scope_shortcode")]

    def __str__(self) -> str:
        return f"/{self.shortcode} {self.title}"


class CannedAttachment(models.Model):
    """A file sent with a canned reply (a return form, a size guide): attached to the reply
    when an agent inserts it, removable before sending."""

    canned_reply = models.ForeignKey(
        CannedReply, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to="canned/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
