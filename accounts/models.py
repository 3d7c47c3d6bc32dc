"""Users, teams, invitations, API tokens, sessions and the audit log.

Rows are written only by `accounts.actions`; these classes hold data and tiny derived
properties, never workflow.
"""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone.")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", User.Role.ADMIN)
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("name", email.split("@")[0])
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=normalize_email(username or ""))


def normalize_email(email: str) -> str:
    """Addresses are compared case-insensitively; we store them lower-cased."""
    return email.strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    class Availability(models.TextChoices):
        ONLINE = "online", "Online"
        BUSY = "busy", "Busy"
        OFFLINE = "offline", "Offline"

    email = models.EmailField("email address", unique=True)
    name = models.CharField("display name", max_length=120)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    availability = models.CharField(
        max_length=10, choices=Availability.choices, default=Availability.OFFLINE
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    signature = models.TextField(
        blank=True, max_length=2000, help_text="Added below the user's email replies."
    )
    is_active = models.BooleanField(default=True)
    # Django admin access for support work; separate from our own `role`.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == self.Role.ADMIN

    @property
    def first_name(self) -> str:
        return (self.name or self.email).split()[0]

    @property
    def initials(self) -> str:
        parts = (self.name or self.email).replace("@", " ").split()
        return "".join(p[0] for p in parts[:2]).upper()

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.first_name


class Team(models.Model):
    name = models.CharField(max_length=80, unique=True)
    description = models.CharField(max_length=240, blank=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    """A single-use invitation. The link carries a token signed with SECRET_KEY over the
    invitation's id and `nonce`; resending rotates the nonce, so older links stop working."""

    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=10, choices=User.Role.choices, default=User.Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    nonce = models.CharField(max_length=32)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one invitation waiting per address.
            models.UniqueConstraint(
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def status_verb(self) -> str:
        """“This invitation has …”"""
        return {
            "accepted": "already been used",
            "revoked": "been withdrawn",
            "expired": "expired",
            "pending": "not been used yet",
        }[self.status]


class ApiToken(models.Model):
    """A personal REST API token. The secret is shown once; we keep its sha256."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UserSession(AbstractBaseSession):
    """Django's database session plus the user it belongs to, so that deactivation and
    password changes can end a user's sessions at once."""

    user_id = models.BigIntegerField(null=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    @classmethod
    def get_session_store_class(cls) -> type:
        from accounts.sessions import SessionStore

        return SessionStore


class AuditEntry(models.Model):
    """Who did what to whom, when and from where. Append-only."""

    class Action(models.TextChoices):
        USER_INVITED = "user.invited", "Invited a user"
        INVITATION_RESENT = "invitation.resent", "Resent an invitation"
        INVITATION_REVOKED = "invitation.revoked", "Revoked an invitation"
        INVITATION_ACCEPTED = "invitation.accepted", "Accepted an invitation"
        ROLE_CHANGED = "user.role_changed", "Changed a role"
        USER_DEACTIVATED = "user.deactivated", "Deactivated a user"
        USER_REACTIVATED = "user.reactivated", "Reactivated a user"
        TEAM_CREATED = "team.created", "Created a team"
        TEAM_UPDATED = "team.updated", "Updated a team"
        TEAM_DELETED = "team.deleted", "Deleted a team"
        TOKEN_CREATED = "token.created", "Created an API token"
        TOKEN_REVOKED = "token.revoked", "Revoked an API token"
        PASSWORD_CHANGED = "user.password_changed", "Changed their password"
        PASSWORD_RESET = "user.password_reset", "Reset their password"
        INBOX_CREATED = "inbox.created", "Created an inbox"
        INBOX_UPDATED = "inbox.updated", "Updated an inbox"
        INBOX_ACCESS_CHANGED = "inbox.access_changed", "Changed who sees an inbox"

    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.action} {self.target_repr}"
