"""Outbound HTTP for every source: API callbacks, provider APIs (Telegram, Meta, Twilio)
and media downloads. One guard against server-side request forgery: a URL's host must
resolve to public addresses only (we then connect to the vetted address, so DNS cannot
change between the check and the use), except, for provider calls and file downloads,
the configured providers' own origins (`provider_origins()`: tests point them at fake
servers on loopback), or when OUTBOUND_ALLOW_PRIVATE_NETWORKS is set (all-internal
deployments)."""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import http.client
import ipaddress
import socket
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

TIMEOUT_SECONDS = 10.0
# A Retry-After beyond this is treated as this: a message a day late is not a reply.
MAX_RETRY_AFTER = 6 * 60 * 60
RESPONSE_READ_LIMIT = 64 * 1024
MAX_REDIRECTS = 3


class DeliveryRefused(Exception):
    """We will not call this URL (bad scheme, private address…). Permanent."""


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
    address: str  # the vetted IP we connect to


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


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return (parts.scheme, parts.hostname, port) if parts.hostname else None


def provider_origins() -> set[tuple[str, str, int]]:
    """(scheme, host, port) of the configured provider APIs: trusted wherever they resolve,
    for calls to the providers and downloads of their files only."""
    urls = (settings.TELEGRAM_API_URL, settings.META_GRAPH_URL, settings.TWILIO_API_URL)
    return {origin for origin in map(_origin, urls) if origin}


def resolve_target(url: str, *, trust_providers: bool = False) -> _Target:
    """Parse and vet a URL. `trust_providers`: a call to a provider's API or a download of
    its files, where the configured providers' origins are allowed even on private
    addresses. Raises DeliveryRefused, or TransientError when the name does not resolve."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DeliveryRefused(f"The URL is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise DeliveryRefused("The URL must start with http:// or https://")
    if not parts.hostname:
        raise DeliveryRefused("The URL has no host")
    if parts.username or parts.password:
        raise DeliveryRefused("The URL must not contain credentials; verify the signature instead")
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientError(f"Cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TransientError(f"Cannot resolve {host}")
    trusted = settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS or (
        trust_providers and (parts.scheme, host, port) in provider_origins()
    )
    if not trusted:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise DeliveryRefused(
                    f"Refused to call {host}: {reason}. Outbound calls go to public "
                    "addresses only unless OUTBOUND_ALLOW_PRIVATE_NETWORKS is set."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(parts.scheme, host, port, path, addresses[0])


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


@contextlib.contextmanager
def _connected(target: _Target) -> Iterator[http.client.HTTPConnection]:
    """A pinned connection, closed after use; the network's failures as TransientError."""
    conn = _pinned_connection(target)
    try:
        yield conn
    except TimeoutError as exc:
        raise TransientError(f"Timed out after {TIMEOUT_SECONDS:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransientError(f"Connection failed: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()


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


def call(
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    method: str = "POST",
    trust_providers: bool = False,
) -> Answer:
    """One request to a vetted address (see resolve_target); the answer whatever its
    status. Raises DeliveryRefused for a URL we will not call, TransientError when the
    network failed."""
    target = resolve_target(url, trust_providers=trust_providers)
    with _connected(target) as conn:
        conn.request(method, target.path, body=body, headers=headers)
        response = conn.getresponse()
        return Answer(
            response.status,
            response.read(RESPONSE_READ_LIMIT).decode("utf-8", "replace"),
            _retry_after(response.getheader("Retry-After")),
        )


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str  # as the server declared it, without parameters, lower case
    filename: str  # from Content-Disposition, when given


class TooLarge(DeliveryRefused):
    pass


def _disposition_filename(value: str | None) -> str:
    if not value:
        return ""
    message = email.message.Message()
    message["content-disposition"] = value
    return str(message.get_filename() or "")


def download(url: str, headers: dict[str, str], *, max_bytes: int) -> Download:
    """GET a file, following at most MAX_REDIRECTS redirects (each hop vetted), reading at
    most `max_bytes`. Raises TooLarge, DeliveryRefused (refused URL, 4xx) or TransientError
    (network, 5xx, 429)."""
    for _hop in range(MAX_REDIRECTS + 1):
        target = resolve_target(url, trust_providers=True)
        with _connected(target) as conn:
            conn.request("GET", target.path, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                if not location:
                    raise DeliveryRefused(f"HTTP {response.status} without a Location")
                url = urllib.parse.urljoin(url, location)
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                continue
            if response.status == 429 or response.status >= 500:
                raise TransientError(
                    f"HTTP {response.status}",
                    retry_after=_retry_after(response.getheader("Retry-After")),
                )
            if response.status != 200:
                raise DeliveryRefused(f"HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"{int(declared):,} bytes is over the {max_bytes:,}-byte limit")
            content = response.read(max_bytes + 1)
            if len(content) > max_bytes:
                raise TooLarge(f"over the {max_bytes:,}-byte limit")
            content_type = (response.getheader("Content-Type") or "").split(";")[0]
            return Download(
                content,
                content_type.strip().lower(),
                _disposition_filename(response.getheader("Content-Disposition")),
            )
    raise DeliveryRefused(f"More than {MAX_REDIRECTS} redirects")


def multipart(
    fields: dict[str, str], files: list[tuple[str, str, str, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body: `fields`, then `files` as (field name, filename, content
    type, content). Returns the body and its Content-Type header."""
    boundary = uuid.uuid4().hex

    def clean(value: str) -> str:
        # As browsers escape names in multipart/form-data (the WHATWG HTML standard).
        return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")

    parts = [
        (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{clean(name)}"\r\n\r\n{value}\r\n'
        ).encode()
        for name, value in fields.items()
    ]
    for name, filename, content_type, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{clean(name)}"; '
            f'filename="{clean(filename) or "file"}"\r\nContent-Type: {clean(content_type)}\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
