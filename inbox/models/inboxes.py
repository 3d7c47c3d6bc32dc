from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from inbox.crypto import decrypt_json, encrypt_json


class Inbox(models.Model):
    """One channel account: an email address, a website widget, a WhatsApp number…"""

    class Kind(models.TextChoices):
        API = "api", "API"
        EMAIL = "email", "Email"
        WIDGET = "widget", "Website chat"
        WHATSAPP = "whatsapp", "WhatsApp"
        MESSENGER = "messenger", "Messenger"
        INSTAGRAM = "instagram", "Instagram"
        TELEGRAM = "telegram", "Telegram"
        SMS = "sms", "SMS"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Public, unguessable id used in webhook and widget URLs; never the row id.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    settings = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    # {"time_zone": "Europe/Paris", "days": {"mon": [["09:00", "17:00"]], ...}}; empty: always open
    business_hours = models.JSONField(default=dict, blank=True)
    members = models.ManyToManyField("accounts.User", blank=True, related_name="inboxes")
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="inboxes")
    last_conversation_number = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "inboxes"

    def __str__(self) -> str:
        return self.name

    @property
    def stream(self) -> str:
        return f"inbox:{self.pk}"

    def get_secrets(self) -> dict[str, Any]:
        return decrypt_json(self.secrets_encrypted)

    def set_secrets(self, value: dict[str, Any]) -> None:
        self.secrets_encrypted = encrypt_json(value)
