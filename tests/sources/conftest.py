"""Fixtures of the source tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port


class Sink:
    """Records each message; answers DATA with the queued replies, then 250."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.replies: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def email_inbox(db: None, sink: tuple[Sink, int]) -> Any:
    """An email inbox sending through the SMTP sink."""
    from accounts.origin import SYSTEM
    from inbox import actions
    from tests.factories import AdminFactory

    _, port = sink
    return actions.create_inbox(
        name="Acme Support",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={
            "address": "support@acme.example",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "signature": "Acme Support · acme.example",
        },
    )
