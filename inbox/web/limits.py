"""Refuse request bodies over REQUEST_MAX_MB before anything reads them (413, with the
limit in the answer). Django's own limit does not cover bodies DRF parsers stream."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.REQUEST_MAX_BYTES
        if length > limit:
            return JsonResponse(
                {
                    "detail": f"Request body too large: the limit is {limit // (1024 * 1024)} MB.",
                    "limit_bytes": limit,
                },
                status=413,
            )
        return self.get_response(request)
