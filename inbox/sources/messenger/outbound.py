"""Agents' replies to Messenger: see sending.py, shared with Instagram."""

from __future__ import annotations

from inbox.models import Message
from inbox.sources.messenger.platform import MESSENGER
from inbox.sources.messenger.sending import deliver as send


def deliver(message: Message) -> str:
    return send(message, MESSENGER)
