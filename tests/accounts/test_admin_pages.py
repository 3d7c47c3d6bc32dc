"""Our own admin pages: users, roles, deactivation, teams and the audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiToken, AuditEntry, Team, User, UserSession
from tests.factories import PASSWORD, AdminFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/accounts/admin/users/",
    "/accounts/admin/users/invite/",
    "/accounts/admin/teams/",
    "/accounts/admin/teams/new/",
    "/accounts/admin/audit/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agents_get_403_on_admin_pages(agent_web: Client, path: str) -> None:
    response = agent_web.get(path)
    assert response.status_code == 403
    assert b"Only admins can open this page." in response.content


def test_agents_cannot_post_to_admin_actions(agent_web: Client, admin: User) -> None:
    for path in [
        f"/accounts/admin/users/{admin.pk}/deactivate/",
        f"/accounts/admin/users/{admin.pk}/",
    ]:
        assert agent_web.post(path, {"role": "agent"}).status_code == 403
    admin.refresh_from_db()
    assert admin.is_active and admin.role == "admin"
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_render(admin_web: Client, path: str) -> None:
    assert admin_web.get(path).status_code == 200


def test_unknown_ids_are_404(admin_web: Client) -> None:
    for path in ["/accounts/admin/users/999999/", "/accounts/admin/teams/999999/"]:
        assert admin_web.get(path).status_code == 404
    assert admin_web.post("/accounts/admin/users/999999/deactivate/").status_code == 404
    assert admin_web.post("/accounts/admin/invitations/999999/resend/").status_code == 404


def test_user_list_escapes_names_and_filters(admin_web: Client, admin: User) -> None:
    admin_row = f'href="/accounts/admin/users/{admin.pk}/"'.encode()
    UserFactory(name="<script>alert(1)</script>", email="x@example.com")
    gone = UserFactory(name="Gone Person", is_active=False)
    page = admin_web.get("/accounts/admin/users/")
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    assert b"Gone Person" not in page.content
    page = admin_web.get("/accounts/admin/users/?status=deactivated")
    assert gone.name.encode() in page.content and admin_row not in page.content
    page = admin_web.get("/accounts/admin/users/?q=gone&status=all")
    assert gone.name.encode() in page.content and admin_row not in page.content
    assert admin_row in admin_web.get("/accounts/admin/users/?status=all").content


def test_change_role_is_audited_and_the_last_admin_is_kept(
    admin_web: Client, admin: User, agent: User
) -> None:
    response = admin_web.post(f"/accounts/admin/users/{agent.pk}/", {"role": "admin"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.role == "admin"
    entry = AuditEntry.objects.get(action="user.role_changed")
    assert (entry.actor, entry.target_id, entry.details) == (
        admin,
        str(agent.pk),
        {"from": "agent", "to": "admin"},
    )
    assert entry.ip_address == "127.0.0.1"

    admin_web.post(f"/accounts/admin/users/{agent.pk}/deactivate/")
    response = admin_web.post(f"/accounts/admin/users/{admin.pk}/", {"role": "agent"})
    assert response.status_code == 200
    assert b"at least one active admin" in response.content
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_deactivation_ends_sessions_and_tokens_but_keeps_the_user(
    admin_web: Client, agent: User, api
) -> None:
    agent_client = Client()
    agent_client.post("/accounts/signin/", {"username": agent.email, "password": PASSWORD})
    agent_api = api(agent)
    assert agent_api.get("/api/v1/me/").status_code == 200

    response = admin_web.post(f"/accounts/admin/users/{agent.pk}/deactivate/", follow=True)
    assert b"signed out everywhere" in response.content

    agent.refresh_from_db()
    assert not agent.is_active and agent.deactivated_at is not None
    assert not UserSession.objects.filter(user_id=agent.pk).exists()
    assert agent_client.get("/inbox/").status_code == 302
    assert agent_api.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=agent, revoked_at__isnull=True).exists()
    entry = AuditEntry.objects.get(action="user.deactivated")
    assert entry.details == {"sessions_ended": 1, "tokens_revoked": 1, "invitations_withdrawn": 0}

    response = admin_web.post(f"/accounts/admin/users/{agent.pk}/reactivate/")
    agent.refresh_from_db()
    assert agent.is_active
    assert (
        Client()
        .post("/accounts/signin/", {"username": agent.email, "password": PASSWORD})
        .status_code
        == 302
    )


def test_admin_cannot_deactivate_themselves(admin_web: Client, admin: User) -> None:
    response = admin_web.post(f"/accounts/admin/users/{admin.pk}/deactivate/", follow=True)
    assert b"You cannot deactivate yourself." in response.content
    admin.refresh_from_db()
    assert admin.is_active


def test_teams_create_rename_members_delete(admin_web: Client, admin: User, agent: User) -> None:
    other = UserFactory(name="Cleo")
    response = admin_web.post(
        "/accounts/admin/teams/new/", {"name": "Billing", "members": [agent.pk]}
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Billing")
    assert list(team.members.all()) == [agent]

    response = admin_web.post("/accounts/admin/teams/new/", {"name": "billing"})
    assert response.status_code == 200
    assert b"already exists" in response.content

    response = admin_web.post(
        f"/accounts/admin/teams/{team.pk}/", {"name": "Payments", "members": [other.pk, admin.pk]}
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Payments"
    assert set(team.members.all()) == {other, admin}
    entry = AuditEntry.objects.get(action="team.updated")
    assert entry.details["name"] == {"from": "Billing", "to": "Payments"}
    assert entry.details["removed"] == [agent.pk]

    page = admin_web.get("/accounts/admin/teams/")
    assert b"Payments" in page.content and b"2 members" in page.content

    admin_web.post(f"/accounts/admin/teams/{team.pk}/", {"delete": "1"})
    assert not Team.objects.exists()
    assert AuditEntry.objects.filter(action="team.deleted").exists()


def test_team_form_errors(admin_web: Client) -> None:
    response = admin_web.post("/accounts/admin/teams/new/", {"name": ""})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    response = admin_web.post("/accounts/admin/teams/new/", {"name": "X", "members": [424242]})
    assert b"Select a valid choice" in response.content
    assert not Team.objects.exists()


def test_audit_log_filters(admin_web: Client, admin: User) -> None:
    other_admin = AdminFactory(name="Otto")
    TeamFactory(name="Sales")
    agent = UserFactory(name="Pat")
    admin_web.post(f"/accounts/admin/users/{agent.pk}/", {"role": "admin"})
    admin_web.post("/accounts/admin/teams/new/", {"name": "Billing"})

    def rows(query: str = "") -> str:
        page = admin_web.get("/accounts/admin/audit/" + query)
        assert page.status_code == 200
        html = page.content.decode()
        return html.split("<tbody>")[1] if "<tbody>" in html else "Nothing recorded."

    assert "Changed a role" in rows() and "Created a team" in rows()
    only_teams = rows("?action=team.created")
    assert "Changed a role" not in only_teams and "Billing" in only_teams
    assert rows(f"?actor={other_admin.pk}") == "Nothing recorded."
    about_pat = rows("?q=pat")
    assert "Changed a role" in about_pat and "Created a team" not in about_pat
    assert rows("?since=2000-01-01&until=2000-01-02") == "Nothing recorded."
    page = admin_web.get("/accounts/admin/audit/?since=not-a-date")
    assert page.status_code == 200 and b"Enter a valid date." in page.content


def test_django_admin_is_for_superusers_only(
    admin_web: Client, agent_web: Client, admin: User
) -> None:
    assert agent_web.get("/django-admin/").status_code == 302  # to the admin login
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    assert admin_web.get("/django-admin/accounts/user/").status_code == 200


def test_django_admin_cannot_bypass_the_actions(
    admin_web: Client, admin: User, agent: User, api
) -> None:
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    api(agent)
    token = ApiToken.objects.get(user=agent)
    page = admin_web.get(f"/django-admin/accounts/apitoken/{token.pk}/change/")
    assert page.status_code == 200 and b'name="revoked_at"' not in page.content  # read-only
    page = admin_web.get(f"/django-admin/accounts/user/{agent.pk}/change/")
    assert b'name="role"' not in page.content and b'name="is_active"' not in page.content

    agent_client = Client()
    agent_client.post("/accounts/signin/", {"username": agent.email, "password": PASSWORD})
    response = admin_web.post(
        f"/django-admin/accounts/user/{agent.pk}/password/",
        {
            "password1": "set-by-support-123",
            "password2": "set-by-support-123",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert agent_client.get("/inbox/").status_code == 302
    assert not UserSession.objects.filter(user_id=agent.pk).exists()
    assert AuditEntry.objects.filter(action="user.password_reset", target_id=str(agent.pk)).exists()
