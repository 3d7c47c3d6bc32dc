"""What happens after a customer message is stored (the `after_customer_message` task):

1. the human-touch checks (inbox/humantouch.py): a conversation that needs a person is
   flagged, prioritised and routed, and gets no automatic message of any kind;
2. suggested drafts from the fast engines, stored and pushed (`draft.suggested`);
3. at most one automated message, never to a flagged conversation and at most one per
   contact per throttle window: an auto-send canned reply the admin enabled for this
   inbox (confident enough), else the acknowledgement (when enabled and due);
4. the slow engines (a language model) in a task of their own (`slow_drafts`), whose
   drafts are added and pushed again; a slow or failing model never holds back the fast
   drafts. (One worker thread runs every task: at scale run `manage.py db_worker` in
   more processes so a slow model does not delay deliveries either.)"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.utils import timezone

from inbox import canned, hours, humantouch
from inbox.actions import drafts as draft_actions
from inbox.drafts.engines import Suggestion, context_for, customer_text, engines, suggest
from inbox.drafts.present import present
from inbox.policy import Policy, policy_for

logger = logging.getLogger(__name__)


def after_customer_message(message_id: int, *, superseded: bool = False) -> str:
    """`superseded`: the customer is known to have written again since (a later message of
    the same batch): the human-touch checks only, no drafts."""
    from inbox.models import Message

    message = (
        Message.objects.select_related("conversation__contact", "conversation__inbox")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return "gone"
    if message.direction != Message.Direction.INCOMING or message.kind != Message.Kind.MESSAGE:
        return "not a customer message"
    if ((message.data or {}).get("email") or {}).get("automated"):
        return "automated email: nothing to do"
    conversation = message.conversation
    policy = policy_for(conversation.inbox)
    text = customer_text(message)
    done = []
    reasons = humantouch.assess(
        text=text, conversation=conversation, message=message, policy=policy
    )
    if reasons:
        conversation = draft_actions.flag_needs_person(
            conversation=conversation,
            reasons=reasons,
            priority=policy.flag_priority,
            team_id=policy.flag_team_id,
        )
        done.append("flagged")
    if superseded or _newer_customer_message(message):
        return ", ".join([*done, "a newer message will be answered"])
    found: list[Suggestion] = []
    context = context_for(conversation, None, tone=policy.tone)
    if policy.suggestions and context.text.strip():
        found = suggest(context, threshold=policy.confidence_threshold)
        if found:
            draft_actions.store_suggestions(message=message, language=context.language, found=found)
            done.append(f"{len(found)} drafts")
    if not conversation.needs_person:
        sent = _auto_send(conversation, found, policy, context.language) or _acknowledge(
            conversation, message, policy
        )
        if sent:
            done.append(sent)
    if policy.suggestions and context.text.strip() and engines(slow=True):
        from inbox.tasks import slow_drafts

        slow_drafts.enqueue(message.pk)
        done.append("slow engines queued")
    return ", ".join(done) or "nothing"


def _newer_customer_message(message: Any) -> bool:
    """Has the customer written again since (an auto-reply or bounce does not count)?"""
    from inbox.models import Message

    return (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            direction=Message.Direction.INCOMING,
            kind=Message.Kind.MESSAGE,
            id__gt=message.pk,
        )
        .exclude(data__email__automated=True)
        .exists()
    )


def slow_drafts(message_id: int) -> str:
    """The slow engines (a language model) for a customer message, in their own task so
    they never hold back the fast drafts and the human-touch checks. They build on the
    stored canned-reply drafts only (never on team memory: past replies to other customers
    do not leave the building)."""
    from inbox.models import DraftSuggestion, Message

    message = Message.objects.select_related("conversation__inbox").filter(pk=message_id).first()
    if message is None or _newer_customer_message(message):
        return "gone or superseded"
    conversation = message.conversation
    policy = policy_for(conversation.inbox)
    context = context_for(conversation, None, tone=policy.tone)
    if not context.text.strip():
        return "nothing to answer"
    stored = DraftSuggestion.objects.filter(message=message).first()
    canned_only = tuple(
        Suggestion.from_stored(c)
        for c in (stored.candidates if stored else [])
        if c.get("canned_reply_id")
    )
    more = suggest(
        replace(context, candidates=canned_only),
        threshold=policy.confidence_threshold,
        slow=True,
    )
    if more:
        draft_actions.store_suggestions(
            message=message, language=context.language, found=more, append=True
        )
    return f"{len(more)} slow drafts"


def _auto_send(conversation: Any, found: list[Suggestion], policy: Policy, language: str) -> str:
    from inbox.models import AutoSendRule

    if not found or not found[0].canned_reply_id:
        return ""
    best = found[0]
    rule = AutoSendRule.objects.filter(
        inbox_id=conversation.inbox_id, canned_reply_id=best.canned_reply_id
    ).first()
    if rule is None or best.score < rule.min_confidence:
        return ""
    rendered = present(
        best.as_stored(),
        conversation=conversation,
        agent=None,
        customer_language=language,
        greeting=policy.greeting,
    )
    if rendered["language_mismatch"] or (language and not best.language):
        return ""  # never send a reply in another (or an unknown) language without a person
    if "{{agent." in best.template:
        return ""  # no agent to sign it: a person sends it
    sent = draft_actions.send_automated(
        conversation=conversation,
        text=rendered["text"],
        kind="auto_send",
        throttle_hours=policy.throttle_hours,
        canned_reply_id=best.canned_reply_id,
        score=best.score,
        answers=True,
    )
    return "auto-sent" if sent else ""


def _acknowledge(conversation: Any, message: Any, policy: Policy) -> str:
    from inbox.models import Conversation, Message

    if not policy.ack_enabled:
        return ""
    inbox = conversation.inbox
    now = timezone.now()
    closed = policy.ack_outside_hours and not hours.is_open(inbox.business_hours, now)
    first = (
        policy.ack_first_contact
        and not Conversation.objects.filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .exists()
        and not Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INCOMING, id__lt=message.pk
        ).exists()
    )
    if not (closed or first):
        return ""
    wait = hours.describe_wait(inbox.business_hours, now) if closed else "shortly"
    filled = canned.values(contact=conversation.contact, inbox=inbox, conversation=conversation)
    text = canned.render(policy.ack_text.replace("{{reply_eta}}", wait), filled)
    sent = draft_actions.send_automated(
        conversation=conversation,
        text=text,
        kind="acknowledgement",
        throttle_hours=policy.throttle_hours,
    )
    return "acknowledged" if sent else ""
