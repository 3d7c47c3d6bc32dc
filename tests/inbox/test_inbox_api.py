"""The inbox REST API: filters, counts, paging, actions, contacts, search, and scoping."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox import actions
from inbox.models import Conversation, Label
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_inbox, inbound, agent, django_capture_on_commit_callbacks):
    """Two inboxes: `support` (agent is a member) and `billing` (agent is not)."""
    support = make_inbox("Support", members=[agent])
    billing = make_inbox("Billing")
    mine = inbound(support, "Where is my order?", sender="c1", name="Ann").conversation
    actions.assign(conversation=mine, assignee=agent, actor=agent)
    waiting = inbound(support, "Refund please", sender="c2", name="Bob").conversation
    hidden = inbound(billing, "Invoice question", sender="c3", name="Cy").conversation
    return {
        "support": support,
        "billing": billing,
        "mine": mine,
        "waiting": waiting,
        "hidden": hidden,
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


def test_list_filters_and_scoping(agent, api, world) -> None:
    client = api(agent)
    assert ids(client.get("/api/v1/conversations/")) == [world["waiting"].pk, world["mine"].pk]
    assert ids(client.get("/api/v1/conversations/?assignee=me")) == [world["mine"].pk]
    assert ids(client.get("/api/v1/conversations/?assignee=unassigned")) == [world["waiting"].pk]
    assert ids(client.get(f"/api/v1/conversations/?inbox={world['billing'].pk}")) == []
    assert ids(client.get("/api/v1/conversations/?status=resolved")) == []
    assert ids(client.get("/api/v1/conversations/?sort=waiting")) == [
        world["mine"].pk,
        world["waiting"].pk,
    ]
    body = client.get("/api/v1/conversations/").json()["results"][0]
    assert body["contact"]["name"] == "Bob" and body["unread_count"] == 1
    assert body["inbox"] == {"id": world["support"].pk, "name": "Support", "kind": "api"}


@pytest.mark.parametrize(
    "query,field",
    [
        ("status=closed", "status"),
        ("assignee=someone", "assignee"),
        ("inbox=x", "inbox"),
        ("priority=9", "priority"),
        ("sort=random", "sort"),
        ("cursor=garbage", "cursor"),
        ("label=99999999999999999999999", "label"),
    ],
)
def test_invalid_filters_are_400_naming_the_field(agent, api, world, query, field) -> None:
    response = api(agent).get(f"/api/v1/conversations/?{query}")
    assert response.status_code == 400 and field in response.json()


def test_cursor_paging_and_constant_query_count(agent, api, make_inbox, inbound) -> None:
    inbox = make_inbox("Busy", members=[agent])
    label = Label.objects.create(name="Returns")
    for n in range(7):
        conversation = inbound(inbox, f"message {n}", sender=f"s{n}").conversation
        conversation.labels.add(label)
    client = api(agent)
    client.get("/api/v1/conversations/?page_size=1")  # the token's first use is written once
    seen, url = [], "/api/v1/conversations/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert len(seen) == 7 and len(set(seen)) == 7

    def count(size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/conversations/?page_size={size}").status_code == 200
        return len(ctx.captured_queries)

    assert count(2) == count(7)


def test_counts_come_from_one_query(agent, api, world) -> None:
    client = api(agent)
    client.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/api/v1/conversations/counts/").json()
    assert body["mine"]["open"] == 1 and body["unassigned"]["open"] == 1
    assert body["all"] == {"open": 2, "pending": 0, "snoozed": 0, "resolved": 0}
    counting = [q for q in ctx.captured_queries if "inbox_conversationtally" in q["sql"]]
    assert len(counting) == 1


def test_non_members_get_404_everywhere(agent, api, world) -> None:
    client = api(agent)
    hidden = world["hidden"]
    for path in [
        f"/api/v1/conversations/{hidden.pk}/",
        f"/api/v1/conversations/{hidden.pk}/messages/",
        f"/api/v1/contacts/{hidden.contact_id}/",
        f"/api/v1/inboxes/{world['billing'].pk}/",
        f"/api/v1/agents/?inbox={world['billing'].pk}",
        "/api/v1/conversations/abc/",
        "/api/v1/conversations/999999999/",
    ]:
        assert client.get(path).status_code == 404, path
    for path, body in [
        (f"/api/v1/conversations/{hidden.pk}/messages/", {"text": "hi"}),
        (f"/api/v1/conversations/{hidden.pk}/assign/", {"assignee_id": None}),
        (f"/api/v1/conversations/{hidden.pk}/status/", {"status": "resolved"}),
    ]:
        assert client.post(path, body, format="json").status_code == 404, path
    hidden.refresh_from_db()
    assert hidden.status == "open" and hidden.messages.count() == 1
    assert world["billing"].pk not in [
        i["id"] for i in client.get("/api/v1/inboxes/").json()["results"]
    ]


def test_team_membership_grants_access(api, world) -> None:
    member = UserFactory()
    team = TeamFactory()
    team.members.add(member)
    world["billing"].teams.add(team)
    response = api(member).get(f"/api/v1/conversations/{world['hidden'].pk}/")
    assert response.status_code == 200


def test_thread_reply_note_and_actions(agent, api, world, django_capture_on_commit_callbacks):
    client = api(agent)
    conversation = world["waiting"]
    with django_capture_on_commit_callbacks(execute=False):
        reply = client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"text": "Refund sent"},
            format="json",
        )
    assert reply.status_code == 201
    assert reply.json()["delivery_status"] == "queued"
    assert reply.json()["sender"]["type"] == "agent"
    note = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"text": "Checked with finance", "kind": "note"},
        format="json",
    )
    assert note.json()["kind"] == "note"
    assert (
        client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/", {"text": " "}, format="json"
        ).status_code
        == 400
    )

    thread = client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    assert [m["text"] for m in thread["results"]] == [
        "Refund please",
        "Refund sent",
        "Checked with finance",
    ]
    older = client.get(
        f"/api/v1/conversations/{conversation.pk}/messages/?before={thread['results'][1]['id']}"
    ).json()
    assert [m["text"] for m in older["results"]] == ["Refund please"]

    base = f"/api/v1/conversations/{conversation.pk}"
    assert (
        client.post(f"{base}/assign/", {"assignee_id": agent.pk}, format="json").json()["assignee"][
            "id"
        ]
        == agent.pk
    )
    outsider = UserFactory()
    response = client.post(f"{base}/assign/", {"assignee_id": outsider.pk}, format="json")
    assert response.status_code == 400 and "assignee_id" in response.json()
    assert client.post(f"{base}/priority/", {"priority": 4}, format="json").json()["priority"] == 4
    label = Label.objects.create(name="Refund", color="#ff0000")
    body = client.post(f"{base}/labels/", {"add": [label.pk]}, format="json").json()
    assert body["labels"] == [{"id": label.pk, "name": "Refund", "color": "#ff0000"}]
    assert client.post(f"{base}/labels/", {"add": [424242]}, format="json").status_code == 400
    response = client.post(f"{base}/status/", {"status": "snoozed"}, format="json")
    assert response.status_code == 400 and "snoozed_until" in response.json()
    with django_capture_on_commit_callbacks(execute=False):
        assert (
            client.post(f"{base}/status/", {"status": "resolved"}, format="json").json()["status"]
            == "resolved"
        )
    assert client.post(f"{base}/read/", {}, format="json").json()["unread_count"] == 0
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED


def test_contacts_detail_update_and_admin_merge(agent, admin, api, world) -> None:
    client = api(agent)
    contact_id = world["waiting"].contact_id
    body = client.get(f"/api/v1/contacts/{contact_id}/").json()
    assert body["name"] == "Bob" and [c["id"] for c in body["conversations"]] == [
        world["waiting"].pk
    ]
    response = client.patch(
        f"/api/v1/contacts/{contact_id}/",
        {"email": "bob@example.com", "is_vip": True},
        format="json",
    )
    assert response.json()["email"] == "bob@example.com" and response.json()["is_vip"]
    assert (
        client.patch(
            f"/api/v1/contacts/{contact_id}/", {"email": "nope"}, format="json"
        ).status_code
        == 400
    )
    assert [c["name"] for c in client.get("/api/v1/contacts/?q=bo").json()["results"]] == ["Bob"]

    other = world["mine"].contact_id
    assert (
        client.post(
            f"/api/v1/contacts/{contact_id}/merge/", {"duplicate_id": other}, format="json"
        ).status_code
        == 403
    )
    merged = api(admin).post(
        f"/api/v1/contacts/{contact_id}/merge/", {"duplicate_id": other}, format="json"
    )
    assert merged.status_code == 200
    assert api(admin).get(f"/api/v1/contacts/{other}/").status_code == 404  # merged away


def test_search(agent, api, world) -> None:
    client = api(agent)
    assert ids(client.get("/api/v1/search/?q=refund")) == [world["waiting"].pk]
    assert ids(client.get("/api/v1/search/?q=ann")) == [world["mine"].pk]
    assert ids(client.get("/api/v1/search/?q=invoice")) == []  # not in the agent's inboxes
    assert client.get("/api/v1/search/?q=").status_code == 400


@pytest.mark.parametrize("cap", [5000, 1], ids=["collect matches", "walk by recency"])
def test_search_sources_and_order(agent, api, make_inbox, inbound, monkeypatch, cap) -> None:
    # Both ways of searching (a short list of matches, or a word too common to collect)
    # must give the same answer: matches in any source, most recent first, visible only.
    from inbox.queries import conversations as queries

    monkeypatch.setattr(queries, "SEARCH_MATCH_CAP", cap)
    support = make_inbox("Support", members=[agent])
    other = make_inbox("Other")
    by_text = inbound(support, "My parcel never arrived", sender="a", name="Ann").conversation
    by_subject = inbound(
        support, "Hello", sender="b", name="Bo", subject="Parcel lost in transit"
    ).conversation
    by_name = inbound(support, "Hi there", sender="c", name="Parcel Person").conversation
    noted = inbound(support, "Question", sender="d", name="Di").conversation
    actions.add_note(conversation=noted, author=agent, text="Customer says the parcel is late")
    inbound(support, "Unrelated", sender="e", name="Ed")
    inbound(other, "parcel in another inbox", sender="f", name="Fay")
    client = api(agent)

    found = ids(client.get("/api/v1/search/?q=parcel"))

    assert found == [noted.pk, by_name.pk, by_subject.pk, by_text.pk]
    assert ids(client.get('/api/v1/search/?q="never arrived"')) == [by_text.pk]
    assert ids(client.get("/api/v1/search/?q=parcel -transit")) == [
        noted.pk,
        by_name.pk,
        by_text.pk,
    ]
    # Enough matches among the newest conversations: answered from them alone.
    assert [c.pk for c in queries.search_conversations(agent, "parcel", limit=2)] == [
        noted.pk,
        by_name.pk,
    ]


def test_admin_manages_inboxes_labels_and_access(admin, agent, api, world) -> None:
    client = api(admin)
    created = client.post(
        "/api/v1/inboxes/",
        {
            "name": "Partners",
            "kind": "api",
            "settings": {"callback_url": "https://x.example/cb"},
            "secrets": {"api_key": "k-123"},
        },
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret_keys"] == ["api_key"] and "k-123" not in created.content.decode()
    inbox_id = body["id"]
    assert (
        api(agent).post("/api/v1/inboxes/", {"name": "X", "kind": "api"}, format="json").status_code
        == 403
    )
    assert client.put(
        f"/api/v1/inboxes/{inbox_id}/access/",
        {"user_ids": [agent.pk], "team_ids": []},
        format="json",
    ).json()["user_ids"] == [agent.pk]
    assert inbox_id in [i["id"] for i in api(agent).get("/api/v1/inboxes/").json()["results"]]
    assert (
        client.put(
            f"/api/v1/inboxes/{inbox_id}/access/",
            {"user_ids": [424242], "team_ids": []},
            format="json",
        ).status_code
        == 400
    )

    label = client.post("/api/v1/labels/", {"name": "Urgent", "color": "#ff0000"}, format="json")
    assert label.status_code == 201
    assert client.post("/api/v1/labels/", {"name": "urgent"}, format="json").status_code == 400
    assert (
        client.post("/api/v1/labels/", {"name": "Bad", "color": "red"}, format="json").status_code
        == 400
    )
    assert api(agent).post("/api/v1/labels/", {"name": "X"}, format="json").status_code == 403
    assert [x["name"] for x in api(agent).get("/api/v1/labels/").json()["results"]] == ["Urgent"]

    agents = api(agent).get(f"/api/v1/agents/?inbox={world['support'].pk}").json()["results"]
    assert agent.pk in [a["id"] for a in agents]
