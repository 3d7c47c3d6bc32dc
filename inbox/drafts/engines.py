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
    agent: Any  # None when computed in the background for every agent of the inbox
    language: str = ""  # detected language of the customer's text ("en", "fr", …; "" unsure)
    # The recent thread, oldest first: ("customer" | "agent", text). No private notes.
    thread: tuple[tuple[str, str], ...] = ()
    tone: str = ""  # the inbox's tone setting, for engines that write
    # What the fast engines found, for engines that build on them (the language model).
    candidates: tuple[Suggestion, ...] = ()
    # Computed while someone waits (a web request), not in the background: an engine whose
    # per-process index is not built yet skips rather than build it here.
    interactive: bool = False


@dataclass(frozen=True)
class Suggestion:
    # The draft body; may hold canned-reply variables ({{contact.first_name|there}}), filled
    # for the agent who sees it (inbox/drafts/present.py).
    template: str
    score: float  # 0..1, comparable across engines
    engine: str
    reason: str  # shown to the agent: why this draft
    canned_reply_id: int | None = None
    language: str = ""  # the draft's language, when known
    extra: dict[str, Any] = field(default_factory=dict)

    def as_stored(self) -> dict[str, Any]:
        """As kept in `DraftSuggestion.candidates`."""
        return {
            "template": self.template,
            "score": self.score,
            "engine": self.engine,
            "reason": self.reason,
            "canned_reply_id": self.canned_reply_id,
            "language": self.language,
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Suggestion:
        return cls(
            template=stored["template"],
            score=stored["score"],
            engine=stored["engine"],
            reason=stored["reason"],
            canned_reply_id=stored.get("canned_reply_id"),
            language=stored.get("language") or "",
        )


class Engine(Protocol):
    name: str
    slow: bool  # slow engines (a remote model) run after the fast ones have been shown

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]: ...


def engines(*, slow: bool | None = None) -> list[Engine]:
    """The configured engines (DRAFT_ENGINES); only the slow or only the fast ones."""
    found = [import_string(path)() for path in settings.DRAFT_ENGINES]
    if slow is None:
        return found
    return [engine for engine in found if bool(getattr(engine, "slow", False)) == slow]


def suggest(
    context: DraftContext,
    *,
    limit: int = 3,
    threshold: float | None = None,
    slow: bool | None = False,
) -> list[Suggestion]:
    """The best suggestions of the engines (the fast ones unless `slow`), above the
    confidence threshold, best first. An engine that fails is skipped (and logged): the
    others are still shown. Nothing for an empty message (an image alone)."""
    floor = settings.DRAFT_CONFIDENCE_THRESHOLD if threshold is None else threshold
    if not context.text.strip():
        return []
    found: list[Suggestion] = []
    for engine in engines(slow=slow):
        try:
            found.extend(engine.suggest(context, limit))
        except Exception:
            logger.exception("draft engine %s failed", getattr(engine, "name", engine))
    found = [s for s in found if s.score >= floor]
    found.sort(key=lambda s: -s.score)
    unique: list[Suggestion] = []
    for suggestion in found:
        # Two engines proposing the same canned reply: keep the stronger one.
        if suggestion.canned_reply_id and any(
            suggestion.canned_reply_id == kept.canned_reply_id for kept in unique
        ):
            continue
        unique.append(suggestion)
    return unique[:limit]


def customer_text(message: Any) -> str:
    """What the customer wrote in a message, without quoted history; empty for an
    automated email (an auto-reply or a bounce)."""
    email = (message.data or {}).get("email") or {}
    if email.get("automated"):
        return ""
    return str(email.get("new_text") or message.text or "")


def context_for(
    conversation: Any,
    agent: Any,
    *,
    language: str | None = None,
    tone: str = "",
    interactive: bool = False,
) -> DraftContext:
    """What engines read for a conversation: the customer's words since our last reply
    (at most the last three messages, without quoted history), and the recent thread."""
    from inbox.drafts.language import detect
    from inbox.models import Message

    recent = list(
        Message.objects.filter(conversation=conversation, kind=Message.Kind.MESSAGE)
        .order_by("-id")
        .only("id", "direction", "text", "data")[:10]
    )
    recent.reverse()
    unanswered: list[str] = []
    for message in recent:
        if message.direction == Message.Direction.INCOMING:
            unanswered.append(customer_text(message))
        else:
            unanswered = []
    text = "\n".join(part for part in unanswered[-3:] if part.strip())
    thread = tuple(
        (
            "customer" if m.direction == Message.Direction.INCOMING else "agent",
            customer_text(m) if m.direction == Message.Direction.INCOMING else m.text,
        )
        for m in recent
    )
    if language is None:
        language = detect(text)[0] if text.strip() else ""
    return DraftContext(
        text=text,
        subject=conversation.subject,
        conversation=conversation,
        agent=agent,
        language=language,
        thread=thread,
        tone=tone,
        interactive=interactive,
    )
