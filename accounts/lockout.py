"""Hooks for django-axes (login rate limiting) and the client address we record."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip_from_request(request: HttpRequest) -> str | None:
    """The client's address. X-Forwarded-For is believed only for the number of proxies
    named in TRUSTED_PROXY_COUNT, counted from the right, so clients cannot spoof it."""
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            remote = chain[-hops]
    if remote is None:
        return None
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None


def username_from_request(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    value = ""
    if credentials:
        value = credentials.get("username") or credentials.get("email") or ""
    if not value and request.method == "POST":
        value = request.POST.get("username", "")
    return str(value).strip().lower()


def lockout_response(
    request: HttpRequest, response: Any = None, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "accounts/locked_out.html",
        {"cooloff_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
