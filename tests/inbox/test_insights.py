"""The numbers that watch the balance: what agents did with suggested drafts, where replies
started, canned replies used, edited and never used, conversations flagged for a person,
automated messages and first-response times; on the page, in the API and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import DraftSuggestion, Message
from tests.factories import UserFactory
from tests.inbox.test_draft_pipeline import closed_now, customer, library, set_policy, suggestions

pytestmark = pytest.mark.django_db
__all__ = ["customer", "library"]  # fixtures used here


@pytest.fixture
def activity(library, agent, api, make_inbox, customer) -> dict:
    from accounts.origin import SYSTEM
    from inbox import actions
    from tests.factories import AdminFactory

    inbox = make_inbox("Chat", members=[agent])
    # 1: sent as suggested
    one = customer(inbox, "forgot my password, cannot log in", sender="one")
    data = suggestions(api, agent, one.conversation)
    api(agent).post(
        f"/api/v1/conversations/{one.conversation.pk}/messages/",
        {"text": data["results"][0]["text"], "suggestion_id": data["suggestion_id"]},
        format="json",
    )
    # 2: shown, then a typed reply (discarded); Cleo looked too
    two = customer(inbox, "my tracking number is not working", sender="two")
    cleo = UserFactory(name="Cleo Colleague")
    inbox.members.add(cleo)
    suggestions(api, cleo, two.conversation)
    suggestions(api, agent, two.conversation)
    api(agent).post(
        f"/api/v1/conversations/{two.conversation.pk}/messages/",
        {"text": "Let me look into it."},
        format="json",
    )
    # 3: flagged for a person
    customer(inbox, "I want to speak to a real person", sender="three")
    # 4: an automated acknowledgement
    actions.update_inbox(
        inbox=inbox, actor=AdminFactory(), origin=SYSTEM, business_hours=closed_now()
    )
    inbox.refresh_from_db()
    set_policy(inbox, ack_enabled=True)
    customer(inbox, "a question about an invoice", sender="four")
    return {"inbox": inbox}


def test_the_api_counts_what_happened(activity, admin, api) -> None:
    data = api(admin).get("/api/v1/insights/").json()
    s = data["suggestions"]
    assert (s["shown"], s["used"], s["edited"], s["discarded"]) == (2, 1, 0, 1)
    assert s["acceptance"] == 0.5
    [chat] = s["by_inbox"]
    assert chat["inbox"] == "Chat" and chat["used"] == 1
    assert {row["engine"] for row in s["by_engine"]} == {"canned"}
    ben, cleo = data["agents"]
    assert (ben["agent"], ben["from_suggestion"], ben["typed"]) == ("Ben Agent", 1, 1)
    assert (ben["shown"], ben["used"], ben["edited"], ben["discarded"]) == (2, 1, 0, 1)
    assert ben["acceptance"] == 0.5
    # Shown to Cleo too (counted for her), though she did nothing with it.
    assert (cleo["agent"], cleo["replies"], cleo["shown"], cleo["discarded"]) == (
        "Cleo Colleague",
        0,
        1,
        0,
    )
    assert cleo["acceptance"] == 0.0
    assert data["replies"]["by_origin"] == {
        "suggestion": 1,
        "canned": 0,
        "typed": 1,
        "automated": 1,
    }
    assert data["replies"]["automated"] == {"acknowledgement": 1}
    assert data["needs_person"]["conversations"] == 1
    assert data["needs_person"]["reasons"] == [{"reason": "Asks for a person", "count": 1}]
    assert data["first_response"]["with_suggestion"]["conversations"] == 1
    assert data["first_response"]["without_suggestion"]["conversations"] == 1
    assert data["canned"]["most_used"] == [{"title": "Reset password", "replies": 1}]
    assert "Where is my order" in data["canned"]["never_used"]
    assert data["daily"][-1]["suggested"] >= 2


def test_a_period_before_the_activity_is_empty(activity, admin, api) -> None:
    old = (timezone.localdate() - timedelta(days=60)).isoformat()
    older = (timezone.localdate() - timedelta(days=90)).isoformat()
    data = api(admin).get(f"/api/v1/insights/?from={older}&to={old}").json()
    assert data["suggestions"]["shown"] == 0 and data["agents"] == []
    assert len(data["daily"]) == 31
    bad = api(admin).get("/api/v1/insights/?from=yesterday")
    assert bad.status_code == 400


def test_agents_cannot_read_insights(activity, agent, api, client) -> None:
    assert api(agent).get("/api/v1/insights/").status_code == 403


def test_the_page_and_the_csv(activity, admin_web) -> None:
    page = admin_web.get("/insights/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "suggested drafts shown" in html and "Asks for a person" in html
    assert "Reset password" in html
    response = admin_web.get("/insights/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "group", "metric", "value"]
    assert ["suggestions", "all", "used", "1"] in rows
    assert ["needs a person", "Asks for a person", "count", "1"] in rows


def test_outcomes_are_per_message_not_per_conversation(activity) -> None:
    assert DraftSuggestion.objects.count() == 2
    assert Message.objects.filter(data__automated="acknowledgement").count() == 1


def test_first_response_counts_each_conversations_first_reply_only(
    activity, admin, agent, api, customer
) -> None:
    from inbox.models import ReplyMetric

    inbox = activity["inbox"]
    # The customer of conversation 1 writes again and gets a second (typed) reply: not a
    # first response, whatever it took.
    again = customer(inbox, "and one more thing", sender="one")
    api(agent).post(
        f"/api/v1/conversations/{again.conversation.pk}/messages/",
        {"text": "Sure."},
        format="json",
    )
    metrics = ReplyMetric.objects.exclude(origin="automated")
    assert metrics.count() == 3 and metrics.filter(first_response=True).count() == 2
    metrics.filter(origin="suggestion").update(response_seconds=40)
    metrics.filter(origin="typed", first_response=True).update(response_seconds=300)
    metrics.filter(first_response=False).update(response_seconds=9999)
    first = api(admin).get("/api/v1/insights/").json()["first_response"]
    assert first == {
        "with_suggestion": {"conversations": 1, "median_seconds": 40},
        "without_suggestion": {"conversations": 1, "median_seconds": 300},
    }


def test_one_inbox_at_a_time(activity, admin, api, make_inbox) -> None:
    other = make_inbox("Quiet")
    chat = activity["inbox"]
    mine = api(admin).get(f"/api/v1/insights/?inbox={chat.pk}").json()
    assert mine["suggestions"]["computed"] == 2
    assert [i["name"] for i in mine["period"]["inboxes"]] == ["Chat"]
    quiet = api(admin).get(f"/api/v1/insights/?inbox={other.pk}").json()
    assert quiet["suggestions"]["computed"] == 0 and quiet["agents"] == []
    assert quiet["replies"]["total"] == 0 and quiet["needs_person"]["conversations"] == 0
