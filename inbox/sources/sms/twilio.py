"""What the SMS source's webhooks, worker and sender share about Twilio: the inbox's account
(settings `account_sid`, `phone_number`, `messaging_service_sid`, `public_url`; secret
`auth_token`), the request signature (https://www.twilio.com/docs/usage/webhooks/webhooks-security),
the public URLs Twilio calls back, and Twilio's error codes in words agents understand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from inbox.actions.contacts import normalize_identity
from inbox.models import Inbox
from inbox.sources.http import Answer

API_VERSION = "2010-04-01"
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
E164 = re.compile(r"\+[1-9]\d{6,14}")
SIGNATURE_HEADER = "X-Twilio-Signature"
# Statuses Twilio reports for messages it received, or that are not a step on our
# queued → sent → delivered → read scale (see inbound.py for the mapping).
INCOMING_STATUSES = {"received", "receiving"}

# Twilio's words for the errors agents meet most (https://www.twilio.com/docs/api/errors).
ERRORS = {
    11200: "Twilio could not fetch a file of the message (is Parley reachable from the internet?)",
    12300: "Twilio could not use a file of the message (content type not accepted)",
    20003: "Twilio did not accept the account SID and auth token",
    20404: "Twilio does not know this account or resource",
    20429: "Too many requests to Twilio at once",
    21211: "The 'To' phone number is not valid",
    21408: "Sending SMS to this country is not enabled on the Twilio account",
    21606: "The 'From' number is not a message-capable number of this Twilio account",
    21610: "The recipient has unsubscribed (replied STOP to this number)",
    21612: "The 'To' number cannot be reached by SMS from this number",
    21614: "The 'To' number is not a mobile number",
    21617: "The message is longer than Twilio's 1600-character limit",
    21703: "The 'From' number is not in the messaging service's sender pool",
    30001: "Twilio's queue for this number overflowed",
    30002: "The Twilio account is suspended",
    30003: "Unreachable destination handset (off or out of coverage)",
    30004: "The message was blocked (the recipient or their carrier blocks it)",
    30005: "Unknown destination handset (the number may no longer exist)",
    30006: "Landline or unreachable carrier",
    30007: "Filtered by the carrier as spam or unregistered traffic",
    30008: "Unknown error from the carrier",
    30019: "The files are larger than the carrier accepts",
    30034: "Sent from a US number not registered for A2P 10DLC",
}


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    phone_number: str  # E.164, or "" when only a messaging service sends
    messaging_service_sid: str
    public_url: str  # overrides SITE_URL in the URLs Twilio calls; "" for SITE_URL

    @classmethod
    def of(cls, inbox: Inbox) -> TwilioAccount:
        config = inbox.settings or {}
        phone = str(config.get("phone_number") or "").strip()
        return cls(
            account_sid=str(config.get("account_sid") or "").strip(),
            auth_token=str(inbox.get_secrets().get("auth_token") or ""),
            phone_number=normalize_identity("phone", phone) if phone else "",
            messaging_service_sid=str(config.get("messaging_service_sid") or "").strip(),
            public_url=str(config.get("public_url") or "").strip().rstrip("/"),
        )

    def problem(self) -> str | None:
        """What is missing or malformed in the inbox's settings, or None."""
        if not ACCOUNT_SID.fullmatch(self.account_sid):
            return (
                "The Twilio account SID is missing or malformed: it is AC followed by 32 "
                "letters and digits (Twilio console → Account info)."
            )
        if not self.auth_token:
            return "The Twilio auth token is missing (Twilio console → Account info)."
        if not self.phone_number and not self.messaging_service_sid:
            return "Give the Twilio phone number, a messaging service SID, or both."
        if self.phone_number and not E164.fullmatch(self.phone_number):
            return (
                f"{self.phone_number} is not a phone number in international format "
                "(+ and country code, e.g. +15551234567)."
            )
        if self.messaging_service_sid and not SERVICE_SID.fullmatch(self.messaging_service_sid):
            return (
                "The messaging service SID is malformed: it is MG followed by 32 letters and "
                "digits."
            )
        return None

    def api_url(self, path: str) -> str:
        """`path` under this account in Twilio's REST API, e.g. "/Messages.json"."""
        base = settings.TWILIO_API_URL.rstrip("/")
        return f"{base}/{API_VERSION}/Accounts/{self.account_sid}{path}"

    def headers(self) -> dict[str, str]:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return {
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
            "Accept": "application/json",
        }


def public_base(inbox: Inbox) -> str:
    """Where Twilio reaches this Parley: the inbox's `public_url` setting, else SITE_URL."""
    return TwilioAccount.of(inbox).public_url or settings.SITE_URL.rstrip("/")


def public_url(inbox: Inbox, name: str, **kwargs: object) -> str:
    """The absolute public URL of one of this source's views (`name` in namespace sms)."""
    return public_base(inbox) + reverse(
        f"sms:{name}", kwargs={"inbox_id": inbox.public_id, **kwargs}
    )


# ---------------------------------------------------------------- signatures


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """A form-encoded body's fields in order, as Twilio sent them. Raises ValueError."""
    return urllib.parse.parse_qsl(
        body.decode("utf-8"),
        keep_blank_values=True,
        strict_parsing=bool(body),
        errors="strict",
        max_num_fields=1000,
    )


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature of a form POST: base64(HMAC-SHA1(auth token, the URL, then each
    parameter's name and value, sorted by name (and, for a repeated name, by value)))."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    data = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """The URL with and without its scheme's default port: Twilio's own validators accept
    either, since proxies and frameworks disagree on whether to show it."""
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if default is None or (parts.port not in (None, default)):
        return [url]
    bare = parts._replace(netloc=host).geturl()
    with_port = parts._replace(netloc=f"{host}:{default}").geturl()
    return [url, bare if parts.port else with_port]


def signature_valid(
    auth_token: str, urls: Sequence[str], params: Sequence[tuple[str, str]], given: str
) -> bool:
    """Whether `given` signs `params` for one of the URLs Twilio may have called (compared
    in constant time; an unset token or signature never matches)."""
    if not auth_token or not given:
        return False
    matched = False
    candidates = dict.fromkeys(variant for url in urls for variant in _port_variants(url))
    for candidate in candidates:
        expected = signature(auth_token, candidate, params)
        matched |= hmac.compare_digest(expected.encode(), given.strip().encode())
    return matched


def is_status_callback(fields: Mapping[str, str]) -> bool:
    """A status callback carries MessageStatus about a message we sent; Twilio's request for
    an incoming message does not (or says "received")."""
    status = fields.get("MessageStatus", "").strip().lower()
    return bool(status) and status not in INCOMING_STATUSES


# ---------------------------------------------------------------- errors


def describe_error(code: int | str | None, message: str = "") -> str:
    """ "(30003) Unreachable destination handset", from Twilio's message or our table."""
    try:
        number = int(str(code).strip()) if code not in (None, "") else None
    except ValueError:
        number = None
    words = " ".join(message.split()) or (ERRORS.get(number, "") if number else "")
    if number is None:
        return words or "no reason given"
    if not words:
        words = f"see https://www.twilio.com/docs/api/errors/{number}"
    return f"({number}) {words}"


@dataclass(frozen=True)
class ApiError:
    code: int | None
    message: str

    def __str__(self) -> str:
        return describe_error(self.code, self.message)


def api_error(answer: Answer) -> ApiError:
    """Twilio's REST error body: {"code": 21211, "message": "…", "more_info": "…",
    "status": 400}."""
    try:
        data = json.loads(answer.text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return ApiError(None, f"HTTP {answer.status}")
    code = data.get("code")
    message = str(data.get("message") or data.get("detail") or "")[:300]
    return ApiError(code if isinstance(code, int) else None, message or f"HTTP {answer.status}")
