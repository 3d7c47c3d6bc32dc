"""Suggested drafts, the human-touch flag, automated messages and reply metrics."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from inbox.actions.common import (
    actor_name,
    add_activity,
    conversation_changed,
    lock_conversation,
    message_created,
)
from inbox.actions.errors import InboxError
from inbox.events import inbox_stream, record_event, writing
from inbox.models import (
    CannedReply,
    Conversation,
    DraftSuggestion,
    Message,
    ReplyMetric,
    SuggestionView,
)

UNCHANGED = 0.98  # similarity at or above which a reply counts as sent as suggested


def _announce(draft: DraftSuggestion) -> None:
    best = draft.candidates[0] if draft.candidates else None
    record_event(
        stream=inbox_stream(draft.inbox_id),
        kind="draft.suggested",
        payload={
            "conversation_id": draft.conversation_id,
            "message_id": draft.message_id,
            "suggestion_id": draft.pk,
            "count": len(draft.candidates),
            "best": ({"engine": best["engine"], "score": best["score"]} if best else None),
        },
    )


def store_suggestions(
    *,
    message: Message,
    language: str,
    found: Sequence[Any],
    limit: int = 3,
    append: bool = False,
) -> DraftSuggestion:
    """Keep the drafts computed for a customer message and tell the inbox's agents
    (`draft.suggested`; without reasons, which may name a team's reply: each agent fetches
    the drafts they may see). `append`: a slow engine's drafts go after the stored ones, so
    the positions an agent's composer holds stay valid."""
    with writing():
        draft, _ = DraftSuggestion.objects.select_for_update(no_key=True).get_or_create(
            message=message,
            defaults={
                "conversation_id": message.conversation_id,
                "inbox_id": message.inbox_id,
                "language": language,
            },
        )
        new = sorted((s.as_stored() for s in found), key=lambda c: -c["score"])
        if append:
            draft.candidates = [*draft.candidates, *new[:limit]]
        else:
            draft.candidates = new[:limit]
        draft.engine = draft.candidates[0]["engine"] if draft.candidates else ""
        draft.save(update_fields=["candidates", "engine"])
        _announce(draft)
    return draft


def mark_suggestion_shown(*, draft: DraftSuggestion, agent: User) -> None:
    """The agent's composer showed the suggestion (counted once per agent)."""
    now = timezone.now()
    with transaction.atomic():
        SuggestionView.objects.get_or_create(
            suggestion=draft, agent=agent, defaults={"shown_at": now}
        )
        DraftSuggestion.objects.filter(pk=draft.pk, shown_at__isnull=True).update(shown_at=now)


def discard_suggestion(*, draft: DraftSuggestion, actor: User) -> DraftSuggestion:
    """The agent put the suggestion aside (counted as discarded)."""
    with transaction.atomic():
        updated = DraftSuggestion.objects.filter(
            pk=draft.pk, outcome=DraftSuggestion.Outcome.PENDING
        ).update(
            outcome=DraftSuggestion.Outcome.DISCARDED,
            outcome_at=timezone.now(),
            outcome_by=actor,
            shown_at=draft.shown_at or timezone.now(),
        )
        if updated:
            SuggestionView.objects.get_or_create(suggestion=draft, agent=actor)
    if updated:
        draft.refresh_from_db()
    return draft


def flag_needs_person(
    *, conversation: Conversation, reasons: list[str], priority: int, team_id: int | None
) -> Conversation:
    """The policy found that a person must handle this: the reasons are kept on the
    conversation (its badge), the priority raised, the team set when the policy routes
    there and none is set yet. No automatic message is sent to it from now on."""
    from accounts.models import Team

    with writing():
        conversation = lock_conversation(conversation.pk)
        new = [reason for reason in reasons if reason not in conversation.needs_person]
        if not new:
            return conversation
        conversation.needs_person = [*conversation.needs_person, *new][:10]
        changes = ["needs_person"]
        if priority > conversation.priority:
            conversation.priority = priority
            changes.append("priority")
        if team_id and conversation.team_id is None:
            team = Team.objects.filter(pk=team_id).first()
            if team is not None:
                conversation.team = team
                changes.append("team")
        conversation.save()
        add_activity(
            conversation=conversation,
            actor=None,
            text="Needs a person: " + "; ".join(new),
            data={"verb": "needs_person", "reasons": new},
        )
        conversation_changed(conversation, changes=changes)
    return conversation


def clear_needs_person(*, conversation: Conversation, actor: User) -> Conversation:
    with writing():
        conversation = lock_conversation(conversation.pk)
        if not conversation.needs_person:
            return conversation
        conversation.needs_person = []
        conversation.save()
        add_activity(
            conversation=conversation,
            actor=actor,
            text=f"{actor_name(actor)} cleared the “needs a person” flag",
            data={"verb": "needs_person_cleared"},
        )
        conversation_changed(conversation, changes=["needs_person"])
    return conversation


def automated_recently(*, contact_id: int, hours: int) -> bool:
    since = timezone.now() - timedelta(hours=hours)
    return ReplyMetric.objects.filter(
        contact_id=contact_id, origin=ReplyMetric.Origin.AUTOMATED, created_at__gte=since
    ).exists()


def send_automated(
    *,
    conversation: Conversation,
    text: str,
    kind: str,
    throttle_hours: int,
    canned_reply_id: int | None = None,
    score: float | None = None,
    answers: bool = False,
) -> Message | None:
    """An automatic message (`kind`: "acknowledgement" or "auto_send"), queued like an
    agent's reply and marked automated. Refused (None) when the conversation needs a person
    or the contact already had an automated message within `throttle_hours`. `answers`:
    it answers the question (auto-send), so the customer no longer counts as waiting."""
    from inbox.actions.messages import AttachmentInput, _deliver, _preview, _store_attachments
    from inbox.models import CannedAttachment, Contact

    with writing():
        # Serialise automated sends per contact (two messages arriving together must not
        # both pass the throttle); contact before conversation, as merging contacts does.
        Contact.objects.select_for_update(no_key=True).filter(pk=conversation.contact_id).first()
        conversation = lock_conversation(conversation.pk)
        if conversation.needs_person:
            return None
        if automated_recently(contact_id=conversation.contact_id, hours=throttle_hours):
            return None
        now = timezone.now()
        message = Message.objects.create(
            conversation=conversation,
            inbox_id=conversation.inbox_id,
            direction=Message.Direction.OUTGOING,
            kind=Message.Kind.MESSAGE,
            text=text,
            delivery_status=Message.Delivery.QUEUED,
            created_at=now,
            data={"automated": kind, **({"score": score} if score is not None else {})},
        )
        files = []
        for row in CannedAttachment.objects.filter(canned_reply_id=canned_reply_id or 0):
            with row.file.open("rb") as handle:  # the canned reply's files go with it
                files.append(AttachmentInput(row.filename, row.content_type, handle.read()))
        stored = _store_attachments(message, files)
        conversation.last_activity_at = now
        changes = ["last_activity_at"]
        first = answers and conversation.first_response_at is None
        if answers:
            conversation.waiting_since = None
            conversation.first_response_at = conversation.first_response_at or now
            changes.append("waiting_since")
        conversation.last_message_preview = _preview(text)
        conversation.save()
        ReplyMetric.objects.create(
            message=message,
            conversation=conversation,
            contact_id=conversation.contact_id,
            inbox_id=conversation.inbox_id,
            origin=ReplyMetric.Origin.AUTOMATED,
            automated_kind=kind,
            engine="canned" if canned_reply_id else "",
            canned_reply_id=canned_reply_id,
            created_at=now,
            first_response=first,
        )
        message_created(message, attachments=stored, conversation=conversation, changes=changes)
        message_id = message.pk
        transaction.on_commit(lambda: _deliver(message_id))
    return message


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def similarity(original: str, sent: str) -> float:
    """1.0 when sent unchanged; towards 0 the more the agent rewrote (difflib ratio over
    words, whitespace ignored)."""
    a, b = _normalised(original).split(" "), _normalised(sent).split(" ")
    return round(difflib.SequenceMatcher(None, a[:600], b[:600], autojunk=False).ratio(), 3)


def record_reply_metric(
    *,
    message: Message,
    conversation: Conversation,
    agent: User,
    waiting_since: Any,
    started_from: dict[str, Any] | None,
) -> ReplyMetric:
    """Inside the reply's transaction: where the reply started. `started_from`:
    {"suggestion_id", "candidate"} for a suggested draft, {"canned_reply_id"} for a canned
    reply inserted by hand. What was inserted is rendered again here (the same text the
    agent got) to measure the edits. A suggestion of the conversation that was shown and
    that the reply did not start from counts as discarded."""
    from inbox import canned
    from inbox.drafts.present import present
    from inbox.policy import policy_for
    from inbox.queries.canned import visible_canned_replies

    started_from = started_from or {}
    origin = ReplyMetric.Origin.TYPED
    engine, canned_id, draft, inserted = "", None, None, ""
    if started_from.get("suggestion_id"):
        draft = DraftSuggestion.objects.filter(
            pk=started_from["suggestion_id"], conversation=conversation
        ).first()
        if draft is None:
            raise InboxError("That suggestion is not for this conversation.", field="started_from")
        index = int(started_from.get("candidate") or 0)
        if not 0 <= index < len(draft.candidates):
            raise InboxError("No such suggested draft.", field="started_from")
        candidate = draft.candidates[index]
        if candidate.get("canned_reply_id") and not (
            CannedReply.objects.filter(pk=candidate["canned_reply_id"]).exists()
        ):
            candidate = {**candidate, "canned_reply_id": None}  # deleted meanwhile
        origin, engine = ReplyMetric.Origin.SUGGESTION, candidate["engine"]
        canned_id = candidate.get("canned_reply_id")
        inserted = present(
            candidate,
            conversation=conversation,
            agent=agent,
            customer_language=draft.language,
            greeting=policy_for(conversation.inbox).greeting,
        )["text"]
    elif started_from.get("canned_reply_id"):
        reply = (
            visible_canned_replies(agent, inbox_id=conversation.inbox_id)
            .filter(pk=started_from["canned_reply_id"])
            .first()
        )
        if reply is not None:  # else deleted or unshared while the agent wrote: typed
            origin, canned_id = ReplyMetric.Origin.CANNED, reply.pk
            filled = canned.values(
                contact=conversation.contact,
                agent=agent,
                inbox=conversation.inbox,
                conversation=conversation,
            )
            inserted = canned.render(reply.body, filled)
    score = similarity(inserted, message.text) if inserted else None
    now = message.created_at
    metric = ReplyMetric.objects.create(
        message=message,
        conversation=conversation,
        contact_id=conversation.contact_id,
        inbox_id=conversation.inbox_id,
        agent=agent,
        origin=origin,
        engine=engine,
        canned_reply_id=canned_id,
        suggestion=draft,
        similarity=score,
        response_seconds=int((now - waiting_since).total_seconds()) if waiting_since else None,
        first_response=conversation.first_response_at is None,
        created_at=now,
    )
    if draft is not None:
        outcome = (
            DraftSuggestion.Outcome.USED
            if score is None or score >= UNCHANGED
            else DraftSuggestion.Outcome.EDITED
        )
        DraftSuggestion.objects.filter(pk=draft.pk).update(
            outcome=outcome, outcome_at=now, outcome_by=agent, shown_at=draft.shown_at or now
        )
        SuggestionView.objects.get_or_create(
            suggestion=draft, agent=agent, defaults={"shown_at": now}
        )
    # Every other open suggestion of the conversation is closed by this reply: discarded
    # when an agent saw it, expired when nobody did.
    others = DraftSuggestion.objects.filter(
        conversation=conversation, outcome=DraftSuggestion.Outcome.PENDING
    )
    if draft is not None:
        others = others.exclude(pk=draft.pk)
    # Put aside by this agent only if they saw it; seen by others only: nobody's discard.
    seen = others.filter(shown_at__isnull=False)
    seen.filter(views__agent=agent).update(
        outcome=DraftSuggestion.Outcome.DISCARDED, outcome_at=now, outcome_by=agent
    )
    seen.filter(outcome=DraftSuggestion.Outcome.PENDING).update(
        outcome=DraftSuggestion.Outcome.DISCARDED, outcome_at=now, outcome_by=None
    )
    others.filter(shown_at__isnull=True).update(
        outcome=DraftSuggestion.Outcome.EXPIRED, outcome_at=now
    )
    return metric
