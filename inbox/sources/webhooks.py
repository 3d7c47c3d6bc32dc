"""Provider webhooks, the part every messaging source shares: keep the delivery durably
(its signature already checked by the source's view) and answer at once, then process it
in the worker with the source's parser. A delivery the parser cannot understand is kept as
`unprocessable` with the reason; a bug of ours leaves it pending for a retry, never lost."""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from inbox.models import Inbox, ProviderEvent

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024  # providers send small JSON; media comes by URL


class Unprocessable(Exception):
    """The delivery is not one we can use (the message says why)."""


class RetryLater(Exception):
    """Not yet: e.g. a status report for a message whose send has not been recorded yet,
    or a media download that failed on the network. The delivery stays pending and is
    processed again after a delay; after RETRY_LIMIT attempts it is kept as unprocessable
    with this reason."""


RETRY_DELAYS = (5, 30, 120, 600)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: not storable in a JSON column


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999: infinity, not storable either
        raise ValueError(f"{text} is out of range")
    return number


def strict_json(body: bytes) -> Any:
    """A delivery's JSON, refusing what Python accepts but a JSON column cannot store
    (NaN, Infinity, 1e999). Raises ValueError."""
    return json.loads(body, parse_constant=_no_constant, parse_float=_finite)


def secrets_match(expected: str, given: str) -> bool:
    """Constant-time comparison; an unset secret never matches."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def store_event(inbox: Inbox, body: bytes) -> ProviderEvent:
    """Keep a (verified) delivery and queue its processing, in one transaction."""
    from inbox.tasks import process_provider_event

    with transaction.atomic():
        event = ProviderEvent.objects.create(inbox=inbox, body=body)
        process_provider_event.enqueue(event.pk)
    return event


PARSERS: dict[str, str] = {
    Inbox.Kind.TELEGRAM: "inbox.sources.telegram.inbound.process",
    Inbox.Kind.WHATSAPP: "inbox.sources.whatsapp.inbound.process",
    Inbox.Kind.MESSENGER: "inbox.sources.messenger.inbound.process",
    Inbox.Kind.INSTAGRAM: "inbox.sources.instagram.inbound.process",
    Inbox.Kind.SMS: "inbox.sources.sms.inbound.process",
}


def _parser(inbox: Inbox) -> Callable[[ProviderEvent], None]:
    if inbox.kind not in PARSERS:
        raise Unprocessable(f"No webhook parser for {inbox.get_kind_display()} inboxes.")
    parser: Callable[[ProviderEvent], None] = import_string(PARSERS[inbox.kind])
    return parser


def process_event(event: ProviderEvent) -> str:
    """Run the source's parser on a stored delivery; returns the new status."""
    if event.status != ProviderEvent.Status.PENDING:
        return event.status
    event.attempts += 1
    try:
        _parser(event.inbox)(event)
    except Unprocessable as exc:
        event.status, event.error = ProviderEvent.Status.UNPROCESSABLE, str(exc)[:2000]
    except RetryLater as exc:
        from inbox.tasks import process_provider_event

        deferrable = process_provider_event.get_backend().supports_defer
        if event.attempts > len(RETRY_DELAYS) or not deferrable:
            event.status = ProviderEvent.Status.UNPROCESSABLE
            event.error = f"{exc} (gave up after {event.attempts} attempts)"[:2000]
        else:
            event.error = f"Waiting: {exc}"[:2000]
            event.save(update_fields=["attempts", "error"])
            delay = timedelta(seconds=RETRY_DELAYS[event.attempts - 1])
            process_provider_event.using(run_after=timezone.now() + delay).enqueue(event.pk)
            return "retry"
    except Exception as exc:  # a bug of ours: kept pending for a retry, with the reason
        logger.exception("provider event %s could not be processed", event.pk)
        event.error = f"Unexpected error: {type(exc).__name__}: {exc}"[:2000]
        event.save(update_fields=["attempts", "error"])
        return "error"
    else:
        event.status, event.error = ProviderEvent.Status.PROCESSED, ""
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "attempts", "processed_at"])
    return event.status
