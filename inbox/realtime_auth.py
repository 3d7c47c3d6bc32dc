"""Who is on the other end of a websocket.

- Browsers authenticate with the session cookie; their `Origin` must be one of
  ALLOWED_HOSTS (Channels' AllowedHostsOriginValidator), which stops other sites from
  opening a socket with the agent's cookie.
- API clients send a personal token (`Authorization: Bearer …`, or `?token=` where a
  client cannot set headers). No cookie is involved, so no origin check is needed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser


def _token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                return secret.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [None])[0]


@database_sync_to_async
def _user_for(secret: str) -> Any:
    from accounts.actions import authenticate_token

    token = authenticate_token(secret)
    return token.user if token is not None else AnonymousUser()


class AgentSocketAuth:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.browser = AllowedHostsOriginValidator(AuthMiddlewareStack(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        secret = _token(scope)
        if secret is None:
            return await self.browser(scope, receive, send)
        scope = dict(scope, user=await _user_for(secret), session=None)
        return await self.inner(scope, receive, send)
