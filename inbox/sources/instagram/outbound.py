"""Agents' replies to Instagram direct messages, through the Messenger Platform's Send API
with the linked Page's access token (inbox/sources/messenger/sending.py). Instagram's
limits: 1000 bytes of text; images (PNG, JPEG, GIF) up to 8 MB; video, audio and PDF files
up to 25 MB."""

from __future__ import annotations

from inbox.models import Message
from inbox.sources.messenger.platform import INSTAGRAM
from inbox.sources.messenger.sending import deliver as send


def deliver(message: Message) -> str:
    return send(message, INSTAGRAM)
