"""The engine interface and the combination of engines."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DraftContext:
    """What an engine may read: the customer's latest words (without quoted history) and
    the subject, the conversation, and the agent the draft is for."""

    text: str
    subject: str
    conversation: Any
    agent: Any


@dataclass
class Suggestion:
    text: str  # rendered for this conversation (variables filled)
    score: float  # 0..1, comparable across engines
    engine: str
    reason: str  # shown to the agent: why this draft
    canned_reply_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]: ...


def engines() -> list[Engine]:
    return [import_string(path)() for path in settings.DRAFT_ENGINES]


def suggest(
    context: DraftContext, *, limit: int = 3, threshold: float | None = None
) -> list[Suggestion]:
    """The best suggestions of every engine, above the confidence threshold, best first. An
    engine that fails is skipped (and logged): the others are still shown."""
    floor = settings.DRAFT_CONFIDENCE_THRESHOLD if threshold is None else threshold
    if not context.text.strip() and not context.subject.strip():
        return []  # nothing to answer (an image alone, an empty message)
    found: list[Suggestion] = []
    for engine in engines():
        try:
            found.extend(engine.suggest(context, limit))
        except Exception:
            logger.exception("draft engine %s failed", getattr(engine, "name", engine))
    found = [s for s in found if s.score >= floor]
    found.sort(key=lambda s: -s.score)
    return found[:limit]


def context_for(conversation: Any, agent: Any) -> DraftContext:
    """The latest customer message of a conversation (its new part, without quoted history)
    as engines read it."""
    from inbox.models import Message

    last = (
        Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.INCOMING,
            kind=Message.Kind.MESSAGE,
        )
        .order_by("-id")
        .first()
    )
    text = ""
    if last is not None:
        email = (last.data or {}).get("email") or {}
        if not email.get("automated"):
            text = email.get("new_text") or last.text
    return DraftContext(
        text=text, subject=conversation.subject, conversation=conversation, agent=agent
    )
