from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

AGENT_SOCKET_PATH = "/ws/agent/"


def _app_config(request: HttpRequest) -> dict[str, Any]:
    """What the agent app (static/js/inbox/app.js) needs before its first API call."""
    user: Any = request.user
    return {
        "user": {
            "id": user.pk,
            "name": user.name,
            "role": user.role,
            "avatar_url": user.avatar.url if user.avatar else None,
            "teams": [{"id": team.pk, "name": team.name} for team in user.teams.all()],
        },
        "ws_path": AGENT_SOCKET_PATH,
        "api_root": "/api/v1/",
        "signin_url": reverse("accounts:login"),
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The agent app: conversation list, thread and contact, kept live over the socket."""
    get_token(request)  # the app sends the CSRF cookie's value with every API write
    return render(request, "web/home.html", {"nav": "inbox", "app_config": _app_config(request)})


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: answers 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
