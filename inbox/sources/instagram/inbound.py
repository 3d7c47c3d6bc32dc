"""Instagram webhook deliveries (`object: "instagram"`) into messages. Instagram direct
messages are Meta's Messenger Platform too: inbox/sources/messenger/receiving.py does the
work for both, with Instagram's differences (echoes in the `messages` field, unsent
messages, story mentions and replies, shared posts and reels, seen by `mid`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inbox.models import ProviderEvent
from inbox.sources.messenger import receiving
from inbox.sources.messenger.platform import INSTAGRAM

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText


def process(event: ProviderEvent) -> None:
    receiving.process(event, INSTAGRAM)


def plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    return receiving.plain_texts(event, INSTAGRAM)
