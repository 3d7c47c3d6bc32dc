"""What WhatsApp (Cloud API), Messenger and Instagram share: Meta's webhooks and its Graph API.

Webhooks (https://developers.facebook.com/docs/graph-api/webhooks/getting-started):
- the subscription handshake: Meta GETs the callback URL with `hub.mode=subscribe`,
  `hub.verify_token` (the token the admin typed in Meta's dashboard: ours, shown on the setup
  page) and `hub.challenge`, which we echo when the token matches;
- each delivery is signed: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
  with the app secret>`, checked in constant time before anything is parsed. A wrong or
  missing signature is 401 and nothing is stored.

The inbox's secrets: `app_secret`, `access_token`, `verify_token`. The Graph API's base URL
(with its version) is META_GRAPH_URL; tests point it at a fake server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from inbox.models import Inbox
from inbox.sources.http import TransientError, call
from inbox.sources.webhooks import Door, door_inbox, door_view, refusal, secrets_match

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Graph error codes worth trying again (rate limits, temporary outages); see
# https://developers.facebook.com/docs/graph-api/guides/error-handling and the WhatsApp
# Cloud API error codes. Anything else is a refusal that retrying will not change.
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131000, 131048, 131056, 133004}
RATE_LIMIT_CODES = {4, 17, 32, 613, 80007, 130429, 131048, 131056}


def new_verify_token() -> str:
    return secrets.token_urlsafe(24)


def signature(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body` (tests sign their payloads with it)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    if not app_secret or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(signature(app_secret, body).encode(), header.strip().encode())


def webhook(kind: str, meta_object: str) -> Any:
    """The view of one Meta source's webhook, `/sources/<kind>/<inbox public id>/`: GET for
    the subscription handshake, POST for deliveries whose `object` is `meta_object`
    ("whatsapp_business_account", "page", "instagram")."""

    def check(request: HttpRequest, inbox: Inbox) -> HttpResponse | None:
        body = request.body
        header = request.headers.get(SIGNATURE_HEADER, "")
        app_secret = str(inbox.get_secrets().get("app_secret") or "")
        if not signature_valid(app_secret, body, header):
            return refusal("Wrong or missing X-Hub-Signature-256.", 401)
        try:
            payload = json.loads(body)
        except ValueError:
            return refusal("The body is not JSON.", 400)
        if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
            return refusal("Not a Meta webhook delivery (no entry).", 400)
        if payload.get("object") != meta_object:
            return refusal(f"This webhook takes {meta_object} deliveries only.", 400)
        return None

    door = Door(
        kind, check, answer=lambda: HttpResponse("EVENT_RECEIVED", content_type="text/plain")
    )

    def handshake(request: HttpRequest, inbox_id: Any) -> HttpResponse:
        inbox = door_inbox(door, inbox_id)
        if inbox is None:
            return refusal("No such inbox.", 404)
        token = request.GET.get("hub.verify_token", "")
        expected = str(inbox.get_secrets().get("verify_token") or "")
        if request.GET.get("hub.mode") != "subscribe" or not secrets_match(expected, token):
            return refusal("Wrong verify token.", 403)
        return HttpResponse(request.GET.get("hub.challenge", "")[:200], content_type="text/plain")

    return door_view(door, get=handshake)


# --- The Graph API ---------------------------------------------------------------------------


class GraphError(Exception):
    """Meta refused the call. `transient`: worth trying again (after `retry_after`)."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 0,
        subcode: int = 0,
        transient: bool = False,
        retry_after: int = 0,
    ) -> None:
        super().__init__(message)
        self.code, self.subcode = code, subcode
        self.transient, self.retry_after = transient, retry_after


@dataclass(frozen=True)
class Graph:
    """Calls on one inbox's behalf, with its access token."""

    token: str

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        base = settings.META_GRAPH_URL.rstrip("/")
        url = f"{base}/{path.lstrip('/')}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def request(
        self,
        path_or_url: str,
        body: dict[str, Any] | bytes | None = None,
        *,
        method: str = "POST",
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """Returns the answer's JSON. Raises GraphError (with `transient` set for rate
        limits, 5xx and network failures)."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            answer = call(url, data, headers, method=method, trust_providers=True)
        except TransientError as exc:
            raise GraphError(str(exc), transient=True, retry_after=exc.retry_after or 0) from exc
        try:
            parsed = json.loads(answer.text) if answer.text else {}
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict):
            parsed = {}
        if 200 <= answer.status < 300 and "error" not in parsed:
            return parsed
        raise graph_error(answer.status, parsed, retry_after=answer.retry_after or 0)


def graph_error(status: int, parsed: dict[str, Any], *, retry_after: int = 0) -> GraphError:
    error = parsed.get("error") if isinstance(parsed.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = int(error.get("code") or 0) if str(error.get("code") or "").isdigit() else 0
    text = str(error.get("message") or f"HTTP {status}")
    details = (error.get("error_data") or {}) if isinstance(error.get("error_data"), dict) else {}
    if details.get("details"):
        text = f"{text}: {details['details']}"
    described = f"(#{code}) {text}" if code else text
    transient = status >= 500 or status == 429 or code in TRANSIENT_CODES
    transient = transient or bool(error.get("is_transient"))
    if code in RATE_LIMIT_CODES and not retry_after:
        retry_after = 60
    raw_subcode = str(error.get("error_subcode") or "")
    subcode = int(raw_subcode) if raw_subcode.isdigit() else 0
    return GraphError(
        described[:500],
        code=code,
        subcode=subcode,
        transient=transient,
        retry_after=retry_after,
    )
