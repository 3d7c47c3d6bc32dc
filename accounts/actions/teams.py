from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from accounts.actions.audit import record_audit
from accounts.actions.errors import AccountsError
from accounts.models import AuditEntry, Team, User
from accounts.origin import Origin
from inbox.events import membership_changed_on_commit


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise AccountsError("A team needs a name.", field="name")
    return name


def create_team(
    *,
    name: str,
    actor: User,
    origin: Origin,
    description: str = "",
    members: Iterable[User] = (),
) -> Team:
    """Raises AccountsError when the name is empty or taken."""
    name = _clean_name(name)
    try:
        with transaction.atomic():
            if Team.objects.filter(name__iexact=name).exists():
                raise IntegrityError
            team = Team.objects.create(name=name, description=description.strip())
            member_list = list(members)
            team.members.set(member_list)
            membership_changed_on_commit(sorted(m.pk for m in member_list))
            record_audit(
                actor=actor,
                action=AuditEntry.Action.TEAM_CREATED,
                target=team,
                origin=origin,
                details={"members": sorted(m.pk for m in member_list)},
            )
    except IntegrityError as exc:
        raise AccountsError("A team with this name already exists.", field="name") from exc
    return team


def update_team(
    *,
    team: Team,
    actor: User,
    origin: Origin,
    name: str | None = None,
    description: str | None = None,
    members: Iterable[User] | None = None,
) -> Team:
    """Rename and/or set the active members (the whole list; deactivated members are kept).
    Raises AccountsError on a taken or empty name."""
    try:
        with transaction.atomic():
            team = Team.objects.select_for_update().get(pk=team.pk)
            changes: dict[str, object] = {}
            if name is not None:
                name = _clean_name(name)
                if name != team.name:
                    if Team.objects.filter(name__iexact=name).exclude(pk=team.pk).exists():
                        raise IntegrityError
                    changes["name"] = {"from": team.name, "to": name}
                    team.name = name
            if description is not None and description.strip() != team.description:
                team.description = description.strip()
                changes["description"] = team.description
            team.save()
            if members is not None:
                before = set(team.members.values_list("pk", flat=True))
                # Pickers only offer active users: deactivated members stay in the team
                # (they are back in it if reactivated) unless removed explicitly elsewhere.
                inactive = set(team.members.filter(is_active=False).values_list("pk", flat=True))
                after = {m.pk for m in members} | inactive
                if before != after:
                    team.members.set(list(after))
                    changes["added"] = sorted(after - before)
                    changes["removed"] = sorted(before - after)
                    # Teams grant inbox access: open sockets follow.
                    membership_changed_on_commit(sorted(before ^ after))
            if changes:
                record_audit(
                    actor=actor,
                    action=AuditEntry.Action.TEAM_UPDATED,
                    target=team,
                    origin=origin,
                    details=changes,
                )
    except IntegrityError as exc:
        raise AccountsError("A team with this name already exists.", field="name") from exc
    return team


def delete_team(*, team: Team, actor: User, origin: Origin) -> None:
    with transaction.atomic():
        record_audit(
            actor=actor,
            action=AuditEntry.Action.TEAM_DELETED,
            target=team,
            origin=origin,
            details={"members": sorted(team.members.values_list("pk", flat=True))},
        )
        membership_changed_on_commit(sorted(team.members.values_list("pk", flat=True)))
        team.delete()
