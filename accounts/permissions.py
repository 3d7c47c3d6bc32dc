from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def is_admin(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role == "admin")


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-out visitors go to sign-in; signed-in agents get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("Only admins can open this page.")
        return view(request, *args, **kwargs)

    return wrapper


class IsAdminRole(BasePermission):
    message = "Only admins can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_admin(request.user)
