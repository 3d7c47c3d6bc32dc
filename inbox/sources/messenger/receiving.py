"""Meta's Messenger Platform webhook deliveries into Parley, for Messenger and Instagram
(https://developers.facebook.com/docs/messenger-platform/webhooks).

A delivery holds `entry[]`, one per Page / Instagram account, each with `messaging[]`
events: `sender.id` and `recipient.id` (the customer's page- or Instagram-scoped id, and
the account), `timestamp` (ms), and one of

- `message`: the customer wrote (`mid`, `text`, `attachments`, `quick_reply.payload`,
  `reply_to`: a message or, on Instagram, a story); `is_echo`: the business wrote (from
  Meta's apps, another app, or Parley itself: `app_id` and `metadata` tell which);
  `is_deleted` (Instagram): the customer unsent it; `is_unsupported` (Instagram);
- `message_edit` (`mid`, `text`), `reaction` (`mid`, `action` react/unreact, `emoji`),
  `delivery` (`mids`, `watermark`), `read` (`watermark`; Instagram: `mid`), `postback`
  (a button: `title`, `payload`, `mid`).

Each event is handled on its own; one that cannot be used does not stop the others, and
the delivery is then kept as unprocessable with every reason. Everything here is
idempotent (stored by the provider's id), so a delivery processed again (a retry, an admin
pressing "process again") changes nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from inbox.actions.messages import AttachmentInput
from inbox.models import Contact, ContactIdentity, Inbox, Message, ProviderEvent
from inbox.sources.delivery import sent_parts
from inbox.sources.messenger.content import attachments
from inbox.sources.messenger.platform import PLATFORMS, Platform, profile
from inbox.sources.messenger.sending import SENT
from inbox.sources.webhooks import RetryLater, Unprocessable, secrets_match, strict_json

if TYPE_CHECKING:
    from inbox.actions.inbound_batch import FollowUps, InboundText
    from inbox.actions.messages import InboundResult


logger = logging.getLogger(__name__)

REACTION_EMOJI = {
    "love": "\u2764\ufe0f",
    "like": "\U0001f44d",
    "smile": "\U0001f606",
    "wow": "\U0001f62e",
    "sad": "\U0001f622",
    "angry": "\U0001f620",
    "dislike": "\U0001f44e",
}
ENVELOPE = {"sender", "recipient", "timestamp"}


def process(event: ProviderEvent, platform: Platform) -> None:
    payload = _payload(event)
    problems: list[str] = []
    waits: list[str] = []
    for entry in payload["entry"]:
        try:
            if not isinstance(entry, dict):
                raise Unprocessable("An entry of the delivery is not an object.")
            inbox = _inbox_for(event.inbox, entry, platform)
            items = _items(entry, platform)
        except Unprocessable as exc:
            problems.append(str(exc))
            continue
        for item in items:
            try:
                _handle(event, inbox, platform, item)
            except Unprocessable as exc:
                problems.append(str(exc))
            except RetryLater as exc:
                waits.append(str(exc))
    if waits:
        raise RetryLater(" ".join(dict.fromkeys(waits)))
    if problems:
        raise Unprocessable(" ".join(dict.fromkeys(problems)))


PLAIN_KEYS = {"mid", "text"}  # a message with anything more goes through `process`


def plain_texts(event: ProviderEvent, platform: Platform) -> list[InboundText] | None:
    """The delivery's messages when all are customers' plain text to this inbox's own
    account (stored in batches by the worker, inbox/sources/webhooks.py); else None."""
    from inbox.actions import IdentityInput
    from inbox.actions.inbound_batch import InboundText

    inbox = event.inbox
    own = platform.account_id(inbox)
    texts = []
    for entry in _payload(event)["entry"]:
        if not isinstance(entry, dict) or not own or str(entry.get("id") or "") != own:
            return None
        items = entry.get("messaging")
        if not isinstance(items, list):
            return None
        for item in items:
            message = item.get("message") if isinstance(item, dict) else None
            if not isinstance(message, dict) or set(message) - PLAIN_KEYS:
                return None
            text = message.get("text")
            if not isinstance(text, str) or not text:
                return None
            customer = _party(item, "sender")
            texts.append(
                InboundText(
                    identity=IdentityInput(kind="external", value=customer),
                    text=text,
                    external_id=_mid(message),
                    received_at=_time(item.get("timestamp")),
                    data={"raw": item},
                    after=_profile_of_new(inbox, customer),
                )
            )
    return texts or None


def _profile_of_new(inbox: Inbox, customer: str) -> Callable[[InboundResult, FollowUps], None]:
    """For a batch: new contacts' profiles are looked up by one task after the batch
    commits, so that a slow Graph API does not hold up the messages (names follow within
    seconds)."""

    def learn(result: InboundResult, follow_ups: FollowUps) -> None:
        from inbox.tasks import learn_meta_profiles

        if result.new_contact and result.contact is not None:
            follow_ups.add(learn_meta_profiles, [inbox.pk, result.contact.pk, customer])

    return learn


LOOKUPS_AT_ONCE = 8  # Graph answers in 100-300 ms: a batch's lookups go side by side


def learn_profiles(wanted: list[list[Any]]) -> str:
    """Name the new contacts of a batch, `[inbox id, contact id, customer]` each (the
    task's work): the profiles are looked up side by side, then kept in one transaction."""
    from inbox.actions.contacts import update_contacts

    inboxes = Inbox.objects.in_bulk({inbox_id for inbox_id, _, _ in wanted})
    contacts = Contact.objects.in_bulk({contact_id for _, contact_id, _ in wanted})
    jobs = [
        (inboxes[inbox_id], PLATFORMS[inboxes[inbox_id].kind], contacts[contact_id], str(who))
        for inbox_id, contact_id, who in wanted
        if inbox_id in inboxes and contact_id in contacts and inboxes[inbox_id].kind in PLATFORMS
    ]
    with ThreadPoolExecutor(max_workers=LOOKUPS_AT_ONCE) as pool:  # HTTP only, no database
        found = list(pool.map(lambda job: profile(job[1], job[0], job[3]), jobs))
    changes = [
        (contact, fields)
        for (_, platform, contact, _), answer in zip(jobs, found, strict=True)
        if (fields := _profile_changes(platform, contact, answer))
    ]
    return f"{len(update_contacts(changes))} of {len(wanted)} named"


def _payload(event: ProviderEvent) -> dict[str, Any]:
    try:
        payload = strict_json(bytes(event.body))
    except ValueError as exc:
        raise Unprocessable("The delivery is not JSON.") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise Unprocessable("The delivery has no entry list.")
    return payload


def _inbox_for(inbox: Inbox, entry: dict[str, Any], platform: Platform) -> Inbox:
    """The inbox of the entry's Page / Instagram account. A Meta app has one webhook URL, so
    an app serving several accounts sends all of them to the URL pasted in its dashboard:
    an entry for another account goes to the inbox of that account when it is on the same
    app (the same app secret signed this delivery), never into this inbox's conversations."""
    entry_id = str(entry.get("id") or "").strip()
    own = platform.account_id(inbox)
    if entry_id and entry_id == own:
        return inbox
    app_secret = str(inbox.get_secrets().get("app_secret") or "")
    if entry_id:
        others = Inbox.objects.filter(
            kind=inbox.kind, is_active=True, **{f"settings__{platform.account_setting}": entry_id}
        ).exclude(pk=inbox.pk)
        for other in others:
            if secrets_match(str(other.get_secrets().get("app_secret") or ""), app_secret):
                return other
    raise Unprocessable(
        f"This delivery is for {platform.account_label} {entry_id or '(no id)'}, but this "
        f"inbox is {platform.account_label} {own or '(not set)'} and no other "
        f"{platform.name} inbox on the same Meta app has that id: nothing was stored. "
        f"Check the {platform.account_label} id in the inbox's settings."
    )


def _items(entry: dict[str, Any], platform: Platform) -> list[dict[str, Any]]:
    items = entry.get("messaging")
    if isinstance(items, list):
        return [item if isinstance(item, dict) else {"?": item} for item in items]
    if "standby" in entry:
        raise Unprocessable(
            f"Standby events: another app has control of these {platform.name} "
            "conversations (handover protocol), so Parley only sees them in passing."
        )
    if isinstance(entry.get("changes"), list):
        fields = sorted(
            {str(change.get("field")) for change in entry["changes"] if isinstance(change, dict)}
        )
        raise Unprocessable(
            f"{platform.name} changes of {', '.join(fields) or '?'} are not messages; Parley "
            "reads messaging events only (the app may be unsubscribed from these fields)."
        )
    raise Unprocessable("An entry has no messaging events.")


def _handle(event: ProviderEvent, inbox: Inbox, platform: Platform, item: dict[str, Any]) -> None:
    message = item.get("message")
    if isinstance(message, dict):
        if message.get("is_deleted"):  # (an unsent echo changes nothing: only ours go)
            return _unsent(inbox, item, message)
        if message.get("is_echo"):
            return _echo(event, inbox, platform, item, message)
        return _message(event, inbox, platform, item, message)
    if isinstance(item.get("message_edit"), dict):
        return _edit(inbox, item, item["message_edit"])
    if isinstance(item.get("reaction"), dict):
        return _reaction(inbox, platform, item, item["reaction"])
    if isinstance(item.get("delivery"), dict):
        return _delivery(inbox, item, item["delivery"])
    if isinstance(item.get("read"), dict):
        return _read(inbox, item, item["read"])
    if isinstance(item.get("postback"), dict):
        return _postback(inbox, platform, item, item["postback"])
    kinds = sorted(key for key in item if key not in ENVELOPE)
    raise Unprocessable(
        f"{platform.name} event of a kind Parley does not handle: {', '.join(kinds) or '?'}."
    )


# --- Pieces of an event ------------------------------------------------------------------


def _party(item: dict[str, Any], key: str) -> str:
    party = item.get(key)
    value = party.get("id") if isinstance(party, dict) else None
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise Unprocessable(f"An event has no {key}.id.")
    return str(value).strip()


def _mid(holder: dict[str, Any], what: str = "message") -> str:
    mid = holder.get("mid")
    if not isinstance(mid, str) or not mid.strip():
        raise Unprocessable(f"A {what} has no mid.")
    return mid.strip()


def _time(value: Any) -> datetime | None:
    """A Messenger Platform time (milliseconds since the epoch)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _stored(inbox: Inbox, mid: str) -> Message | None:
    """The message this inbox stored under `mid`: by its external id (the customer's
    message, an echo, the first part of our reply), or a later part of a reply Parley sent
    in several Send API calls (a file after the text), whose mids are only in
    `data["meta_message_ids"]` (messenger/sending.py)."""
    from inbox.actions.platform import provider_message

    found = provider_message(inbox, mid)
    if found is not None or not mid:
        return found
    # A text search narrows (JSON on PostgreSQL and SQLite alike), the list is then checked
    # exactly: "m_1" is in '["m_10"]' as text, not as a part.
    candidates = Message.objects.filter(
        inbox=inbox,
        direction=Message.Direction.OUTGOING,
        data__meta_message_ids__icontains=mid,
    ).order_by("id")
    for candidate in candidates:
        if mid in sent_parts(candidate, SENT):
            return candidate
    return None


def _contacts(inbox: Inbox, user_id: str) -> Any:
    return ContactIdentity.objects.filter(
        inbox=inbox, kind=ContactIdentity.Kind.EXTERNAL, value=user_id
    ).values("contact_id")


# --- The customer wrote --------------------------------------------------------------------


def _message(
    event: ProviderEvent,
    inbox: Inbox,
    platform: Platform,
    item: dict[str, Any],
    message: dict[str, Any],
) -> None:
    mid = _mid(message)
    customer = _party(item, "sender")
    if _stored(inbox, mid) is not None:
        return  # a redelivery: stored once, its files not downloaded again
    data: dict[str, Any] = {"raw": item}
    lines: list[str] = []
    quick = message.get("quick_reply")
    if isinstance(quick, dict) and quick.get("payload") is not None:
        data["quick_reply_payload"] = str(quick["payload"])[:1000]
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict):
        if isinstance(reply_to.get("mid"), str):
            target = _stored(inbox, reply_to["mid"])
            data["reply_to"] = {"mid": reply_to["mid"], "message_id": target.pk if target else None}
        story = reply_to.get("story")
        if isinstance(story, dict):
            data["story_reply"] = {
                "id": str(story.get("id") or ""),
                "url": str(story.get("url") or ""),
            }
            lines.append("[Replied to your story]")
    if message.get("is_unsupported"):
        lines.append(
            f"[A kind of {platform.name} message Parley does not show yet: open the "
            f"conversation in the {platform.name} app to see it]"
        )
    files, more = attachments(event, platform, message)
    text = "\n".join(part for part in (*lines, str(message.get("text") or ""), *more) if part)
    if not text and not files:
        text = f"[An empty {platform.name} message]"
    _store(inbox, platform, customer, text=text, mid=mid, files=files, item=item, data=data)


def _postback(
    inbox: Inbox, platform: Platform, item: dict[str, Any], postback: dict[str, Any]
) -> None:
    """The customer pressed a button (of a template, the persistent menu, "Get started"):
    stored as the button's title, its payload kept."""
    customer = _party(item, "sender")
    mid = postback.get("mid")
    if not isinstance(mid, str) or not mid:
        mid = f"postback:{customer}:{item.get('timestamp') or ''}"
    if _stored(inbox, mid) is not None:
        return
    title = str(postback.get("title") or "").strip()
    payload = str(postback.get("payload") or "")
    data: dict[str, Any] = {"postback": {"title": title, "payload": payload[:1000]}, "raw": item}
    if isinstance(postback.get("referral"), dict):
        data["referral"] = postback["referral"]
    text = title or payload or "[Pressed a button]"
    _store(inbox, platform, customer, text=text, mid=mid, files=[], item=item, data=data)


def _store(
    inbox: Inbox,
    platform: Platform,
    customer: str,
    *,
    text: str,
    mid: str,
    files: list[AttachmentInput],
    item: dict[str, Any],
    data: dict[str, Any],
) -> None:
    from inbox.actions import IdentityInput, receive_inbound_message

    known = _contacts(inbox, customer).exists()
    result = receive_inbound_message(
        inbox=inbox,
        identity=IdentityInput(kind="external", value=customer),
        text=text,
        external_id=mid,
        attachments=files,
        received_at=_time(item.get("timestamp")),
        data=data,
    )
    if result.created and not known and result.contact is not None:
        _learn_profile(inbox, platform, result.contact, customer)


def _learn_profile(inbox: Inbox, platform: Platform, contact: Contact, customer: str) -> None:
    """Name a new contact from their profile (Messenger: first and last name; Instagram:
    name and username). Meta may not say; the message is stored either way."""
    from inbox.actions import InboxError, update_contact

    changes = _profile_changes(platform, contact, profile(platform, inbox, customer))
    if not changes:
        return
    try:
        update_contact(contact=contact, actor=None, **changes)
    except (InboxError, ValidationError) as exc:
        logger.info("%s profile of %s not kept: %s", platform.name, customer, exc)


def _profile_changes(platform: Platform, contact: Contact, found: Any) -> dict[str, Any]:
    """What a profile teaches about a contact: a name if it has none, the username."""
    username = str(found.get("username") or "").strip()
    name = (
        str(found.get("name") or "").strip()
        or " ".join(
            str(found.get(key) or "").strip() for key in ("first_name", "last_name")
        ).strip()
    )
    changes: dict[str, Any] = {}
    if (name or username) and not contact.name:
        changes["name"] = (name or f"@{username}")[:200]
    if username:
        attributes = dict(contact.custom_attributes or {})
        attributes[f"{platform.kind}_username"] = username[:100]
        changes["custom_attributes"] = attributes
    return changes


def _edit(inbox: Inbox, item: dict[str, Any], edit: dict[str, Any]) -> None:
    from inbox.actions import edit_inbound_message

    mid = _mid(edit, "message edit")
    stored = _stored(inbox, mid)
    if stored is None:
        raise RetryLater("An edit of a message Parley has not received (yet).")
    text = str(edit.get("text") or "")
    edited_at = _time(item.get("timestamp")) or timezone.now()
    edit_inbound_message(message=stored, text=text, edited_at=edited_at)


def _unsent(inbox: Inbox, item: dict[str, Any], message: dict[str, Any]) -> None:
    """The customer unsent a message (Instagram): its words and files go."""
    from inbox.actions.platform import unsend_message

    stored = _stored(inbox, _mid(message))
    if stored is None:
        # Unsent seconds after it was sent: the message may be in a delivery not processed
        # yet. Waiting (rather than dropping this) keeps its words from staying behind.
        raise RetryLater("An unsent message Parley has not received (yet).")
    unsend_message(message=stored, at=_time(item.get("timestamp")))


def _reaction(
    inbox: Inbox, platform: Platform, item: dict[str, Any], reaction: dict[str, Any]
) -> None:
    from inbox.actions.platform import react_to_message

    stored = _stored(inbox, _mid(reaction, "reaction"))
    if stored is None:
        raise RetryLater("A reaction to a message Parley has not stored (yet).")
    by = "business" if _party(item, "sender") == platform.account_id(inbox) else "customer"
    action = reaction.get("action")
    if action == "unreact":
        emoji = ""
    elif action == "react":
        named = REACTION_EMOJI.get(str(reaction.get("reaction") or ""), "\U0001f44d")
        emoji = str(reaction.get("emoji") or named)
    else:
        raise Unprocessable(f"A {platform.name} reaction with the action {action!r}.")
    react_to_message(message=stored, emoji=emoji, by=by)


# --- The business wrote, or Meta reports on what it sent ----------------------------------


def _ours(inbox: Inbox, message: dict[str, Any]) -> bool:
    """An echo of a message Parley sent: by this inbox's Meta app, or with our metadata."""
    own_app = str((inbox.settings or {}).get("app_id") or "").strip()
    if own_app and str(message.get("app_id") or "") == own_app:
        return True
    return str(message.get("metadata") or "").startswith(f"parley:{inbox.public_id}:")


def _echo(
    event: ProviderEvent,
    inbox: Inbox,
    platform: Platform,
    item: dict[str, Any],
    message: dict[str, Any],
) -> None:
    """The business sent a message: from Meta's apps (the Page inbox, Business Suite, the
    Instagram app), another app, or Parley. Ours is stored already (its mid is recorded
    when the Send API answers): never stored twice, never sent again."""
    from inbox.actions import IdentityInput
    from inbox.actions.platform import record_echo

    mid = _mid(message)
    customer = _party(item, "recipient")
    if _ours(inbox, message) or _stored(inbox, mid) is not None:
        return
    text = str(message.get("text") or "")
    own_app = str((inbox.settings or {}).get("app_id") or "").strip()
    if not own_app and event.attempts <= 2:
        # Without the app id an echo of ours is only known by its mid, recorded when the Send
        # API answers; a reply with these words still being sent may be it.
        sending = Message.objects.filter(
            inbox=inbox,
            conversation__contact_id__in=_contacts(inbox, customer),
            direction=Message.Direction.OUTGOING,
            kind=Message.Kind.MESSAGE,
            delivery_status=Message.Delivery.QUEUED,
        )
        # A file is sent as a part of its own, with no words: its echo may be of any reply
        # with files.
        sending = sending.filter(text=text) if text else sending.filter(attachments__isnull=False)
        if sending.exists():
            raise RetryLater("A reply to this customer is being sent; this echo may be of it.")
    files, lines = attachments(event, platform, message)
    text = "\n".join(part for part in (text, *lines) if part)
    app = str(message.get("app_id") or "")
    record_echo(
        inbox=inbox,
        identity=IdentityInput(kind="external", value=customer),
        text=text,
        external_id=mid,
        via=platform.echo_via,
        attachments=files,
        sent_at=_time(item.get("timestamp")),
        data={"raw": item, **({"app_id": app} if app else {})},
    )


def _advance(inbox: Inbox, customer: str, *, until: datetime, status: str) -> None:
    """Every message sent to this customer up to `until` (a watermark) was delivered or
    read. Only messages already sent move (a read never goes back to delivered). Raises
    RetryLater, after moving those, when a reply to this customer written before `until`
    is still being sent: the report may be of it, its send not recorded yet."""
    from inbox.actions import set_delivery_status

    before = [Message.Delivery.SENT]
    if status == Message.Delivery.READ:
        before.append(Message.Delivery.DELIVERED)
    messages = Message.objects.filter(
        inbox=inbox,
        conversation__contact_id__in=_contacts(inbox, customer),
        direction=Message.Direction.OUTGOING,
        kind=Message.Kind.MESSAGE,
        created_at__lte=until,
    )
    for message in messages.filter(delivery_status__in=before).order_by("id"):
        set_delivery_status(message=message, status=status)
    if messages.filter(delivery_status=Message.Delivery.QUEUED).exists():
        raise RetryLater(
            f"A {status} report for a reply still being sent (its send not recorded yet)."
        )


def _delivery(inbox: Inbox, item: dict[str, Any], delivery: dict[str, Any]) -> None:
    """Meta delivered the messages named (`mids`, any part of a reply) and, on Messenger,
    everything sent before `watermark`. A mid Parley does not know yet, or of a reply still
    being sent, is waited for (RetryLater) once the rest has moved."""
    from inbox.actions import set_delivery_status

    customer = _party(item, "sender")
    mids = delivery.get("mids")
    waiting: list[str] = []
    for mid in mids if isinstance(mids, list) else []:
        if not isinstance(mid, str) or not mid:
            continue
        stored = _stored(inbox, mid)
        if stored is not None and stored.direction != Message.Direction.OUTGOING:
            continue
        if stored is None or stored.delivery_status == Message.Delivery.QUEUED:
            # Not recorded yet, or not all its parts sent: marking it delivered now would
            # end the send of the parts still to go (delivery.not_deliverable).
            waiting.append(mid)
        else:
            set_delivery_status(message=stored, status=Message.Delivery.DELIVERED)
    watermark = _time(delivery.get("watermark"))
    if watermark is not None:
        _advance(inbox, customer, until=watermark, status=Message.Delivery.DELIVERED)
    if waiting:
        raise RetryLater(
            f"A delivery report for {', '.join(waiting)}, a message whose send is not "
            "recorded (yet)."
        )


def _read(inbox: Inbox, item: dict[str, Any], read: dict[str, Any]) -> None:
    """Messenger says up to when the customer has read (`watermark`); Instagram names the
    message seen (`mid`, any part of a reply), which means everything sent before it was
    seen too. One Parley does not know yet (its send not recorded) is waited for."""
    customer = _party(item, "sender")
    watermark = _time(read.get("watermark"))
    if watermark is None and isinstance(read.get("mid"), str) and read["mid"]:
        seen = _stored(inbox, read["mid"])
        if seen is None:
            raise RetryLater(f"A read report for {read['mid']}, a message not recorded (yet).")
        if seen.direction != Message.Direction.OUTGOING:
            return  # the customer's own message: nothing to move
        watermark = seen.created_at
    if watermark is not None:
        _advance(inbox, customer, until=watermark, status=Message.Delivery.READ)
