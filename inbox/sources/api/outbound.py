"""Delivery of agents' replies to an API inbox's callback URL.

One attempt per run of the `deliver_message` task. A transient failure (5xx, 408, 429, a
timeout, a refused connection) schedules the task again with backoff; anything else ends
the message as sent or failed through `set_delivery_status`."""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import logging
import socket
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from inbox.models import ContactIdentity, Message
from inbox.payloads import MESSAGE_PREFETCH, MESSAGE_SELECT, contact_summary, message_payload
from inbox.sources.api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
# Wait before attempt 2, 3, …; the message fails after the last one.
RETRY_DELAYS = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A Retry-After beyond this is treated as this: a message a day late is not a reply.
MAX_RETRY_AFTER = 6 * 60 * 60
RESPONSE_READ_LIMIT = 64 * 1024
ERROR_BODY_CHARS = 200
USER_AGENT = "Parley-Callback/1"


class DeliveryRefused(Exception):
    """We will not send to this URL (bad scheme, private address…). Permanent."""


class TransientError(Exception):
    """Worth trying again later."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the vetted IP we connect to, so DNS cannot change between check and use


# --- The address guard ----------------------------------------------------------------------


def address_refusal(address: str) -> str | None:
    """Why we refuse to connect to this IP, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private or not ip.is_global),
    ):
        if flag:
            return f"{address} is a {reason} address"
    return None


def resolve_target(url: str) -> _Target:
    """Parse and vet a callback URL. Every address the host resolves to must be public
    (unless OUTBOUND_ALLOW_PRIVATE_NETWORKS); we then connect to the first of them.
    Raises DeliveryRefused, or TransientError when the name does not resolve."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DeliveryRefused(f"The callback URL is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise DeliveryRefused("The callback URL must start with http:// or https://")
    if not parts.hostname:
        raise DeliveryRefused("The callback URL has no host")
    if parts.username or parts.password:
        raise DeliveryRefused(
            "The callback URL must not contain credentials; verify the signature instead"
        )
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientError(f"Cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TransientError(f"Cannot resolve {host}")
    if not settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise DeliveryRefused(
                    f"Refused to call {host}: {reason}. Callbacks go to public addresses "
                    "only unless OUTBOUND_ALLOW_PRIVATE_NETWORKS is set."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(parts.scheme, host, port, path, addresses[0])


# --- HTTP -----------------------------------------------------------------------------------


def _pinned_connection(target: _Target) -> http.client.HTTPConnection:
    """A connection to the vetted address that still speaks to the host by name (Host
    header, TLS SNI and certificate check)."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((target.address, address[1]), *args, **kwargs)

    conn._create_connection = connect  # type: ignore[attr-defined]
    return conn


def _retry_after(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = int((when - timezone.now()).total_seconds())
    return max(0, min(seconds, MAX_RETRY_AFTER))


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # at most RESPONSE_READ_LIMIT bytes of the body
    retry_after: int | None


def call(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once to a vetted address (see resolve_target); the answer whatever its status.
    Raises DeliveryRefused for a URL we will not call, TransientError when the network
    failed. Also the HTTP client of the messaging sources' provider APIs."""
    target = resolve_target(url)
    conn = _pinned_connection(target)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        return Answer(
            response.status,
            response.read(RESPONSE_READ_LIMIT).decode("utf-8", "replace"),
            _retry_after(response.getheader("Retry-After")),
        )
    except TimeoutError as exc:
        raise TransientError(f"Timed out after {TIMEOUT_SECONDS:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransientError(f"Connection failed: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()


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


def _fail(message: Message, error: str) -> str:
    from inbox.actions import set_delivery_status

    set_delivery_status(message=message, status=Message.Delivery.FAILED, error=error)
    return f"failed: {error}"


def _schedule_retry(message: Message, *, attempts: int, retry_after: int | None) -> datetime:
    from inbox.tasks import deliver_message

    delay = RETRY_DELAYS[attempts - 1]
    if retry_after is not None:
        delay = max(delay, retry_after)
    run_after = timezone.now() + timedelta(seconds=delay)
    deliver_message.using(run_after=run_after).enqueue(message.pk)
    return run_after


def deliver_api_message(message: Message) -> str:
    """Make one delivery attempt of an outgoing message to its inbox's callback URL and
    record the outcome. Returns a short description (the task's result)."""
    from inbox.actions import record_delivery_attempt, set_delivery_status
    from inbox.tasks import deliver_message

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        # A duplicate run of the task, or a message settled meanwhile.
        return f"already {message.delivery_status or 'settled'}"
    inbox = message.inbox
    url = str((inbox.settings or {}).get("callback_url") or "").strip()
    if not url:
        return _fail(message, "This inbox has no callback URL")
    try:
        secret = str(inbox.get_secrets().get("signing_secret") or "")
    except ValueError:
        logger.exception("secrets of inbox %s cannot be decrypted", inbox.pk)
        return _fail(message, "This inbox's signing secret cannot be read; set a new one")
    if not secret:
        return _fail(message, "This inbox has no signing secret")

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
        return _fail(message, str(exc))
    except TransientError as exc:
        error = str(exc)
        record_delivery_attempt(message=message, error=error, counted=True)
        if attempts >= MAX_ATTEMPTS:
            return _fail(message, f"{error} (gave up after {attempts} attempts)")
        if not deliver_message.get_backend().supports_defer:
            return _fail(message, f"{error} (this task backend cannot schedule a retry)")
        run_after = _schedule_retry(message, attempts=attempts, retry_after=exc.retry_after)
        return f"attempt {attempts} of {MAX_ATTEMPTS}: {error}; retry at {run_after.isoformat()}"
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent ({outcome}) on attempt {attempts}"
