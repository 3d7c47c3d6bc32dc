"""The webhook Telegram calls for a bot's updates: `/sources/telegram/<inbox public id>/`.
The secret token set with `setWebhook` must come back in `X-Telegram-Bot-Api-Secret-Token`
(compared in constant time); a wrong or missing one is 401 and nothing is stored. A valid
delivery is kept and answered at once; the worker parses it."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbox.models import Inbox
from inbox.sources.webhooks import MAX_BODY_BYTES, secrets_match, store_event

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, inbox_id: Any) -> HttpResponse:
    inbox = Inbox.objects.filter(
        public_id=inbox_id, kind=Inbox.Kind.TELEGRAM, is_active=True
    ).first()
    if inbox is None:
        return JsonResponse({"detail": "No such inbox."}, status=404)
    expected = str(inbox.get_secrets().get("webhook_secret") or "")
    if not secrets_match(expected, request.headers.get(SECRET_HEADER, "")):
        return JsonResponse({"detail": "Wrong or missing secret token."}, status=401)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return JsonResponse({"detail": "Update too large."}, status=413)
    try:
        update = json.loads(body)
    except ValueError:
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return JsonResponse({"detail": "Not a Telegram update (no update_id)."}, status=400)
    store_event(inbox, body)
    return JsonResponse({"ok": True})
