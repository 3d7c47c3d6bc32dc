from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.actions.audit import record_audit
from accounts.actions.errors import AccountsError
from accounts.models import AuditEntry, Invitation, Team, User, normalize_email
from accounts.origin import Origin

TOKEN_SALT = "accounts.invitation"


def _token(invitation: Invitation) -> str:
    return signing.dumps([invitation.pk, invitation.nonce], salt=TOKEN_SALT, compress=True)


def invitation_link(invitation: Invitation) -> str:
    """The absolute link sent to the invitee."""
    path = reverse("accounts:accept_invitation", kwargs={"token": _token(invitation)})
    return f"{settings.SITE_URL}{path}"


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link points to, whatever its state, or None when the token was
    altered or rotated by a resend. Callers check `status`."""
    try:
        pk, nonce = signing.loads(token, salt=TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    invitation = Invitation.objects.filter(pk=pk).select_related("invited_by").first()
    if invitation is None or not secrets.compare_digest(str(nonce), invitation.nonce):
        return None
    return invitation


def _send_on_commit(invitation: Invitation) -> None:
    from accounts.tasks import send_invitation_email

    invitation_id = invitation.pk
    transaction.on_commit(lambda: send_invitation_email.enqueue(invitation_id))


def invite_user(
    *,
    email: str,
    role: str,
    invited_by: User,
    origin: Origin,
    name: str = "",
    teams: Iterable[Team] = (),
) -> Invitation:
    """Create a pending invitation and email the link after commit.
    Raises AccountsError if the address already has an account or a pending invitation."""
    email = normalize_email(email)
    if role not in User.Role.values:
        raise AccountsError("Choose a valid role.", field="role")
    if User.objects.filter(email__iexact=email).exists():
        raise AccountsError(
            "Someone with this email already has an account (reactivate them instead).",
            field="email",
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            # A pending invitation that already expired is replaced by the new one.
            Invitation.objects.filter(
                email__iexact=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__lte=now,
            ).update(revoked_at=now)
            invitation = Invitation.objects.create(
                email=email,
                name=name.strip(),
                role=role,
                nonce=secrets.token_hex(16),
                invited_by=invited_by,
                created_at=now,
                sent_at=now,
                expires_at=now + settings.INVITATION_TTL,
            )
            invitation.teams.set(list(teams))
            record_audit(
                actor=invited_by,
                action=AuditEntry.Action.USER_INVITED,
                target=invitation,
                origin=origin,
                details={"email": email, "role": role},
            )
            _send_on_commit(invitation)
    except IntegrityError as exc:
        raise AccountsError(
            "This address already has a pending invitation: resend it instead.", field="email"
        ) from exc
    return invitation


def resend_invitation(*, invitation: Invitation, actor: User, origin: Origin) -> Invitation:
    """Send a fresh link (older links stop working) and restart the expiry clock.
    Raises AccountsError for accepted or revoked invitations."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at or invitation.revoked_at:
            raise AccountsError(f"This invitation was already {invitation.status}.")
        now = timezone.now()
        invitation.nonce = secrets.token_hex(16)
        invitation.sent_at = now
        invitation.expires_at = now + settings.INVITATION_TTL
        invitation.save(update_fields=["nonce", "sent_at", "expires_at"])
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INVITATION_RESENT,
            target=invitation,
            origin=origin,
            details={"email": invitation.email},
        )
        _send_on_commit(invitation)
    return invitation


def revoke_invitation(*, invitation: Invitation, actor: User, origin: Origin) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at:
            raise AccountsError("This invitation was already accepted.")
        if invitation.revoked_at:
            return invitation
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INVITATION_REVOKED,
            target=invitation,
            origin=origin,
            details={"email": invitation.email},
        )
    return invitation


def accept_invitation(
    *, invitation: Invitation, name: str, password: str, time_zone: str, origin: Origin
) -> User:
    """Create the invitee's account. Single use: the row is locked and re-checked, so two
    concurrent submissions of one link create one user. Raises AccountsError when the
    invitation is no longer pending or the password is refused."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != "pending":
            raise AccountsError(f"This invitation has {invitation.status_verb}.")
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise AccountsError("An account with this address already exists. Sign in instead.")
        user = User(
            email=invitation.email, name=name.strip(), role=invitation.role, time_zone=time_zone
        )
        try:
            validate_password(password, user)
        except Exception as exc:  # ValidationError carries the list of messages
            messages = getattr(exc, "messages", [str(exc)])
            raise AccountsError(" ".join(messages), field="password1") from exc
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.teams.set(invitation.teams.all())
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        record_audit(
            actor=user,
            action=AuditEntry.Action.INVITATION_ACCEPTED,
            target=user,
            origin=origin,
            details={"invitation_id": invitation.pk, "invited_by": invitation.invited_by_id},
        )
    return user
