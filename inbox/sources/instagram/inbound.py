"""Instagram webhook deliveries (`object: "instagram"`) into messages. Instagram direct
messages are Meta's Messenger Platform too: inbox/sources/messenger/receiving.py does the
work for both, with Instagram's differences (echoes in the `messages` field, unsent
messages, story mentions and replies, shared posts and reels, seen by `mid`)."""

from __future__ import annotations

from inbox.models import ProviderEvent
from inbox.sources.messenger.platform import INSTAGRAM
from inbox.sources.messenger.receiving import process as process_delivery


def process(event: ProviderEvent) -> None:
    process_delivery(event, INSTAGRAM)
