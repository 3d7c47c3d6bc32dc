from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actions.audit import record_audit
from accounts.actions.errors import AccountsError
from accounts.models import ApiToken, AuditEntry, User
from accounts.origin import Origin

TOKEN_PREFIX = "prl_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, user: User, name: str, origin: Origin) -> tuple[ApiToken, str]:
    """Returns the row and the secret. The secret is not stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise AccountsError(
            "Give the token a name, such as the integration that uses it.", field="name"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:80],
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(secret),
        )
        record_audit(
            actor=user,
            action=AuditEntry.Action.TOKEN_CREATED,
            target=token,
            origin=origin,
            details={"name": token.name, "owner": user.email},
        )
    return token, secret


def revoke_api_token(*, token: ApiToken, actor: User, origin: Origin) -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor,
            action=AuditEntry.Action.TOKEN_REVOKED,
            target=token,
            origin=origin,
            details={"name": token.name, "owner_id": token.user_id},
        )
    return token


def authenticate_token(secret: str) -> ApiToken | None:
    """The active token for `secret` with an active user, or None. Lookup is by the
    sha256 of a 256-bit secret, so comparing hashes leaks nothing useful."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
