"""Canned replies: who may see and change them, variables checked when saved and filled when
used, through the REST API."""

from __future__ import annotations

import pytest

from inbox import actions
from inbox.canned import VariableError, render, values, variables
from inbox.models import CannedReply
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def body(**overrides):
    return {
        "title": "Return label",
        "shortcode": "return-label",
        "body": "Hi {{contact.first_name|there}},\n\nHere is your return label for "
        "order {{contact.custom.order|your order}}.\n\n{{agent.first_name}}",
        "tags": ["returns"],
        "examples": ["how do I send it back", "I want to return my order"],
        **overrides,
    }


def test_variables_are_checked_and_filled() -> None:
    assert [v.name for v in variables("{{contact.name}} {{ agent.name | us }}")] == [
        "contact.name",
        "agent.name",
    ]
    for broken, words in [
        ("{{contact.age}}", "Unknown variable {{contact.age}}"),
        ("Hi {{contact.name", "not closed"),
        ("{{ 1+1 }}", "not a variable we know"),
    ]:
        with pytest.raises(VariableError, match=words):
            variables(broken)

    class Contact:
        name, email, custom_attributes = "", "x@example.com", {"order": "1001"}

    filled = values(contact=Contact())
    assert render("Hi {{contact.first_name|there}}, order {{contact.custom.order}}", filled) == (
        "Hi there, order 1001"
    )


def test_admins_share_agents_keep_personal_ones(admin, agent, api) -> None:
    team = TeamFactory(name="Billing")
    other = UserFactory()
    team.members.add(agent)
    admin_client, agent_client = api(admin), api(agent)

    shared = admin_client.post("/api/v1/canned-replies/", body(), format="json")
    assert shared.status_code == 201, shared.content
    for_team = admin_client.post(
        "/api/v1/canned-replies/",
        body(shortcode="refund", title="Refund", scope="team", team=team.pk),
        format="json",
    )
    assert for_team.status_code == 201
    mine = agent_client.post(
        "/api/v1/canned-replies/",
        body(shortcode="hi", title="My hello", scope="personal"),
        format="json",
    )
    assert mine.status_code == 201 and mine.json()["owner_id"] == agent.pk
    refused = agent_client.post("/api/v1/canned-replies/", body(shortcode="x"), format="json")
    assert refused.status_code == 400 and "Only admins share" in refused.content.decode()

    def titles(client) -> list[str]:
        return [r["title"] for r in client.get("/api/v1/canned-replies/").json()["results"]]

    assert titles(agent_client) == ["My hello", "Refund", "Return label"]
    assert titles(api(other)) == ["Return label"]  # not in the team, not the owner
    assert api(other).get(f"/api/v1/canned-replies/{mine.json()['id']}/").status_code == 404
    edit = agent_client.patch(
        f"/api/v1/canned-replies/{shared.json()['id']}/", {"title": "Mine now"}, format="json"
    )
    assert edit.status_code == 400  # agents cannot change shared replies


def test_a_broken_variable_is_refused_naming_it(admin, api) -> None:
    response = api(admin).post(
        "/api/v1/canned-replies/", body(body="Hello {{contact.nickname}}"), format="json"
    )
    assert response.status_code == 400
    assert "Unknown variable {{contact.nickname}}" in response.json()["body"][0]
    assert CannedReply.objects.count() == 0
    taken = api(admin).post("/api/v1/canned-replies/", body(), format="json")
    again = api(admin).post("/api/v1/canned-replies/", body(title="Other"), format="json")
    assert taken.status_code == 201 and again.status_code == 400
    assert "/return-label is taken" in again.content.decode()


def test_using_a_reply_fills_it_for_the_conversation(
    admin, agent, api, make_inbox, inbound
) -> None:
    inbox = make_inbox(members=[agent])
    conversation = inbound(inbox, "Can I return this?", name="Ann Archer").conversation
    actions.update_contact(
        contact=conversation.contact, actor=None, custom_attributes={"order": "A-1001"}
    )
    reply = api(admin).post("/api/v1/canned-replies/", body(), format="json").json()
    agent_client = api(agent)
    used = agent_client.post(
        f"/api/v1/canned-replies/{reply['id']}/use/",
        {"conversation": conversation.pk},
        format="json",
    )
    assert used.status_code == 200
    assert used.json()["text"] == (
        "Hi Ann,\n\nHere is your return label for order A-1001.\n\n" + agent.name.split()[0]
    )
    assert CannedReply.objects.get(pk=reply["id"]).usage_count == 1
    hidden = make_inbox("Other")
    elsewhere = inbound(hidden, "hi", sender="z").conversation
    denied = agent_client.post(
        f"/api/v1/canned-replies/{reply['id']}/use/", {"conversation": elsewhere.pk}, format="json"
    )
    assert denied.status_code == 400


def test_admin_pages_create_edit_export_and_import(admin_web, agent_web) -> None:
    import io
    import json

    assert agent_web.get("/settings/canned-replies/").status_code in (302, 403)
    form = {
        "title": "Return label",
        "shortcode": "return-label",
        "body": "Hi {{contact.first_name|there}}",
        "scope": "everyone",
        "tags": "returns, shipping",
        "examples": "how do I send it back\nreturn my order",
    }
    bad = admin_web.post("/settings/canned-replies/", {**form, "body": "Hi {{contact.age}}"})
    assert "Unknown variable {{contact.age}}" in bad.content.decode()
    assert admin_web.post("/settings/canned-replies/", form).status_code == 302
    reply = CannedReply.objects.get()
    assert reply.tags == ["returns", "shipping"] and len(reply.examples) == 2
    page = admin_web.get("/settings/canned-replies/?q=return").content.decode()
    assert "/return-label" in page

    admin_web.post(f"/settings/canned-replies/{reply.pk}/", {**form, "title": "Return label (EU)"})
    reply.refresh_from_db()
    assert reply.title == "Return label (EU)"

    exported = json.loads(admin_web.get("/settings/canned-replies/export/").content)
    assert exported[0]["shortcode"] == "return-label"
    exported[0]["title"] = "Return label v2"
    exported.append({"title": "Broken", "shortcode": "broken", "body": "{{nope}}"})
    exported.append({"title": "Hello", "shortcode": "hello", "body": "Hello {{contact.name}}"})
    upload = io.BytesIO(json.dumps(exported).encode())
    upload.name = "canned.json"
    response = admin_web.post(
        "/settings/canned-replies/import/", {"file": upload}, follow=True
    ).content.decode()
    assert "Imported: 1 added, 1 updated." in response
    assert "/broken:" in response
    assert sorted(CannedReply.objects.values_list("title", flat=True)) == [
        "Hello",
        "Return label v2",
    ]
    admin_web.post(f"/settings/canned-replies/{reply.pk}/", {**form, "delete": "1"})
    assert not CannedReply.objects.filter(pk=reply.pk).exists()
