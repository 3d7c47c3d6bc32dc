from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.permissions import is_admin


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "product_name": settings.SITE_NAME,
        "user_is_admin": is_admin(getattr(request, "user", None)),
    }
