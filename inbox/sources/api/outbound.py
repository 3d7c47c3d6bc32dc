"""Delivery of agents' replies to an API inbox's callback URL.

One attempt per run of the `deliver_message` task. A transient failure (5xx, 408, 429, a
timeout, a refused connection) schedules the task again with backoff; anything else ends
the message as sent or failed through `set_delivery_status`."""

from __future__ import annotations

import json
import logging
import time

from django.core.serializers.json import DjangoJSONEncoder

from inbox.models import ContactIdentity, Message
from inbox.payloads import MESSAGE_PREFETCH, MESSAGE_SELECT, contact_summary, message_payload
from inbox.sources.api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from inbox.sources.delivery import (
    RETRY_DELAYS,
    can_defer,
    fail,
    not_deliverable,
    retry_delay,
    schedule_retry,
)
from inbox.sources.http import DeliveryRefused, TransientError, call

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the message fails after the last one
ERROR_BODY_CHARS = 200
USER_AGENT = "Parley-Callback/1"


def post(url: str, body: bytes, headers: dict[str, str]) -> str:
    """POST once. Returns a description on 2xx; raises DeliveryRefused for answers that
    will not change by retrying, TransientError for those that may."""
    answer = call(url, body, headers)
    status, text, retry_after = answer.status, answer.text, answer.retry_after
    snippet = " ".join(text.split())[:ERROR_BODY_CHARS]
    error = f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"
    if 200 <= status < 300:
        return f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        honour = retry_after if status in (429, 503) else None
        raise TransientError(error, retry_after=honour)
    if 300 <= status < 400:
        raise DeliveryRefused(f"HTTP {status}: redirects are not followed; fix the callback URL")
    raise DeliveryRefused(error)


# --- The delivery ---------------------------------------------------------------------------


def _identities(message: Message) -> list[dict[str, str]]:
    """The contact's identities the integration can know: global ones and those of this
    inbox (so it can find its own user id for the reply)."""
    contact_id = message.conversation.contact_id
    rows = ContactIdentity.objects.filter(contact_id=contact_id).order_by("id")
    return [
        {"kind": i.kind, "value": i.value}
        for i in rows
        if i.inbox_id is None or i.inbox_id == message.inbox_id
    ]


def callback_body(message: Message) -> bytes:
    """The JSON we POST for an outgoing message (see docs/sources/api.md)."""
    message = (
        Message.objects.select_related(*MESSAGE_SELECT, "conversation__contact")
        .prefetch_related(*MESSAGE_PREFETCH)
        .get(pk=message.pk)
    )
    conversation = message.conversation
    payload = {
        "event": "message.created",
        "message": message_payload(message),
        "conversation": {
            "id": conversation.pk,
            "number": conversation.number,
            "inbox_id": conversation.inbox_id,
        },
        "contact": {**contact_summary(conversation.contact), "identities": _identities(message)},
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def deliver_api_message(message: Message) -> str:
    """Make one delivery attempt of an outgoing message to its inbox's callback URL and
    record the outcome. Returns a short description (the task's result)."""
    from inbox.actions import record_delivery_attempt, set_delivery_status

    if nothing := not_deliverable(message):
        return nothing
    inbox = message.inbox
    url = str((inbox.settings or {}).get("callback_url") or "").strip()
    if not url:
        return fail(message, "This inbox has no callback URL")
    try:
        secret = str(inbox.get_secrets().get("signing_secret") or "")
    except ValueError:
        logger.exception("secrets of inbox %s cannot be decrypted", inbox.pk)
        return fail(message, "This inbox's signing secret cannot be read; set a new one")
    if not secret:
        return fail(message, "This inbox has no signing secret")

    attempts = record_delivery_attempt(message=message)
    body = callback_body(message)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
        "X-Parley-Event": "message.created",
        "X-Parley-Attempt": str(attempts),
    }
    try:
        outcome = post(url, body, headers)
    except DeliveryRefused as exc:
        return fail(message, str(exc))
    except TransientError as exc:
        error = str(exc)
        record_delivery_attempt(message=message, error=error, counted=True)
        if attempts >= MAX_ATTEMPTS:
            return fail(message, f"{error} (gave up after {attempts} attempts)")
        if not can_defer():
            return fail(message, f"{error} (this task backend cannot schedule a retry)")
        run_after = schedule_retry(message, retry_delay(attempts, exc.retry_after))
        return f"attempt {attempts} of {MAX_ATTEMPTS}: {error}; retry at {run_after.isoformat()}"
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent ({outcome}) on attempt {attempts}"
