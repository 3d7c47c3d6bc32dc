"""The visitor websocket, /ws/widget/, over the real channel layer (Redis in `make test`):
origin and token checks, only the visitor's own conversation and only what a customer may
see (no notes, no activity lines, no agents' addresses), resume after a disconnect replays
exactly what was missed, typing both ways, presence for agents, bad frames."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.actions import create_api_token
from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions import widget as visitor_actions
from inbox.asgi import application
from tests.factories import AdminFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SITE = "https://shop.example.com"


@pytest_asyncio.fixture(autouse=True)
async def _close_db_connections():
    yield
    await sync_to_async(connections.close_all)()


def world() -> dict[str, Any]:
    agent = UserFactory(name="Ben Agent", email="ben.private@example.com")
    inbox = actions.create_inbox(
        name="Shop chat",
        kind="widget",
        actor=AdminFactory(),
        origin=SYSTEM,
        members=[agent],
        settings={"widget": {"allowed_origins": [SITE]}},
    )
    visitor, token = visitor_actions.start_session(inbox=inbox)
    first = visitor_actions.visitor_writes(visitor=visitor, text="Hello, anyone there?")
    other, other_token = visitor_actions.start_session(inbox=inbox)
    visitor_actions.visitor_writes(visitor=other, text="I am someone else")
    conversation = first.conversation
    return {
        "agent": agent,
        "inbox": inbox,
        "visitor": visitor,
        "token": token,
        "other_token": other_token,
        "conversation": conversation,
    }


async def visitor_socket(
    inbox: Any, token: str, *, origin: str = SITE, resume_from: int | None = None
) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(
        application,
        f"/ws/widget/?inbox={inbox.public_id}",
        headers=[(b"origin", origin.encode())],
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    await communicator.send_json_to(
        {
            "type": "hello",
            "token": token,
            "resume_from": resume_from,
            "page": "https://shop.example.com/checkout",
            "title": "Checkout",
            "referrer": "https://search.example.org/",
        }
    )
    ready = await communicator.receive_json_from(timeout=5)
    assert ready["type"] == "ready", ready
    agents = await communicator.receive_json_from(timeout=5)
    assert agents["type"] == "agents"  # whether someone answers now
    return communicator, {**ready, "available": agents["available"]}


async def agent_socket(user: Any) -> WebsocketCommunicator:
    _, secret = await sync_to_async(create_api_token)(user=user, name="ws", origin=SYSTEM)
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"
    return communicator


async def frames_until(communicator: WebsocketCommunicator, wanted: str) -> list[dict]:
    seen = []
    while True:
        frame = await communicator.receive_json_from(timeout=5)
        seen.append(frame)
        if frame.get("kind", frame.get("type")) == wanted:
            return seen


async def test_the_visitor_gets_replies_but_never_notes_or_internal_lines() -> None:
    w = await sync_to_async(world)()
    socket, _ = await visitor_socket(w["inbox"], w["token"])
    agent, conversation = w["agent"], w["conversation"]

    def agent_works() -> None:
        actions.add_note(conversation=conversation, author=agent, text="internal: refund?")
        actions.assign(conversation=conversation, assignee=agent, actor=agent)
        actions.send_reply(conversation=conversation, author=agent, text="Hi! Yes, I'm here.")

    await sync_to_async(agent_works)()
    frames = await frames_until(socket, "message.created")
    [event] = [f for f in frames if f.get("type") == "event"]
    message = event["payload"]["message"]
    assert message["text"] == "Hi! Yes, I'm here." and message["from"] == "agent"
    assert event["stream"] == f"chat:{conversation.pk}"
    text = json.dumps(frames)
    assert "internal" not in text and "ben.private@example.com" not in text
    assert "assigned" not in text and "someone else" not in text
    await socket.disconnect()


async def test_resume_replays_exactly_what_was_missed() -> None:
    w = await sync_to_async(world)()
    socket, ready = await visitor_socket(w["inbox"], w["token"])
    await socket.disconnect()
    agent, conversation = w["agent"], w["conversation"]

    def while_away() -> None:
        actions.send_reply(conversation=conversation, author=agent, text="first")
        actions.add_note(conversation=conversation, author=agent, text="a note")
        actions.send_reply(conversation=conversation, author=agent, text="second")
        actions.set_status(conversation=conversation, status="resolved", actor=agent)

    await sync_to_async(while_away)()
    socket, _ = await visitor_socket(w["inbox"], w["token"], resume_from=ready["last_event_id"])
    frames = await frames_until(socket, "resumed")
    events = [f for f in frames if f.get("type") == "event"]
    replayed = [
        f["payload"]["message"]["text"] if f["kind"] == "message.created" else f["kind"]
        for f in events
        if f["kind"] != "message.updated"
    ]
    assert replayed == ["first", "second", "conversation.updated"]
    assert events[-1]["payload"]["conversation"]["status"] == "resolved"
    assert frames[-1]["replayed"] == len(events)
    await socket.disconnect()


async def test_origin_and_token_are_checked() -> None:
    w = await sync_to_async(world)()
    refused = WebsocketCommunicator(
        application,
        f"/ws/widget/?inbox={w['inbox'].public_id}",
        headers=[(b"origin", b"https://evil.example.net")],
    )
    connected, code = await refused.connect(timeout=5)
    assert not connected and code == 4003
    unknown = WebsocketCommunicator(
        application, "/ws/widget/?inbox=not-a-uuid", headers=[(b"origin", SITE.encode())]
    )
    connected, code = await unknown.connect(timeout=5)
    assert not connected and code == 4004
    socket = WebsocketCommunicator(
        application,
        f"/ws/widget/?inbox={w['inbox'].public_id}",
        headers=[(b"origin", SITE.encode())],
    )
    assert (await socket.connect(timeout=5))[0]
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"  # hello first
    await socket.send_json_to({"type": "hello", "token": "forged-token"})
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4001}


async def test_typing_goes_both_ways_and_agents_see_presence() -> None:
    w = await sync_to_async(world)()
    nobody, ready = await visitor_socket(w["inbox"], w["token"])
    assert ready["available"] is False  # no agent online
    await nobody.disconnect()
    agent = await agent_socket(w["agent"])
    socket, ready = await visitor_socket(w["inbox"], w["token"])
    assert ready["available"] is True  # Ben's socket is open
    presence = await frames_until(agent, "visitor.presence")
    assert presence[-1]["online"] is True
    assert presence[-1]["conversation_id"] == w["conversation"].pk

    await socket.send_json_to({"type": "typing", "state": "start"})
    typing = (await frames_until(agent, "visitor.typing"))[-1]
    assert typing == {
        "type": "visitor.typing",
        "conversation_id": w["conversation"].pk,
        "state": "start",
    }
    await agent.send_json_to(
        {"type": "typing", "conversation_id": w["conversation"].pk, "state": "start"}
    )
    seen = (await frames_until(socket, "typing"))[-1]
    assert seen == {"type": "typing", "state": "start", "author": {"name": "Ben Agent"}}

    await socket.send_json_to({"type": "page", "url": SITE + "/cart", "title": "Cart"})
    await frames_until(agent, "visitor.presence")
    model = type(w["visitor"])

    def stored() -> Any:
        return model.objects.get(pk=w["visitor"].pk)

    visitor = await sync_to_async(stored)()
    assert visitor.is_online and visitor.page_url == SITE + "/cart"
    assert visitor.referrer == "https://search.example.org/"
    # A page of another site is not believed (agents would get a link to it).
    await socket.send_json_to({"type": "page", "url": "https://evil.example/login"})
    await frames_until(agent, "visitor.presence")
    assert (await sync_to_async(stored)()).page_url == SITE + "/cart"
    # A second tab, then the first one closing: still online.
    second, _ = await visitor_socket(w["inbox"], w["token"])
    await socket.disconnect()
    await frames_until(agent, "visitor.presence")
    assert (await sync_to_async(stored)()).is_online
    await second.disconnect()
    gone = (await frames_until(agent, "visitor.presence"))[-1]
    assert gone["online"] is False
    assert not (await sync_to_async(stored)()).is_online

    # An agent writing a private note is not "typing" for the visitor.
    third, _ = await visitor_socket(w["inbox"], w["token"])
    await agent.send_json_to(
        {
            "type": "typing",
            "conversation_id": w["conversation"].pk,
            "state": "start",
            "mode": "note",
        }
    )
    await third.send_json_to({"type": "ping"})
    assert await third.receive_json_from(timeout=5) == {"type": "pong"}
    assert await third.receive_nothing(timeout=0.5)
    await third.disconnect()
    await agent.disconnect()


async def test_a_bad_frame_gets_an_error_and_the_socket_stays_up() -> None:
    w = await sync_to_async(world)()
    socket, _ = await visitor_socket(w["inbox"], w["token"])
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    await socket.send_json_to({"type": "typing", "state": "dancing"})
    assert (await socket.receive_json_from(timeout=5))["type"] == "error"
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=5)) == {"type": "pong"}
    for _ in range(25):
        await socket.send_json_to({"type": "ping"})
    frames = [await socket.receive_json_from(timeout=5) for _ in range(25)]
    throttled = [f for f in frames if f["type"] == "throttled"]
    assert throttled and throttled[0]["retry_after"] >= 1
    await socket.disconnect()


async def test_a_first_message_is_followed_live_on_an_open_socket() -> None:
    def fresh_visitor() -> tuple[Any, Any, str]:
        inbox = actions.create_inbox(
            name="Chat",
            kind="widget",
            actor=AdminFactory(),
            origin=SYSTEM,
            members=[UserFactory(name="Ann")],
            settings={"widget": {"allowed_origins": [SITE]}},
        )
        visitor, token = visitor_actions.start_session(inbox=inbox)
        return inbox, visitor, token

    inbox, visitor, token = await sync_to_async(fresh_visitor)()
    socket, _ = await visitor_socket(inbox, token)  # no conversation yet

    def first_message_and_answer() -> None:
        from inbox.sources.widget.consumer import tell_visitor

        result = visitor_actions.visitor_writes(visitor=visitor, text="hi")
        tell_visitor(visitor.pk, "visitor.follow")  # as the HTTP view does
        agent = inbox.members.get()
        actions.send_reply(conversation=result.conversation, author=agent, text="Hello Ann here")

    await sync_to_async(first_message_and_answer)()
    frames = await frames_until(socket, "message.created")
    texts = [f["payload"]["message"]["text"] for f in frames if f.get("kind") == "message.created"]
    while "Hello Ann here" not in texts:
        frame = await socket.receive_json_from(timeout=5)
        if frame.get("kind") == "message.created":
            texts.append(frame["payload"]["message"]["text"])
    assert texts[-1] == "Hello Ann here"
    await socket.disconnect()
