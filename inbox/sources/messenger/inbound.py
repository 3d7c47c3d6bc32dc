"""Messenger webhook deliveries (`object: "page"`) into messages: see receiving.py, shared
with Instagram, for what each event becomes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inbox.models import ProviderEvent
from inbox.sources.messenger import receiving
from inbox.sources.messenger.platform import MESSENGER

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText


def process(event: ProviderEvent) -> None:
    receiving.process(event, MESSENGER)


def plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    return receiving.plain_texts(event, MESSENGER)
