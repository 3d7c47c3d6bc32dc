"""Read side of accounts: the lists admin pages and the API show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import ApiToken, AuditEntry, Invitation, Team, User


def users_for_admin(*, status: str = "active", q: str = "") -> QuerySet[User]:
    """`status`: active (also for unknown values), deactivated or all."""
    users = User.objects.prefetch_related(Prefetch("teams", queryset=Team.objects.only("name")))
    if status not in {"active", "deactivated", "all"}:
        status = "active"
    if status == "active":
        users = users.filter(is_active=True)
    elif status == "deactivated":
        users = users.filter(is_active=False)
    if q:
        users = users.filter(Q(name__icontains=q) | Q(email__icontains=q))
    return users.order_by("name", "email")


def pending_invitations() -> QuerySet[Invitation]:
    """Invitations not accepted or revoked, expired ones included (they can be resent)."""
    return (
        Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("-sent_at")
    )


def teams_with_counts() -> QuerySet[Team]:
    return (
        Team.objects.annotate(member_count=Count("members", filter=Q(members__is_active=True)))
        .prefetch_related(Prefetch("members", queryset=User.objects.filter(is_active=True)))
        .order_by("name")
    )


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def audit_entries(
    *,
    action: str = "",
    actor: User | None = None,
    q: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    target_type: str = "",
    target_id: str = "",
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("actor")
    if action:
        entries = entries.filter(action=action)
    if actor is not None:
        entries = entries.filter(actor=actor)
    if q:
        entries = entries.filter(Q(target_repr__icontains=q) | Q(actor_email__icontains=q))
    tz = timezone.get_current_timezone()
    if since:
        entries = entries.filter(created_at__gte=dt.datetime.combine(since, dt.time.min, tz))
    if until:
        entries = entries.filter(
            created_at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tz)
        )
    if target_type:
        entries = entries.filter(target_type=target_type)
    if target_id:
        entries = entries.filter(target_id=target_id)
    return entries.order_by("-created_at", "-id")


def audit_filters_from(data: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values from a cleaned filter form."""
    return {key: value for key, value in data.items() if value not in (None, "")}
