"""Canned replies a user may use: shared with everyone, with one of their teams, or their
own personal ones; optionally only those offered in an inbox."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from inbox.models import CannedReply


def visible_canned_replies(
    user: User, *, inbox_id: int | None = None, search: str = ""
) -> QuerySet[CannedReply]:
    rows = CannedReply.objects.filter(
        Q(scope=CannedReply.Scope.EVERYONE)
        | Q(scope=CannedReply.Scope.TEAM, team__members=user)
        | Q(scope=CannedReply.Scope.PERSONAL, owner=user)
        | (Q(scope=CannedReply.Scope.TEAM) if user.is_admin else Q(pk__in=[]))
    ).distinct()
    if inbox_id is not None:
        rows = rows.filter(Q(inbox__isnull=True) | Q(inbox_id=inbox_id))
    search = search.strip()[:100]
    if search:
        rows = rows.filter(
            Q(shortcode__istartswith=search)
            | Q(title__icontains=search)
            | Q(body__icontains=search)
        )
    return rows.select_related("team", "owner", "inbox").order_by("title", "id")


def usable_canned_replies(user: User | None, *, inbox_id: int) -> QuerySet[CannedReply]:
    """The replies a draft for this inbox may use. For a user: the ones they can see. With
    no user (drafts computed in the background for every agent of the inbox): shared ones,
    team replies of the teams that work this inbox, never anyone's personal replies (each
    agent's view of the drafts is filtered again by `visible_canned_replies`)."""
    if user is not None:
        return visible_canned_replies(user, inbox_id=inbox_id)
    return (
        CannedReply.objects.filter(
            Q(scope=CannedReply.Scope.EVERYONE)
            | Q(scope=CannedReply.Scope.TEAM, team__inboxes=inbox_id)
        )
        .filter(Q(inbox__isnull=True) | Q(inbox_id=inbox_id))
        .distinct()
    )
