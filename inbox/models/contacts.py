from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Contact(models.Model):
    """A customer. One person reached on several channels is one contact, found through
    their identities."""

    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    avatar = models.ImageField(upload_to="contact-avatars/", blank=True)
    notes = models.TextField(blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)
    is_vip = models.BooleanField(default=False)
    is_blocked = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"Contact #{self.pk}"

    @property
    def display_name(self) -> str:
        return str(self)


class ContactIdentity(models.Model):
    """How a source knows a contact. Email addresses and phone numbers are global (the same
    address in two inboxes is the same person); provider user ids are scoped to an inbox."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email address"
        PHONE = "phone", "Phone number"
        EXTERNAL = "external", "Provider user id"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=255)
    inbox = models.ForeignKey(
        "inbox.Inbox", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=Q(inbox__isnull=True),
                name="identity_global_unique",
            ),
            models.UniqueConstraint(
                fields=["inbox", "kind", "value"],
                condition=Q(inbox__isnull=False),
                name="identity_per_inbox_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
