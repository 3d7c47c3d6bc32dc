"""Visitor tokens and signed identities of the website widget.

- A visitor token is 32 random bytes (base64url); the browser keeps it, we keep its SHA-256.
  It is the only key to that visitor's conversations.
- `identify()` from the site carries `hash = HMAC-SHA256(identity secret, id)` (hex), or,
  timestamped, `HMAC-SHA256(secret, f"{id}:{ts}")` with `ts` in Unix seconds, refused once
  older than the inbox's `identity_max_age` (so a leaked hash cannot be replayed for ever).
  Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

TOKEN_BYTES = 32
CLOCK_SKEW = 300  # seconds a timestamp may be ahead of our clock


class IdentityRefused(Exception):
    """The site's signature is missing, wrong or too old (the message says which)."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, user_id: str, ts: int | None = None) -> str:
    """What the site's server computes (documented in docs/sources/widget.md)."""
    message = user_id if ts is None else f"{user_id}:{ts}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(
    secret: str,
    *,
    user_id: str,
    hash_: str,
    ts: int | None,
    max_age: int,
    now: float | None = None,
) -> None:
    """Raise IdentityRefused unless `hash_` signs `user_id` (and `ts`) with `secret`.
    `max_age` > 0: a timestamp is required and must be recent."""
    if not secret:
        raise IdentityRefused("This inbox has no identity secret: identify() cannot be verified.")
    if not hash_:
        raise IdentityRefused("identify() needs the hash your server computed.")
    if max_age and ts is None:
        raise IdentityRefused("identify() needs a timestamp (ts) for this inbox.")
    expected = sign(secret, user_id, ts)
    if not hmac.compare_digest(expected, hash_.strip().lower()):
        raise IdentityRefused("The identity hash does not match.")
    if ts is not None and max_age:
        age = (time.time() if now is None else now) - ts
        if age > max_age:
            raise IdentityRefused("The identity hash has expired: compute a fresh one.")
        if age < -CLOCK_SKEW:
            raise IdentityRefused("The identity timestamp is in the future.")
