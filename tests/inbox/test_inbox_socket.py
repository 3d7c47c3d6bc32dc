"""The agent websocket's inbox protocol over the real channel layer (Redis in `make test`):
events reach members only, membership changes follow open sockets, resume replays exactly
what was missed, resync beyond retention, ephemeral frames, and bad frames."""

from __future__ import annotations

import asyncio
import json

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.actions import create_api_token
from accounts.models import User
from accounts.origin import SYSTEM
from inbox import actions
from inbox.asgi import application
from inbox.models import Event
from tests.factories import AdminFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest_asyncio.fixture(autouse=True)
async def _close_db_connections():
    yield
    await sync_to_async(connections.close_all)()


async def open_socket(user: User) -> tuple[WebsocketCommunicator, dict]:
    """Connect as `user` with an API token (the header path; browsers use the cookie)."""
    _, secret = await sync_to_async(create_api_token)(user=user, name="ws", origin=SYSTEM)
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    return communicator, hello


async def next_frame(communicator: WebsocketCommunicator, kind: str | None = None) -> dict:
    while True:
        frame = await communicator.receive_json_from(timeout=5)
        if kind is None or frame.get("kind", frame.get("type")) == kind:
            return frame


def setup_world():
    admin = AdminFactory()
    ana, ben, outsider = UserFactory(name="Ana"), UserFactory(name="Ben"), UserFactory()
    inbox = actions.create_inbox(
        name="Support", kind="api", actor=admin, origin=SYSTEM, members=[ana, ben]
    )
    return admin, ana, ben, outsider, inbox


def customer_writes(inbox, text: str, sender: str = "c1"):
    return actions.receive_inbound_message(
        inbox=inbox, identity=actions.IdentityInput(kind="external", value=sender), text=text
    )


async def test_events_reach_members_only() -> None:
    _, ana, _, outsider, inbox = await sync_to_async(setup_world)()
    ana_socket, hello = await open_socket(ana)
    assert hello["inbox_ids"] == [inbox.pk]
    assert hello["streams"] == {f"inbox:{inbox.pk}": 0, f"user:{ana.pk}": 0}
    outsider_socket, hello = await open_socket(outsider)
    assert hello["inbox_ids"] == []

    result = await sync_to_async(customer_writes)(inbox, "Is anyone there?")
    created = await next_frame(ana_socket, "conversation.created")
    assert created["stream"] == f"inbox:{inbox.pk}" and created["seq"] == 1
    assert created["payload"]["conversation"]["id"] == result.conversation.pk
    message = await next_frame(ana_socket, "message.created")
    assert message["payload"]["message"]["text"] == "Is anyone there?"
    assert message["id"] == created["id"] + 1 and message["seq"] == created["seq"] + 1
    assert await outsider_socket.receive_nothing(timeout=0.5)
    await ana_socket.disconnect()
    await outsider_socket.disconnect()


async def test_membership_change_takes_effect_on_an_open_socket() -> None:
    admin, _, _, outsider, inbox = await sync_to_async(setup_world)()
    socket, _ = await open_socket(outsider)
    await sync_to_async(actions.set_inbox_access)(
        inbox=inbox, users=[outsider], teams=[], actor=admin, origin=SYSTEM
    )
    frame = await next_frame(socket, "inboxes")
    assert frame == {"type": "inboxes", "inbox_ids": [inbox.pk], "gained": [inbox.pk]}
    await sync_to_async(customer_writes)(inbox, "now you see me")
    assert (await next_frame(socket, "message.created"))["payload"]["message"]["text"] == (
        "now you see me"
    )
    await sync_to_async(actions.set_inbox_access)(
        inbox=inbox, users=[], teams=[], actor=admin, origin=SYSTEM
    )
    assert (await next_frame(socket, "inboxes"))["inbox_ids"] == []
    await sync_to_async(customer_writes)(inbox, "now you don't")
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_resume_replays_exactly_the_missed_events() -> None:
    _, ana, _, _, inbox = await sync_to_async(setup_world)()
    socket, _ = await open_socket(ana)
    await sync_to_async(customer_writes)(inbox, "first")
    await next_frame(socket, "conversation.created")
    last_seen = (await next_frame(socket, "message.created"))["id"]
    await socket.disconnect()

    # While Ana is away: two more messages (one new conversation).
    await sync_to_async(customer_writes)(inbox, "second")
    await sync_to_async(customer_writes)(inbox, "other customer", "c2")
    missed = await sync_to_async(
        lambda: list(
            Event.objects.filter(id__gt=last_seen, stream=f"inbox:{inbox.pk}").values_list(
                "id", flat=True
            )
        )
    )()

    socket, _ = await open_socket(ana)
    await socket.send_json_to({"resume_from": last_seen})
    replayed = []
    while True:
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] == "resumed":
            break
        replayed.append(frame["id"])
    assert replayed == missed and frame["replayed"] == len(missed)
    # And live events continue after the replay without duplicates.
    await sync_to_async(customer_writes)(inbox, "third")
    live = await next_frame(socket, "message.created")
    assert live["id"] > missed[-1]
    await socket.disconnect()


async def test_resume_beyond_retention_asks_for_a_resync() -> None:
    _, ana, _, _, inbox = await sync_to_async(setup_world)()
    for n in range(3):
        await sync_to_async(customer_writes)(inbox, f"m{n}")
    oldest = await sync_to_async(lambda: Event.objects.order_by("id").first().id)()
    await sync_to_async(lambda: Event.objects.filter(id__lte=oldest + 1).delete())()  # pruned
    socket, _ = await open_socket(ana)
    await socket.send_json_to({"resume_from": oldest - 1})
    assert await socket.receive_json_from(timeout=5) == {"type": "resync"}
    await socket.disconnect()


async def test_typing_and_viewing_reach_other_agents_rate_limited() -> None:
    _, ana, ben, outsider, inbox = await sync_to_async(setup_world)()
    conversation = (await sync_to_async(customer_writes)(inbox, "hi")).conversation
    ana_socket, _ = await open_socket(ana)
    ben_socket, _ = await open_socket(ben)
    arrived = await next_frame(ana_socket, "presence")  # Ana's own arrival may share it
    assert ben.pk in [a["user_id"] for a in arrived["agents"]]
    outsider_socket, _ = await open_socket(outsider)

    await ana_socket.send_json_to(
        {"type": "viewing", "conversation_id": conversation.pk, "state": "opened"}
    )
    # (Ana's own "online" may reach Ben first: with Redis pub/sub a process hands a group
    # message to the sockets in the group when it arrives, which can be after Ben joined.)
    assert await next_frame(ben_socket, "viewing") == {
        "type": "viewing",
        "conversation_id": conversation.pk,
        "state": "opened",
        "user": {"id": ana.pk, "name": "Ana"},
    }
    for _ in range(30):  # a burst of typing frames
        await ana_socket.send_json_to(
            {"type": "typing", "conversation_id": conversation.pk, "state": "start"}
        )
    frame = await ben_socket.receive_json_from(timeout=5)
    assert frame["type"] == "typing" and frame["state"] == "start"
    assert await ben_socket.receive_nothing(timeout=0.5)  # the rest were not fanned out
    assert await ana_socket.receive_nothing(timeout=0.2)  # nothing echoed to the sender
    assert await outsider_socket.receive_nothing(timeout=0.2)

    # The outsider cannot type into a conversation they cannot see.
    await outsider_socket.send_json_to(
        {"type": "typing", "conversation_id": conversation.pk, "state": "start"}
    )
    assert (await outsider_socket.receive_json_from(timeout=5))["type"] == "error"
    for socket in (ana_socket, ben_socket, outsider_socket):
        await socket.disconnect()


async def test_malformed_frames_get_an_error_and_the_socket_stays_up() -> None:
    _, ana, _, _, _ = await sync_to_async(setup_world)()
    socket, _ = await open_socket(ana)
    for bad in [
        "not json",
        "[1, 2]",
        json.dumps({"type": "dance"}),
        json.dumps({"resume_from": "yesterday"}),
        json.dumps({"type": "typing", "conversation_id": "x", "state": "start"}),
    ]:
        await socket.send_to(text_data=bad)
        frame = await socket.receive_json_from(timeout=5)
        assert frame["type"] == "error" and frame["error"]
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    await socket.disconnect()


async def test_bad_token_is_refused() -> None:
    communicator = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"authorization", b"Bearer prl_nope")]
    )
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4001


async def test_presence_many_agents_arrive_in_one_frame_per_inbox() -> None:
    # A reconnect storm (every agent at once after a deploy) must not cost a frame per
    # agent per arrival: the process batches presence changes for a second.
    admin = await sync_to_async(AdminFactory)()
    watcher = await sync_to_async(UserFactory)(name="Watcher")
    others = [await sync_to_async(UserFactory)(name=f"Agent {n}") for n in range(5)]
    await sync_to_async(actions.create_inbox)(
        name="Busy", kind="api", actor=admin, origin=SYSTEM, members=[watcher, *others]
    )
    watching, _ = await open_socket(watcher)
    await asyncio.sleep(1.2)  # the watcher's own arrival goes out first
    while not await watching.receive_nothing(timeout=0.1):
        await watching.receive_json_from()
    sockets = [(await open_socket(user))[0] for user in others]
    frame = await next_frame(watching, "presence")
    assert sorted(a["user_id"] for a in frame["agents"]) == sorted(u.pk for u in others)
    assert await watching.receive_nothing(timeout=1.5)  # not one frame per agent
    for socket in sockets:
        await socket.disconnect()
    await watching.disconnect()


async def test_presence_online_and_offline() -> None:
    _, ana, ben, _, inbox = await sync_to_async(setup_world)()
    ben_socket, _ = await open_socket(ben)
    ana_socket, _ = await open_socket(ana)
    frame = await next_frame(ben_socket, "presence")
    while ana.pk not in [a["user_id"] for a in frame["agents"]]:  # Ben's own may come first
        frame = await next_frame(ben_socket, "presence")
    assert {"user_id": ana.pk, "online": True, "availability": "offline"} in frame["agents"]

    def agents() -> dict[int, bool]:
        from django.test import Client

        client = Client()
        client.force_login(ben)
        rows = client.get(f"/api/v1/agents/?inbox={inbox.pk}").json()["results"]
        return {row["id"]: row["online"] for row in rows}

    assert (await sync_to_async(agents)())[ana.pk] is True
    second, _ = await open_socket(ana)  # a second tab: no new announcement
    await second.disconnect()
    assert await ben_socket.receive_nothing(timeout=1.5)
    await ana_socket.disconnect()
    frame = await next_frame(ben_socket, "presence")
    assert frame["agents"] == [{"user_id": ana.pk, "online": False, "availability": "offline"}]
    assert (await sync_to_async(agents)())[ana.pk] is False
    await ben_socket.disconnect()
