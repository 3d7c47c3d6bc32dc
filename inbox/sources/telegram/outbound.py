"""Agents' replies to a Telegram chat, one attempt per run of the `deliver_message` task:
`sendMessage` to the chat the customer wrote from (https://core.telegram.org/bots/api).

Telegram answers `{"ok": true, "result": {"message_id": …}}`, or `{"ok": false,
"error_code", "description", "parameters": {"retry_after"}}`. 429 and 5xx (and network
failures) are tried again with backoff, honouring `retry_after`; other errors (403 "bot was
blocked by the user", 400 "chat not found") fail the message with Telegram's words, and
the agent can retry it. The API's base URL is TELEGRAM_API_URL (a fake server in tests)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from inbox.models import ContactIdentity, Message
from inbox.sources.http import DeliveryRefused, TransientError, call

RETRY_DELAYS = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_TEXT = 4096  # Telegram's limit for one message


def _chat_id(message: Message) -> int | None:
    """The chat the customer last wrote from; for a private chat, their user id."""
    last = (
        Message.objects.filter(
            conversation_id=message.conversation_id, direction=Message.Direction.INCOMING
        )
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    chat = ((last or {}).get("telegram") or {}).get("chat_id")
    if isinstance(chat, int):
        return chat
    identity = (
        ContactIdentity.objects.filter(
            contact_id=message.conversation.contact_id, inbox_id=message.inbox_id
        )
        .values_list("value", flat=True)
        .first()
    )
    return int(identity) if identity and identity.lstrip("-").isdigit() else None


def deliver_telegram_message(message: Message) -> str:
    from inbox.actions import record_delivery_attempt, set_delivery_status
    from inbox.tasks import deliver_message

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"

    def fail(error: str) -> str:
        set_delivery_status(message=message, status=Message.Delivery.FAILED, error=error)
        return f"failed: {error}"

    token = str(message.inbox.get_secrets().get("bot_token") or "")
    if not token:
        return fail("This Telegram inbox has no bot token")
    if message.attachments.exists():
        return fail("Files cannot be sent to Telegram yet: send the text alone")
    if len(message.text) > MAX_TEXT:
        return fail(f"Telegram messages are limited to {MAX_TEXT} characters")
    chat_id = _chat_id(message)
    if chat_id is None:
        return fail("No Telegram chat to answer in")
    attempts = record_delivery_attempt(message=message)
    url = f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{token}/sendMessage"
    body = json.dumps({"chat_id": chat_id, "text": message.text}).encode()
    try:
        answer = call(url, body, {"Content-Type": "application/json"})
    except DeliveryRefused as exc:
        return fail(str(exc))
    except TransientError as exc:
        status, description, retry_after = 0, str(exc), exc.retry_after
    else:
        try:
            data = json.loads(answer.text)
        except ValueError:
            data = {}
        if answer.status == 200 and data.get("ok"):
            sent_id = (data.get("result") or {}).get("message_id")
            message.external_id = f"{chat_id}:{sent_id}"
            message.save(update_fields=["external_id", "updated_at"])
            record_delivery_attempt(message=message, counted=True, provider_id=str(sent_id))
            set_delivery_status(message=message, status=Message.Delivery.SENT)
            return f"sent on attempt {attempts}"
        status = int(data.get("error_code") or answer.status)
        description = str(data.get("description") or f"HTTP {answer.status}")[:300]
        retry_after = (data.get("parameters") or {}).get("retry_after") or answer.retry_after
        if status != 429 and status < 500:
            return fail(f"Telegram refused it: {description}")
    record_delivery_attempt(message=message, error=description, counted=True)
    if attempts > len(RETRY_DELAYS) or not deliver_message.get_backend().supports_defer:
        return fail(f"{description} (gave up after {attempts} attempts)")
    delay = max(RETRY_DELAYS[attempts - 1], int(retry_after or 0))
    deliver_message.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(message.pk)
    return f"attempt {attempts}: {description}; retry in {delay} s"
