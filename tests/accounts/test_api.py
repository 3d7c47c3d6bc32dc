"""The REST API: bearer tokens, session + CSRF, admin endpoints, the schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditEntry, Invitation, Team, User
from tests.factories import PASSWORD, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_token_lifecycle_shown_once_hashed_and_revocable(agent: User, api) -> None:
    client = api(agent)
    response = client.post("/api/v1/tokens/", {"name": "CRM sync"}, format="json")
    assert response.status_code == 201
    secret = response.json()["token"]
    assert secret.startswith("prl_") and len(secret) > 40
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert secret not in (token.token_hash, token.prefix)  # only the hash is stored

    listed = client.get("/api/v1/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"tests", "CRM sync"}
    assert all("token" not in t for t in listed)

    crm = APIClient()
    crm.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    me = crm.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["email"] == agent.email
    token.refresh_from_db()
    assert token.last_used_at is not None

    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    response = crm.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuditEntry.objects.filter(action="token.revoked", target_id=str(token.pk)).exists()


def test_bad_bearer_tokens_are_401(db: None) -> None:
    for header in ["Bearer prl_nope", "Bearer", "Bearer a b", "Bearer " + "x" * 50]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/me/").status_code == 401, header
    assert APIClient().get("/api/v1/me/").status_code in (401, 403)


def test_cannot_revoke_someone_elses_token(agent: User, api) -> None:
    other = UserFactory()
    api(other)
    theirs = ApiToken.objects.get(user=other)
    assert api(agent).delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_session_auth_requires_csrf(agent: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/signin/")
    csrf = page.cookies["csrftoken"].value
    client.post(
        "/accounts/signin/",
        {"username": agent.email, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    assert client.get("/api/v1/me/").status_code == 200
    refused = client.patch("/api/v1/me/", {"availability": "busy"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    csrf = client.cookies["csrftoken"].value
    accepted = client.patch(
        "/api/v1/me/",
        {"availability": "busy"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert accepted.status_code == 200 and accepted.json()["availability"] == "busy"


def test_me_update_validates(agent: User, api) -> None:
    client = api(agent)
    response = client.patch("/api/v1/me/", {"time_zone": "Nowhere/Land"}, format="json")
    assert response.status_code == 400 and "time_zone" in response.json()
    response = client.patch(
        "/api/v1/me/", {"name": "Benny", "time_zone": "Europe/Berlin"}, format="json"
    )
    assert response.json()["name"] == "Benny" and response.json()["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/users/"),
        ("get", "/api/v1/invitations/"),
        ("get", "/api/v1/teams/"),
        ("get", "/api/v1/audit-log/"),
        ("post", "/api/v1/invitations/"),
        ("post", "/api/v1/teams/"),
    ],
)
def test_agents_get_403_from_admin_endpoints(agent: User, api, method: str, path: str) -> None:
    response = getattr(api(agent), method)(
        path, {"email": "x@example.com", "name": "X"}, format="json"
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists() and not Team.objects.exists()


def test_agent_cannot_change_roles_or_deactivate(agent: User, admin: User, api) -> None:
    client = api(agent)
    assert (
        client.patch(f"/api/v1/users/{admin.pk}/", {"role": "agent"}, format="json").status_code
        == 403
    )
    assert client.post(f"/api/v1/users/{admin.pk}/deactivate/").status_code == 403
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.is_active


def test_admin_user_endpoints(admin: User, agent: User, api) -> None:
    client = api(admin)
    users = client.get("/api/v1/users/").json()
    assert users["count"] == 2
    assert {u["email"] for u in users["results"]} == {admin.email, agent.email}

    response = client.patch(f"/api/v1/users/{agent.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "admin"
    response = client.patch(f"/api/v1/users/{agent.pk}/", {"role": "owner"}, format="json")
    assert response.status_code == 400

    response = client.post(f"/api/v1/users/{agent.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert client.get("/api/v1/users/?status=deactivated").json()["count"] == 1
    response = client.post(f"/api/v1/users/{admin.pk}/deactivate/")
    assert response.status_code == 400 and "yourself" in str(response.json())
    response = client.post(f"/api/v1/users/{agent.pk}/reactivate/")
    assert response.json()["is_active"] is True

    assert client.get("/api/v1/users/999999/").status_code == 404
    assert client.post("/api/v1/users/999999/deactivate/").status_code == 404
    assert client.get("/api/v1/users/not-a-number/").status_code == 404


def test_admin_invitation_endpoints(
    admin: User, api, django_capture_on_commit_callbacks, run_tasks
) -> None:
    from django.core import mail

    client = api(admin)
    team = TeamFactory(name="Billing")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/invitations/",
            {"email": "Zoe@Example.com", "role": "admin", "team_ids": [team.pk]},
            format="json",
        )
    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["role"], body["status"]) == ("zoe@example.com", "admin", "pending")
    assert body["teams"] == [{"id": team.pk, "name": "Billing"}]
    run_tasks()
    assert [m.to for m in mail.outbox] == [["zoe@example.com"]]

    again = client.post("/api/v1/invitations/", {"email": "zoe@example.com"}, format="json")
    assert again.status_code == 400 and "pending invitation" in str(again.json())
    bad = client.post(
        "/api/v1/invitations/", {"email": "a@example.com", "team_ids": [999]}, format="json"
    )
    assert bad.status_code == 400 and "team_ids" in bad.json()

    invitation_id = body["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/invitations/{invitation_id}/resend/").status_code == 200
    run_tasks()
    assert len(mail.outbox) == 2
    assert client.delete(f"/api/v1/invitations/{invitation_id}/").status_code == 204
    assert client.get("/api/v1/invitations/").json()["count"] == 0
    assert client.get("/api/v1/invitations/?status=all").json()["count"] == 1
    response = client.post(f"/api/v1/invitations/{invitation_id}/resend/")
    assert response.status_code == 400


def test_admin_team_endpoints(admin: User, agent: User, api) -> None:
    client = api(admin)
    response = client.post(
        "/api/v1/teams/", {"name": "Tier 2", "member_ids": [agent.pk]}, format="json"
    )
    assert response.status_code == 201
    team_id = response.json()["id"]
    assert [m["id"] for m in response.json()["members"]] == [agent.pk]
    response = client.patch(
        f"/api/v1/teams/{team_id}/", {"member_ids": [admin.pk, 424242]}, format="json"
    )
    assert response.status_code == 400
    response = client.patch(
        f"/api/v1/teams/{team_id}/",
        {"name": "Escalations", "member_ids": [admin.pk]},
        format="json",
    )
    assert response.json()["name"] == "Escalations"
    assert [m["id"] for m in response.json()["members"]] == [admin.pk]
    assert client.post("/api/v1/teams/", {"name": "escalations"}, format="json").status_code == 400
    assert client.delete(f"/api/v1/teams/{team_id}/").status_code == 204
    assert client.get(f"/api/v1/teams/{team_id}/").status_code == 404


def test_team_list_query_count_does_not_grow_with_size(admin: User, api) -> None:
    client = api(admin)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/teams/").status_code == 200
        return len(ctx.captured_queries)

    queries_for_list()  # the token's first use writes last_used_at once

    TeamFactory.create_batch(2)
    small = queries_for_list()
    for team in TeamFactory.create_batch(10):
        team.members.set(UserFactory.create_batch(3))
    assert queries_for_list() == small


def test_user_list_query_count_does_not_grow_with_size(admin: User, api) -> None:
    client = api(admin)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/users/").status_code == 200
        return len(ctx.captured_queries)

    queries_for_list()  # the token's first use writes last_used_at once

    small = queries_for_list()
    team = TeamFactory()
    team.members.set(UserFactory.create_batch(15))
    assert queries_for_list() == small


def test_audit_log_endpoint(admin: User, agent: User, api) -> None:
    client = api(admin)
    client.patch(f"/api/v1/users/{agent.pk}/", {"role": "admin"}, format="json")
    entries = client.get("/api/v1/audit-log/?action=user.role_changed").json()["results"]
    assert len(entries) == 1
    assert entries[0]["actor_email"] == admin.email
    assert entries[0]["details"] == {"from": "agent", "to": "admin"}
    assert client.get("/api/v1/audit-log/?since=yesterday").status_code == 400


def test_openapi_schema_and_docs(db: None) -> None:
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in [
        "/api/v1/users/",
        "/api/v1/invitations/",
        "/api/v1/teams/",
        "/api/v1/tokens/",
        "/api/v1/audit-log/",
        "/api/v1/me/",
    ]:
        assert path in text
    assert "bearerAuth" in text
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content  # no CDN
