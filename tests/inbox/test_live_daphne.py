"""The realtime protocol end to end, the way production runs it: a real Daphne process on
the Redis channel layer, a real `websockets` client authenticated with an API token, and
a write committed by another process (this test) reaching it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import websockets
from django.db import connections

from accounts.actions import create_api_token
from accounts.origin import SYSTEM
from inbox import actions
from tests.factories import AdminFactory, UserFactory
from tests.servers import daphne, scaled_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def daphne_url():
    with daphne(scaled_env()) as base:
        yield base.replace("http://", "ws://") + "/ws/agent/"


def test_event_reaches_a_real_client_through_redis(daphne_url) -> None:
    admin = AdminFactory()
    agent = UserFactory(name="Ana")
    inbox = actions.create_inbox(
        name="Support", kind="api", actor=admin, origin=SYSTEM, members=[agent]
    )
    _, secret = create_api_token(user=agent, name="ws", origin=SYSTEM)

    def customer_writes() -> None:
        try:
            actions.receive_inbound_message(
                inbox=inbox,
                identity=actions.IdentityInput(kind="external", value="c-1"),
                text="Hello?",
            )
        finally:
            connections.close_all()  # this thread's connection must not outlive the test

    async def session() -> tuple[dict, dict, float]:
        async with websockets.connect(
            daphne_url, additional_headers={"Authorization": f"Bearer {secret}"}
        ) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            started = time.monotonic()
            await asyncio.to_thread(customer_writes)
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("kind") == "message.created":
                    return hello, frame, time.monotonic() - started

    hello, frame, elapsed = asyncio.run(session())
    assert hello["inbox_ids"] == [inbox.pk]
    assert frame["payload"]["message"]["text"] == "Hello?"
    assert elapsed < 5
