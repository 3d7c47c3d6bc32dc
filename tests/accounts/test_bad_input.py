"""Bad input and edge cases: clear errors (never 500s), nothing changed."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import AuditEntry, Invitation, Team, User
from tests.factories import PASSWORD, AdminFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HUGE = 10**20


def test_huge_and_malformed_ids_are_client_errors(admin: User, admin_web: Client, api) -> None:
    client = api(admin)
    response = client.post("/api/v1/teams/", {"name": "T", "member_ids": [HUGE]}, format="json")
    assert response.status_code == 400 and "member_ids" in response.json()
    response = client.post(
        "/api/v1/invitations/", {"email": "a@example.com", "team_ids": [HUGE]}, format="json"
    )
    assert response.status_code == 400
    assert client.delete("/api/v1/tokens/abc/").status_code == 404
    assert client.get("/api/v1/users/abc/").status_code == 404
    assert client.get(f"/api/v1/audit-log/?actor={HUGE}").status_code == 400

    response = admin_web.post("/accounts/admin/teams/new/", {"name": "T", "members": [HUGE]})
    assert response.status_code == 200 and b"is not a valid value" in response.content
    response = admin_web.get(f"/accounts/admin/audit/?actor={HUGE}")
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert not Team.objects.exists() and not Invitation.objects.exists()


def test_out_of_range_audit_dates(admin_web: Client, admin: User, api) -> None:
    page = admin_web.get("/accounts/admin/audit/?until=9999-12-31")
    assert page.status_code == 200 and b"Choose a date between 2000 and 9999." in page.content
    assert api(admin).get("/api/v1/audit-log/?since=0001-01-01").status_code == 400


def test_overlong_email_is_refused(admin: User, admin_web: Client, api) -> None:
    email = "a" * 250 + "@example.com"
    response = admin_web.post("/accounts/admin/users/invite/", {"email": email, "role": "agent"})
    assert response.status_code == 200 and b"at most 254 characters" in response.content
    response = api(admin).post("/api/v1/invitations/", {"email": email}, format="json")
    assert response.status_code == 400 and "email" in response.json()
    assert not Invitation.objects.exists()


def test_removing_an_admin_withdraws_the_invitations_they_sent(
    admin: User, api, django_capture_on_commit_callbacks
) -> None:
    other = AdminFactory()
    other_client = api(other)
    for email in ["alt@example.com", "friend@example.com"]:
        assert (
            other_client.post(
                "/api/v1/invitations/", {"email": email, "role": "admin"}, format="json"
            ).status_code
            == 201
        )
    mine = api(admin).post("/api/v1/invitations/", {"email": "mine@example.com"}, format="json")
    assert mine.status_code == 201

    assert api(admin).post(f"/api/v1/users/{other.pk}/deactivate/").status_code == 200
    statuses = dict(Invitation.objects.values_list("email", "revoked_at"))
    assert statuses["alt@example.com"] and statuses["friend@example.com"]
    assert statuses["mine@example.com"] is None
    entry = AuditEntry.objects.get(action="user.deactivated")
    assert entry.details["invitations_withdrawn"] == 2

    # Demotion withdraws them too.
    third = AdminFactory()
    api(third).post("/api/v1/invitations/", {"email": "x@example.com"}, format="json")
    api(admin).patch(f"/api/v1/users/{third.pk}/", {"role": "agent"}, format="json")
    assert Invitation.objects.get(email="x@example.com").revoked_at is not None


def test_opening_an_invitation_while_signed_in_does_not_sign_out(
    admin_web: Client, agent_web: Client, django_capture_on_commit_callbacks, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    with django_capture_on_commit_callbacks(execute=True):
        admin_web.post("/accounts/admin/users/invite/", {"email": "n@example.com", "role": "agent"})
    run_tasks()
    link = mail.outbox[0].body.split("http://testserver")[1].split()[0]
    page = agent_web.get(link)
    assert page.status_code == 200 and b"You are signed in as Ben Agent" in page.content
    assert agent_web.get("/inbox/").status_code == 200  # still signed in
    response = agent_web.post("/accounts/signout/", {"next": link})
    assert response.status_code == 302 and response.url == link
    assert b"Join Parley" in agent_web.get(link).content
    # An off-site `next` is ignored.
    response = admin_web.post("/accounts/signout/", {"next": "https://evil.example/"})
    assert response.url == "/accounts/signin/"


def test_invitation_subject_is_not_html_escaped(
    admin_web: Client, admin: User, django_capture_on_commit_callbacks, run_tasks
) -> None:
    User.objects.filter(pk=admin.pk).update(name="Ada O'Brien & Co")
    with django_capture_on_commit_callbacks(execute=True):
        admin_web.post("/accounts/admin/users/invite/", {"email": "n@example.com", "role": "agent"})
    run_tasks()
    assert mail.outbox[0].subject == "Ada O'Brien & Co invited you to Parley"


def test_password_reset_finished_while_signed_in(
    agent: User, agent_web: Client, django_capture_on_commit_callbacks, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    with django_capture_on_commit_callbacks(execute=True):
        agent_web.post("/accounts/password/reset/", {"email": agent.email})
    run_tasks()
    link = mail.outbox[0].body.split("http://testserver")[1].split()[0]
    form = agent_web.get(link, follow=True)
    response = agent_web.post(
        form.redirect_chain[-1][0],
        {"new_password1": "reset-passphrase-42", "new_password2": "reset-passphrase-42"},
    )
    assert response.status_code == 302 and response.url == "/accounts/signin/"
    assert agent_web.get("/inbox/").status_code == 302  # signed out here too


@pytest.mark.django_db(transaction=True)  # so that on-commit publishing really runs
def test_sign_out_and_deactivation_work_while_redis_is_down(
    agent: User, admin: User, agent_web: Client, admin_web: Client, settings, caplog
) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},  # nothing listens on port 9
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = admin_web.post(f"/accounts/admin/users/{agent.pk}/deactivate/")
        assert response.status_code == 302
        agent.refresh_from_db()
        assert not agent.is_active
        assert admin_web.post("/accounts/signout/").status_code == 302
        assert admin_web.get("/inbox/").status_code == 302
        failures = [r.getMessage() for r in caplog.records if r.name == "inbox.events"]
        assert failures == [
            f"could not publish session.ended to user {agent.pk}",
            f"could not publish session.ended to user {admin.pk}",
        ]
    finally:
        channel_layers.backends.clear()


def test_full_history_link_lists_changes_to_the_user(admin_web: Client) -> None:
    person = UserFactory(name="Pat Example", email="pat@example.com")
    admin_web.post(f"/accounts/admin/users/{person.pk}/", {"role": "admin"})
    detail = admin_web.get(f"/accounts/admin/users/{person.pk}/")
    link = f"/accounts/admin/audit/?target_type=user&amp;target_id={person.pk}"
    assert link.encode() in detail.content
    history = admin_web.get(link.replace("&amp;", "&")).content.decode()
    assert "Changed a role" in history.split("<tbody>")[1]


def test_saving_a_team_on_the_web_keeps_deactivated_members(admin_web: Client) -> None:
    active, away = UserFactory(), UserFactory(is_active=False)
    team = TeamFactory(name="Night shift")
    team.members.set([active, away])
    response = admin_web.post(
        f"/accounts/admin/teams/{team.pk}/", {"name": "Night shift", "members": [active.pk]}
    )
    assert response.status_code == 302
    assert set(team.members.all()) == {active, away}


def test_users_status_filter_agrees_between_web_and_api(admin: User, admin_web: Client, api):
    UserFactory(name="Gone", is_active=False)
    api_names = {u["name"] for u in api(admin).get("/api/v1/users/?status=bogus").json()["results"]}
    assert "Gone" not in api_names
    assert b"Gone" not in admin_web.get("/accounts/admin/users/?status=bogus").content


def test_me_update_is_all_or_nothing(agent: User, api) -> None:
    response = api(agent).patch(
        "/api/v1/me/", {"availability": "busy", "time_zone": "Nowhere/Land"}, format="json"
    )
    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.availability == "offline" and agent.time_zone == "UTC"


def test_avatar_formats_outside_the_list_are_refused(agent_web: Client, agent: User) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "BMP")
    bmp = SimpleUploadedFile("me.bmp", buffer.getvalue(), "image/bmp")
    response = agent_web.post(
        "/accounts/profile/", {"name": "B", "time_zone": "UTC", "avatar": bmp}
    )
    assert response.status_code == 200
    assert b"Use a PNG, JPEG, GIF or WebP picture." in response.content
    agent.refresh_from_db()
    assert not agent.avatar


def test_sign_in_page_for_signed_in_users_redirects(agent_web: Client) -> None:
    assert agent_web.get("/accounts/signin/").status_code == 302
    assert (
        Client().post("/accounts/signin/", {"username": "", "password": PASSWORD}).status_code
        == 200
    )
