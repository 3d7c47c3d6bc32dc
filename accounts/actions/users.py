from __future__ import annotations

from collections.abc import Collection

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.actions.audit import record_audit
from accounts.actions.errors import AccountsError
from accounts.actions.sessions import end_user_sessions
from accounts.models import ApiToken, AuditEntry, Invitation, User
from accounts.origin import Origin
from inbox.events import membership_changed_on_commit, publish_to_user_on_commit


def _other_active_admins(user: User) -> bool:
    return (
        User.objects.select_for_update()
        .filter(role=User.Role.ADMIN, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    )


def _withdraw_invitations_sent_by(*, user: User, actor: User, origin: Origin) -> int:
    """An admin who loses their power must not keep it through links they sent (for
    example an admin invitation to their own second address)."""
    pending = list(
        Invitation.objects.select_for_update().filter(
            invited_by=user, accepted_at__isnull=True, revoked_at__isnull=True
        )
    )
    now = timezone.now()
    for invitation in pending:
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INVITATION_REVOKED,
            target=invitation,
            origin=origin,
            details={"email": invitation.email, "why": "inviter lost admin"},
        )
    return len(pending)


def change_role(*, user: User, role: str, actor: User, origin: Origin) -> User:
    """Raises AccountsError for an unknown role or when it would leave no active admin."""
    if role not in User.Role.values:
        raise AccountsError("Choose a valid role.", field="role")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.role == role:
            return user
        if user.role == User.Role.ADMIN and user.is_active and not _other_active_admins(user):
            raise AccountsError("There must always be at least one active admin.", field="role")
        previous = user.role
        user.role = role
        user.save(update_fields=["role"])
        membership_changed_on_commit([user.pk])  # admins see every inbox
        details: dict[str, object] = {"from": previous, "to": role}
        if previous == User.Role.ADMIN:
            details["invitations_withdrawn"] = _withdraw_invitations_sent_by(
                user=user, actor=actor, origin=origin
            )
        record_audit(
            actor=actor,
            action=AuditEntry.Action.ROLE_CHANGED,
            target=user,
            origin=origin,
            details=details,
        )
    return user


def deactivate_user(*, user: User, actor: User, origin: Origin) -> User:
    """Deactivate (never delete: their messages stay attributed). Ends all their sessions
    and open websockets at once and revokes their API tokens.
    Raises AccountsError for oneself or the last active admin."""
    if user.pk == actor.pk:
        raise AccountsError("You cannot deactivate yourself.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            return user
        if user.role == User.Role.ADMIN and not _other_active_admins(user):
            raise AccountsError("There must always be at least one active admin.")
        now = timezone.now()
        user.is_active = False
        user.deactivated_at = now
        user.availability = User.Availability.OFFLINE
        user.save(update_fields=["is_active", "deactivated_at", "availability"])
        sessions = end_user_sessions(user=user, reason="deactivated")
        tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        invitations = _withdraw_invitations_sent_by(user=user, actor=actor, origin=origin)
        record_audit(
            actor=actor,
            action=AuditEntry.Action.USER_DEACTIVATED,
            target=user,
            origin=origin,
            details={
                "sessions_ended": sessions,
                "tokens_revoked": tokens,
                "invitations_withdrawn": invitations,
            },
        )
    return user


def reactivate_user(*, user: User, actor: User, origin: Origin) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active:
            return user
        user.is_active = True
        user.deactivated_at = None
        user.save(update_fields=["is_active", "deactivated_at"])
        record_audit(
            actor=actor, action=AuditEntry.Action.USER_REACTIVATED, target=user, origin=origin
        )
    return user


def record_password_change(
    *, user: User, origin: Origin, keep: Collection[str] = (), reset: bool = False
) -> None:
    """Call after the password was set: ends every session and socket of the user except
    the session keys in `keep` (the one that made the change) and writes the audit line."""
    with transaction.atomic():
        end_user_sessions(
            user=user, reason="password_reset" if reset else "password_changed", keep=keep
        )
        record_audit(
            actor=user,
            action=AuditEntry.Action.PASSWORD_RESET
            if reset
            else AuditEntry.Action.PASSWORD_CHANGED,
            target=user,
            origin=origin,
        )


def set_availability(*, user: User, availability: str) -> User:
    """Raises AccountsError for an unknown value. Tells the user's other tabs at once."""
    if availability not in User.Availability.values:
        raise AccountsError("Choose online, busy or offline.", field="availability")
    with transaction.atomic():
        updated = (
            User.objects.filter(pk=user.pk)
            .exclude(availability=availability)
            .update(availability=availability)
        )
        user.availability = availability
        if updated:
            publish_to_user_on_commit(
                user.pk, {"type": "user.availability", "availability": availability}
            )
    return user


def update_profile(
    *,
    user: User,
    name: str,
    time_zone: str,
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
    signature: str | None = None,
) -> User:
    """The user's own profile. Validation errors raise django's ValidationError."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.name = name.strip()
        user.time_zone = time_zone
        if signature is not None:
            user.signature = signature.strip()
        if remove_avatar and user.avatar:
            user.avatar.delete(save=False)
            user.avatar = ""  # type: ignore[assignment]
        if avatar is not None:
            user.avatar = avatar  # type: ignore[assignment]
        user.full_clean(exclude=["password"])
        user.save()
    return user
