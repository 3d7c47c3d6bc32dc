"""Encryption at rest for inbox secrets (provider tokens, webhook secrets).

Keys come from ENCRYPTION_KEYS (comma-separated Fernet keys, newest first, for rotation);
without it a key is derived from SECRET_KEY, so rotating SECRET_KEY without setting
ENCRYPTION_KEYS to the old derived key makes stored secrets unreadable (documented).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.ENCRYPTION_KEYS if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"parley.secrets:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt_json(value: dict[str, Any]) -> str:
    if not value:
        return ""
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    """Raises ValueError when the data cannot be decrypted with the configured keys."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))  # type: ignore[no-any-return]
    except InvalidToken as exc:
        raise ValueError("inbox secrets cannot be decrypted with the configured keys") from exc
