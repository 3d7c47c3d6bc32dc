"""Signatures of the callbacks we POST to an API inbox's integration.

`X-Parley-Signature: sha256=<hex>` is HMAC-SHA256 with the inbox's signing secret over
`"<X-Parley-Timestamp>.<raw body>"`. Signing the timestamp with the body lets a receiver
refuse replays of an old callback (see docs/sources/api.md)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Parley-Signature"
TIMESTAMP_HEADER = "X-Parley-Timestamp"
SCHEME = "sha256="


def signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return SCHEME + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def is_valid(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Constant-time check of a signature header, as a receiver does it."""
    if not secret or not timestamp.isdigit():
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())
