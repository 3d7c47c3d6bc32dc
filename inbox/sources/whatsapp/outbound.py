"""Agents' replies on WhatsApp, one attempt per run of the `deliver_message` task: POST
`/{phone_number_id}/messages` of the Cloud API
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).

Text, a template (`message.data["template"]`; an image, video or document header goes as
the message's file, uploaded and named by its media id), and files: each file is uploaded to
`/{phone_number_id}/media` first, then sent by its media id, the text as the first file's
caption when that kind of file takes one. Quick replies (`message.data["quick_replies"]`,
button titles; a template send ignores them) make the text an interactive message, sent
after the files: up to 3 as reply buttons (titles up to 20 characters, text up to 1,024),
up to 10 as a list the customer opens with a button (rows up to 24 characters), labelled
in the inbox's `list_button_label` setting (the customers' language; "Choose" if unset);
more, longer titles or no text fail the message with the reason, before any call
(https://developers.facebook.com/docs/whatsapp/guides/interactive-messages/).

The first part's `wamid` becomes the message's external id, so the status webhooks (sent,
delivered, read, failed) find it; all are kept in `data["whatsapp_sent"]`, so a retry
resumes after the parts already sent. Rate limits, 5xx and network failures are tried again
with backoff; any other refusal fails the message with WhatsApp's words, and the agent can
retry it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inbox.actions.messages import record_sent_part
from inbox.models import ContactIdentity, Message
from inbox.sources.delivery import (
    fail,
    last_incoming_data,
    not_deliverable,
    retry_later,
    sent_parts,
)
from inbox.sources.http import multipart
from inbox.sources.meta import Graph, GraphError
from inbox.sources.whatsapp.templates import api_object

MAX_TEXT = 4096
MAX_CAPTION = 1024
SENT = ("whatsapp_sent",)  # where in message.data the wamids of the parts sent are kept
# Quick replies: reply buttons, else a list of rows (one section) behind LIST_BUTTON.
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_TEXT = 1024
MAX_ROWS = 10
MAX_ROW_TITLE = 24
LIST_BUTTON = "Choose"
MAX_LIST_BUTTON = 20
# What WhatsApp takes for each kind of file (type, size limit), by content type prefix.
FILE_KINDS = (
    ("image/jpeg", "image", 5 * 1024 * 1024),
    ("image/png", "image", 5 * 1024 * 1024),
    ("video/", "video", 16 * 1024 * 1024),
    ("audio/", "audio", 16 * 1024 * 1024),
    ("", "document", 100 * 1024 * 1024),
)


def _recipient(message: Message) -> str:
    """The WhatsApp id the customer last wrote from in this conversation (after a merge a
    contact may have several), else their (first) WhatsApp id in this inbox."""
    raw = (last_incoming_data(message).get("whatsapp") or {}).get("raw") or {}
    sender = str(raw.get("from") or "") if isinstance(raw, dict) else ""
    if sender.isdigit():
        return sender
    value = (
        ContactIdentity.objects.filter(
            contact_id=message.conversation.contact_id,
            inbox_id=message.inbox_id,
            kind=ContactIdentity.Kind.EXTERNAL,
        )
        .order_by("id")
        .values_list("value", flat=True)
        .first()
    )
    return value or ""


def _file_kind(content_type: str, size: int) -> tuple[str, str]:
    """(WhatsApp type, refusal or "")."""
    for prefix, kind, limit in FILE_KINDS:
        if content_type.startswith(prefix):
            if size > limit:
                return kind, f"WhatsApp takes a {kind} of at most {limit // (1024 * 1024)} MB"
            return kind, ""
    return "document", ""


class Refused(Exception):
    """This message cannot be sent as it is (the message says why); retrying will not help."""


def interactive(message: Message) -> dict[str, Any] | None:
    """The `interactive` object carrying the text and the quick replies, or None when the
    message has none (or is a template send). Raises Refused."""
    data = message.data or {}
    titles = data.get("quick_replies")
    if not titles or data.get("template"):
        return None
    if not isinstance(titles, list) or not all(isinstance(t, str) and t.strip() for t in titles):
        raise Refused("The quick replies must be a list of titles")
    titles = [t.strip() for t in titles]
    text = message.text.strip()
    if len(titles) > MAX_ROWS:
        raise Refused(
            f"WhatsApp takes at most {MAX_ROWS} quick replies; this message has {len(titles)}"
        )
    if not text:
        raise Refused("WhatsApp quick replies need text to go with them")
    # Ids the answer's webhook names (inbound.py keeps it as `reply_id`); its text is the title.
    choices = [(f"quick_reply_{n}", title) for n, title in enumerate(titles, 1)]
    if len(titles) <= MAX_BUTTONS:
        _check_titles(titles, MAX_BUTTON_TITLE, "as buttons")
        if len(text) > MAX_BUTTON_TEXT:
            raise Refused(
                f"A WhatsApp message with quick reply buttons is limited to {MAX_BUTTON_TEXT} "
                f"characters; this one has {len(text)}"
            )
        buttons = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in choices]
        return {"type": "button", "body": {"text": text}, "action": {"buttons": buttons}}
    _check_titles(titles, MAX_ROW_TITLE, "in a list")
    rows = [{"id": i, "title": t} for i, t in choices]
    label = str((message.inbox.settings or {}).get("list_button_label") or "").strip()
    return {  # one section: WhatsApp needs no section title (an English word less)
        "type": "list",
        "body": {"text": text},
        "action": {"button": label[:MAX_LIST_BUTTON] or LIST_BUTTON, "sections": [{"rows": rows}]},
    }


def _check_titles(titles: list[str], limit: int, shown_as: str) -> None:
    long = [t for t in titles if len(t) > limit]
    if long:
        raise Refused(
            f"WhatsApp quick replies {shown_as} are limited to {limit} characters: {long[0]!r}"
        )


Part = Callable[[], dict[str, Any]]  # builds one message object (uploading its file)


def _parts(
    message: Message, graph: Graph, number: str, to: str, buttons: dict[str, Any] | None
) -> list[Part]:
    """The message objects to send, in order, each built when its turn comes (a file is
    uploaded only then, so a retry does not upload the parts already sent again);
    `buttons`: the text's interactive object when it has quick replies, sent last."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    template = (message.data or {}).get("template")
    files = [a for a in message.attachments.all() if not a.inline]
    if template:

        def template_part() -> dict[str, Any]:
            header_file = None
            if template.get("header_media") and files:  # uploaded now, named by its id
                _, refusal = _file_kind(files[0].content_type, files[0].size)
                if refusal:
                    raise GraphError(f"{files[0].filename}: {refusal}")
                header_file = {"id": _upload(graph, number, files[0])}
                if template["header_media"] == "document":
                    header_file["filename"] = files[0].filename
            return {**base, "type": "template", "template": api_object(template, header_file)}

        return [template_part]
    parts: list[Part] = []
    text = "" if buttons else message.text.strip()
    caption_used = False
    for attachment in files:
        kind, refusal = _file_kind(attachment.content_type, attachment.size)
        if refusal:
            raise GraphError(f"{attachment.filename}: {refusal}")
        caption = ""
        if text and not caption_used and kind != "audio" and len(text) <= MAX_CAPTION:
            caption, caption_used = text, True

        def upload(
            attachment: Any = attachment, kind: str = kind, caption: str = caption
        ) -> dict[str, Any]:
            item: dict[str, Any] = {"id": _upload(graph, number, attachment)}
            if kind == "document":
                item["filename"] = attachment.filename
            if caption:
                item["caption"] = caption
            return {**base, "type": kind, kind: item}

        parts.append(upload)
    if text and not caption_used:
        body = {**base, "type": "text", "text": {"body": text, "preview_url": "http" in text}}
        parts.insert(0, lambda: body)
    if buttons:
        parts.append(lambda: {**base, "type": "interactive", "interactive": buttons})
    return parts


def _upload(graph: Graph, number: str, attachment: Any) -> str:
    """Upload a file to the number's media store; its media id."""
    with attachment.file.open("rb") as handle:
        content = handle.read()
    payload, content_type = multipart(
        {"messaging_product": "whatsapp", "type": attachment.content_type},
        [("file", attachment.filename, attachment.content_type, content)],
    )
    uploaded = graph.request(f"{number}/media", payload, content_type=content_type)
    return str(uploaded.get("id") or "")


def _learn_wa_id(message: Message, answer: dict[str, Any], to: str) -> None:
    """WhatsApp answers with the customer's WhatsApp id (`contacts[0].wa_id`), which can
    differ from the number we sent to: keep it, so their answers find this contact."""
    from inbox.actions.platform import remember_identity

    contacts = answer.get("contacts")
    first = contacts[0] if isinstance(contacts, list) and contacts else {}
    wa_id = str(first.get("wa_id") or "") if isinstance(first, dict) else ""
    if wa_id.isdigit() and wa_id != to:
        remember_identity(
            contact_id=message.conversation.contact_id, inbox=message.inbox, value=wa_id
        )


def deliver(message: Message) -> str:
    from inbox.actions import record_delivery_attempt, set_delivery_status

    if nothing := not_deliverable(message):
        return nothing
    inbox = message.inbox
    number = str((inbox.settings or {}).get("phone_number_id") or "")
    token = str(inbox.get_secrets().get("access_token") or "")
    if not number or not token:
        return fail(message, "This WhatsApp inbox has no phone number id or access token")
    if len(message.text) > MAX_TEXT:
        return fail(message, f"WhatsApp messages are limited to {MAX_TEXT} characters")
    to = _recipient(message)
    if not to:
        return fail(message, "This contact has no WhatsApp number in this inbox")
    try:
        buttons = interactive(message)
    except Refused as exc:
        return fail(message, str(exc))
    attempts = record_delivery_attempt(message=message)
    graph = Graph(token)
    sent_ids = sent_parts(message, SENT)
    try:
        parts = _parts(message, graph, number, to, buttons)
        for part in parts[len(sent_ids) :]:  # a retry resumes after the parts already sent
            answer = graph.request(f"{number}/messages", part())
            _learn_wa_id(message, answer, to)
            wamid = str(((answer.get("messages") or [{}])[0] or {}).get("id") or "")
            sent_ids = record_sent_part(message, wamid, path=SENT)
    except GraphError as exc:
        if not exc.transient:
            return fail(message, f"WhatsApp refused it: {exc}")
        return retry_later(message, attempts=attempts, error=str(exc), retry_after=exc.retry_after)
    record_delivery_attempt(message=message, counted=True, provider_id=sent_ids[-1])
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts}"
