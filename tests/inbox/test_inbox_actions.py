"""The inbox actions: what they store and which events they append."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox import actions
from inbox.actions.errors import NotAMember
from inbox.events import NotInsideWriting, record_event, writing
from inbox.models import Contact, Conversation, Event, Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def kinds_since(last_id: int) -> list[tuple[str, str]]:
    return list(Event.objects.filter(id__gt=last_id).order_by("id").values_list("stream", "kind"))


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_inbound_message_creates_contact_conversation_and_events(make_inbox, inbound) -> None:
    inbox = make_inbox()
    before = last_event_id()
    result = inbound(inbox, "My parcel never arrived", external_id="ext-1", subject="Parcel")
    assert result.created and result.new_conversation
    conversation = result.conversation
    assert conversation.number == 1 and conversation.subject == "Parcel"
    assert conversation.status == "open" and conversation.waiting_since is not None
    assert conversation.last_message_preview == "My parcel never arrived"
    assert result.message.sender_contact.name == "Casey Customer"
    assert kinds_since(before) == [
        (f"inbox:{inbox.pk}", "conversation.created"),
        (f"inbox:{inbox.pk}", "message.created"),
    ]
    event = Event.objects.get(kind="message.created", id__gt=before)
    assert event.payload["message"]["text"] == "My parcel never arrived"
    assert event.payload["message"]["sender"] == {
        "type": "contact",
        "id": result.message.sender_contact_id,
        "name": "Casey Customer",
    }

    # The same external id again is stored once; the next message threads in.
    again = inbound(inbox, "My parcel never arrived", external_id="ext-1")
    assert not again.created and again.message.pk == result.message.pk
    second = inbound(inbox, "Any news?", external_id="ext-2")
    assert second.conversation.pk == conversation.pk and not second.new_conversation
    assert Message.objects.filter(conversation=conversation).count() == 2
    assert Contact.objects.count() == 1


def test_conversation_numbers_are_per_inbox(make_inbox, inbound) -> None:
    one, two = make_inbox("One"), make_inbox("Two")
    assert inbound(one, sender="a").conversation.number == 1
    assert inbound(one, sender="b").conversation.number == 2
    assert inbound(two, sender="a").conversation.number == 1


def test_resolved_and_snoozed_conversations_reopen_when_the_customer_writes(
    make_inbox, inbound
) -> None:
    agent = UserFactory()
    inbox = make_inbox(members=[agent])
    conversation = inbound(inbox).conversation
    actions.set_status(conversation=conversation, status="resolved", actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == "resolved" and conversation.resolved_at
    inbound(inbox, "Actually, one more thing")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    lines = list(conversation.messages.filter(kind="activity").values_list("text", flat=True))
    assert lines[-1] == "Reopened (resolved) because the customer wrote again"

    later = timezone.now() + timedelta(hours=2)
    actions.set_status(
        conversation=conversation, status="snoozed", snoozed_until=later, actor=agent
    )
    conversation.refresh_from_db()
    assert conversation.status == "snoozed" and conversation.snoozed_until == later
    inbound(inbox, "Hello?")
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.snoozed_until is None


def test_snooze_needs_a_future_time_and_wakes_up(make_inbox, inbound) -> None:
    agent = UserFactory()
    conversation = inbound(make_inbox(members=[agent])).conversation
    with pytest.raises(actions.InboxError):
        actions.set_status(
            conversation=conversation,
            status="snoozed",
            actor=agent,
            snoozed_until=timezone.now() - timedelta(minutes=1),
        )
    soon = timezone.now() + timedelta(seconds=1)
    actions.set_status(conversation=conversation, status="snoozed", snoozed_until=soon, actor=agent)
    actions.reopen_if_snooze_due(conversation=conversation)  # too early: nothing happens
    conversation.refresh_from_db()
    assert conversation.status == "snoozed"
    Conversation.objects.filter(pk=conversation.pk).update(
        snoozed_until=timezone.now() - timedelta(seconds=1)
    )
    actions.reopen_if_snooze_due(conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_reply_clears_waiting_and_records_first_response(
    make_inbox, inbound, django_capture_on_commit_callbacks
):
    agent = UserFactory(name="Ana")
    conversation = inbound(make_inbox(members=[agent])).conversation
    with django_capture_on_commit_callbacks():
        reply = actions.send_reply(conversation=conversation, author=agent, text="On it!")
    conversation.refresh_from_db()
    assert reply.delivery_status == "queued" and reply.sender_user == agent
    assert conversation.waiting_since is None and conversation.first_response_at
    note = actions.add_note(conversation=conversation, author=agent, text="VIP, be quick")
    assert note.kind == "note" and note.delivery_status == ""
    with pytest.raises(actions.InboxError):
        actions.send_reply(conversation=conversation, author=agent, text="   ")


def test_assignment_checks_membership_and_writes_an_activity_line(make_inbox, inbound) -> None:
    ana, ben, outsider = UserFactory(name="Ana"), UserFactory(name="Ben"), UserFactory()
    conversation = inbound(make_inbox(members=[ana, ben])).conversation
    before = last_event_id()
    actions.assign(conversation=conversation, assignee=ben, actor=ana)
    assert kinds_since(before) == [
        (f"inbox:{conversation.inbox_id}", "message.created"),
        (f"inbox:{conversation.inbox_id}", "conversation.updated"),
    ]
    assert conversation.messages.last().text == "Ana assigned this to Ben"
    before = last_event_id()
    actions.assign(conversation=conversation, assignee=ben, actor=ana)  # no change, no event
    assert last_event_id() == before
    with pytest.raises(NotAMember):
        actions.assign(conversation=conversation, assignee=outsider, actor=ana)
    actions.assign(conversation=conversation, assignee=None, actor=ana)
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_delivery_status_never_goes_backwards(
    make_inbox, inbound, django_capture_on_commit_callbacks
) -> None:
    agent = UserFactory()
    conversation = inbound(make_inbox(members=[agent])).conversation
    with django_capture_on_commit_callbacks():
        message = actions.send_reply(conversation=conversation, author=agent, text="Hi")
    for status in ["delivered", "sent", "queued"]:  # out of order
        message = actions.set_delivery_status(message=message, status=status)
    assert message.delivery_status == "delivered"
    message = actions.set_delivery_status(message=message, status="read")
    message = actions.set_delivery_status(message=message, status="failed", error="late")
    assert message.delivery_status == "read"


def test_failed_delivery_can_be_retried(
    make_inbox, inbound, django_capture_on_commit_callbacks
) -> None:
    agent = UserFactory()
    conversation = inbound(make_inbox(members=[agent])).conversation
    with django_capture_on_commit_callbacks():
        message = actions.send_reply(conversation=conversation, author=agent, text="Hi")
    message = actions.set_delivery_status(message=message, status="failed", error="HTTP 500")
    assert (message.delivery_status, message.delivery_error) == ("failed", "HTTP 500")
    message = actions.set_delivery_status(message=message, status="queued")
    assert (message.delivery_status, message.delivery_error) == ("queued", "")


def test_mark_read_moves_forward_only(make_inbox, inbound) -> None:
    agent = UserFactory()
    inbox = make_inbox(members=[agent])
    first = inbound(inbox, "one")
    second = inbound(inbox, "two")
    position = actions.mark_read(conversation=first.conversation, user=agent)
    assert position.last_read_message_id == second.message.pk
    position = actions.mark_read(
        conversation=first.conversation, user=agent, up_to_message_id=first.message.pk
    )
    assert position.last_read_message_id == second.message.pk
    event = Event.objects.filter(kind="conversation.read").get()
    assert event.stream == f"user:{agent.pk}"


def test_merge_contacts_moves_conversations_and_identities(make_inbox, inbound) -> None:
    admin = UserFactory(role="admin")
    inbox = make_inbox()
    a = inbound(inbox, sender="wa-1", name="Dana").conversation
    b = inbound(inbox, sender="tg-9", name="").conversation
    actions.update_contact(contact=b.contact, actor=admin, email="dana@example.com", is_vip=True)
    primary = actions.merge_contacts(primary=a.contact, duplicate=b.contact, actor=admin)
    assert primary.email == "dana@example.com" and primary.is_vip
    assert set(primary.conversations.values_list("pk", flat=True)) == {a.pk, b.pk}
    assert primary.identities.count() == 2
    b.contact.refresh_from_db()
    assert b.contact.merged_into_id == primary.pk
    # The merged identity now finds the primary contact.
    assert inbound(inbox, "hi again", sender="tg-9").message.sender_contact_id == primary.pk
    with pytest.raises(actions.InboxError):
        actions.merge_contacts(primary=primary, duplicate=primary, actor=admin)


def test_events_need_a_writing_block_and_vanish_with_a_failed_inner_block(make_inbox) -> None:
    with pytest.raises(NotInsideWriting):
        record_event(stream="inbox:1", kind="x", payload={})
    inbox = make_inbox()
    before = last_event_id()
    with writing():
        record_event(stream=f"inbox:{inbox.pk}", kind="kept", payload={})
        try:
            with writing():
                record_event(stream=f"inbox:{inbox.pk}", kind="dropped", payload={})
                raise RuntimeError
        except RuntimeError:
            pass
    assert [k for _, k in kinds_since(before)] == ["kept"]
    seqs = list(Event.objects.filter(stream=f"inbox:{inbox.pk}").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
