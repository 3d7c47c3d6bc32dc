"""Websocket consumers. Thin: authenticate at connect, join the groups, forward events.

The agent protocol (resume, per-inbox streams) arrives with the inbox; what is here is the
part accounts rely on: a socket belongs to a signed-in, active user and closes when that
user's session ends (sign-out, password change, deactivation).
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox.events import user_group

CLOSE_UNAUTHENTICATED = 4001
CLOSE_SESSION_ENDED = 4003


class AgentConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.joined = [user_group(user.pk)]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user_id": user.pk})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def session_ended(self, message: dict[str, Any]) -> None:
        only = message.get("only_session_key")
        if only is not None and only != self.session_key:
            return
        if self.session_key in message.get("keep_session_keys", []):
            return
        await self.send_json({"type": "session.ended", "reason": message.get("reason")})
        await self.close(code=CLOSE_SESSION_ENDED)

    async def user_availability(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "user.availability", "availability": message["availability"]})
