"""Stored Twilio deliveries into messages, opt-outs and delivery statuses (run by the worker;
the signature was checked by views.py). Parameters as Twilio documents them:
https://www.twilio.com/docs/messaging/guides/webhook-request and
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status.

A delivery for another Twilio account (`AccountSid`) or another number (`To`, unless the
message came through this inbox's messaging service) is kept as unprocessable: it is never
attached to a conversation of this inbox.

Incoming message:
- The sender's number (`From`, E.164) is their identity; `MessageSid` is the stored
  message's external id, so a redelivery is stored once; `Body` is the text.
- MMS: `NumMedia` files at `MediaUrl{i}` (type `MediaContentType{i}`), downloaded while
  the delivery is processed, with the account's credentials when the URL is Twilio's own
  API host (Twilio's media may require HTTP basic auth). A file that cannot be downloaded
  is named in the text with the reason; the parameters are always kept in `data`.
- Opt-out keywords (the whole body, any case, or Twilio's `OptOutType` when Advanced
  Opt-Out is on): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT opt the
  number out of this inbox; START, YES, UNSTOP opt it back in; HELP and INFO are noted.
  The keyword message is stored so agents see it, as `automated` (it neither reopens the
  conversation nor asks for a reply suggestion) when it is an opt-out, or an opt-in of a
  number that had opted out: nobody is waiting for an answer to "STOP". A "Yes" from a
  number that never opted out, and HELP, are ordinary messages.

Status callback (`MessageStatus`): sent, delivered, read move our message along; failed
and undelivered fail it with the error code in words; accepted, scheduled, queued and
sending change nothing. A status for a message whose send is not recorded yet is retried
(RetryLater), then kept as unprocessable. Error 21610 also opts the number out.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from django.conf import settings

from inbox.actions.contacts import normalize_identity
from inbox.actions.messages import AttachmentInput
from inbox.models import Message, ProviderEvent, SmsOptOut
from inbox.sources.media import MediaProblem, fetch_media, placeholder
from inbox.sources.sms.twilio import (
    TwilioAccount,
    describe_error,
    is_status_callback,
    parse_form,
)
from inbox.sources.webhooks import RetryLater, Unprocessable

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
MAX_MEDIA = 10  # Twilio's limit per MMS

# MessageStatus → our delivery status; the others listed change nothing.
STATUSES = {
    "sent": Message.Delivery.SENT,
    "delivered": Message.Delivery.DELIVERED,
    "read": Message.Delivery.READ,
    "failed": Message.Delivery.FAILED,
    "undelivered": Message.Delivery.FAILED,
    "canceled": Message.Delivery.FAILED,
}
UNCHANGED = frozenset({"accepted", "scheduled", "queued", "sending", "partially_delivered"})
OPTED_OUT_CODE = "21610"


def _fields(event: ProviderEvent) -> dict[str, str]:
    try:
        params = parse_form(bytes(event.body))
    except ValueError as exc:
        raise Unprocessable("The delivery is not a form-encoded Twilio request.") from exc
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    return fields


def _account(event: ProviderEvent, fields: dict[str, str]) -> TwilioAccount:
    """The inbox's Twilio account, once the delivery is known to be for it."""
    account = TwilioAccount.of(event.inbox)
    given = fields.get("AccountSid", "").strip()
    if not account.account_sid or given != account.account_sid:
        raise Unprocessable(
            f"This delivery is for Twilio account {given or '(none)'}, not this inbox's "
            f"({account.account_sid or 'not set'})."
        )
    if not fields.get("MessageSid", "").strip():
        raise Unprocessable("The delivery has no MessageSid.")
    return account


def process(event: ProviderEvent) -> None:
    fields = _fields(event)
    account = _account(event, fields)
    if is_status_callback(fields):
        _status(event, fields)
    else:
        _message(event, fields, account)


def plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    """The delivery's message when it is an SMS with text only and no opt-out, opt-in or
    help keyword (stored in batches by the worker, inbox/sources/webhooks.py); else None."""
    from inbox.actions import IdentityInput
    from inbox.actions.inbound_batch import InboundText

    fields = _fields(event)
    account = _account(event, fields)
    sender = fields.get("From", "").strip()
    if is_status_callback(fields) or not sender or fields.get("NumMedia", "0") != "0":
        return None
    if opt_keyword(fields) or not fields.get("Body"):
        return None
    _check_recipient(account, fields)
    phone = normalize_identity("phone", sender)
    return [
        InboundText(
            identity=IdentityInput(kind="phone", value=phone),
            text=fields["Body"],
            external_id=fields["MessageSid"].strip(),
            data={"twilio": _data(phone, fields, "")},
        )
    ]


def _data(phone: str, fields: dict[str, str], keyword: str) -> dict[str, Any]:
    data: dict[str, Any] = {"from": phone, "to": fields.get("To", "").strip(), "raw": fields}
    if keyword:
        data["keyword"] = keyword
    return data


def opt_keyword(fields: dict[str, str]) -> str:
    """ "STOP", "START", "HELP", or "" for an ordinary message."""
    given = fields.get("OptOutType", "").strip().upper()
    if given in ("STOP", "START", "HELP"):
        return given  # Advanced Opt-Out: the messaging service's own keywords count
    word = " ".join(fields.get("Body", "").split()).upper()
    if word.rstrip(".!") in STOP_WORDS:  # "Stop!" is taken at its word, to be safe
        return "STOP"
    if word in START_WORDS:
        return "START"
    if word in HELP_WORDS:
        return "HELP"
    return ""


def _check_recipient(account: TwilioAccount, fields: dict[str, str]) -> None:
    to = fields.get("To", "").strip()
    number = normalize_identity("phone", to) if to else ""
    if account.phone_number and number == account.phone_number:
        return
    service = fields.get("MessagingServiceSid", "").strip()
    if account.messaging_service_sid and service == account.messaging_service_sid:
        return
    ours = " or ".join(
        value
        for value in (
            account.phone_number,
            account.messaging_service_sid and "its messaging service",
        )
        if value
    )
    raise Unprocessable(
        f"This message was sent to {to or '(no number)'}, not to this inbox's "
        f"{ours or 'number (none is set)'}."
    )


def _media_kind(content_type: str) -> str:
    family = content_type.split("/", 1)[0].strip().lower()
    return {"image": "image", "video": "video", "audio": "audio"}.get(family, "file")


def _twilio_host(url: str) -> bool:
    """Whether `url` is on Twilio's API host, where our credentials may be sent."""
    ours = urllib.parse.urlsplit(settings.TWILIO_API_URL)
    theirs = urllib.parse.urlsplit(url)
    try:
        return (theirs.scheme, theirs.hostname, theirs.port) == (
            ours.scheme,
            ours.hostname,
            ours.port,
        )
    except ValueError:
        return False


def _media(
    event: ProviderEvent, fields: dict[str, str], account: TwilioAccount
) -> tuple[list[AttachmentInput], list[str]]:
    """The files downloaded, and a placeholder line for each that could not be."""
    try:
        count = int(fields.get("NumMedia") or 0)
    except ValueError:
        count = 0
    files: list[AttachmentInput] = []
    problems: list[str] = []
    for index in range(max(0, min(count, MAX_MEDIA))):
        url = fields.get(f"MediaUrl{index}", "").strip()
        declared = fields.get(f"MediaContentType{index}", "").strip()
        kind = _media_kind(declared)
        if not url:
            problems.append(placeholder(kind, "Twilio gave no URL for it"))
            continue
        headers = account.headers() if _twilio_host(url) else {}
        try:
            files.append(
                fetch_media(
                    url,
                    kind=kind,
                    attempt=event.attempts,
                    headers=headers,
                    declared_type=declared,
                )
            )
        except MediaProblem as exc:
            problems.append(placeholder(kind, str(exc)))
    return files, problems


def _message(event: ProviderEvent, fields: dict[str, str], account: TwilioAccount) -> None:
    from inbox.actions import IdentityInput, receive_inbound_message
    from inbox.actions.platform import set_sms_opt_out
    from inbox.events import writing

    inbox = event.inbox
    sid = fields["MessageSid"].strip()
    sender = fields.get("From", "").strip()
    if not sender:
        raise Unprocessable("The message has no sender (From).")
    _check_recipient(account, fields)
    if Message.objects.filter(inbox=inbox, external_id=sid[:255]).exists():
        return  # a redelivery: stored already, nothing to download again
    phone = normalize_identity("phone", sender)
    keyword = opt_keyword(fields)
    files, problems = _media(event, fields, account)
    body = fields.get("Body", "")
    text = "\n".join(part for part in (body, *problems) if part)
    was_opted_out = SmsOptOut.objects.filter(inbox=inbox, phone=phone).exists()
    changes_opt_out = keyword == "STOP" or (keyword == "START" and was_opted_out)
    with writing():  # the message and the opt-out it asks for, together or not at all
        result = receive_inbound_message(
            inbox=inbox,
            identity=IdentityInput(kind="phone", value=phone),
            text=text,
            external_id=sid,
            attachments=files,
            automated=changes_opt_out,
            data={"twilio": _data(phone, fields, keyword)},
        )
        if result.created and changes_opt_out:
            set_sms_opt_out(
                inbox=inbox,
                phone=phone,
                opted_out=keyword == "STOP",
                keyword=" ".join(body.split()).upper()[:40] or keyword,
            )


def _status(event: ProviderEvent, fields: dict[str, str]) -> None:
    from inbox.actions.platform import provider_message, record_provider_status, set_sms_opt_out

    inbox = event.inbox
    sid = fields["MessageSid"].strip()
    reported = fields.get("MessageStatus", "").strip().lower()
    code = fields.get("ErrorCode", "").strip()
    message = provider_message(inbox, sid)
    if message is None:
        raise RetryLater(f"No message sent from this inbox has the Twilio id {sid} (yet).")
    if message.direction != Message.Direction.OUTGOING:
        raise Unprocessable(f"{sid} is a message the customer sent, not one of ours.")
    if code == OPTED_OUT_CODE and fields.get("To", "").strip():
        set_sms_opt_out(
            inbox=inbox, phone=fields["To"].strip(), opted_out=True, keyword="Twilio 21610"
        )
    if reported in UNCHANGED:
        return
    status = STATUSES.get(reported)
    if status is None:
        raise Unprocessable(f"A message status Parley does not know: {reported!r}.")
    error = ""
    if status == Message.Delivery.FAILED:
        reason = describe_error(code or None, fields.get("ErrorMessage", ""))
        error = f"Twilio reports it {reported}: {reason}"
    record_provider_status(inbox=inbox, provider_id=sid, status=status, error=error)
