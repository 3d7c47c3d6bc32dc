"""Does this customer message need a person? The checks of an inbox's human-touch policy
(inbox/policy.py): a VIP or high-value contact, a request for a person, an angry tone, a
vulnerable customer, a repeat contact about the same thing, or a keyword the admins chose.
Each reason is a short sentence agents see on the conversation's badge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import inbox.drafts.signals as signals
from inbox.drafts.lexical import tokens
from inbox.policy import Policy

VULNERABLE = {
    "bereavement": "Bereavement mentioned",
    "illness": "Illness mentioned",
    "fraud": "Possible fraud",
    "financial hardship": "Financial hardship mentioned",
}


def assess(*, text: str, conversation: Any, message: Any, policy: Policy) -> list[str]:
    """The reasons this conversation needs a person (empty: it does not)."""
    reasons: list[str] = []
    contact = conversation.contact
    if policy.flag_vip and contact.is_vip:
        reasons.append("VIP contact")
    attributes = contact.custom_attributes or {}
    for key, value in policy.segment_pairs():
        if str(attributes.get(key, "")).strip().lower() == value.lower():
            reasons.append(f"High-value segment ({key} = {value})")
    if text.strip():
        if policy.flag_person_request:
            phrase = signals.asks_for_person(text)
            if phrase:
                reasons.append(f"Asks for a person (“{phrase}”)")
        if policy.flag_negative and signals.is_angry(text):
            reasons.append("Angry or very negative tone")
        if policy.flag_vulnerable:
            category = signals.vulnerability(text)
            if category:
                reasons.append(VULNERABLE.get(category, category.capitalize()))
        for keyword in signals.matching_keywords(text, policy.keywords):
            reasons.append(f"Keyword “{keyword}”")
    if policy.repeat_hours:
        repeat = _repeat_of(conversation, message, text, policy.repeat_hours)
        if repeat:
            reasons.append(repeat)
    return reasons


def _similar(a: str, b: str) -> bool:
    left, right = set(tokens(a)), set(tokens(b))
    if not left or not right:
        return False
    return len(left & right) / len(left | right) >= 0.3


def _repeat_of(conversation: Any, message: Any, text: str, hours: int) -> str:
    """A repeat contact: the customer wrote about the same thing in another conversation
    within `hours`, or wrote again within `hours` of this one being resolved."""
    from inbox.models import Conversation, Message

    since = message.created_at - timedelta(hours=hours)
    if conversation.resolved_at and conversation.resolved_at >= since:
        # Only the message that reopened it, and only about the same thing (not “thanks!”).
        earlier = Message.objects.filter(
            conversation=conversation, direction=Message.Direction.INCOMING, id__lt=message.pk
        )
        reopened = not earlier.filter(created_at__gt=conversation.resolved_at).exists()
        before = earlier.filter(created_at__lte=conversation.resolved_at).order_by("-id")
        if reopened and any(
            _similar(text, words) for words in before.values_list("text", flat=True)[:3]
        ):
            return f"Wrote again about the same thing within {hours} h of being resolved"
    others = (
        Conversation.objects.filter(contact_id=conversation.contact_id, last_activity_at__gte=since)
        .exclude(pk=conversation.pk)
        .order_by("-last_activity_at")[:5]
    )
    mine = f"{conversation.subject} {text}"
    for other in others:
        asked = (
            Message.objects.filter(
                conversation=other,
                direction=Message.Direction.INCOMING,
                kind=Message.Kind.MESSAGE,
                created_at__gte=since,
            )
            .order_by("-id")
            .values_list("text", flat=True)[:3]
        )
        if any(_similar(mine, f"{other.subject} {words}") for words in asked):
            return f"Repeat contact about the same thing within {hours} h (#{other.number})"
    return ""
