from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from accounts.actions.audit import record_audit
from accounts.models import AuditEntry, Team, User
from accounts.origin import Origin
from inbox import hours
from inbox.actions.common import forget_inbox_kind
from inbox.actions.errors import InboxError
from inbox.events import membership_changed_on_commit
from inbox.models import AutoSendRule, CannedReply, Inbox, InboxAddress, Label
from inbox.queries.access import inbox_audience


def _known(stored: Any, shape: Any) -> dict[str, Any]:
    """The stored values a settings dataclass still knows (older keys are dropped)."""
    from dataclasses import fields

    names = {f.name for f in fields(shape)}
    return {k: v for k, v in (stored or {}).items() if k in names}


def _with_clean_policy(
    settings: dict[str, Any], current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The human-touch policy (inbox/policy.py) and the website widget's settings
    (inbox/sources/widget/config.py) among the settings, checked and normalised. Keys not
    given keep their `current` values (a partial update changes only what it names)."""
    current = current or {}
    if "policy" in settings:
        from inbox.policy import Policy, PolicyError, clean

        try:
            stored = _known(current.get("policy"), Policy)
            given = {**stored, **dict(settings["policy"])}
            settings = {**settings, "policy": clean(given).as_dict()}
        except (PolicyError, TypeError, ValueError) as exc:
            message = getattr(exc, "message", None) or "Invalid policy."
            raise InboxError(f"Policy: {message}", field="settings") from exc
    if "widget" in settings:
        from inbox.sources.widget import config

        try:
            stored = _known(current.get("widget"), config.WidgetConfig)
            given = {**stored, **dict(settings["widget"])}
            settings = {**settings, "widget": config.clean(given).as_dict()}
        except (config.WidgetConfigError, TypeError, ValueError) as exc:
            message = getattr(exc, "message", None) or "Invalid widget settings."
            raise InboxError(f"Website chat: {message}", field="settings") from exc
    return settings


def create_inbox(
    *,
    name: str,
    kind: str,
    actor: User,
    origin: Origin,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    members: Iterable[User] = (),
    teams: Iterable[Team] = (),
) -> Inbox:
    if kind not in Inbox.Kind.values:
        raise InboxError("Unknown inbox kind.", field="kind")
    if not name.strip():
        raise InboxError("An inbox needs a name.", field="name")
    settings = _with_clean_policy(settings or {})
    with transaction.atomic():
        inbox = Inbox(name=name.strip()[:100], kind=kind, settings=settings)
        inbox.set_secrets(secrets or {})
        inbox.save()
        if kind == Inbox.Kind.EMAIL:
            _set_email_addresses(inbox)
        inbox.members.set(list(members))
        inbox.teams.set(list(teams))
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INBOX_CREATED,
            target=inbox,
            origin=origin,
            details={"kind": kind},
        )
        membership_changed_on_commit(sorted(inbox_audience(inbox)))
    forget_inbox_kind(inbox.pk)
    return inbox


def update_inbox(
    *,
    inbox: Inbox,
    actor: User,
    origin: Origin,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    business_hours: dict[str, Any] | None = None,
) -> Inbox:
    """Secrets given here are merged into the stored ones; their values are never logged."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update(no_key=True).get(pk=inbox.pk)
        changed = []
        if name is not None and name.strip() and name.strip() != inbox.name:
            inbox.name = name.strip()[:100]
            changed.append("name")
        if settings is not None:
            settings = _with_clean_policy(settings, inbox.settings)
            inbox.settings = {**inbox.settings, **settings}
            changed.append("settings")
            if inbox.kind == Inbox.Kind.EMAIL:
                _set_email_addresses(inbox)
        if secrets:
            inbox.set_secrets({**inbox.get_secrets(), **secrets})
            changed.append("secrets")
        if business_hours is not None:
            try:
                inbox.business_hours = hours.clean(business_hours)
            except hours.HoursError as exc:
                raise InboxError(str(exc), field="business_hours") from exc
            changed.append("business_hours")
        inbox.save()
        if changed:
            record_audit(
                actor=actor,
                action=AuditEntry.Action.INBOX_UPDATED,
                target=inbox,
                origin=origin,
                details={"changed": changed},
            )
    return inbox


def _set_email_addresses(inbox: Inbox) -> None:
    """An email inbox's `address` and `aliases` settings, normalised (lower case) and kept
    as InboxAddress rows, so mail finds its inbox with one indexed lookup. An address
    another inbox has is refused."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    primary = str(inbox.settings.get("address") or "").strip().lower()
    if not primary:
        raise InboxError("An email inbox needs its address.", field="address")
    aliases = [
        str(a).strip().lower() for a in inbox.settings.get("aliases") or [] if str(a).strip()
    ]
    wanted = list(dict.fromkeys([primary, *aliases]))
    for address in wanted:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise InboxError(f"{address} is not an email address.", field="address") from exc
        if "+" in address.partition("@")[0]:
            raise InboxError(
                f"{address}: an inbox address cannot contain “+” (it starts reply tokens).",
                field="address",
            )
    taken = (
        InboxAddress.objects.filter(address__in=wanted)
        .exclude(inbox=inbox)
        .values_list("address", flat=True)
    )
    if taken:
        raise InboxError(f"{taken[0]} already belongs to another inbox.", field="address")
    inbox.settings = {**inbox.settings, "address": primary, "aliases": wanted[1:]}
    inbox.save(update_fields=["settings"])
    InboxAddress.objects.filter(inbox=inbox).exclude(address__in=wanted).delete()
    for address in wanted:
        InboxAddress.objects.update_or_create(
            address=address, defaults={"inbox": inbox, "is_primary": address == primary}
        )


def set_inbox_access(
    *, inbox: Inbox, users: Iterable[User], teams: Iterable[Team], actor: User, origin: Origin
) -> Inbox:
    """Set who may see the inbox (the whole lists). Open sockets of everyone who gained or
    lost it follow at once."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update(no_key=True).get(pk=inbox.pk)
        before = inbox_audience(inbox)
        user_list, team_list = list(users), list(teams)
        inbox.members.set(user_list)
        inbox.teams.set(team_list)
        after = inbox_audience(inbox)
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INBOX_ACCESS_CHANGED,
            target=inbox,
            origin=origin,
            details={
                "users": sorted(u.pk for u in user_list),
                "teams": sorted(t.pk for t in team_list),
            },
        )
        membership_changed_on_commit(sorted(before ^ after))
    return inbox


def _label_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InboxError("A label needs a name.", field="name")
    return name[:50]


def _label_color(color: str) -> str:
    import re

    if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise InboxError("Use a colour like #4f46e5.", field="color")
    return color.lower()


def create_label(*, name: str, color: str = "#6366f1", description: str = "") -> Label:
    try:
        with transaction.atomic():
            return Label.objects.create(
                name=_label_name(name), color=_label_color(color), description=description[:200]
            )
    except IntegrityError as exc:
        raise InboxError("A label with this name exists.", field="name") from exc


def update_label(
    *,
    label: Label,
    name: str | None = None,
    color: str | None = None,
    description: str | None = None,
) -> Label:
    if name is not None:
        label.name = _label_name(name)
    if color is not None:
        label.color = _label_color(color)
    if description is not None:
        label.description = description[:200]
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError as exc:
        raise InboxError("A label with this name exists.", field="name") from exc
    return label


def delete_label(*, label: Label) -> None:
    label.delete()


def set_auto_send_rule(
    *, inbox: Inbox, reply: CannedReply, min_confidence: float, actor: User, origin: Origin
) -> AutoSendRule:
    """Let `inbox` send `reply` on its own when it is the best suggestion with at least
    `min_confidence` (an admin's explicit choice, audited; never a personal reply)."""
    if reply.scope == CannedReply.Scope.PERSONAL:
        raise InboxError("A personal canned reply cannot be sent automatically.")
    if reply.inbox_id not in (None, inbox.pk):
        raise InboxError("This canned reply belongs to another inbox.")
    if not 0.3 <= min_confidence <= 1:
        raise InboxError("Use a confidence floor between 0.3 and 1.", field="min_confidence")
    with transaction.atomic():
        rule, _ = AutoSendRule.objects.update_or_create(
            inbox=inbox,
            canned_reply=reply,
            defaults={"min_confidence": min_confidence, "created_by": actor},
        )
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INBOX_UPDATED,
            target=inbox,
            origin=origin,
            details={"auto_send": reply.pk, "min_confidence": min_confidence},
        )
    return rule


def delete_auto_send_rule(*, rule: AutoSendRule, actor: User, origin: Origin) -> None:
    with transaction.atomic():
        inbox = rule.inbox
        reply_id = rule.canned_reply_id
        rule.delete()
        record_audit(
            actor=actor,
            action=AuditEntry.Action.INBOX_UPDATED,
            target=inbox,
            origin=origin,
            details={"auto_send_removed": reply_id},
        )
