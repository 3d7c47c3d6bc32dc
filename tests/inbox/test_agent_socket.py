"""The agent websocket's account rules: only signed-in, active users connect, and a
socket closes when its session ends (sign-out, password change, deactivation).
Runs on the Redis channel layer when REDIS_URL is set, as in `make test`."""

from __future__ import annotations

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from accounts import actions
from accounts.models import User
from accounts.origin import SYSTEM
from inbox.asgi import application
from tests.factories import PASSWORD, AdminFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest_asyncio.fixture(autouse=True)
async def _close_db_connections():
    """sync_to_async runs the ORM in a worker thread whose connection would otherwise
    outlive the test and block dropping the test database."""
    yield
    await sync_to_async(connections.close_all)()


def signed_in_cookie(user: User) -> str:
    client = Client()
    response = client.post("/accounts/signin/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client.cookies["sessionid"].value


async def connect(session_id: str | None, origin: str = "http://127.0.0.1:8000"):
    headers = [(b"origin", origin.encode())]
    if session_id:
        headers.append((b"cookie", f"sessionid={session_id}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def test_anonymous_and_foreign_origin_sockets_are_refused() -> None:
    _, connected, code = await connect(None)
    assert not connected and code == 4001
    agent = await sync_to_async(UserFactory)()
    session_id = await sync_to_async(signed_in_cookie)(agent)
    _, connected, _ = await connect(session_id, origin="https://evil.example")
    assert not connected


async def test_deactivation_closes_the_users_open_sockets() -> None:
    admin = await sync_to_async(AdminFactory)()
    agent = await sync_to_async(UserFactory)()
    bystander = await sync_to_async(UserFactory)()
    agent_sid = await sync_to_async(signed_in_cookie)(agent)
    agent_socket, connected, _ = await connect(agent_sid)
    assert connected
    hello = await agent_socket.receive_json_from(timeout=5)
    assert (hello["type"], hello["user_id"], hello["inbox_ids"]) == ("hello", agent.pk, [])
    assert hello["streams"] == {f"user:{agent.pk}": 0}
    other_socket, connected, _ = await connect(await sync_to_async(signed_in_cookie)(bystander))
    assert connected
    await other_socket.receive_json_from(timeout=5)

    await sync_to_async(actions.deactivate_user)(user=agent, actor=admin, origin=SYSTEM)

    assert await agent_socket.receive_json_from(timeout=5) == {
        "type": "session.ended",
        "reason": "deactivated",
    }
    closed = await agent_socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4003}
    # Someone else's socket stays open and working.
    await other_socket.send_json_to({"type": "ping"})
    assert await other_socket.receive_json_from(timeout=5) == {"type": "pong"}
    await other_socket.disconnect()
    # And the deactivated user cannot reconnect with the old cookie.
    _, connected, code = await connect(agent_sid)
    assert not connected and code == 4001


async def test_sign_out_closes_only_that_sessions_sockets() -> None:
    agent = await sync_to_async(UserFactory)()

    def two_sessions() -> tuple[Client, str, str]:
        laptop = Client()
        laptop.post("/accounts/signin/", {"username": agent.email, "password": PASSWORD})
        return laptop, laptop.cookies["sessionid"].value, signed_in_cookie(agent)

    laptop, laptop_sid, phone_sid = await sync_to_async(two_sessions)()
    laptop_socket, ok1, _ = await connect(laptop_sid)
    phone_socket, ok2, _ = await connect(phone_sid)
    assert ok1 and ok2
    await laptop_socket.receive_json_from(timeout=5)
    await phone_socket.receive_json_from(timeout=5)

    response = await sync_to_async(laptop.post)("/accounts/signout/")
    assert response.status_code == 302

    assert (await laptop_socket.receive_json_from(timeout=5))["reason"] == "signed_out"
    assert (await laptop_socket.receive_output(timeout=5))["code"] == 4003
    await phone_socket.send_json_to({"type": "ping"})
    assert await phone_socket.receive_json_from(timeout=5) == {"type": "pong"}
    await phone_socket.disconnect()


async def test_password_change_closes_the_other_sessions_sockets() -> None:
    agent = await sync_to_async(UserFactory)()

    def sessions() -> tuple[Client, str, str]:
        laptop = Client()
        laptop.post("/accounts/signin/", {"username": agent.email, "password": PASSWORD})
        return laptop, laptop.cookies["sessionid"].value, signed_in_cookie(agent)

    laptop, laptop_sid, phone_sid = await sync_to_async(sessions)()
    laptop_socket, _, _ = await connect(laptop_sid)
    phone_socket, _, _ = await connect(phone_sid)
    await laptop_socket.receive_json_from(timeout=5)
    await phone_socket.receive_json_from(timeout=5)

    response = await sync_to_async(laptop.post)(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "new-long-secret-1",
            "new_password2": "new-long-secret-1",
        },
    )
    assert response.status_code == 302

    assert (await phone_socket.receive_json_from(timeout=5))["reason"] == "password_changed"
    assert (await phone_socket.receive_output(timeout=5))["code"] == 4003
    await laptop_socket.send_json_to({"type": "ping"})
    assert await laptop_socket.receive_json_from(timeout=5) == {"type": "pong"}
    await laptop_socket.disconnect()


async def test_deactivation_and_sign_out_survive_a_lost_message() -> None:
    """The channel layer may drop the session.ended message; the socket of an ended
    session is still refused when it reconnects."""
    agent = await sync_to_async(UserFactory)()
    session_id = await sync_to_async(signed_in_cookie)(agent)

    def sign_out_without_publishing() -> None:
        from accounts.models import UserSession

        UserSession.objects.filter(session_key=session_id).delete()

    await sync_to_async(sign_out_without_publishing)()
    _, connected, code = await connect(session_id)
    assert not connected and code == 4001
