from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from accounts.lockout import client_ip_from_request


@dataclass(frozen=True)
class Origin:
    """Where an action came from, for the audit log."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Origin:
        return cls(
            ip_address=client_ip_from_request(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )


SYSTEM = Origin()
