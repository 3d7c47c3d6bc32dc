"""What a website visitor does through the chat widget: open a session, identify (signed by
the site), write, read, leave an email address for the answer, rate the conversation, and
sign out (`reset`). Callers (inbox/sources/widget/views.py) have checked the inbox, the
origin and the visitor token; these check everything about the identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from inbox.actions.common import conversation_changed, lock_conversation
from inbox.actions.contacts import IdentityInput, find_or_create_contact, update_contact
from inbox.actions.errors import InboxError
from inbox.actions.messages import AttachmentInput, InboundResult, receive_inbound_message
from inbox.events import writing
from inbox.models import Contact, Conversation, Inbox, Message, WidgetVisitor
from inbox.sources.widget import identity
from inbox.sources.widget.config import config_for

MAX_TEXT = 5000


@dataclass
class Identify:
    user_id: str
    name: str = ""
    email: str = ""
    hash: str = ""
    ts: int | None = None
    attributes: dict[str, Any] | None = None


def start_session(
    *, inbox: Inbox, token: str = "", client: dict[str, str] | None = None
) -> tuple[WidgetVisitor, str]:
    """The visitor behind `token`, or a new visitor with a new token when the token is
    unknown, revoked or of another inbox. Returns (visitor, token to keep)."""
    client = client or {}
    if token:
        found = WidgetVisitor.objects.filter(
            token_hash=identity.token_hash(token), inbox=inbox, revoked_at=None
        ).first()
        if found is not None:
            WidgetVisitor.objects.filter(pk=found.pk).update(last_seen_at=timezone.now())
            return found, token
    token = identity.new_token()
    visitor = WidgetVisitor.objects.create(
        inbox=inbox,
        token_hash=identity.token_hash(token),
        user_agent=client.get("user_agent", "")[:300],
        ip_address=client.get("ip") or None,
    )
    return visitor, token


def visitor_for_token(*, inbox: Inbox, token: str) -> WidgetVisitor | None:
    if not token:
        return None
    return (
        WidgetVisitor.objects.select_related("contact")
        .filter(token_hash=identity.token_hash(token), inbox=inbox, revoked_at=None)
        .first()
    )


def reset_visitor(*, visitor: WidgetVisitor) -> None:
    """Sign-out on a shared computer: the token stops working; the next person starts
    afresh. The conversations stay with the contact (agents still see them)."""
    WidgetVisitor.objects.filter(pk=visitor.pk).update(revoked_at=timezone.now())


def _clean_email(value: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError as exc:
        raise InboxError("Enter a valid email address.", field="email") from exc
    return value[:254]


def _clean_name(value: str) -> str:
    return " ".join((value or "").split())[:200]


def identify(*, visitor: WidgetVisitor, data: Identify) -> tuple[WidgetVisitor, str | None]:
    """The site says who the visitor is. Signed (a valid hash): the visitor becomes that
    user's, on every device, with the history; their earlier anonymous conversations here
    follow them. Signed for another user than the one signed in on this browser (the site
    forgot reset() at sign-out): the old visitor is revoked and a new one, with a new token
    (returned), becomes the new user's: nothing of the previous user carries over.
    Unsigned, where the inbox allows it: the name and email are kept as the visitor's own
    unverified details, on their own anonymous contact only: never attached to an existing
    contact, never a way to read anyone's history. Returns (visitor, new token or None)."""
    inbox = visitor.inbox
    config = config_for(inbox)
    user_id = str(data.user_id or "").strip()[:200]
    if not user_id:
        raise InboxError("identify() needs the user's id.", field="id")
    email = _clean_email(data.email)
    name = _clean_name(data.name)
    attributes = data.attributes if isinstance(data.attributes, dict) else {}
    signed = bool(data.hash)
    if signed or config.identity_required:
        secret = str(inbox.get_secrets().get("identity_secret") or "")
        try:
            identity.verify(
                secret,
                user_id=user_id,
                hash_=data.hash,
                ts=data.ts,
                max_age=config.identity_max_age,
            )
        except identity.IdentityRefused as exc:
            raise PermissionError(str(exc)) from exc
    if not signed:
        with transaction.atomic():
            visitor = WidgetVisitor.objects.select_for_update().get(pk=visitor.pk)
            if visitor.verified:
                # Someone signed in on this browser: an unsigned call cannot change who it is.
                raise PermissionError("This visitor is verified: identify() must be signed.")
            visitor.name = name or visitor.name
            visitor.email = email or visitor.email
            visitor.attributes = {**visitor.attributes, **attributes, "claimed_id": user_id}
            visitor.save(update_fields=["name", "email", "attributes"])
            if visitor.contact_id:
                _update_own_contact(visitor)
        return visitor, None
    new_token = None
    with writing():
        visitor = WidgetVisitor.objects.select_for_update().get(pk=visitor.pk)
        if visitor.verified and visitor.external_id != user_id:
            reset_visitor(visitor=visitor)
            visitor, new_token = start_session(inbox=inbox)
            visitor = WidgetVisitor.objects.select_for_update().get(pk=visitor.pk)
        contact = find_or_create_contact(
            inbox=inbox,
            identity=IdentityInput(
                kind="external", value=f"user:{user_id}", name=name, email=email
            ),
        )
        changes: dict[str, Any] = {}
        if name and contact.name != name:
            changes["name"] = name
        if email and contact.email != email:
            changes["email"] = email
        if attributes:
            changes["custom_attributes"] = {**contact.custom_attributes, **attributes}
        if changes:
            contact = update_contact(contact=contact, actor=None, **changes)
        anonymous = visitor.contact if visitor.contact_id != contact.pk else None
        visitor.contact = contact
        visitor.verified, visitor.external_id = True, user_id
        visitor.name, visitor.email = contact.name, contact.email
        visitor.save(
            update_fields=["contact", "verified", "external_id", "name", "email", "attributes"]
        )
        if anonymous is not None:
            for pk in Conversation.objects.filter(contact=anonymous, inbox=inbox).values_list(
                "pk", flat=True
            ):
                conversation = lock_conversation(pk)
                conversation.contact = contact
                conversation.save()
                conversation_changed(conversation, changes=["contact"])
    return visitor, new_token


def _update_own_contact(visitor: WidgetVisitor) -> None:
    """An unverified visitor's details go to the contact made for them, and only there."""
    contact = Contact.objects.filter(pk=visitor.contact_id).first() if visitor.contact_id else None
    if contact is not None and (contact.name, contact.email) != (visitor.name, visitor.email):
        update_contact(contact=contact, actor=None, name=visitor.name, email=visitor.email)


def set_email(*, visitor: WidgetVisitor, email: str) -> WidgetVisitor:
    """Where to send the answer when the visitor has left (unverified: their own contact)."""
    value = _clean_email(email)
    if not value:
        raise InboxError("Enter your email address.", field="email")
    if visitor.verified:
        return visitor  # the site told us who they are
    visitor.email = value
    visitor.save(update_fields=["email"])
    if visitor.contact_id:
        _update_own_contact(visitor)
    return visitor


def current_conversation(visitor: WidgetVisitor) -> Conversation | None:
    if not visitor.contact_id:
        return None
    return (
        Conversation.objects.filter(inbox_id=visitor.inbox_id, contact_id=visitor.contact_id)
        .order_by("-last_activity_at", "-id")
        .first()
    )


def visitor_writes(
    *,
    visitor: WidgetVisitor,
    text: str,
    attachments: list[AttachmentInput] | None = None,
    name: str = "",
    email: str = "",
) -> InboundResult:
    """A message from the visitor. The first one creates their contact (an anonymous one
    unless the site verified them). A resolved conversation is not reopened: the visitor
    starts a new one, as in the peer products' chat widgets."""
    text = (text or "").strip()
    if not text and not attachments:
        raise InboxError("Write a message.", field="text")
    if len(text) > MAX_TEXT:
        raise InboxError(f"Messages are limited to {MAX_TEXT} characters.", field="text")
    with writing():
        # One writer per visitor at a time: two tabs sending a first message (or a message
        # racing identify()) must not make two contacts or two conversations.
        visitor = (
            WidgetVisitor.objects.select_for_update(of=("self",))
            .select_related("inbox")
            .get(pk=visitor.pk)
        )
        if not visitor.verified and (name or email):
            visitor.name = _clean_name(name) or visitor.name
            visitor.email = _clean_email(email) or visitor.email
            visitor.save(update_fields=["name", "email"])
            if visitor.contact_id:
                _update_own_contact(visitor)
        if not visitor.contact_id:
            contact = find_or_create_contact(
                inbox=visitor.inbox,
                identity=IdentityInput(
                    kind="external",
                    value=f"visitor:{visitor.public_id}",
                    # Until they say who they are: a name agents can tell apart.
                    name=visitor.name or f"Website visitor {str(visitor.public_id)[:4]}",
                    email=visitor.email,
                ),
            )
            visitor.contact = contact
            visitor.save(update_fields=["contact"])
        latest = current_conversation(visitor)
        start_new = latest is None or latest.status == Conversation.Status.RESOLVED
        return receive_inbound_message(
            inbox=visitor.inbox,
            identity=IdentityInput(
                kind="external",
                value=(
                    f"user:{visitor.external_id}"
                    if visitor.verified
                    else f"visitor:{visitor.public_id}"
                ),
            ),
            text=text,
            attachments=attachments or [],
            conversation=None if start_new else latest,
            start_new=start_new,
            data={"widget": {"visitor": str(visitor.public_id), "page": visitor.page_url[:500]}},
        )


def visitor_read(*, visitor: WidgetVisitor, message_id: int) -> int:
    """The visitor saw the agents' messages up to `message_id`: they show as read to the
    agents (two ticks). Returns how many changed."""
    conversation = current_conversation(visitor)
    if conversation is None:
        return 0
    from inbox.actions.messages import set_delivery_status

    rows = list(
        Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.OUTGOING,
            kind=Message.Kind.MESSAGE,
            id__lte=message_id,
        ).exclude(delivery_status__in=["read", "failed"])
    )
    with writing():
        for message in rows:
            set_delivery_status(message=message, status=Message.Delivery.READ)
    return len(rows)


def rate(*, visitor: WidgetVisitor, score: int, comment: str = "") -> Conversation:
    """The visitor's satisfaction with their (resolved) conversation, 1 to 5."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InboxError("Rate from 1 to 5.", field="score")
    if not config_for(visitor.inbox).satisfaction:
        raise InboxError("This chat does not ask for ratings.", field="score")
    conversation = current_conversation(visitor)
    if conversation is None:
        raise InboxError("There is no finished conversation to rate.", field="score")
    with writing():
        conversation = lock_conversation(conversation.pk)
        if conversation.status != Conversation.Status.RESOLVED:
            raise InboxError("There is no finished conversation to rate.", field="score")
        if conversation.rating:
            raise InboxError("This conversation is rated already. Thank you!", field="score")
        conversation.rating = score
        conversation.rating_comment = (comment or "").strip()[:2000]
        conversation.rated_at = timezone.now()
        conversation.save()
        conversation_changed(conversation, changes=["rating"])
    return conversation


def visitor_seen(
    *,
    visitor_id: int,
    sockets: int = 0,
    page_url: str = "",
    page_title: str = "",
    referrer: str = "",
) -> None:
    """Presence: a widget socket opened (`sockets` +1) or closed (-1), pinged (0), or the
    visitor moved to another page. Only pages of the inbox's allowed websites are kept (the
    agents see them as links); the referrer is kept as text."""
    from django.db.models import F
    from django.db.models.functions import Greatest

    values: dict[str, Any] = {"last_seen_at": timezone.now()}
    if sockets:
        values["sockets"] = Greatest(F("sockets") + sockets, 0)
    if page_url:
        visitor = WidgetVisitor.objects.select_related("inbox").filter(pk=visitor_id).first()
        if visitor is not None and config_for(visitor.inbox).allows(page_url):
            values["page_url"] = page_url[:2000]
            values["page_title"] = page_title[:300]
    if referrer:
        values["referrer"] = referrer[:2000]
    WidgetVisitor.objects.filter(pk=visitor_id).update(**values)
