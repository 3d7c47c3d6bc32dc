from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from inbox.actions.common import (
    actor_name,
    add_activity,
    chat_message_event,
    conversation_changed,
    lock_conversation,
    widget_inbox,
)
from inbox.actions.errors import InboxError, NotAMember
from inbox.events import record_event, user_stream, writing
from inbox.models import Conversation, Label, Message, ReadPosition
from inbox.queries.access import can_see_inbox


def _locked(conversation: Conversation) -> Conversation:
    return lock_conversation(conversation.pk)


def assign(
    *, conversation: Conversation, assignee: User | None, actor: User | None
) -> Conversation:
    """Assign to an agent, or unassign with None. Idempotent (no event when unchanged).
    Raises NotAMember if the assignee cannot see the inbox or is deactivated."""
    if assignee is not None and not can_see_inbox(assignee, conversation.inbox_id):
        raise NotAMember(f"{assignee} cannot see this inbox.", field="assignee")
    with writing():
        conversation = _locked(conversation)
        if conversation.assignee_id == (assignee.pk if assignee else None):
            return conversation
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee", "updated_at"])
        if assignee is None:
            text = f"{actor_name(actor)} unassigned this conversation"
        elif actor is not None and assignee.pk == actor.pk:
            text = f"{actor.name} self-assigned this conversation"
        else:
            text = f"{actor_name(actor)} assigned this to {assignee.name}"
        add_activity(
            conversation=conversation,
            actor=actor,
            text=text,
            data={"verb": "assigned", "assignee_id": assignee.pk if assignee else None},
        )
        conversation_changed(conversation, changes=["assignee"])
    return conversation


def assign_team(
    *, conversation: Conversation, team: Team | None, actor: User | None
) -> Conversation:
    with writing():
        conversation = _locked(conversation)
        if conversation.team_id == (team.pk if team else None):
            return conversation
        conversation.team = team
        conversation.save(update_fields=["team", "updated_at"])
        text = (
            f"{actor_name(actor)} assigned this to the team {team.name}"
            if team
            else f"{actor_name(actor)} removed the team"
        )
        add_activity(
            conversation=conversation,
            actor=actor,
            text=text,
            data={"verb": "team_assigned", "team_id": team.pk if team else None},
        )
        conversation_changed(conversation, changes=["team"])
    return conversation


def set_status(
    *,
    conversation: Conversation,
    status: str,
    actor: User | None,
    snoozed_until: datetime | None = None,
) -> Conversation:
    """Open, pending, snoozed (needs a future `snoozed_until`) or resolved."""
    if status not in Conversation.Status.values:
        raise InboxError("Unknown status.", field="status")
    now = timezone.now()
    if status == Conversation.Status.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        raise InboxError("Snooze until a time in the future.", field="snoozed_until")
    with writing():
        conversation = _locked(conversation)
        if conversation.status == status and conversation.snoozed_until == snoozed_until:
            return conversation
        conversation.status = status
        conversation.snoozed_until = (
            snoozed_until if status == Conversation.Status.SNOOZED else None
        )
        if status == Conversation.Status.RESOLVED:
            conversation.resolved_at = now
            conversation.waiting_since = None
        conversation.save()
        texts = {
            "open": f"{actor_name(actor)} reopened this conversation",
            "pending": f"{actor_name(actor)} marked this conversation pending",
            "resolved": f"{actor_name(actor)} resolved this conversation",
            "snoozed": f"{actor_name(actor)} snoozed this conversation",
        }
        add_activity(
            conversation=conversation,
            actor=actor,
            text=texts[status],
            data={
                "verb": "status",
                "status": status,
                "snoozed_until": snoozed_until.isoformat() if snoozed_until else None,
            },
        )
        conversation_changed(conversation, changes=["status"])
        if status == Conversation.Status.SNOOZED:
            conversation_id, until = conversation.pk, snoozed_until
            transaction.on_commit(lambda: _schedule_wake(conversation_id, until))
        if status == Conversation.Status.RESOLVED:
            resolved_id = conversation.pk
            transaction.on_commit(lambda: _remember(resolved_id))
    return conversation


def _remember(conversation_id: int) -> None:
    from inbox.tasks import remember_conversation

    remember_conversation.enqueue(conversation_id)


def _schedule_wake(conversation_id: int, until: datetime | None) -> None:
    from inbox.tasks import wake_snoozed

    wake_snoozed.using(run_after=until).enqueue(conversation_id)


def reopen_if_snooze_due(*, conversation: Conversation) -> Conversation:
    """Called by the scheduled task: reopen if still snoozed and the time has come."""
    with writing():
        conversation = _locked(conversation)
        if (
            conversation.status != Conversation.Status.SNOOZED
            or conversation.snoozed_until is None
            or conversation.snoozed_until > timezone.now()
        ):
            return conversation
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        conversation.save()
        add_activity(
            conversation=conversation,
            actor=None,
            text="The snooze ended",
            data={"verb": "status", "status": "open"},
        )
        conversation_changed(conversation, changes=["status"])
    return conversation


def set_priority(*, conversation: Conversation, priority: int, actor: User | None) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise InboxError("Unknown priority.", field="priority")
    with writing():
        conversation = _locked(conversation)
        if conversation.priority == priority:
            return conversation
        conversation.priority = priority
        conversation.save(update_fields=["priority", "updated_at"])
        label = Conversation.Priority(priority).label.lower()
        add_activity(
            conversation=conversation,
            actor=actor,
            text=f"{actor_name(actor)} set the priority to {label}",
            data={"verb": "priority", "priority": priority},
        )
        conversation_changed(conversation, changes=["priority"])
    return conversation


def set_labels(
    *,
    conversation: Conversation,
    add: Iterable[Label] = (),
    remove: Iterable[Label] = (),
    actor: User | None,
) -> Conversation:
    with writing():
        conversation = _locked(conversation)
        current = set(conversation.labels.values_list("pk", flat=True))
        added = [label for label in add if label.pk not in current]
        removed = [label for label in remove if label.pk in current]
        if not added and not removed:
            return conversation
        conversation.labels.add(*added)
        conversation.labels.remove(*removed)
        parts = []
        if added:
            parts.append("added " + ", ".join(label.name for label in added))
        if removed:
            parts.append("removed " + ", ".join(label.name for label in removed))
        add_activity(
            conversation=conversation,
            actor=actor,
            text=f"{actor_name(actor)} {' and '.join(parts)}",
            data={
                "verb": "labels",
                "added": [label.pk for label in added],
                "removed": [label.pk for label in removed],
            },
        )
        conversation_changed(conversation, changes=["labels"])
    return conversation


def mark_read(
    *, conversation: Conversation, user: User, up_to_message_id: int | None = None
) -> ReadPosition:
    """Move the user's read position forward (never back). Tells the user's other tabs."""
    latest = (
        Message.objects.filter(conversation=conversation)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )
    target = min(up_to_message_id, latest) if up_to_message_id else latest
    with writing():
        position, _ = ReadPosition.objects.select_for_update(no_key=True).get_or_create(
            conversation=conversation, user=user
        )
        if target > position.last_read_message_id:
            position.last_read_message_id = target
            position.read_at = timezone.now()
            position.save()
            record_event(
                stream=user_stream(user.pk),
                kind="conversation.read",
                payload={"conversation_id": conversation.pk, "last_read_message_id": target},
            )
            if widget_inbox(conversation.inbox_id) is not None:
                _visitor_messages_read(conversation, target)
    return position


def _visitor_messages_read(conversation: Conversation, up_to: int) -> None:
    """A website visitor sees their messages turn "read" once an agent has read them (the
    visitor's stream only: agents have their own read positions)."""
    rows = list(
        Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.INCOMING,
            kind=Message.Kind.MESSAGE,
            id__lte=up_to,
        )
        .exclude(delivery_status=Message.Delivery.READ)
        .prefetch_related("attachments")
    )
    for message in rows:
        message.delivery_status = Message.Delivery.READ
        message.save(update_fields=["delivery_status", "updated_at"])
        chat_message_event(message, "message.updated", None)
