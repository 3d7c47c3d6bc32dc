"""Agents' replies to Messenger and Instagram through the Send API, one attempt per run of
the `deliver_message` task (https://developers.facebook.com/docs/messenger-platform/reference/send-api).

`POST {META_GRAPH_URL}/me/messages` with the Page access token:
`{"recipient": {"id": <PSID/IGSID>}, "messaging_type": "RESPONSE", "message": {"text": …}}`;
outside the 24-hour window `"messaging_type": "MESSAGE_TAG", "tag": …` (the tag the agent
chose, checked by `send_reply` against inbox/sources/rules.py). Files are uploaded with the
send itself: multipart, `message.attachment.type` image/audio/video/file and `filedata`. The
Send API takes one file per message, so a reply with text and two files is three sends;
quick replies (`message.data["quick_replies"]`, a list of titles) go with the last.

Meta answers `{"recipient_id", "message_id"}`; the first part's `message_id` becomes the
message's external id (so its echo, delivery and read reports find it), the others are kept
in `data["meta_message_ids"]`, and a retry resumes after the parts already sent. Rate limits
(4, 613…), 5xx and network failures are tried again with backoff, honouring Retry-After;
any other refusal fails the message with Meta's words and what to do about them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inbox.actions.messages import record_sent_part
from inbox.models import Attachment, ContactIdentity, Message
from inbox.sources.delivery import fail, not_deliverable, retry_later, sent_parts
from inbox.sources.http import multipart
from inbox.sources.messenger.platform import Platform
from inbox.sources.meta import GraphError

SENT = ("meta_message_ids",)  # where in message.data the ids of the parts sent are kept
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


class Refused(Exception):
    """This message cannot be sent as it is (the message says why); retrying will not help."""


@dataclass(frozen=True)
class Part:
    """One Send API call: a JSON body, or a multipart one carrying a file."""

    fields: dict[str, Any]
    attachment: Attachment | None = None

    def body(self) -> tuple[bytes, str]:
        if self.attachment is None:
            return json.dumps(self.fields).encode(), "application/json"
        with self.attachment.file.open("rb") as handle:
            content = handle.read()
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.fields.items()}
        file = ("filedata", self.attachment.filename, self.attachment.content_type, content)
        return multipart(fields, [file])


def _recipient(message: Message) -> str | None:
    """The customer's page- or Instagram-scoped id: their identity in this inbox."""
    value = (
        ContactIdentity.objects.filter(
            contact_id=message.conversation.contact_id,
            inbox_id=message.inbox_id,
            kind=ContactIdentity.Kind.EXTERNAL,
        )
        .order_by("-created_at", "-id")
        .values_list("value", flat=True)
        .first()
    )
    return value or None


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB".replace(".0 MB", " MB")


def _attachment_type(platform: Platform, attachment: Attachment) -> str:
    content_type = attachment.content_type.split(";")[0].strip().lower()
    if content_type in platform.image_types:
        kind = "image"
    elif content_type.startswith("audio/"):
        kind = "audio"
    elif content_type.startswith("video/"):
        kind = "video"
    else:
        kind = "file"
        if platform.file_types is not None and content_type not in platform.file_types:
            raise Refused(
                f"{platform.name} takes images (PNG, JPEG, GIF), videos, audio and PDF files: "
                f"{attachment.filename} is {content_type or 'of no known type'}"
            )
    limit = platform.max_file_bytes[kind]
    if attachment.size > limit:
        raise Refused(
            f"{attachment.filename} is {_megabytes(attachment.size)}; {platform.name} takes "
            f"{'images' if kind == 'image' else 'files'} up to {_megabytes(limit)}"
        )
    return kind


def _quick_replies(message: Message) -> list[dict[str, str]]:
    titles = (message.data or {}).get("quick_replies") or []
    if not isinstance(titles, list) or not all(isinstance(t, str) and t.strip() for t in titles):
        raise Refused("The quick replies must be a list of titles")
    if len(titles) > MAX_QUICK_REPLIES:
        raise Refused(f"At most {MAX_QUICK_REPLIES} quick replies can go with a message")
    long = [t for t in titles if len(t.strip()) > MAX_QUICK_REPLY_TITLE]
    if long:
        raise Refused(
            f"Quick replies are limited to {MAX_QUICK_REPLY_TITLE} characters: {long[0]!r}"
        )
    return [{"content_type": "text", "title": t.strip(), "payload": t.strip()} for t in titles]


def parts(message: Message, platform: Platform, recipient: str) -> list[Part]:
    """The Send API calls of this message, in order. Raises Refused."""
    problem = platform.text_too_long(message.text)
    if problem:
        raise Refused(problem)
    tag = str((message.data or {}).get("message_tag") or "")
    envelope: dict[str, Any] = {
        "recipient": {"id": recipient},
        "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE",
    }
    if tag:
        envelope["tag"] = tag
    bodies: list[tuple[dict[str, Any], Attachment | None]] = []
    if message.text.strip():
        bodies.append(({"text": message.text}, None))
    for attachment in message.attachments.order_by("id"):
        kind = _attachment_type(platform, attachment)
        bodies.append(
            ({"attachment": {"type": kind, "payload": {"is_reusable": False}}}, attachment)
        )
    if not bodies:
        raise Refused("There is nothing to send: no text and no file")
    quick = _quick_replies(message)
    if quick:
        bodies[-1][0]["quick_replies"] = quick
    result = []
    for body, file in bodies:
        if platform.send_metadata:
            body["metadata"] = f"parley:{message.inbox.public_id}:{message.pk}"
        result.append(Part({**envelope, "message": body}, file))
    return result


def deliver(message: Message, platform: Platform) -> str:
    from inbox.actions import record_delivery_attempt, set_delivery_status

    if nothing := not_deliverable(message):
        return nothing
    graph = platform.graph(message.inbox)
    if not graph.token:
        return fail(
            message,
            f"This {platform.name} inbox has no Page access token: an admin must add it "
            "in the inbox's settings",
        )
    recipient = _recipient(message)
    if recipient is None:
        return fail(message, f"No {platform.name} user to answer in this conversation")
    try:
        calls = parts(message, platform, recipient)
    except Refused as exc:
        return fail(message, str(exc))
    attempts = record_delivery_attempt(message=message)
    sent = sent_parts(message, SENT)
    for part in calls[len(sent) :]:
        body, content_type = part.body()
        try:
            answer = graph.request("me/messages", body, content_type=content_type)
        except GraphError as exc:
            if not exc.transient:
                return fail(message, platform.refusal(exc))
            return retry_later(
                message,
                attempts=attempts,
                error=str(exc),
                retry_after=exc.retry_after,
                gave_up=f"{platform.name} did not take it: {exc}",
            )
        # An echo stored first (an inbox without its app id) may hold the id: then the
        # message keeps the ids only.
        record_sent_part(message, str(answer.get("message_id") or ""), path=SENT)
    record_delivery_attempt(message=message, counted=True, provider_id=message.external_id)
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts}"
