from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditEntry, User
from accounts.origin import Origin


def record_audit(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None,
    origin: Origin,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry. Call inside the action's transaction."""
    return AuditEntry.objects.create(
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        target_type=target._meta.model_name or "" if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        details=details or {},
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
    )
