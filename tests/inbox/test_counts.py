"""Sidebar counts come from tally rows kept by every write; they must always equal a live
count of the conversations, whatever happened to them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from inbox import actions, tallies
from inbox.models import Conversation, ConversationTally
from inbox.queries.conversations import STATUSES, conversation_counts
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def live_counts(user, inbox_ids: list[int]) -> dict[str, dict[str, int]]:
    out = {view: dict.fromkeys(STATUSES, 0) for view in ("mine", "unassigned", "all")}
    rows = (
        Conversation.objects.filter(inbox_id__in=inbox_ids)
        .values("status", "assignee_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        out["all"][row["status"]] += row["n"]
        if row["assignee_id"] == user.pk:
            out["mine"][row["status"]] += row["n"]
        elif row["assignee_id"] is None:
            out["unassigned"][row["status"]] += row["n"]
    return out


def test_counts_follow_every_kind_of_change(make_inbox, inbound) -> None:
    admin = AdminFactory()
    ana, ben = UserFactory(name="Ana"), UserFactory(name="Ben")
    support = make_inbox("Support", members=[ana, ben])
    billing = make_inbox("Billing", members=[ben])

    def check() -> None:
        assert conversation_counts(ana) == live_counts(ana, [support.pk])
        assert conversation_counts(admin) == live_counts(admin, [support.pk, billing.pk])
        if ben.pk is not None:
            assert conversation_counts(ben) == live_counts(ben, [support.pk, billing.pk])
            assert conversation_counts(ben, inbox=billing.pk) == live_counts(ben, [billing.pk])

    first = inbound(support, "one", sender="c1").conversation
    second = inbound(support, "two", sender="c2").conversation
    third = inbound(billing, "three", sender="c3").conversation
    check()
    assert conversation_counts(ana)["unassigned"]["open"] == 2

    actions.assign(conversation=first, assignee=ana, actor=ana)
    actions.assign(conversation=third, assignee=ben, actor=admin)
    check()
    assert conversation_counts(ana)["mine"]["open"] == 1

    actions.assign(conversation=first, assignee=ben, actor=admin)  # moved between agents
    actions.set_status(conversation=second, status="pending", actor=ana)
    actions.set_status(
        conversation=third,
        status="snoozed",
        actor=ben,
        snoozed_until=timezone.now() + timedelta(hours=2),
    )
    check()

    actions.set_status(conversation=first, status="resolved", actor=ben)
    inbound(support, "back again", sender="c1")  # reopens the resolved conversation
    inbound(billing, "still there?", sender="c3")  # wakes the snoozed one
    check()
    assert conversation_counts(admin)["all"]["open"] == 2

    actions.assign(conversation=first, assignee=None, actor=admin)
    ben.delete()  # on_delete=SET_NULL unassigns in bulk, behind save()'s back
    check()

    Conversation.objects.get(pk=second.pk).delete()
    check()


def test_a_failed_write_leaves_the_counts_alone(make_inbox, inbound, monkeypatch) -> None:
    from inbox.actions import conversations

    agent = UserFactory()
    inbox = make_inbox(members=[agent])
    conversation = inbound(inbox, "hello").conversation
    before = conversation_counts(agent)

    def broken(**kwargs):  # fails after the conversation was saved, inside the transaction
        raise RuntimeError("the activity line could not be written")

    monkeypatch.setattr(conversations, "add_activity", broken)
    with pytest.raises(RuntimeError):
        actions.set_status(conversation=conversation, status="resolved", actor=agent)
    assert conversation_counts(agent) == before == live_counts(agent, [inbox.pk])
    assert conversation_counts(agent)["all"]["open"] == 1


def test_recount_rebuilds_what_a_bulk_write_bypassed(make_inbox, inbound, capsys) -> None:
    agent = UserFactory()
    inbox = make_inbox(members=[agent])
    for n in range(3):
        inbound(inbox, "hi", sender=f"c{n}")
    Conversation.objects.filter(inbox=inbox).update(status="resolved")  # bypasses save()
    assert conversation_counts(agent) != live_counts(agent, [inbox.pk])

    call_command("recount_conversations")

    assert conversation_counts(agent) == live_counts(agent, [inbox.pk])
    assert "Recounted: 1 tally rows." in capsys.readouterr().out
    assert tallies.recount() == ConversationTally.objects.count() == 1
