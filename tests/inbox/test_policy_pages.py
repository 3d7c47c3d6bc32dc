"""Admin pages of issue 5: an inbox's drafts and human-touch policy (with business hours and
auto-send rules), canned replies as CSV, and the preview for a sample contact."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from inbox import actions, canned
from inbox.models import AutoSendRule, CannedReply, Inbox
from inbox.policy import policy_for
from tests.factories import AdminFactory, TeamFactory

pytestmark = pytest.mark.django_db

VALID: dict[str, Any] = {
    "suggestions": "on",
    "threshold": "0.4",
    "tone": "formal",
    "greeting": "Hello {{contact.first_name|there}},",
    "flag_vip": "on",
    "segments": "plan=enterprise",
    "flag_person_request": "on",
    "flag_negative": "on",
    "flag_vulnerable": "on",
    "repeat_hours": "24",
    "keywords": "cancel, lawyer\nrefund",
    "flag_priority": "4",
    "flag_team": "",
    "ack_enabled": "on",
    "ack_outside_hours": "on",
    "ack_text": "Thanks {{contact.first_name|there}}, we answer {{reply_eta}}.",
    "throttle_hours": "12",
    "time_zone": "Europe/Paris",
    "hours_mon": "09:00-12:30, 13:30-17:00",
    "hours_tue": "09:00-17:00",
}


@pytest.fixture
def inbox(db: None) -> Inbox:
    from accounts.origin import SYSTEM

    return actions.create_inbox(name="Chat", kind="api", actor=AdminFactory(), origin=SYSTEM)


def test_an_admin_sets_the_policy_and_business_hours(admin_web, inbox) -> None:
    team = TeamFactory(name="Escalations")
    url = f"/settings/inboxes/{inbox.pk}/policy/"
    assert "Drafts &amp; human touch" in admin_web.get(url).content.decode()
    response = admin_web.post(url, {**VALID, "flag_team": team.pk})
    assert response.status_code == 302
    inbox.refresh_from_db()
    policy = policy_for(inbox)
    assert (policy.threshold, policy.tone, policy.flag_priority) == (0.4, "formal", 4)
    assert policy.keywords == ["cancel", "lawyer", "refund"]
    assert policy.segments == ["plan=enterprise"]
    assert policy.flag_team_id == team.pk and policy.throttle_hours == 12
    assert inbox.business_hours == {
        "time_zone": "Europe/Paris",
        "days": {"mon": [["09:00", "12:30"], ["13:30", "17:00"]], "tue": [["09:00", "17:00"]]},
    }
    # The form shows what was saved.
    page = admin_web.get(url).content.decode()
    assert "09:00-12:30, 13:30-17:00" in page and "cancel, lawyer, refund" in page


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"hours_wed": "17:00-09:00"}, "ends before it starts"),
        ({"hours_thu": "nine to five"}, "write a span as 09:00-17:00"),
        ({"time_zone": "Mars/Olympus"}, "Unknown time zone"),
        ({"ack_text": "Hi {{contact.age}}"}, "Unknown variable {{contact.age}}"),
        ({"segments": "enterprise"}, "write a segment as attribute=value"),
        ({"ack_outside_hours": ""}, "Choose when to acknowledge"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(admin_web, inbox, change, error) -> None:
    response = admin_web.post(f"/settings/inboxes/{inbox.pk}/policy/", {**VALID, **change})
    assert response.status_code == 200
    assert error in response.content.decode()
    inbox.refresh_from_db()
    assert "policy" not in inbox.settings


def test_agents_cannot_open_the_policy(agent_web, inbox) -> None:
    assert agent_web.get(f"/settings/inboxes/{inbox.pk}/policy/").status_code == 403


def test_auto_send_rules_are_added_and_removed(admin_web, admin, inbox) -> None:
    shared = actions.create_canned_reply(
        actor=admin, title="Opening hours", shortcode="hours", body="We are open 9 to 5."
    )
    url = f"/settings/inboxes/{inbox.pk}/policy/auto-send/"
    page = admin_web.post(url, {"canned_reply": shared.pk, "min_confidence": "0.1"}, follow=True)
    assert "between 0.3 and 1" in page.content.decode()
    assert not AutoSendRule.objects.exists()
    admin_web.post(url, {"canned_reply": shared.pk, "min_confidence": "0.85"})
    rule = AutoSendRule.objects.get()
    assert (rule.inbox, rule.canned_reply, rule.min_confidence) == (inbox, shared, 0.85)
    assert (
        "Opening hours" in admin_web.get(f"/settings/inboxes/{inbox.pk}/policy/").content.decode()
    )
    admin_web.post(f"{url}{rule.pk}/delete/")
    assert not AutoSendRule.objects.exists()


def test_a_personal_reply_is_never_sent_automatically(admin, inbox) -> None:
    from accounts.origin import SYSTEM

    personal = actions.create_canned_reply(
        actor=admin, title="Mine", shortcode="mine", body="Hi", scope="personal"
    )
    with pytest.raises(actions.InboxError, match="personal"):
        actions.set_auto_send_rule(
            inbox=inbox, reply=personal, min_confidence=0.9, actor=admin, origin=SYSTEM
        )


def test_canned_replies_round_trip_as_csv(admin_web, admin) -> None:
    actions.create_canned_reply(
        actor=admin,
        title="=HYPERLINK(evil)",
        shortcode="returns",
        body="Hi {{contact.first_name|there}}, here is your label.",
        tags=["returns", "shipping"],
        examples=["how do I send it back", "return the jacket"],
        language="en",
    )
    response = admin_web.get("/settings/canned-replies/export/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["title"] == "'=HYPERLINK(evil)"  # not a formula in a spreadsheet
    assert rows[0]["tags"] == "returns; shipping"
    assert rows[0]["examples"] == "how do I send it back\nreturn the jacket"

    text = response.content.decode().replace("here is your label", "here is your new label")
    text += 'Opening hours,hours,"We open at 9.",everyone,,,info,"when do you open",en\n'
    upload = io.BytesIO(text.encode())
    upload.name = "canned.csv"
    page = admin_web.post("/settings/canned-replies/import/", {"file": upload}, follow=True)
    assert "Imported: 1 added, 1 updated." in page.content.decode()
    updated = CannedReply.objects.get(shortcode="returns")
    assert updated.title == "=HYPERLINK(evil)" and "new label" in updated.body
    assert updated.examples == ["how do I send it back", "return the jacket"]
    assert CannedReply.objects.get(shortcode="hours").examples == ["when do you open"]


def test_a_csv_without_the_needed_columns_is_refused(admin_web) -> None:
    upload = io.BytesIO(b"name,text\nfoo,bar\n")
    upload.name = "canned.csv"
    page = admin_web.post("/settings/canned-replies/import/", {"file": upload}, follow=True)
    assert "needs the columns title, shortcode and body" in page.content.decode()


def test_preview_for_a_sample_contact(admin_web, admin, api) -> None:
    reply = actions.create_canned_reply(
        actor=admin,
        title="Plan",
        shortcode="plan",
        body="Hi {{contact.first_name|there}}, your plan is {{contact.custom.plan}}. "
        "{{agent.first_name}}",
    )
    page = admin_web.post(
        f"/settings/canned-replies/{reply.pk}/",
        {
            "title": "Plan",
            "shortcode": "plan",
            "body": "Hello {{contact.name}}!",
            "scope": "everyone",
            "preview": "1",
        },
    ).content.decode()
    assert "Preview for a sample contact" in page and "Hello Alex Martin!" in page
    reply.refresh_from_db()
    assert reply.body.startswith("Hi ")  # previewing does not save
    assert canned.preview(reply.body, agent=admin) == (
        f"Hi Alex, your plan is [plan]. {admin.name.split()[0]}"
    )
    answer = api(admin).post(
        "/api/v1/canned-replies/preview/", {"body": "Bye {{contact.nope}}"}, format="json"
    )
    assert answer.status_code == 400 and "contact.nope" in str(answer.json())


def test_files_of_a_canned_reply_are_sent_with_the_reply(
    admin_web, admin, agent, api, make_inbox, inbound, settings, tmp_path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inbox.models import Attachment, CannedAttachment

    settings.MEDIA_ROOT = tmp_path
    reply = actions.create_canned_reply(
        actor=admin, title="Return form", shortcode="form", body="Here is the form."
    )
    page = admin_web.post(
        f"/settings/canned-replies/{reply.pk}/",
        {
            "add_file": "1",
            "file": SimpleUploadedFile("form.pdf", b"%PDF-1.4 form", "application/pdf"),
        },
        follow=True,
    ).content.decode()
    assert "“form.pdf” will be sent with this reply." in page
    [file] = CannedAttachment.objects.filter(canned_reply=reply)
    listed = api(agent).get("/api/v1/canned-replies/").json()["results"]
    assert listed[0]["attachments"] == [
        {"id": file.pk, "filename": "form.pdf", "content_type": "application/pdf", "size": 13}
    ]
    conversation = inbound(make_inbox(members=[agent]), "return form please").conversation
    response = api(agent).post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"text": "Here is the form.", "canned_reply_id": reply.pk, "canned_attachments": [file.pk]},
        format="json",
    )
    assert response.status_code == 201
    [sent] = Attachment.objects.filter(message_id=response.json()["id"])
    assert sent.filename == "form.pdf" and sent.file.read() == b"%PDF-1.4 form"


def test_a_file_of_someone_elses_personal_reply_is_refused(
    agent, api, make_inbox, inbound, settings, tmp_path
) -> None:
    from tests.factories import UserFactory

    settings.MEDIA_ROOT = tmp_path
    other = UserFactory(name="Other Agent")
    mine = actions.create_canned_reply(
        actor=other, title="Mine", shortcode="mine", body="x", scope="personal"
    )
    secret = actions.add_canned_attachment(
        reply=mine, actor=other, filename="secret.txt", content_type="text/plain", content=b"s"
    )
    conversation = inbound(make_inbox(members=[agent]), "hi").conversation
    response = api(agent).post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"text": "hello", "canned_attachments": [secret.pk]},
        format="json",
    )
    assert response.status_code == 400
