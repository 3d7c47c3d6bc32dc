"""Calls to Telegram's Bot API (https://core.telegram.org/bots/api#making-requests), shared by
the inbound side (getFile), replies and the setup page.

Telegram answers `{"ok": true, "result": …}`, or `{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}`. A 429 and a 5xx, and a network failure, are
worth trying again (`Reply.transient`); anything else is Telegram refusing the request. The
base URL is TELEGRAM_API_URL (a fake server in tests); the bot token is part of every URL,
so no URL of this module is ever put in an error message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from inbox.sources.http import TransientError, call, multipart

# Bots may download files up to 20 MB, upload photos up to 10 MB and other files up to 50 MB
# (https://core.telegram.org/bots/api#sending-files).
DOWNLOAD_LIMIT = 20 * 1024 * 1024
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (updates are untrusted input)."""
    return value if isinstance(value, dict) else {}


def api_url(token: str, method: str) -> str:
    return f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{token}/{method}"


def file_url(token: str, file_path: str) -> str:
    return f"{settings.TELEGRAM_API_URL.rstrip('/')}/file/bot{token}/{file_path.lstrip('/')}"


@dataclass(frozen=True)
class Upload:
    field: str  # "photo", "document"
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    ok: bool
    result: Any = None
    status: int = 200  # Telegram's error_code (else the HTTP status); 0: the network failed
    description: str = ""
    retry_after: int | None = None

    @property
    def transient(self) -> bool:
        return not self.ok and (self.status in (0, 429) or self.status >= 500)


def bot_call(
    token: str, method: str, payload: dict[str, Any] | None = None, *, upload: Upload | None = None
) -> Reply:
    """One Bot API call: JSON, or multipart/form-data with `upload` (the payload's values
    then go as form fields, dicts and lists as JSON). Raises DeliveryRefused when the
    configured URL is refused (a misconfiguration, permanent)."""
    payload = payload or {}
    if upload is None:
        body, content_type = json.dumps(payload).encode(), "application/json"
    else:
        fields = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in payload.items()
        }
        file = (
            upload.field,
            upload.filename,
            upload.content_type or "application/octet-stream",
            upload.content,
        )
        body, content_type = multipart(fields, [file])
    try:
        answer = call(
            api_url(token, method), body, {"Content-Type": content_type}, trust_providers=True
        )
    except TransientError as exc:
        return Reply(False, status=0, description=str(exc), retry_after=exc.retry_after)
    try:
        data = json.loads(answer.text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    if answer.status == 200 and data.get("ok"):
        return Reply(True, result=data.get("result"))
    retry_after = as_dict(data.get("parameters")).get("retry_after")
    code = data.get("error_code")
    return Reply(
        False,
        status=code if isinstance(code, int) and code > 0 else answer.status,
        description=str(data.get("description") or f"HTTP {answer.status}")[:300],
        retry_after=int(retry_after) if isinstance(retry_after, int) else answer.retry_after,
    )
