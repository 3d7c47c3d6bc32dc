"""The messaging apps' rules on what a business may send, checked by the server before a
reply is queued (so an agent is told at once, instead of the provider failing it later) and
shown to agents in the conversation (`reply_rules()` is part of the conversation's payload).

- WhatsApp, Messenger and Instagram: a 24-hour customer-service window opens each time the
  customer writes. Outside it, WhatsApp takes only approved templates; Messenger and
  Instagram take a free-form message only with a message tag: HUMAN_AGENT (up to 7 days
  after the customer wrote, when the inbox has the Human Agent permission) and, on Messenger,
  the non-promotional update tags at any time.
- SMS: nothing goes to a number that opted out of this inbox (STOP).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.timesince import timesince

from inbox.models import Conversation, Inbox, SmsOptOut

WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
WINDOW_KINDS = {Inbox.Kind.WHATSAPP, Inbox.Kind.MESSENGER, Inbox.Kind.INSTAGRAM}
# Messenger's update tags (https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags)
MESSENGER_UPDATE_TAGS = {
    "CONFIRMED_EVENT_UPDATE": "Confirmed event update",
    "POST_PURCHASE_UPDATE": "Post-purchase update",
    "ACCOUNT_UPDATE": "Account update",
}
HUMAN_AGENT = "HUMAN_AGENT"


@dataclass(frozen=True)
class Window:
    closes_at: datetime | None  # None: the customer never wrote

    def is_open(self, now: datetime | None = None) -> bool:
        return self.closes_at is not None and (now or timezone.now()) < self.closes_at


def window(conversation: Conversation) -> Window | None:
    """The 24-hour window of a WhatsApp, Messenger or Instagram conversation; None for
    sources without one."""
    if conversation.inbox.kind not in WINDOW_KINDS:
        return None
    last = conversation.last_customer_message_at
    return Window(last + WINDOW if last else None)


def possible_tags(conversation: Conversation) -> dict[str, tuple[str, datetime | None]]:
    """The message tags of this conversation's platform: tag → (label, usable until, or
    None for no limit). Messenger and Instagram only."""
    kind = conversation.inbox.kind
    if kind not in (Inbox.Kind.MESSENGER, Inbox.Kind.INSTAGRAM):
        return {}
    tags: dict[str, tuple[str, datetime | None]] = {}
    last = conversation.last_customer_message_at
    if last and (conversation.inbox.settings or {}).get("human_agent_tag"):
        tags[HUMAN_AGENT] = (
            "Human agent (up to 7 days after the customer wrote)",
            last + HUMAN_AGENT_WINDOW,
        )
    if kind == Inbox.Kind.MESSENGER:
        tags.update({tag: (label, None) for tag, label in MESSENGER_UPDATE_TAGS.items()})
    return tags


def allowed_tags(conversation: Conversation, now: datetime | None = None) -> set[str]:
    """The message tags an agent may use in this conversation now."""
    now = now or timezone.now()
    return {
        tag
        for tag, (_label, until) in possible_tags(conversation).items()
        if until is None or now < until
    }


def opted_out(conversation: Conversation) -> bool:
    if conversation.inbox.kind != Inbox.Kind.SMS:
        return False
    phone = conversation.contact.phone
    return bool(phone) and SmsOptOut.objects.filter(inbox=conversation.inbox, phone=phone).exists()


def refusal(conversation: Conversation, *, template: bool = False, tag: str = "") -> str | None:
    """Why the platform will not take this send now, or None. `template`: an approved
    WhatsApp template; `tag`: a message tag (Messenger, Instagram)."""
    if opted_out(conversation):
        return (
            "This number has opted out of messages from this inbox (they sent STOP). "
            "Nothing can be sent until they text START."
        )
    current = window(conversation)
    if current is None or template:
        return None
    if current.is_open():
        return None
    when = (
        f"closed {timesince(current.closes_at)} ago"
        if current.closes_at
        else "is not open: the customer has not written yet"
    )
    if conversation.inbox.kind == Inbox.Kind.WHATSAPP:
        return (
            f"The 24-hour window {when}. WhatsApp only takes approved templates until the "
            "customer writes again."
        )
    if tag and tag in allowed_tags(conversation):
        return None
    return (
        f"The 24-hour window {when}. Choose a message tag the platform allows, or wait for "
        "the customer to write again."
    )


def reply_rules(conversation: Conversation) -> dict[str, Any] | None:
    """What the composer needs to show the window and what may be sent outside it; None
    for sources without a window. The browser compares the times with its clock."""
    current = window(conversation)
    if current is None:
        return None
    return {
        "window_closes_at": current.closes_at.isoformat() if current.closes_at else None,
        "templates": conversation.inbox.kind == Inbox.Kind.WHATSAPP,
        "tags": [
            {"tag": tag, "label": label, "until": until.isoformat() if until else None}
            for tag, (label, until) in possible_tags(conversation).items()
        ],
    }
