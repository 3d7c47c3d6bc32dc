"""Telegram updates into messages (https://core.telegram.org/bots/api#update).

- `message`: the sender's Telegram user id is their identity in this inbox (name and
  username kept on a new contact); text, or a caption; `/start <payload>` keeps the payload
  on the contact (`telegram_start`); the stored message's external id is
  `<chat id>:<message id>`, so a redelivered update is stored once (and nothing is
  downloaded again). Files, locations, contacts… : see content.py; the raw message is kept
  in `data["telegram"]["raw"]`.
- Media groups (an album: several updates sharing `media_group_id`) become ONE message: the
  first part processed is stored as usual (its id in `data["parts"]`), each later part's
  files and caption are appended to it (`append_to_inbound_message`, idempotent per part).
  Parts may be processed in any order and at the same time by two workers: on PostgreSQL
  the lookup and the write of a part hold a transaction-scoped advisory lock on
  (inbox, chat, media group), so the second part waits for the first one's commit and then
  finds it. Downloads happen before the lock. On SQLite (the embedded default, one worker
  thread) writes are serialised anyway.
- `edited_message`: the stored text follows, marked edited (a live location's moves are
  not followed: the message shows where it started). An edit of a message not stored yet
  is tried again later (RetryLater): updates are processed in parallel and the original
  may still be downloading its files; once the retries are used up it is kept as
  unprocessable.
- `message_reaction`: the customer's reaction on one of our messages or theirs (the bot
  must ask for these updates in `allowed_updates`, which "test connection" does).
- Other update types are kept as unprocessable, with the reason.

Updates carry the secret token but are untrusted in shape: objects are read through
`as_dict` / `as_list`, so a field of the wrong type counts as missing. A message without a
sender, chat id or message id is unprocessable; a `date` / `edit_date` that is not a
plausible Unix time (not an integer, out of range, more than a day ahead) is ignored and
the message is stored as received now.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import QuerySet

from inbox.actions.contacts import IdentityInput
from inbox.models import Contact, ContactIdentity, Conversation, Message, ProviderEvent
from inbox.sources.telegram.api import as_dict
from inbox.sources.telegram.content import FILE_KINDS, as_list, describe
from inbox.sources.webhooks import RetryLater, Unprocessable, strict_json

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import InboundText
    from inbox.actions.messages import InboundResult


SEARCH_DEPTH = 200  # recent messages of a contact searched for a part or a sent id
LOCK_NAMESPACE = 0x7467  # "tg": the first key of our advisory locks
NOT_PLAIN = (*FILE_KINDS, "venue", "location", "contact")  # what makes a message more than text


def _is_id(value: Any) -> bool:
    """A Telegram id: an integer (not a boolean) that fits in 64 bits."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) < value < 2**63


def _update(event: ProviderEvent) -> dict[str, Any]:
    try:
        update = strict_json(bytes(event.body))
    except ValueError as exc:
        raise Unprocessable("The update is not JSON.") from exc
    if not isinstance(update, dict):
        raise Unprocessable("The update is not a JSON object.")
    return update


def _sender(message: dict[str, Any]) -> dict[str, Any]:
    sender = message.get("from")
    if not isinstance(sender, dict) or not _is_id(sender.get("id")):
        raise Unprocessable("The message has no sender (from.id).")
    return sender


def _when(message: dict[str, Any], key: str = "date") -> datetime | None:
    """The message's `key` (a Unix time) as a time; None (now) when it is not a plausible
    one: not an integer, out of range, or more than a day ahead."""
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    try:
        at = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return at if at <= datetime.now(tz=UTC) + timedelta(days=1) else None


def _key(chat_id: Any, message_id: Any) -> str:
    if not _is_id(chat_id) or not _is_id(message_id):
        raise Unprocessable("The message has no chat.id or message_id.")
    return f"{chat_id}:{message_id}"


def _external_id(message: dict[str, Any]) -> str:
    return _key(as_dict(message.get("chat")).get("id"), message.get("message_id"))


def process(event: ProviderEvent) -> None:
    update = _update(event)
    if isinstance(update.get("message"), dict):
        _message(event, update["message"])
    elif isinstance(update.get("edited_message"), dict):
        _edited(event, update["edited_message"])
    elif isinstance(update.get("message_reaction"), dict):
        _reaction(event, update["message_reaction"])
    else:
        kinds = sorted(k for k in update if k != "update_id")
        raise Unprocessable(f"Telegram update of a kind not handled: {', '.join(kinds) or '?'}")


# ------------------------------------------------------------------ finding stored messages


def _contact_messages(event: ProviderEvent, user_id: Any) -> QuerySet[Message]:
    """Messages of the conversations in this inbox of the contact this Telegram user is."""
    contact_id: int | None = (
        ContactIdentity.objects.filter(
            inbox=event.inbox, kind=ContactIdentity.Kind.EXTERNAL, value=str(user_id)
        )
        .values_list("contact_id", flat=True)
        .first()
    )
    for _ in range(5):  # a merged contact's conversations moved to the one it was merged into
        if contact_id is None:
            break
        merged_into = (
            Contact.objects.filter(pk=contact_id).values_list("merged_into_id", flat=True).first()
        )
        if not merged_into:
            break
        contact_id = merged_into
    if contact_id is None:
        return Message.objects.none()
    conversations = Conversation.objects.filter(inbox=event.inbox, contact_id=contact_id)
    return Message.objects.filter(inbox=event.inbox, conversation__in=conversations)


def _stored(event: ProviderEvent, key: str, user_id: Any) -> Message | None:
    """The message stored for Telegram message `key` (`<chat>:<id>`): under its own id, or
    as a later part of a media group, or as a later piece of one of our replies."""
    from inbox.actions.platform import provider_message

    found = provider_message(event.inbox, key)
    if found is not None or user_id is None:
        return found
    for candidate in _contact_messages(event, user_id).order_by("-id")[:SEARCH_DEPTH]:
        data = as_dict(candidate.data)
        if key in as_list(data.get("parts")) or key in as_list(
            as_dict(data.get("telegram")).get("sent")
        ):
            return candidate
    return None


def _group_message(event: ProviderEvent, user_id: int, chat_id: int, group: str) -> Message | None:
    return (
        _contact_messages(event, user_id)
        .filter(
            direction=Message.Direction.INCOMING,
            data__telegram__media_group_id=group,
            data__telegram__chat_id=chat_id,
        )
        .order_by("id")
        .first()
    )


def _lock_group(event: ProviderEvent, chat_id: int, group: str) -> None:
    """Serialise the parts of one media group until the end of the transaction."""
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(f"{event.inbox_id}:{chat_id}:{group}".encode()) - 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


# ------------------------------------------------------------------ updates


def _message(event: ProviderEvent, message: dict[str, Any]) -> None:
    from inbox.actions import receive_inbound_message
    from inbox.actions.platform import append_to_inbound_message

    sender = _sender(message)
    external_id = _external_id(message)
    chat_id = message["chat"]["id"]
    group = str(message.get("media_group_id") or "")
    if Message.objects.filter(inbox=event.inbox, external_id=external_id).exists():
        return  # a redelivery: stored, nothing to download again
    if group:
        stored = _group_message(event, sender["id"], chat_id, group)
        if stored is not None and external_id in as_list(as_dict(stored.data).get("parts")):
            return
    token = str(event.inbox.get_secrets().get("bot_token") or "")
    content = describe(message, token=token, attempt=event.attempts)  # may raise RetryLater
    telegram: dict[str, Any] = {"chat_id": chat_id, "raw": message}
    data: dict[str, Any] = {"telegram": telegram, **content.extra}
    with transaction.atomic():
        if group:
            telegram["media_group_id"] = group
            _lock_group(event, chat_id, group)
            stored = _group_message(event, sender["id"], chat_id, group)
            if stored is not None:
                append_to_inbound_message(
                    message=stored,
                    attachments=content.attachments,
                    text=content.text,
                    part_id=external_id,
                )
                return
            data["parts"] = [external_id]
        result = receive_inbound_message(
            inbox=event.inbox,
            identity=_identity(sender),
            text=content.text,
            external_id=external_id,
            received_at=_when(message),
            attachments=content.attachments,
            data=data,
        )
    _learn(sender, content.text)(result)


def _identity(sender: dict[str, Any]) -> IdentityInput:
    name = " ".join(
        str(sender.get(k) or "").strip() for k in ("first_name", "last_name")
    ).strip() or str(sender.get("username") or "")
    return IdentityInput(kind="external", value=str(sender["id"]), name=name)


def _learn(sender: dict[str, Any], text: str) -> Callable[..., None]:
    """What a new message teaches about its sender: their username, and the payload of a
    `/start` deep link, kept on the contact when they change."""

    def learn(result: InboundResult, follow_ups: Any = None) -> None:
        from inbox.actions import update_contact

        contact = result.contact
        if not result.created or contact is None:
            return
        extra: dict[str, Any] = {}
        if sender.get("username"):
            extra["telegram_username"] = str(sender["username"])[:100]
        if text.startswith("/start ") and len(text) > 7:
            extra["telegram_start"] = text[7:].strip()[:200]  # the deep-link payload
        known = contact.custom_attributes or {}
        if any(known.get(key) != value for key, value in extra.items()):
            updated = update_contact(
                contact=contact, actor=None, custom_attributes={**known, **extra}
            )
            contact.custom_attributes = updated.custom_attributes  # the batch's next message

    return learn


def plain_texts(event: ProviderEvent) -> list[InboundText] | None:
    """The update's message when it is a customer's plain text (stored in batches by the
    worker, inbox/sources/webhooks.py); else None."""
    from inbox.actions.inbound_batch import InboundText

    message = _update(event).get("message")
    if not isinstance(message, dict) or message.get("media_group_id"):
        return None
    text = message.get("text")
    if not isinstance(text, str) or not text or any(k in message for k in NOT_PLAIN):
        return None
    sender = _sender(message)
    return [
        InboundText(
            identity=_identity(sender),
            text=text,
            external_id=_external_id(message),
            received_at=_when(message),
            data={"telegram": {"chat_id": message["chat"]["id"], "raw": message}},
            after=_learn(sender, text),
        )
    ]


def _edited(event: ProviderEvent, message: dict[str, Any]) -> None:
    from inbox.actions import edit_inbound_message

    sender = as_dict(message.get("from"))
    stored = _stored(event, _external_id(message), sender.get("id"))
    if stored is None:
        # Not stored yet, or never: the original may still be in another worker (downloading
        # its files); tried again later, kept as unprocessable once the retries are used up.
        raise RetryLater(
            "An edit of a message Parley never received. Tried again in case it was on its way."
        )
    if isinstance(message.get("location"), dict):
        return  # a live location moving: the message keeps where it started
    text = str(message.get("text") or message.get("caption") or "")
    if not text:
        return  # a caption removed: the files stay as they are
    edited_at = _when(message, "edit_date") or _when(message) or datetime.now(tz=UTC)
    edit_inbound_message(message=stored, text=text, edited_at=edited_at)


def _emoji(reactions: Any) -> str:
    """ReactionType objects as one string: emoji as they are, others named."""
    shown = []
    for reaction in reactions if isinstance(reactions, list) else []:
        if not isinstance(reaction, dict):
            continue
        if reaction.get("type") == "emoji" and reaction.get("emoji"):
            shown.append(str(reaction["emoji"]))
        elif reaction.get("type") == "custom_emoji":
            shown.append("(custom emoji)")
        elif reaction.get("type") == "paid":
            shown.append("⭐")
    return "".join(shown)


def _reaction(event: ProviderEvent, reaction: dict[str, Any]) -> None:
    from inbox.actions.platform import react_to_message

    key = _key(as_dict(reaction.get("chat")).get("id"), reaction.get("message_id"))
    user = as_dict(reaction.get("user"))
    stored = _stored(event, key, user.get("id"))
    if stored is None:
        raise Unprocessable("A reaction to a message Parley does not have.")
    react_to_message(message=stored, emoji=_emoji(reaction.get("new_reaction")), by="customer")
