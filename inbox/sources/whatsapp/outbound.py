"""Agents' replies on WhatsApp, one attempt per run of the `deliver_message` task: POST
`/{phone_number_id}/messages` of the Cloud API
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).

Text, a template (`message.data["template"]`), and files: each file is uploaded to
`/{phone_number_id}/media` first, then sent by its media id, the text as the first file's
caption when that kind of file takes one. The answer's `wamid` becomes the message's external
id, so the status webhooks (sent, delivered, read, failed) find it. Rate limits, 5xx and
network failures are tried again with backoff; any other refusal fails the message with
WhatsApp's words, and the agent can retry it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from inbox.models import ContactIdentity, Message
from inbox.sources.http import multipart
from inbox.sources.meta import Graph, GraphError
from inbox.sources.whatsapp.templates import api_object

RETRY_DELAYS = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_TEXT = 4096
MAX_CAPTION = 1024
# What WhatsApp takes for each kind of file (type, size limit), by content type prefix.
FILE_KINDS = (
    ("image/jpeg", "image", 5 * 1024 * 1024),
    ("image/png", "image", 5 * 1024 * 1024),
    ("video/", "video", 16 * 1024 * 1024),
    ("audio/", "audio", 16 * 1024 * 1024),
    ("", "document", 100 * 1024 * 1024),
)


def _recipient(message: Message) -> str:
    """The customer's WhatsApp id in this inbox."""
    value = (
        ContactIdentity.objects.filter(
            contact_id=message.conversation.contact_id,
            inbox_id=message.inbox_id,
            kind=ContactIdentity.Kind.EXTERNAL,
        )
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


def _bodies(message: Message, graph: Graph, number: str, to: str) -> list[dict[str, Any]]:
    """The message objects to send, in order (files uploaded on the way)."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
    template = (message.data or {}).get("template")
    if template:
        return [{**base, "type": "template", "template": api_object(template)}]
    bodies: list[dict[str, Any]] = []
    text = message.text.strip()
    files = [a for a in message.attachments.all() if not a.inline]
    caption_used = False
    for attachment in files:
        kind, refusal = _file_kind(attachment.content_type, attachment.size)
        if refusal:
            raise GraphError(f"{attachment.filename}: {refusal}")
        with attachment.file.open("rb") as handle:
            content = handle.read()
        payload, content_type = multipart(
            {"messaging_product": "whatsapp", "type": attachment.content_type},
            [("file", attachment.filename, attachment.content_type, content)],
        )
        uploaded = graph.request(f"{number}/media", payload, content_type=content_type)
        item: dict[str, Any] = {"id": str(uploaded.get("id") or "")}
        if kind == "document":
            item["filename"] = attachment.filename
        if text and not caption_used and kind != "audio" and len(text) <= MAX_CAPTION:
            item["caption"], caption_used = text, True
        bodies.append({**base, "type": kind, kind: item})
    if text and not caption_used:
        bodies.insert(
            0, {**base, "type": "text", "text": {"body": text, "preview_url": "http" in text}}
        )
    return bodies


def deliver(message: Message) -> str:
    from inbox.actions import record_delivery_attempt, set_delivery_status
    from inbox.tasks import deliver_message

    if message.direction != Message.Direction.OUTGOING or message.kind != Message.Kind.MESSAGE:
        return "not an outgoing message"
    if message.delivery_status != Message.Delivery.QUEUED:
        return f"already {message.delivery_status or 'settled'}"

    def fail(error: str) -> str:
        set_delivery_status(message=message, status=Message.Delivery.FAILED, error=error)
        return f"failed: {error}"

    inbox = message.inbox
    number = str((inbox.settings or {}).get("phone_number_id") or "")
    token = str(inbox.get_secrets().get("access_token") or "")
    if not number or not token:
        return fail("This WhatsApp inbox has no phone number id or access token")
    if len(message.text) > MAX_TEXT:
        return fail(f"WhatsApp messages are limited to {MAX_TEXT} characters")
    to = _recipient(message)
    if not to:
        return fail("This contact has no WhatsApp number in this inbox")
    attempts = record_delivery_attempt(message=message)
    graph = Graph(token)
    sent_ids = list((message.data or {}).get("whatsapp_sent") or [])
    try:
        bodies = _bodies(message, graph, number, to)
        for body in bodies[len(sent_ids) :]:  # a retry resumes after the parts already sent
            answer = graph.request(f"{number}/messages", body)
            wamid = str(((answer.get("messages") or [{}])[0] or {}).get("id") or "")
            sent_ids.append(wamid)
            _remember_sent(message, sent_ids)
    except GraphError as exc:
        if not exc.transient:
            return fail(f"WhatsApp refused it: {exc}")
        record_delivery_attempt(message=message, error=str(exc), counted=True)
        if attempts > len(RETRY_DELAYS) or not deliver_message.get_backend().supports_defer:
            return fail(f"{exc} (gave up after {attempts} attempts)")
        delay = max(RETRY_DELAYS[attempts - 1], exc.retry_after)
        deliver_message.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            message.pk
        )
        return f"attempt {attempts}: {exc}; retry in {delay} s"
    record_delivery_attempt(message=message, counted=True, provider_id=sent_ids[-1])
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts}"


def _remember_sent(message: Message, sent_ids: list[str]) -> None:
    """The first part's wamid is the message's external id (status webhooks find it by
    it); all of them are kept so a retry does not send a part twice."""
    message.data = {**(message.data or {}), "whatsapp_sent": sent_ids}
    fields = ["data", "updated_at"]
    if len(sent_ids) == 1 and sent_ids[0]:
        message.external_id = sent_ids[0]
        fields.append("external_id")
    message.save(update_fields=fields)
