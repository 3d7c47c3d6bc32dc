"""The webhook Telegram calls for a bot's updates: `/sources/telegram/<inbox public id>/`.
The secret token set with `setWebhook` must come back in `X-Telegram-Bot-Api-Secret-Token`
(compared in constant time); a wrong or missing one is 401 and nothing is stored. A valid
delivery is kept and answered at once; the worker parses it."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from inbox.models import Inbox
from inbox.sources.webhooks import Door, door_view, refusal, secrets_match

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def check(request: HttpRequest, inbox: Inbox) -> HttpResponse | None:
    expected = str(inbox.get_secrets().get("webhook_secret") or "")
    if not secrets_match(expected, request.headers.get(SECRET_HEADER, "")):
        return refusal("Wrong or missing secret token.", 401)
    try:
        update = json.loads(request.body)
    except ValueError:
        return refusal("The body is not JSON.", 400)
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return refusal("Not a Telegram update (no update_id).", 400)
    return None


webhook = door_view(Door(Inbox.Kind.TELEGRAM, check, answer=lambda: JsonResponse({"ok": True})))
