"""WhatsApp Cloud API webhooks into messages
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

A delivery holds `entry[].changes[]`; each change's `value.metadata.phone_number_id` is this
inbox's number, or another WhatsApp inbox's on the same Meta app (an app has one webhook URL
for all its numbers); any other number is kept as unprocessable, never attached to another
inbox's conversation. Fields:
- `messages`: customer messages (`value.messages`, with `value.contacts` for names) and
  status reports of ours (`value.statuses`: sent, delivered, read, failed; in any order);
- `smb_message_echoes`: messages the business sent from the WhatsApp Business app on the
  same number (coexistence), stored as outgoing;
- `message_template_status_update`: a template approved, rejected or paused.
The sender's `wa_id` is their identity in this inbox; `+wa_id` is their phone number. The
message's `wamid` is its external id: a redelivered webhook is stored once.

Deliveries are signed but still untrusted in shape: every object is read through `_dict` /
`_list`, so a field of the wrong type is treated as missing. What a message cannot do
without (its sender, its id, an echo's recipient and id, the phone number id) makes the
delivery unprocessable with the reason; an optional field of the wrong shape (a profile, a
reply context, a contact card's name, error details) is ignored. A timestamp that is not a
plausible time (not digits, out of range, more than a day ahead) is ignored too: the
message is stored as received now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from inbox.actions.contacts import IdentityInput
from inbox.actions.messages import AttachmentInput
from inbox.models import Inbox, Message, ProviderEvent
from inbox.sources import media
from inbox.sources.meta import Graph, GraphError
from inbox.sources.webhooks import RetryLater, Unprocessable, secrets_match, strict_json

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUSES = {
    "sent": Message.Delivery.SENT,
    "delivered": Message.Delivery.DELIVERED,
    "read": Message.Delivery.READ,
    "failed": Message.Delivery.FAILED,
}
IGNORED_FIELDS = {"smb_app_state_sync", "account_update", "phone_number_quality_update"}


def _dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (deliveries are untrusted)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def _number(value: Any) -> str:
    """A phone number as WhatsApp gives it (ASCII digits, at most 20), else ""."""
    text = str(value or "")
    return text if text.isascii() and text.isdigit() and len(text) <= 20 else ""


def _payload(event: ProviderEvent) -> dict[str, Any]:
    try:
        payload = strict_json(bytes(event.body))
    except ValueError as exc:
        raise Unprocessable("The delivery is not JSON.") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise Unprocessable("Not a WhatsApp webhook delivery (no entry list).")
    return payload


def _when(value: Any) -> datetime | None:
    """A Unix timestamp (a string of digits) as a time; None (now) when it is not a plausible
    one: not digits, out of range, or more than a day ahead."""
    text = str(value or "")
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    try:
        at = datetime.fromtimestamp(int(text), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return at if at <= datetime.now(tz=UTC) + timedelta(days=1) else None


def process(event: ProviderEvent) -> None:
    inbox = event.inbox
    mine = str((inbox.settings or {}).get("phone_number_id") or "")
    handled = 0
    for entry in _payload(event)["entry"]:
        if not isinstance(entry, dict):
            raise Unprocessable("An entry of the delivery is not an object.")
        for change in _list(entry.get("changes")):
            if not isinstance(change, dict):
                raise Unprocessable("A change of the delivery is not an object.")
            field = str(change.get("field") or "")
            value = change.get("value") or {}
            if not isinstance(value, dict):
                raise Unprocessable(f"The {field or '?'} change has no value object.")
            if field == "message_template_status_update":
                _template_status(inbox, value)
                handled += 1
                continue
            if field in IGNORED_FIELDS:
                handled += 1
                continue
            if field not in ("messages", "smb_message_echoes"):
                raise Unprocessable(f"WhatsApp change of a kind not handled: {field or '?'}")
            number = str(_dict(value.get("metadata")).get("phone_number_id") or "")
            target = inbox if number and number == mine else _same_app_inbox(inbox, number)
            if field == "smb_message_echoes":
                for echo in _list(value.get("message_echoes")):
                    _echo(target, event.attempts, echo)
                    handled += 1
                continue
            names = _names(value)
            for message in _list(value.get("messages")):
                _message(target, event.attempts, message, names)
                handled += 1
            for status in _list(value.get("statuses")):
                _status(target, status)
                handled += 1
            for error in _list(value.get("errors")):
                raise Unprocessable(f"WhatsApp reported an error: {_error_text([error])}")
    if not handled:
        raise Unprocessable("The delivery holds no message, status or template update.")


def _same_app_inbox(inbox: Inbox, number: str) -> Inbox:
    """The inbox of another number on the same Meta app. An app has one webhook URL, so an
    app serving several numbers sends all of them to the URL pasted in its dashboard; a
    change for another number goes to that number's inbox when the same app secret signed
    the delivery, and never into this inbox's conversations."""
    app_secret = str(inbox.get_secrets().get("app_secret") or "")
    if number:
        others = Inbox.objects.filter(
            kind=Inbox.Kind.WHATSAPP, is_active=True, settings__phone_number_id=number
        ).exclude(pk=inbox.pk)
        for other in others:
            if secrets_match(str(other.get_secrets().get("app_secret") or ""), app_secret):
                return other
    mine = str((inbox.settings or {}).get("phone_number_id") or "")
    raise Unprocessable(
        f"The delivery names phone number id {number or '(none)'}; this inbox is "
        f"{mine or 'not set up'} and no other WhatsApp inbox on the same Meta app has that "
        "number. Nothing was stored."
    )


# --- Customer messages ------------------------------------------------------------------------


def _error_text(errors: Any) -> str:
    parts = []
    for error in _list(errors):
        if not isinstance(error, dict):
            continue
        code = error.get("code")
        title = str(error.get("title") or error.get("message") or "error")
        details = str(_dict(error.get("error_data")).get("details") or "")
        text = f"(#{code}) {title}" if code else title
        parts.append(f"{text}: {details}" if details and details != title else text)
    return "; ".join(parts) or "no reason given"


def _download(inbox: Inbox, attempt: int, kind: str, item: dict[str, Any]) -> AttachmentInput:
    """Media by id: ask the Graph API for its (short-lived) URL, then fetch it with the
    token. Raises media.MediaProblem or RetryLater."""
    media_id = str(item.get("id") or "")
    if not media_id:
        raise media.MediaProblem("the message carries no media id")
    token = str(inbox.get_secrets().get("access_token") or "")
    try:
        described = Graph(token).request(media_id, method="GET")
    except GraphError as exc:
        if exc.transient and attempt <= 3:
            raise RetryLater(f"Looking up media {media_id} failed: {exc}") from exc
        raise media.MediaProblem(str(exc)) from exc
    url = str(described.get("url") or "")
    if not url:
        raise media.MediaProblem("WhatsApp gave no download URL")
    return media.fetch_media(
        url,
        kind="voice" if kind == "audio" and item.get("voice") else kind,
        attempt=attempt,
        headers={"Authorization": f"Bearer {token}"},
        declared_type=str(item.get("mime_type") or described.get("mime_type") or ""),
        filename=str(item.get("filename") or ""),
    )


def _location_text(location: dict[str, Any]) -> str:
    lat, lng = location.get("latitude"), location.get("longitude")
    words = ", ".join(str(location[k]) for k in ("name", "address") if location.get(k))
    link = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lng}" if lat and lng else ""
    return " ".join(part for part in (f"📍 {words or 'Location'}", link) if part)


def _vcard(card: dict[str, Any]) -> tuple[str, bytes]:
    name = str(_dict(card.get("name")).get("formatted_name") or "Contact")
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}"]
    phones = [p for p in _list(card.get("phones")) if isinstance(p, dict)]
    emails = [e for e in _list(card.get("emails")) if isinstance(e, dict)]
    lines += [f"TEL:{p.get('phone')}" for p in phones if p.get("phone")]
    lines += [f"EMAIL:{e.get('email')}" for e in emails if e.get("email")]
    lines.append("END:VCARD")
    summary = " · ".join([name, *(str(p.get("phone")) for p in phones if p.get("phone"))])
    return summary, ("\r\n".join(lines) + "\r\n").encode()


def _content(
    inbox: Inbox, attempt: int, message: dict[str, Any]
) -> tuple[str, list[AttachmentInput], dict[str, Any]]:
    """Text, files and extras of one message."""
    kind = str(message.get("type") or "")
    body = _dict(message.get(kind))
    extras: dict[str, Any] = {}
    if kind == "text":
        return str(body.get("body") or ""), [], extras
    if kind in MEDIA_TYPES:
        caption = str(body.get("caption") or "")
        try:
            return caption, [_download(inbox, attempt, kind, body)], extras
        except media.MediaProblem as exc:
            extras["media_error"] = str(exc)
            text = media.placeholder("voice" if body.get("voice") else kind, str(exc))
            return "\n".join(p for p in (caption, text) if p), [], extras
    if kind == "location":
        extras["location"] = body
        return _location_text(body), [], extras
    if kind == "contacts":
        files, lines = [], []
        for card in _list(message.get("contacts")):
            summary, vcard = _vcard(_dict(card))
            lines.append(f"👤 {summary}")
            files.append(AttachmentInput(f"{summary.split(' · ')[0]}.vcf", "text/vcard", vcard))
        return "\n".join(lines) or media.placeholder("contacts"), files, extras
    if kind == "button":  # a template's quick-reply button
        extras["button_payload"] = str(body.get("payload") or "")
        return str(body.get("text") or ""), [], extras
    if kind == "interactive":
        reply = _dict(body.get("button_reply")) or _dict(body.get("list_reply"))
        extras["reply_id"] = str(reply.get("id") or "")
        title = str(reply.get("title") or "")
        return (title or media.placeholder("interactive reply")), [], extras
    if kind in ("unsupported", "unknown"):
        extras["provider_error"] = _error_text(message.get("errors"))
        return "[A kind of WhatsApp message that WhatsApp does not pass on]", [], extras
    return media.placeholder(kind or "message"), [], extras


def _message(inbox: Inbox, attempt: int, message: Any, names: dict[str, str]) -> None:
    from inbox.actions import receive_inbound_message
    from inbox.actions.platform import provider_message, react_to_message

    if not isinstance(message, dict):
        raise Unprocessable("A message that is not an object.")
    sender, wamid = _number(message.get("from")), str(message.get("id") or "")
    if not sender or not wamid or len(wamid) > 255:
        raise Unprocessable("A message without its sender (from) or id.")
    if message.get("type") == "reaction":
        reaction = _dict(message.get("reaction"))
        target = provider_message(inbox, str(reaction.get("message_id") or ""))
        if target is None:
            raise Unprocessable("A reaction to a message Parley does not have.")
        react_to_message(message=target, emoji=str(reaction.get("emoji") or ""))
        return
    if provider_message(inbox, wamid) is not None:
        return  # a redelivery: nothing to download again
    text, files, extras = _content(inbox, attempt, message)
    receive_inbound_message(
        inbox=inbox,
        identity=_identity(sender, names),
        text=text,
        external_id=wamid,
        attachments=files,
        received_at=_when(message.get("timestamp")),
        data=_data(message, extras),
    )


def _names(value: dict[str, Any]) -> dict[str, str]:
    """The senders' profile names, by wa_id."""
    return {
        str(c.get("wa_id")): str(_dict(c.get("profile")).get("name") or "")
        for c in _list(value.get("contacts"))
        if isinstance(c, dict)
    }


def _identity(sender: str, names: dict[str, str]) -> IdentityInput:
    return IdentityInput(
        kind="external", value=sender, name=names.get(sender, ""), phone=f"+{sender}"
    )


def _data(message: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    context = _dict(message.get("context"))
    if context.get("id"):
        extras["reply_to"] = str(context["id"])
    return {"whatsapp": {"type": message.get("type"), **extras, "raw": message}}


def plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    """The delivery's messages when it holds only customers' text messages to this inbox's
    own number (stored in batches by the worker, inbox/sources/webhooks.py); else None."""
    from inbox.actions.inbound_batch import InboundText

    mine = str((event.inbox.settings or {}).get("phone_number_id") or "")
    texts = []
    for entry in _payload(event)["entry"]:
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            number = str(_dict(value.get("metadata")).get("phone_number_id") or "")
            if _dict(change).get("field") != "messages" or not mine or number != mine:
                return None
            if value.get("statuses") or value.get("errors"):
                return None
            names = _names(value)
            for message in _list(value.get("messages")):
                if not isinstance(message, dict) or message.get("type") != "text":
                    return None
                sender, wamid = _number(message.get("from")), str(message.get("id") or "")
                if not sender or not wamid or len(wamid) > 255:
                    return None
                texts.append(
                    InboundText(
                        identity=_identity(sender, names),
                        text=str(_dict(message.get("text")).get("body") or ""),
                        external_id=wamid,
                        received_at=_when(message.get("timestamp")),
                        data=_data(message, {}),
                    )
                )
    return texts or None


def _status(inbox: Inbox, status: Any) -> None:
    from inbox.actions.platform import record_provider_status

    if not isinstance(status, dict) or not status.get("id"):
        raise Unprocessable("A status without the message id.")
    state = STATUSES.get(str(status.get("status") or ""))
    if state is None:
        return  # e.g. "deleted", "warning": nothing agents act on
    error = _error_text(status.get("errors")) if state == Message.Delivery.FAILED else ""
    stored = record_provider_status(
        inbox=inbox,
        provider_id=str(status["id"]),
        status=state,
        error=f"WhatsApp could not deliver it: {error}" if error else "",
    )
    if stored is None:
        wamid = str(status["id"])
        for part_of in Message.objects.filter(inbox=inbox, data__whatsapp_sent__icontains=wamid):
            sent = list((part_of.data or {}).get("whatsapp_sent") or [])
            if wamid not in sent:
                continue  # icontains matched a longer id
            if state == Message.Delivery.FAILED:  # a later part (a file) failed: say so
                from inbox.actions.platform import record_provider_status as record

                record(
                    inbox=inbox,
                    provider_id=part_of.external_id,
                    status=state,
                    error=f"Part {sent.index(wamid) + 1} of {len(sent)} not delivered: {error}",
                )
            return  # otherwise a later part follows its first part
        if Message.objects.filter(inbox=inbox, data__previous_sends__icontains=wamid).exists():
            return  # about a send the agent has since retried: the new send has its own
        raise RetryLater(f"A status for {wamid}, a message not recorded (yet).")


def _echo(inbox: Inbox, attempt: int, echo: Any) -> None:
    from inbox.actions.platform import record_echo

    if not isinstance(echo, dict) or not _number(echo.get("to")):
        raise Unprocessable("An echo without its recipient (to).")
    if not str(echo.get("id") or "") or len(str(echo["id"])) > 255:
        raise Unprocessable("An echo without its message id (id).")
    text, files, extras = _content(inbox, attempt, echo)
    record_echo(
        inbox=inbox,
        identity=IdentityInput(kind="external", value=str(echo["to"]), phone=f"+{echo['to']}"),
        text=text,
        external_id=str(echo["id"]),
        via="WhatsApp Business app",
        attachments=files,
        sent_at=_when(echo.get("timestamp")),
        data={"whatsapp": {"type": echo.get("type"), **extras}},
    )


def _template_status(inbox: Inbox, value: dict[str, Any]) -> None:
    from inbox.actions.templates import set_template_status

    set_template_status(
        inbox=inbox,
        provider_id=str(value.get("message_template_id") or ""),
        name=str(value.get("message_template_name") or ""),
        language=str(value.get("message_template_language") or ""),
        status=str(value.get("event") or ""),
    )
