"""Telegram updates into messages (https://core.telegram.org/bots/api#update).

- `message`: the sender's Telegram user id is their identity in this inbox (name and
  username kept on a new contact); text, or a caption; `/start <payload>` keeps the payload
  on the contact (`telegram_start`); the stored message's external id is
  `<chat id>:<message id>`, so a redelivered update is stored once.
- `edited_message`: the stored text follows, marked edited.
- Media and other kinds of message are stored with a placeholder naming what they are
  and the raw update kept in `data` (downloading media: next step of issue 8).
- Other update types are kept as unprocessable, with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from inbox.models import Message, ProviderEvent
from inbox.sources.webhooks import Unprocessable

MEDIA_KINDS = (
    "photo",
    "video",
    "voice",
    "audio",
    "document",
    "sticker",
    "animation",
    "video_note",
    "location",
    "contact",
    "venue",
    "poll",
    "dice",
)


def _update(event: ProviderEvent) -> dict[str, Any]:
    try:
        update = json.loads(bytes(event.body))
    except ValueError as exc:
        raise Unprocessable("The update is not JSON.") from exc
    if not isinstance(update, dict):
        raise Unprocessable("The update is not a JSON object.")
    return update


def _sender(message: dict[str, Any]) -> dict[str, Any]:
    sender = message.get("from")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        raise Unprocessable("The message has no sender (from.id).")
    return sender


def _when(message: dict[str, Any], key: str = "date") -> datetime | None:
    value = message.get(key)
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) else None


def _external_id(message: dict[str, Any]) -> str:
    chat = message.get("chat") or {}
    if not isinstance(chat.get("id"), int) or not isinstance(message.get("message_id"), int):
        raise Unprocessable("The message has no chat.id or message_id.")
    return f"{chat['id']}:{message['message_id']}"


def _text(message: dict[str, Any]) -> str:
    text = message.get("text") or message.get("caption") or ""
    if text:
        return str(text)
    kind = next((k for k in MEDIA_KINDS if k in message), "")
    if kind:
        return f"[Telegram {kind.replace('_', ' ')}]"
    return "[A kind of Telegram message Parley does not show yet]"


def process(event: ProviderEvent) -> None:
    update = _update(event)
    if isinstance(update.get("message"), dict):
        _message(event, update["message"])
    elif isinstance(update.get("edited_message"), dict):
        _edited(event, update["edited_message"])
    else:
        kinds = sorted(k for k in update if k != "update_id")
        raise Unprocessable(f"Telegram update of a kind not handled: {', '.join(kinds) or '?'}")


def _message(event: ProviderEvent, message: dict[str, Any]) -> None:
    from inbox.actions import IdentityInput, receive_inbound_message, update_contact

    sender = _sender(message)
    name = " ".join(
        str(sender.get(k) or "").strip() for k in ("first_name", "last_name")
    ).strip() or str(sender.get("username") or "")
    text = _text(message)
    result = receive_inbound_message(
        inbox=event.inbox,
        identity=IdentityInput(kind="external", value=str(sender["id"]), name=name),
        text=text,
        external_id=_external_id(message),
        received_at=_when(message),
        data={"telegram": {"chat_id": message["chat"]["id"], "raw": message}},
    )
    contact = result.contact
    if result.created and contact is not None:
        extra: dict[str, Any] = {}
        if sender.get("username"):
            extra["telegram_username"] = str(sender["username"])[:100]
        if text.startswith("/start ") and len(text) > 7:
            extra["telegram_start"] = text[7:].strip()[:200]  # the deep-link payload
        if extra:
            update_contact(
                contact=contact,
                actor=None,
                custom_attributes={**(contact.custom_attributes or {}), **extra},
            )


def _edited(event: ProviderEvent, message: dict[str, Any]) -> None:
    from inbox.actions import edit_inbound_message

    stored = Message.objects.filter(inbox=event.inbox, external_id=_external_id(message)).first()
    if stored is None:
        raise Unprocessable("An edit of a message Parley never received.")
    edited_at = _when(message, "edit_date") or _when(message) or datetime.now(tz=UTC)
    edit_inbound_message(message=stored, text=_text(message), edited_at=edited_at)
