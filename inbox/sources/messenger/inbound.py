"""Messenger webhook deliveries (`object: "page"`) into messages: see receiving.py, shared
with Instagram, for what each event becomes."""

from __future__ import annotations

from inbox.models import ProviderEvent
from inbox.sources.messenger.platform import MESSENGER
from inbox.sources.messenger.receiving import process as process_delivery


def process(event: ProviderEvent) -> None:
    process_delivery(event, MESSENGER)
