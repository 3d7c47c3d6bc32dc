"""Agents' replies to a Telegram chat, one attempt per run of the `deliver_message` task, to
the chat the customer last wrote from (https://core.telegram.org/bots/api).

A reply is one or more Bot API calls ("pieces"): the text with `sendMessage`, each file
with `sendPhoto` (JPEG, PNG or WebP images up to 10 MB) or `sendDocument` (anything else,
up to 50 MB), uploaded as multipart/form-data. The text rides on the first file as its
caption when it fits (1,024 characters), else it goes first on its own. Quick replies
(`message.data["quick_replies"]`, button titles) go on the last piece as a one-time reply
keyboard. Each piece sent is recorded at once (`data["telegram"]["sent"]`, `<chat>:<id>`;
the first is the message's external id), so a retry goes on from the piece that failed and
nothing reaches the customer twice.

429 and 5xx (and network failures) are tried again with backoff, honouring `retry_after`;
other errors (403 "bot was blocked by the user", 400 "chat not found") fail the message with
Telegram's words, and the agent can retry it. A photo Telegram will not take as a photo
(dimensions, format) is sent again as a document."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from inbox.actions.messages import record_sent_part
from inbox.models import Attachment, ContactIdentity, Message
from inbox.sources.delivery import (
    fail,
    last_incoming_data,
    not_deliverable,
    retry_later,
    sent_parts,
)
from inbox.sources.http import DeliveryRefused
from inbox.sources.telegram.api import (
    PHOTO_UPLOAD_LIMIT,
    UPLOAD_LIMIT,
    Reply,
    Upload,
    bot_call,
)

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
SENT = ("telegram", "sent")  # where in message.data the pieces sent are kept


def _chat_id(message: Message) -> int | None:
    """The chat the customer last wrote from; for a private chat, their user id."""
    chat = (last_incoming_data(message).get("telegram") or {}).get("chat_id")
    if isinstance(chat, int):
        return chat
    identity = (
        ContactIdentity.objects.filter(
            contact_id=message.conversation.contact_id, inbox_id=message.inbox_id
        )
        .values_list("value", flat=True)
        .first()
    )
    return int(identity) if identity and identity.lstrip("-").isdigit() else None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # how Telegram counts (an emoji may be 2)


@dataclass(frozen=True)
class Piece:
    text: str = ""  # sendMessage's text, or the file's caption
    attachment: Attachment | None = None

    @property
    def method(self) -> str:
        if self.attachment is None:
            return "sendMessage"
        return "sendPhoto" if _as_photo(self.attachment) else "sendDocument"


def _as_photo(attachment: Attachment) -> bool:
    return attachment.content_type in PHOTO_TYPES and attachment.size <= PHOTO_UPLOAD_LIMIT


def pieces(text: str, attachments: list[Attachment]) -> list[Piece]:
    """The calls a reply takes, in order (the same for every attempt)."""
    if not attachments:
        return [Piece(text=text)]
    if text.strip() and _utf16_length(text) <= MAX_CAPTION:
        return [Piece(text, attachments[0]), *(Piece(attachment=a) for a in attachments[1:])]
    first = [Piece(text=text)] if text.strip() else []
    return first + [Piece(attachment=a) for a in attachments]


def keyboard(titles: Any) -> dict[str, Any] | None:
    """A one-time ReplyKeyboardMarkup with one button a row, or None."""
    if not isinstance(titles, list):
        return None
    buttons = [str(title).strip() for title in titles if str(title or "").strip()]
    if not buttons:
        return None
    return {
        "keyboard": [[{"text": title}] for title in buttons],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }


def _send(token: str, chat_id: int, piece: Piece, markup: dict[str, Any] | None) -> Reply:
    payload: dict[str, Any] = {"chat_id": chat_id}
    if piece.attachment is None:
        payload["text"] = piece.text
        if markup:
            payload["reply_markup"] = markup
        return bot_call(token, "sendMessage", payload)
    if piece.text:
        payload["caption"] = piece.text
    if markup:
        payload["reply_markup"] = markup
    attachment = piece.attachment
    with attachment.file.open("rb") as handle:
        content = handle.read()
    as_photo = _as_photo(attachment)
    upload = Upload(
        "photo" if as_photo else "document",
        attachment.filename,
        attachment.content_type,
        content,
    )
    reply = bot_call(token, "sendPhoto" if as_photo else "sendDocument", payload, upload=upload)
    if as_photo and not reply.ok and reply.status == 400:
        # PHOTO_INVALID_DIMENSIONS, IMAGE_PROCESS_FAILED…: the file can still go as a file.
        reply = bot_call(token, "sendDocument", payload, upload=replace(upload, field="document"))
    return reply


def deliver_telegram_message(message: Message) -> str:
    from inbox.actions import record_delivery_attempt, set_delivery_status

    if nothing := not_deliverable(message):
        return nothing
    token = str(message.inbox.get_secrets().get("bot_token") or "")
    if not token:
        return fail(message, "This Telegram inbox has no bot token")
    if len(message.text) > MAX_TEXT:
        return fail(message, f"Telegram messages are limited to {MAX_TEXT} characters")
    attachments = list(message.attachments.order_by("id"))
    for attachment in attachments:
        if attachment.size > UPLOAD_LIMIT:
            return fail(
                message,
                f"{attachment.filename} is {attachment.size / 1024 / 1024:.1f} MB: "
                "Telegram bots can send files up to 50 MB",
            )
    chat_id = _chat_id(message)
    if chat_id is None:
        return fail(message, "No Telegram chat to answer in")
    plan = pieces(message.text, attachments)
    markup = keyboard((message.data or {}).get("quick_replies"))
    sent = sent_parts(message, SENT)
    attempts = record_delivery_attempt(message=message)
    for index in range(len(sent), len(plan)):
        try:
            reply = _send(token, chat_id, plan[index], markup if index == len(plan) - 1 else None)
        except DeliveryRefused as exc:
            return fail(message, str(exc))
        if reply.ok:
            sent_id = (
                (reply.result or {}).get("message_id") if isinstance(reply.result, dict) else None
            )
            sent = record_sent_part(message, f"{chat_id}:{sent_id}", path=SENT)
            if len(sent) == 1:
                record_delivery_attempt(message=message, counted=True, provider_id=str(sent_id))
            continue
        done = f" ({len(sent)} of {len(plan)} parts were sent)" if sent else ""
        if not reply.transient:
            return fail(message, f"Telegram refused it: {reply.description}{done}")
        return retry_later(
            message,
            attempts=attempts,
            error=reply.description + done,
            retry_after=reply.retry_after,
        )
    set_delivery_status(message=message, status=Message.Delivery.SENT)
    return f"sent on attempt {attempts}"
