"""The suggested drafts an agent sees on a conversation."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from inbox.models import Conversation, DraftSuggestion
from inbox.queries.canned import visible_canned_replies


def suggestions_for(conversation: Conversation, agent: User) -> dict[str, Any]:
    """The drafts for the conversation's latest customer message, rendered for `agent`:
    the ones the background task stored (minus canned replies this agent may not use),
    else computed now; only while the customer waits for an answer. `index` is the
    candidate's position in the stored suggestion: what a reply sends back as
    `candidate`. Reading does not count as shown: the client says when its composer
    showed them (`suggestions/shown/`)."""
    from inbox.drafts.engines import context_for, suggest
    from inbox.drafts.present import present
    from inbox.policy import policy_for

    policy = policy_for(conversation.inbox)
    latest = conversation.last_incoming_message_id
    waiting = conversation.waiting_since is not None
    draft = (
        DraftSuggestion.objects.filter(conversation=conversation, message_id=latest).first()
        if latest and waiting
        else None
    )
    wanted = [c.get("canned_reply_id") for c in (draft.candidates if draft else [])]
    usable = set(
        visible_canned_replies(agent, inbox_id=conversation.inbox_id)
        .filter(pk__in=[i for i in wanted if i])
        .values_list("id", flat=True)
    )
    candidates: list[tuple[int, dict[str, Any]]] = []
    language, outcome = "", "pending"
    if draft is not None:
        language, outcome = draft.language, draft.outcome
        candidates = [
            (index, candidate)
            for index, candidate in enumerate(draft.candidates)
            if not candidate.get("canned_reply_id") or candidate["canned_reply_id"] in usable
        ]
    elif policy.suggestions and waiting:
        context = context_for(conversation, agent, tone=policy.tone, interactive=True)
        language = context.language
        found = suggest(context, threshold=policy.confidence_threshold)
        candidates = [(index, s.as_stored()) for index, s in enumerate(found)]
    from inbox.models import CannedAttachment

    files: dict[int, list[dict[str, Any]]] = {}
    canned_ids = [c["canned_reply_id"] for _, c in candidates if c.get("canned_reply_id")]
    for row in CannedAttachment.objects.filter(canned_reply_id__in=canned_ids):
        files.setdefault(row.canned_reply_id, []).append(
            {"id": row.pk, "filename": row.filename, "size": row.size}
        )
    results = []
    for index, candidate in candidates:
        shown = present(
            candidate,
            conversation=conversation,
            agent=agent,
            customer_language=language,
            greeting=policy.greeting,
        )
        shown["attachments"] = files.get(candidate.get("canned_reply_id") or 0, [])
        results.append({"index": index, **shown})
    return {
        "suggestion_id": draft.pk if draft is not None and candidates else None,
        "message_id": latest,
        "language": language,
        "outcome": outcome,
        "needs_person": conversation.needs_person,
        "results": results,
    }
