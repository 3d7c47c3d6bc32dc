"""What every source's outbound delivery shares. A source's `deliver` makes one attempt per
run of the `deliver_message` task; around its own provider call it uses:

- `not_deliverable`: the guard against a message that is not a queued outgoing one (a
  duplicate run of the task, or a message settled meanwhile);
- `last_incoming_data`: what the source recorded of the customer's last message (the chat
  or number to answer);
- `fail`: the message ends as failed, with the reason agents see;
- `retry_later`: a transient failure is recorded and the task scheduled again after
  `RETRY_DELAYS` (or the provider's Retry-After, when longer), until they run out;
  `can_defer`, `retry_delay` and `schedule_retry` are its parts, for a source that words
  its outcome otherwise (api/outbound.py);
- `sent_parts`: for a reply sent as several provider calls, the ids of the parts sent so
  far, kept in `message.data` by the action `record_sent_part` so a retry resumes after
  them (the first becomes the message's external id, which the provider's status reports
  name)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from inbox.models import Message

# Wait before attempt 2, 3, …; the message fails after the last one.
RETRY_DELAYS = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)


def not_deliverable(message: Message) -> str | None:
    """Why this run of the task has nothing to deliver (the task's result), or None."""
    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"
    return None


def last_incoming_data(message: Message) -> dict[str, Any]:
    """The `data` of the customer's last message in this message's conversation (where they
    last wrote from, as the source recorded it), or {}."""
    last = (
        Message.objects.filter(
            conversation_id=message.conversation_id, direction=Message.Direction.INCOMING
        )
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    return last if isinstance(last, dict) else {}


def fail(message: Message, error: str) -> str:
    """The message failed for `error` (agents see it, and can retry)."""
    from inbox.actions import set_delivery_status

    set_delivery_status(message=message, status=Message.Delivery.FAILED, error=error)
    return f"failed: {error}"


def can_defer() -> bool:
    """Whether the task backend can run the delivery again later."""
    from inbox.tasks import deliver_message

    return bool(deliver_message.get_backend().supports_defer)


def retry_delay(attempts: int, retry_after: int | None) -> int:
    """Seconds to wait after attempt `attempts` (at most len(RETRY_DELAYS)): its delay, or
    the provider's Retry-After when that is longer."""
    return max(RETRY_DELAYS[attempts - 1], int(retry_after or 0))


def schedule_retry(message: Message, delay: int) -> datetime:
    """Run the delivery task for this message again in `delay` seconds; returns when."""
    from inbox.tasks import deliver_message

    run_after = timezone.now() + timedelta(seconds=delay)
    deliver_message.using(run_after=run_after).enqueue(message.pk)
    return run_after


def retry_later(
    message: Message,
    *,
    attempts: int,
    error: str,
    retry_after: int | None,
    gave_up: str | None = None,
) -> str:
    """Attempt `attempts` failed for a reason worth trying again: record `error`, then
    schedule the next attempt, or fail the message when the attempts are used up (or the
    task backend cannot defer) with `gave_up` (default: `error`) and their count."""
    from inbox.actions import record_delivery_attempt

    record_delivery_attempt(message=message, error=error, counted=True)
    if attempts > len(RETRY_DELAYS) or not can_defer():
        return fail(message, f"{gave_up or error} (gave up after {attempts} attempts)")
    delay = retry_delay(attempts, retry_after)
    schedule_retry(message, delay)
    return f"attempt {attempts}: {error}; retry in {delay} s"


def sent_in(data: dict[str, Any], path: Sequence[str]) -> list[str]:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return [str(item) for item in value] if isinstance(value, list) else []


def sent_parts(message: Message, path: Sequence[str]) -> list[str]:
    """The provider ids of the parts of this message sent so far, kept in `message.data`
    at `path` (keys, e.g. ("telegram", "sent"))."""
    return sent_in(message.data or {}, path)


# Where the sources keep the ids of the parts they sent (telegram/outbound.py,
# whatsapp/outbound.py, messenger/sending.py).
SENT_PATHS: tuple[tuple[str, ...], ...] = (
    ("telegram", "sent"),
    ("whatsapp_sent",),
    ("meta_message_ids",),
)


def forget_sent_parts(data: dict[str, Any]) -> dict[str, Any]:
    """`message.data` for sending a message again from its first part: the provider ids of
    the earlier send move to `previous_sends` (kept for the record, matched by nothing)."""
    data = dict(data)
    previous: list[str] = list(data.get("previous_sends") or [])
    for path in SENT_PATHS:
        *parents, last = path
        node: Any = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(last), list):
            previous += [str(part) for part in node[last] if part]
            if parents:  # nested: copy the parent before changing it
                parent = dict(data[parents[0]])
                parent.pop(last, None)
                data[parents[0]] = parent
            else:
                data.pop(last, None)
    if previous:
        data["previous_sends"] = previous
    return data
