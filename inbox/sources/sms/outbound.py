"""Agents' replies by SMS/MMS, one attempt per run of the `deliver_message` task: a POST to
Twilio's Messages API (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource),
form-encoded, with the account SID and auth token as HTTP basic auth:

- `To`: the number the customer last wrote from (else the contact's phone);
- `MessagingServiceSid` when the inbox has one, and `From`: the number the customer wrote
  to (else the inbox's number);
- `Body`; `MediaUrl` for each attachment (a signed link Twilio fetches, media_links.py);
- `StatusCallback`: our status URL, so Twilio reports sent/delivered/failed (inbound.py).

Twilio answers 201 with the message's `sid`: it becomes the message's external id (status
callbacks name it) and the message is sent. 429, 5xx, error 20429 and network failures are
tried again with backoff, honouring Retry-After; other errors fail the message with Twilio's
words, and 21610 (the number replied STOP to Twilio) also records the opt-out.

Refused before any call, with the reason on the message: a number that opted out of this
inbox since the reply was queued, a body over Twilio's 1600 characters, more than 10 files
or over 5 MB of them. The segment count and encoding are kept in `data["sms"]`."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from inbox import segments
from inbox.actions.contacts import normalize_identity
from inbox.models import ContactIdentity, Message, SmsOptOut
from inbox.sources.delivery import fail, last_incoming_data, not_deliverable, retry_later
from inbox.sources.http import DeliveryRefused, TransientError, call
from inbox.sources.sms.media_links import media_link
from inbox.sources.sms.twilio import TwilioAccount, api_error, describe_error, public_url

MAX_TEXT = 1600  # Twilio's limit for one message (error 21617)
MAX_FILES = 10
MAX_FILES_BYTES = 5 * 1024 * 1024  # Twilio's limit for the files of one MMS
RATE_LIMITED = 20429
OPTED_OUT = 21610
OPTED_OUT_REFUSAL = (
    "Not sent: this number has opted out of messages from this inbox (they sent STOP). "
    "Nothing can be sent until they text START."
)


def _numbers(message: Message, account: TwilioAccount) -> tuple[str, str]:
    """(the customer's number, our number) as in the customer's last message, else the
    contact's phone and the inbox's number."""
    seen = last_incoming_data(message).get("twilio") or {}
    customer = str(seen.get("from") or "")
    ours = str(seen.get("to") or "") or account.phone_number
    if not customer:
        contact = message.conversation.contact
        customer = contact.phone or (
            ContactIdentity.objects.filter(contact=contact, kind=ContactIdentity.Kind.PHONE)
            .values_list("value", flat=True)
            .first()
            or ""
        )
    return (normalize_identity("phone", customer) if customer else "", ours)


def _refusal(message: Message, to: str) -> str | None:
    """Why this message cannot go, before calling Twilio; None when it can."""
    if not to:
        return "No phone number to send to: the contact has none"
    if SmsOptOut.objects.filter(inbox_id=message.inbox_id, phone=to).exists():
        return OPTED_OUT_REFUSAL
    if len(message.text) > MAX_TEXT:
        return (
            f"SMS messages are limited to {MAX_TEXT} characters; this one has "
            f"{len(message.text)}: shorten it or send it in parts"
        )
    files = list(message.attachments.all())
    if len(files) > MAX_FILES:
        return f"An MMS takes at most {MAX_FILES} files; this one has {len(files)}"
    if sum(f.size for f in files) > MAX_FILES_BYTES:
        return "The files of an MMS may total at most 5 MB"
    return None


def deliver(message: Message) -> str:
    from inbox.actions import record_delivery_attempt
    from inbox.actions.platform import set_sms_opt_out

    if nothing := not_deliverable(message):
        return nothing
    inbox = message.inbox
    account = TwilioAccount.of(inbox)
    problem = account.problem()
    if problem:
        return fail(message, f"This SMS inbox is not set up: {problem}")
    to, ours = _numbers(message, account)
    refused = _refusal(message, to)
    if refused:
        return fail(message, refused)
    size = segments.count(message.text)
    attempts = record_delivery_attempt(
        message=message, extras={"sms": {"segments": size.segments, "encoding": size.encoding}}
    )
    form: list[tuple[str, str]] = [("To", to)]
    if account.messaging_service_sid:
        form.append(("MessagingServiceSid", account.messaging_service_sid))
    if ours:
        form.append(("From", ours))
    if message.text:
        form.append(("Body", message.text))
    form += [("MediaUrl", media_link(inbox, file)) for file in message.attachments.all()]
    form.append(("StatusCallback", public_url(inbox, "status")))
    headers = {**account.headers(), "Content-Type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode(form).encode()
    try:
        answer = call(account.api_url("/Messages.json"), body, headers, trust_providers=True)
    except DeliveryRefused as exc:
        return fail(message, str(exc))
    except TransientError as exc:
        description, retry_after = str(exc), exc.retry_after
    else:
        if 200 <= answer.status < 300:
            try:
                sent = json.loads(answer.text)
            except ValueError:
                sent = None
            sid = str(sent.get("sid") or "") if isinstance(sent, dict) else ""
            if sid and isinstance(sent, dict):
                return _accepted(message, sid, sent, attempts)
            description, retry_after = "Twilio answered without a message id", None
        else:
            error = api_error(answer)
            retry_after = answer.retry_after
            description = f"Twilio: {error}"
            if error.code == OPTED_OUT:
                set_sms_opt_out(inbox=inbox, phone=to, opted_out=True, keyword="Twilio 21610")
                return fail(message, f"{OPTED_OUT_REFUSAL} Twilio refused it: {error}")
            if answer.status != 429 and answer.status < 500 and error.code != RATE_LIMITED:
                return fail(message, f"Twilio refused it: {error}")
    return retry_later(message, attempts=attempts, error=description, retry_after=retry_after)


def _accepted(message: Message, sid: str, sent: dict[str, Any], attempts: int) -> str:
    """Twilio took the message: keep its sid (status callbacks name it), then the status."""
    from inbox.actions import record_delivery_attempt, set_delivery_status

    counted = str(sent.get("num_segments") or "")
    sms = {**(message.data.get("sms") or {})}
    if counted.isdigit():
        sms["twilio_segments"] = int(counted)
    record_delivery_attempt(
        message=message, counted=True, provider_id=sid, external_id=sid, extras={"sms": sms}
    )
    status = str(sent.get("status") or "").lower()
    if status in ("failed", "undelivered"):
        reason = describe_error(sent.get("error_code"), str(sent.get("error_message") or ""))
        set_delivery_status(
            message=message,
            status=Message.Delivery.FAILED,
            error=f"Twilio reports it {status}: {reason}",
        )
        return f"failed: {reason}"
    # Handed to Twilio (queued, accepted or sending there): sent, as far as agents go; its
    # callbacks move it on to delivered, or fail it.
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts} as {sid}"
