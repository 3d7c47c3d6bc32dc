"""Provider webhooks, the part every messaging source shares: keep the delivery durably
(its signature already checked by the source's door) and answer at once, then process it
in the worker with the source's parser. A delivery the parser cannot understand is kept as
`unprocessable` with the reason; a bug of ours leaves it pending for a retry, never lost.

Each webhook is a `Door`: the check of a delivery (signature, shape) and the answer the
provider gets once it is kept. `door_view` makes it a Django view; under ASGI the same doors
are served by inbox/sources/intake.py, which keeps the deliveries of many requests in one
transaction (docs/sources/messaging.md, "Throughput")."""

from __future__ import annotations

import hmac
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from inbox.models import Inbox, ProviderEvent

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText


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


def keep_deliveries(deliveries: Sequence[tuple[int, bytes]]) -> list[ProviderEvent]:
    """Keep (verified) deliveries, `(inbox id, raw body)`, and queue their processing, in
    one transaction. Under load the tasks overlap: whichever runs first takes every waiting
    delivery (process_events) and the later ones find nothing left. (Joining a task already
    queued instead would need it locked until this commit, and a worker that finds it
    locked starts a drafts task instead: measured slower, docs/benchmarks.md.)"""
    from inbox.tasks import process_provider_events

    now = timezone.now()
    with transaction.atomic():
        events = ProviderEvent.objects.bulk_create(
            ProviderEvent(inbox_id=inbox_id, body=body, received_at=now)
            for inbox_id, body in deliveries
        )
        process_provider_events.enqueue([event.pk for event in events])
    return events


def store_event(inbox: Inbox, body: bytes) -> ProviderEvent:
    """Keep one (verified) delivery and queue its processing."""
    return keep_deliveries([(inbox.pk, body)])[0]


def refusal(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@dataclass(frozen=True)
class Door:
    """One provider webhook, a POST to `/sources/<kind>/<inbox public id>/…`. `check`
    refuses a delivery with the answer to give (wrong signature, not the provider's shape)
    or returns None; it reads only the request and the inbox, never the database, so the
    intake can run it on its event loop. `answer` is what the provider gets once the
    delivery is kept."""

    kind: str
    check: Callable[[HttpRequest, Inbox], HttpResponse | None]
    answer: Callable[[], HttpResponse]


def door_inbox(door: Door, inbox_id: Any) -> Inbox | None:
    return Inbox.objects.filter(public_id=inbox_id, kind=door.kind, is_active=True).first()


def receive(door: Door, request: HttpRequest, inbox: Inbox | None) -> HttpResponse | None:
    """The answer to a delivery, unless it is to be kept (None)."""
    if inbox is None:
        return refusal("No such inbox.", 404)
    if len(request.body) > MAX_BODY_BYTES:
        return refusal("Delivery too large.", 413)
    return door.check(request, inbox)


def door_view(door: Door, get: Callable[..., HttpResponse] | None = None) -> Any:
    """The Django view of a door (`get`: how it answers a GET, e.g. Meta's handshake).
    The view carries its door, so the intake finds it from the URL."""

    @csrf_exempt
    def view(request: HttpRequest, inbox_id: Any) -> HttpResponse:
        if request.method == "GET" and get is not None:
            return get(request, inbox_id)
        if request.method != "POST":
            return refusal("POST only." if get is None else "GET or POST only.", 405)
        inbox = door_inbox(door, inbox_id)
        answer = receive(door, request, inbox)
        if answer is not None:
            return answer
        assert inbox is not None
        store_event(inbox, request.body)
        return door.answer()

    view.door = door  # type: ignore[attr-defined]
    return view


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
        # What the parser stored stays when it refuses part of the delivery (the good
        # messages beside a bad one); a bug of ours leaves nothing half-written.
        refused: Unprocessable | RetryLater | None = None
        with transaction.atomic():
            try:
                _parser(event.inbox)(event)
            except (Unprocessable, RetryLater) as exc:
                refused = exc
        if refused is not None:
            raise refused
    except Unprocessable as exc:
        event.status, event.error = ProviderEvent.Status.UNPROCESSABLE, str(exc)[:2000]
    except RetryLater as exc:
        from inbox.tasks import process_provider_events

        deferrable = process_provider_events.get_backend().supports_defer
        if event.attempts > len(RETRY_DELAYS) or not deferrable:
            event.status = ProviderEvent.Status.UNPROCESSABLE
            event.error = f"{exc} (gave up after {event.attempts} attempts)"[:2000]
        else:
            event.error = f"Waiting: {exc}"[:2000]
            event.save(update_fields=["attempts", "error"])
            delay = timedelta(seconds=RETRY_DELAYS[event.attempts - 1])
            process_provider_events.using(run_after=timezone.now() + delay).enqueue([event.pk])
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


# Per source: `plain_texts(event)`, the delivery's messages when it holds only plain text
# from customers (the common case, stored in batches), else None (the parser handles it).
PLAIN_TEXTS: dict[str, str] = {
    Inbox.Kind.TELEGRAM: "inbox.sources.telegram.inbound.plain_texts",
    Inbox.Kind.WHATSAPP: "inbox.sources.whatsapp.inbound.plain_texts",
    Inbox.Kind.MESSENGER: "inbox.sources.messenger.inbound.plain_texts",
    Inbox.Kind.INSTAGRAM: "inbox.sources.instagram.inbound.plain_texts",
    Inbox.Kind.SMS: "inbox.sources.sms.inbound.plain_texts",
}
Waiting = list[tuple[ProviderEvent, list["InboundText"]]]
SWEEP = 500  # waiting deliveries taken at a time
MAX_TASK_SECONDS = 30  # then a fresh task takes the rest, and other tasks get their turn
TEXTS_PER_TRANSACTION = 200  # conversations stay locked for one transaction


def process_events(event_ids: Sequence[int]) -> str:
    """Process stored deliveries: these, and every other first-attempt one waiting, SWEEP
    at a time (under load one task does the work of many; see keep_deliveries). Returns a
    summary such as "3 processed, 1 retry".

    Each inbox's deliveries are taken in the order they arrived. Consecutive deliveries of
    plain text are stored together (`receive_inbound_texts`, one transaction); any other
    delivery first lets the texts before it be stored, then goes through its parser. Every
    delivery is claimed (a row lock, skipping those another worker holds) in the
    transaction that processes it, so two workers never process the same one."""
    from inbox.tasks import process_provider_events

    outcomes: dict[str, int] = {}
    started = time.monotonic()
    while True:
        swept = list(
            ProviderEvent.objects.filter(status=ProviderEvent.Status.PENDING, attempts=0)
            .exclude(pk__in=event_ids)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP]
        )
        done = sum(outcomes.values())
        _process(ProviderEvent.objects.filter(pk__in=[*event_ids, *swept]), outcomes)
        event_ids = []
        if len(swept) < SWEEP or sum(outcomes.values()) == done:
            break  # all taken (or the rest is another worker's)
        if time.monotonic() - started > MAX_TASK_SECONDS:
            process_provider_events.enqueue([])  # the rest in a fresh task
            break
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing new"


def _process(events: QuerySet[ProviderEvent], outcomes: dict[str, int]) -> None:
    waiting: Waiting = []
    pending = events.filter(status=ProviderEvent.Status.PENDING).select_related("inbox")
    for event in pending.order_by("inbox_id", "pk"):  # order matters within an inbox only
        texts = _plain_texts(event)
        if texts is not None and _joins(waiting, event, texts):
            waiting.append((event, texts))
            continue
        _store_texts(waiting, outcomes)
        waiting = []
        if texts is not None:
            waiting.append((event, texts))
            continue
        _count(outcomes, _process_claimed(event))
    _store_texts(waiting, outcomes)


def _joins(waiting: Waiting, event: ProviderEvent, texts: list[InboundText]) -> bool:
    """Whether the texts can be stored with those waiting: same inbox, room left."""
    if not waiting or waiting[0][0].inbox_id != event.inbox_id:
        return False
    return sum(len(t) for _, t in waiting) + len(texts) <= TEXTS_PER_TRANSACTION


def _count(outcomes: dict[str, int], outcome: str | None, n: int = 1) -> None:
    if outcome is not None:
        outcomes[outcome] = outcomes.get(outcome, 0) + n


def _claim(event_ids: list[int]) -> set[int]:
    """Lock those of the deliveries still pending that no other worker holds, until the end
    of the surrounding transaction."""
    return set(
        ProviderEvent.objects.select_for_update(skip_locked=True)
        .filter(pk__in=event_ids, status=ProviderEvent.Status.PENDING)
        .values_list("pk", flat=True)
    )


def _process_claimed(event: ProviderEvent) -> str | None:
    """`process_event` for a delivery this worker claims; None if another worker has it
    or has processed it."""
    with transaction.atomic():
        if not _claim([event.pk]):
            return None
        event.refresh_from_db(fields=["status", "attempts", "error"])
        return process_event(event)


def _plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    from inbox.actions import InboxError

    if event.inbox.kind not in PLAIN_TEXTS:
        return None
    try:
        texts: list[InboundText] | None = import_string(PLAIN_TEXTS[event.inbox.kind])(event)
        if texts:
            for text in texts:
                text.key(event.inbox)  # a bad identity: the parser says why
            return texts
    except (InboxError, Unprocessable, RetryLater, ValueError, TypeError, KeyError):
        pass
    return None


def _store_texts(waiting: Waiting, outcomes: dict[str, int]) -> None:
    """Store the waiting deliveries' texts (all of one inbox) in one transaction, then run
    what each source does after; if that fails, each delivery goes through its parser."""
    from inbox.actions.inbound_batch import FollowUps, receive_inbound_texts
    from inbox.events import writing

    if not waiting:
        return
    inbox = waiting[0][0].inbox
    try:
        with writing():
            claimed = _claim([event.pk for event, _ in waiting])
            waiting = [(event, texts) for event, texts in waiting if event.pk in claimed]
            items = [text for _, texts in waiting for text in texts]
            results = receive_inbound_texts(inbox=inbox, items=items)
            ProviderEvent.objects.filter(pk__in=claimed).update(
                status=ProviderEvent.Status.PROCESSED,
                error="",
                attempts=F("attempts") + 1,
                processed_at=timezone.now(),
            )
    except Exception:
        logger.warning("a batch of %s deliveries goes one by one", len(waiting), exc_info=True)
        for event, _ in waiting:
            _count(outcomes, _process_claimed(event))
        return
    if waiting:
        _count(outcomes, "processed", len(waiting))
    follow_ups = FollowUps()
    with transaction.atomic():  # one commit for what the sources do after
        for item, result in zip(items, results, strict=True):
            if item.after is None or not result.created:
                continue
            try:
                with transaction.atomic():
                    item.after(result, follow_ups)
            except Exception:  # e.g. a contact that cannot take a name: the message stays
                logger.exception("after storing %s", item.external_id)
        follow_ups.enqueue()
