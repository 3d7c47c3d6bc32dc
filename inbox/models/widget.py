"""Website chat visitors: who is behind a widget's visitor token, and what we know of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

ONLINE_SECONDS = 90  # a socket that has not pinged for this long no longer counts


class WidgetVisitor(models.Model):
    """A browser that opened an inbox's chat widget. The browser keeps a random token; we
    keep only its SHA-256 (`token_hash`), so a copy of the database cannot act as a visitor.
    `contact` is set by the first message (page views create no contacts). A visitor is
    `verified` once the site vouched for them with a signed `identify()`; name and email
    they typed themselves stay unverified and never attach them to an existing contact."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contact = models.ForeignKey(
        "inbox.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified = models.BooleanField(default=False)
    external_id = models.CharField(max_length=255, blank=True)  # the site's user id, verified
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    page_url = models.CharField(max_length=2000, blank=True)
    page_title = models.CharField(max_length=300, blank=True)
    referrer = models.CharField(max_length=2000, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Widget sockets open now (several tabs), kept fresh by their pings: a visitor is online
    # while one is open and pinged lately (a crashed server leaves a count but no pings).
    sockets = models.IntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)  # reset(): the token is dead

    class Meta:
        indexes = [models.Index(fields=["contact", "inbox"], name="visitor_contact")]

    def __str__(self) -> str:
        return f"visitor {self.public_id} of inbox {self.inbox_id}"

    @staticmethod
    def online_q() -> models.Q:
        return models.Q(
            sockets__gt=0,
            revoked_at=None,
            last_seen_at__gte=timezone.now() - timedelta(seconds=ONLINE_SECONDS),
        )

    @property
    def is_online(self) -> bool:
        fresh = self.last_seen_at >= timezone.now() - timedelta(seconds=ONLINE_SECONDS)
        return self.sockets > 0 and self.revoked_at is None and fresh
