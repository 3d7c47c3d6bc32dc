"""Many customers' text messages stored at once: the worker's path for provider webhooks
that carry plain text (inbox/sources/webhooks.py: process_events).

The result is what `receive_inbound_message` gives for each message in turn, with the same
events, but the writes are made per batch rather than per message: one read for the
redeliveries, one for the known identities, one insert for the new contacts (and one for
their identities), one read and lock of the conversations, one insert for the new ones, one
insert for the messages, one update of the conversations, a drafts task per 20 messages. A message
that would reopen a resolved or snoozed conversation is stored by `receive_inbound_message`
itself (with its activity line), as are the later messages of that customer in the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from inbox import tallies
from inbox.actions.common import conversation_changed, message_created
from inbox.actions.contacts import (
    IdentityInput,
    IdentityKey,
    identity_key,
    resolve_merged,
    unsaved_contact,
)
from inbox.actions.messages import (
    InboundResult,
    _next_conversation_number,
    _note_customer_message,
    receive_inbound_message,
)
from inbox.events import in_writing
from inbox.models import Contact, ContactIdentity, Conversation, Inbox, Message
from inbox.payloads import CONVERSATION_PREFETCH, CONVERSATION_SELECT

REOPENING = (Conversation.Status.RESOLVED, Conversation.Status.SNOOZED)


class FollowUps:
    """Tasks the sources ask for after a batch, queued once each with all their items
    (e.g. one profile lookup task for all the new Messenger contacts of the batch)."""

    def __init__(self) -> None:
        self.items: dict[Any, list[Any]] = {}

    def add(self, task: Any, item: Any) -> None:
        self.items.setdefault(task, []).append(item)

    def enqueue(self) -> None:
        for task, items in self.items.items():
            task.enqueue(items)
        self.items = {}


@dataclass
class InboundText:
    """One customer message with text only, as a source parsed it. `after`: what the source
    does with the result once the batch is committed (e.g. keep a username on the contact),
    given the batch's follow-ups to add tasks to."""

    identity: IdentityInput
    text: str
    external_id: str
    received_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    after: Callable[[InboundResult, FollowUps], None] | None = None

    def key(self, inbox: Inbox) -> IdentityKey:
        return identity_key(inbox=inbox, identity=self.identity)


def receive_inbound_texts(*, inbox: Inbox, items: Sequence[InboundText]) -> list[InboundResult]:
    """Store the messages, in order, inside the caller's `writing()` block. Every item's
    identity must be valid (`InboundText.key` raises InboxError otherwise). A redelivered
    external id gives created=False, as `receive_inbound_message` does. Results in the
    order of `items`."""
    assert in_writing(), "receive_inbound_texts runs inside writing()"
    results: list[InboundResult | None] = [None] * len(items)
    keys = [item.key(inbox) for item in items]
    external_ids = [item.external_id[:255] for item in items]
    stored = _stored(inbox, [x for x in external_ids if x])
    fresh: list[int] = []
    first_of: dict[str, int] = {}  # external id → index of the item that stores it
    for n, external_id in enumerate(external_ids):
        if external_id in stored:
            message = stored[external_id]
            results[n] = InboundResult(message, message.conversation, created=False)
        elif external_id and external_id in first_of:
            continue  # the same delivery twice in this batch: settled below
        else:
            first_of[external_id] = n
            fresh.append(n)
    contacts, new_contacts = _contacts(inbox, {keys[n]: items[n].identity for n in fresh})
    latest = _latest_conversations(inbox, {contacts[keys[n]].pk for n in fresh})
    one_by_one = {contact_id for contact_id, found in latest.items() if found.status in REOPENING}
    bulk = [n for n in fresh if contacts[keys[n]].pk not in one_by_one]
    created = _new_conversations(
        inbox,
        {contacts[keys[n]].pk: (contacts[keys[n]], items[n]) for n in bulk}.values(),
        latest,
    )
    now = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            conversation=latest[contacts[keys[n]].pk],
            inbox=inbox,
            direction=Message.Direction.INCOMING,
            sender_contact=contacts[keys[n]],
            text=items[n].text,
            external_id=external_ids[n],
            created_at=items[n].received_at or now,
            data=items[n].data,
        )
        for n in bulk
    )
    touched: dict[int, Conversation] = {}
    introduced: set[int] = set()  # new contacts whose first message is stored
    for n, message in zip(bulk, messages, strict=True):
        contact = contacts[keys[n]]
        conversation = latest[contact.pk]
        _note_customer_message(conversation, message, items[n].text)
        conversation.updated_at = now
        first = conversation.pk in created and conversation.pk not in touched
        touched[conversation.pk] = conversation
        if first:
            conversation_changed(conversation, kind="conversation.created")
            message_created(message, attachments=[])
        else:
            message_created(
                message, attachments=[], conversation=conversation, changes=["last_activity_at"]
            )
        results[n] = InboundResult(
            message,
            conversation,
            created=True,
            new_conversation=first,
            contact=contact,
            new_contact=contact.pk in new_contacts and contact.pk not in introduced,
        )
        introduced.add(contact.pk)
    _save_conversations(list(touched.values()))
    if messages and settings.DRAFTS_ENABLED:
        _after_customer_messages(messages)
    for n in fresh:
        if results[n] is None:  # a customer whose conversation reopens: in order, one by one
            item = items[n]
            result = receive_inbound_message(
                inbox=inbox,
                identity=item.identity,
                text=item.text,
                external_id=item.external_id,
                received_at=item.received_at,
                data=item.data,
            )
            contact_id = contacts[keys[n]].pk
            result.new_contact = contact_id in new_contacts and contact_id not in introduced
            introduced.add(contact_id)
            results[n] = result
    for n, external_id in enumerate(external_ids):
        if results[n] is None:  # a repeat within the batch
            original = results[first_of[external_id]]
            assert original is not None
            results[n] = InboundResult(original.message, original.conversation, created=False)
    return [result for result in results if result is not None]


CHANGED = (
    ("last_activity_at", "timestamptz"),
    ("waiting_since", "timestamptz"),
    ("last_message_preview", "text"),
    ("last_incoming_message_id", "bigint"),
    ("last_customer_message_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)


def _save_conversations(conversations: list[Conversation]) -> None:
    """What the messages changed, in one statement (Django's bulk_update builds a CASE per
    field and row, which costs more than the rest of the batch)."""
    if not conversations:
        return
    if connection.vendor != "postgresql":
        Conversation.objects.bulk_update(conversations, [name for name, _ in CHANGED])
        return
    row = "(%s::bigint, " + ", ".join(f"%s::{kind}" for _, kind in CHANGED) + ")"
    columns = ", ".join(name for name, _ in CHANGED)
    assignments = ", ".join(f"{name} = v.{name}" for name, _ in CHANGED)
    params: list[Any] = []
    for conversation in conversations:
        params.append(conversation.pk)
        params.extend(getattr(conversation, name) for name, _ in CHANGED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE inbox_conversation AS c SET {assignments} "  # noqa: S608 (names are ours)
            f"FROM (VALUES {', '.join([row] * len(conversations))}) AS v(id, {columns}) "
            "WHERE c.id = v.id",
            params,
        )


def _stored(inbox: Inbox, external_ids: list[str]) -> dict[str, Message]:
    if not external_ids:
        return {}
    found = Message.objects.select_related("conversation").filter(
        inbox=inbox, external_id__in=external_ids
    )
    return {message.external_id: message for message in found}


def _contacts(
    inbox: Inbox, wanted: dict[IdentityKey, IdentityInput]
) -> tuple[dict[IdentityKey, Contact], set[int]]:
    """The contact of each identity, created (with the identity) for those nobody has;
    and the ids of the created ones."""
    found: dict[IdentityKey, Contact] = {}
    groups: dict[tuple[str, Inbox | None], list[str]] = {}
    for kind, value, scope in wanted:
        groups.setdefault((kind, scope), []).append(value)
    for (kind, scope), values in groups.items():
        rows = ContactIdentity.objects.select_related("contact").filter(
            kind=kind, inbox=scope, value__in=values
        )
        for row in rows:
            found[(kind, row.value, scope)] = resolve_merged(row.contact)
    missing = [key for key in wanted if key not in found]
    if not missing:
        return found, set()
    new = Contact.objects.bulk_create(unsaved_contact(wanted[key], key) for key in missing)
    ContactIdentity.objects.bulk_create(
        ContactIdentity(contact=contact, kind=kind, value=value, inbox=scope)
        for (kind, value, scope), contact in zip(missing, new, strict=True)
    )
    found.update(zip(missing, new, strict=True))
    return found, {contact.pk for contact in new}


def _latest_conversations(inbox: Inbox, contact_ids: set[int]) -> dict[int, Conversation]:
    """Each contact's latest conversation in the inbox, locked until commit, with what its
    event payload needs loaded."""
    if not contact_ids:
        return {}
    ordered = Conversation.objects.filter(inbox=inbox, contact_id__in=contact_ids).order_by(
        "contact_id", "-last_activity_at", "-id"
    )
    if connection.vendor == "postgresql":
        ids = list(ordered.distinct("contact_id").values_list("id", flat=True))
    else:  # SQLite has no DISTINCT ON (and no row locks to take: its writes are serial)
        first: dict[int, int] = {}
        for pk, contact_id in ordered.values_list("id", "contact_id"):
            first.setdefault(contact_id, pk)
        ids = list(first.values())
    locked = (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .filter(pk__in=ids)
        .order_by("pk")  # always the same order: two workers never wait on each other
    )
    latest = {}
    for conversation in locked:
        conversation._payload_ready = True  # type: ignore[attr-defined]
        conversation._saved_tally_key = conversation.tally_key()  # type: ignore[attr-defined]
        latest[conversation.contact_id] = conversation
    return latest


def _new_conversations(
    inbox: Inbox,
    starts: Any,  # (contact, its first item) per contact of the batch
    latest: dict[int, Conversation],
) -> set[int]:
    """A conversation for each contact who has none in the inbox yet (put in `latest`);
    returns their ids."""
    needed = [(contact, item) for contact, item in starts if contact.pk not in latest]
    if not needed:
        return set()
    first_number = _next_conversation_number(inbox, len(needed))
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(
            inbox=inbox,
            contact=contact,
            number=first_number + i,
            last_activity_at=item.received_at or now,
            created_at=item.received_at or now,
        )
        for i, (contact, item) in enumerate(needed)
    )
    prefetch_related_objects(conversations, *CONVERSATION_PREFETCH)
    for conversation in conversations:
        conversation._payload_ready = True  # type: ignore[attr-defined]
        key = conversation.tally_key()
        conversation._saved_tally_key = key  # type: ignore[attr-defined]
        tallies.moved(None, key)
        latest[conversation.contact_id] = conversation
    return {conversation.pk for conversation in conversations}


DRAFTS_PER_TASK = 20  # a worker busy with drafts is back for the next batch within ~0.2 s


def _after_customer_messages(messages: list[Message]) -> None:
    """The drafts tasks of the batch (see messages._after_customer_message): a few
    messages each, a conversation's messages together where they fit."""
    from inbox.tasks import after_customer_messages

    ordered = sorted(messages, key=lambda m: (m.conversation_id, m.pk))
    for start in range(0, len(ordered), DRAFTS_PER_TASK):
        ids = [message.pk for message in ordered[start : start + DRAFTS_PER_TASK]]
        if settings.TASK_BACKEND == "database":
            after_customer_messages.enqueue(ids)
        else:
            transaction.on_commit(functools.partial(after_customer_messages.enqueue, ids))
