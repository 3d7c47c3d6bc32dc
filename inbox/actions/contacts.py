from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from accounts.models import User
from inbox.actions.common import conversation_changed
from inbox.actions.errors import InboxError
from inbox.events import inbox_stream, record_event, writing
from inbox.models import Contact, ContactIdentity, Conversation, Inbox, Message
from inbox.payloads import contact_payload


@dataclass(frozen=True)
class IdentityInput:
    """How the source knows the sender. `kind`: email, phone or external (a provider's user
    id, scoped to the inbox). Name, email and phone fill a new contact."""

    kind: str
    value: str
    name: str = ""
    email: str = ""
    phone: str = ""


def normalize_identity(kind: str, value: str) -> str:
    value = value.strip()
    if kind == ContactIdentity.Kind.EMAIL:
        return value.lower()
    if kind == ContactIdentity.Kind.PHONE:
        digits = re.sub(r"[^\d+]", "", value)
        return digits if digits.startswith("+") else f"+{digits}"
    return value


def resolve_merged(contact: Contact) -> Contact:
    """The contact itself, or the one it was merged into."""
    seen = set()
    while contact.merged_into_id and contact.pk not in seen:
        seen.add(contact.pk)
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


IdentityKey = tuple[str, str, Inbox | None]  # (kind, normalised value, inbox or None)


def identity_key(*, inbox: Inbox, identity: IdentityInput) -> IdentityKey:
    """Where a source identity is looked up: an external id is scoped to its inbox, an
    email address or a phone number is not. Raises InboxError for an empty or unknown one."""
    if identity.kind not in ContactIdentity.Kind.values:
        raise InboxError("Identity kind must be email, phone or external.", field="kind")
    value = normalize_identity(identity.kind, identity.value)
    if not value or len(value) > 255:
        raise InboxError("The sender's identity is empty or too long.", field="value")
    return identity.kind, value, inbox if identity.kind == ContactIdentity.Kind.EXTERNAL else None


def unsaved_contact(identity: IdentityInput, key: IdentityKey) -> Contact:
    """A new contact for an identity nobody has yet, filled from what the source knows."""
    kind, value, _ = key
    email = identity.email or (value if kind == ContactIdentity.Kind.EMAIL else "")
    phone = identity.phone or (value if kind == ContactIdentity.Kind.PHONE else "")
    return Contact(
        name=identity.name.strip()[:200], email=email.strip().lower()[:254], phone=phone[:32]
    )


def find_or_create_contact(*, inbox: Inbox, identity: IdentityInput) -> Contact:
    """The contact a source identity belongs to, created with its identity if new.
    Never merges on a partial match (a shared phone number is offered for merge by the UI,
    not merged here). Raises InboxError for an empty or unknown identity."""
    key = identity_key(inbox=inbox, identity=identity)
    lookup = {"kind": key[0], "value": key[1], "inbox": key[2]}
    # Unique per (kind, value, inbox): a bare LIMIT 1, no ORDER BY to compile and sort.
    found = ContactIdentity.objects.select_related("contact").filter(**lookup)[:1]
    if found:
        return resolve_merged(found[0].contact)
    try:
        with transaction.atomic():
            contact = unsaved_contact(identity, key)
            contact.save()
            ContactIdentity.objects.create(contact=contact, **lookup)
    except IntegrityError:
        # Another delivery created the same identity meanwhile: use theirs.
        found_now = ContactIdentity.objects.select_related("contact").get(**lookup)
        return resolve_merged(found_now.contact)
    return contact


CONTACT_FIELDS = {"name", "email", "phone", "notes", "custom_attributes", "is_vip", "is_blocked"}


def _contacts_changed(
    contacts: list[Contact], kind: str = "contact.updated", extra: dict[str, Any] | None = None
) -> None:
    """Record each contact's state for every inbox it has conversations in (identities and
    inboxes read once for all of them)."""
    prefetch_related_objects(contacts, "identities")
    inboxes: dict[int, set[int]] = {}
    rows = Conversation.objects.filter(contact__in=contacts).values_list("contact_id", "inbox_id")
    for contact_id, inbox_id in rows:
        inboxes.setdefault(contact_id, set()).add(inbox_id)
    for contact in contacts:
        payload = {"contact": contact_payload(contact), **(extra or {})}
        for inbox_id in sorted(inboxes.get(contact.pk, ())):
            record_event(stream=inbox_stream(inbox_id), kind=kind, payload=payload)


def _contact_changed(
    contact: Contact, kind: str = "contact.updated", extra: dict[str, Any] | None = None
) -> None:
    _contacts_changed([Contact.objects.get(pk=contact.pk)], kind, extra)


def update_contact(*, contact: Contact, actor: User | None, **changes: Any) -> Contact:
    """Update the given fields (name, email, phone, notes, custom_attributes, is_vip,
    is_blocked). `actor` None: Parley itself (e.g. a name learnt from an email). Raises
    InboxError for unknown fields; ValidationError for bad values."""
    unknown = set(changes) - CONTACT_FIELDS
    if unknown:
        raise InboxError(f"Unknown contact fields: {', '.join(sorted(unknown))}.")
    with writing():
        contact = Contact.objects.select_for_update(no_key=True).get(pk=contact.pk)
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.full_clean(exclude=["avatar", "merged_into"])
        contact.save()
        _contact_changed(contact)
    return contact


def update_contacts(changes: list[tuple[Contact, dict[str, Any]]]) -> list[Contact]:
    """`update_contact` by Parley itself for many contacts at once (e.g. the names of a
    batch's new Messenger contacts): each is checked as there, and one that fails the
    checks is left as it was; the others are saved in one statement, with their events.
    Returns the contacts changed."""
    if not changes:
        return []
    if any(set(fields) - CONTACT_FIELDS for _, fields in changes):
        raise InboxError("Unknown contact fields.")
    with writing():
        ids = [contact.pk for contact, _ in changes]
        locked = Contact.objects.select_for_update(no_key=True).in_bulk(ids)
        changed = []
        for contact, fields in changes:
            fresh = locked.get(contact.pk)
            if fresh is None:
                continue
            for name, value in fields.items():
                setattr(fresh, name, value)
            try:
                fresh.full_clean(exclude=["avatar", "merged_into"])
            except ValidationError:
                continue
            changed.append(fresh)
        now = timezone.now()
        for contact in changed:
            contact.updated_at = now  # bulk_update does not touch auto_now fields
        names = sorted({name for _, fields in changes for name in fields} | {"updated_at"})
        Contact.objects.bulk_update(changed, names)
        _contacts_changed(changed)
    return changed


def merge_contacts(*, primary: Contact, duplicate: Contact, actor: User) -> Contact:
    """Fold `duplicate` into `primary`: its conversations, identities and messages follow;
    blank fields of the primary are filled; the duplicate stays as a pointer. Caller checks
    that the actor is an admin."""
    if primary.pk == duplicate.pk:
        raise InboxError("Choose two different contacts.")
    with writing():
        primary, duplicate = (
            Contact.objects.select_for_update(no_key=True).get(pk=primary.pk),
            Contact.objects.select_for_update(no_key=True).get(pk=duplicate.pk),
        )
        if primary.merged_into_id or duplicate.merged_into_id:
            raise InboxError("One of these contacts was already merged.")
        moved = list(Conversation.objects.filter(contact=duplicate).values_list("pk", flat=True))
        Conversation.objects.filter(contact=duplicate).update(contact=primary)
        Message.objects.filter(sender_contact=duplicate).update(sender_contact=primary)
        for identity in ContactIdentity.objects.filter(contact=duplicate):
            clash = ContactIdentity.objects.filter(
                kind=identity.kind, value=identity.value, inbox=identity.inbox, contact=primary
            ).exists()
            if clash:
                identity.delete()
            else:
                identity.contact = primary
                identity.save(update_fields=["contact"])
        for name in ("name", "email", "phone"):
            if not getattr(primary, name) and getattr(duplicate, name):
                setattr(primary, name, getattr(duplicate, name))
        primary.custom_attributes = {**duplicate.custom_attributes, **primary.custom_attributes}
        primary.is_vip = primary.is_vip or duplicate.is_vip
        if duplicate.notes:
            primary.notes = "\n\n".join(n for n in (primary.notes, duplicate.notes) if n)
        primary.save()
        duplicate.merged_into = primary
        duplicate.save(update_fields=["merged_into", "updated_at"])
        _contact_changed(primary, kind="contact.merged", extra={"merged_id": duplicate.pk})
        for conversation in Conversation.objects.filter(pk__in=moved):
            conversation_changed(conversation, changes=["contact"])
    return primary
