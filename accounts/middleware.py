from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import User

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class ActiveUserMiddleware:
    """Signs out a deactivated user on their next request (their session rows are already
    gone; this covers a request racing the deactivation), shows times in the user's time
    zone, and keeps `last_seen_at` fresh without writing on every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        # A deactivated user is never authenticated here: ModelBackend.get_user() refuses
        # inactive users, and their session rows are deleted at deactivation anyway.
        if user.is_authenticated:
            assert isinstance(user, User)
            _activate_time_zone(user.time_zone)
            now = timezone.now()
            if user.last_seen_at is None or now - user.last_seen_at > LAST_SEEN_RESOLUTION:
                User.objects.filter(pk=user.pk).update(last_seen_at=now)
                user.last_seen_at = now
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _activate_time_zone(name: str) -> None:
    """Show times in the user's own zone."""
    try:
        timezone.activate(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.deactivate()
