"""Sign-in, lockout, sign-out, password change and reset, and sessions ending."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import AuditEntry, User, UserSession
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, email: str, password: str, **extra: str):
    return client.post("/accounts/signin/", {"username": email, "password": password}, **extra)


def test_sign_in_is_case_insensitive_and_marks_the_agent_online(agent: User) -> None:
    client = Client()
    response = sign_in(client, agent.email.upper(), PASSWORD)
    assert response.status_code == 302 and response.url == "/inbox/"
    agent.refresh_from_db()
    assert agent.availability == "online"
    page = client.get("/inbox/")
    assert b"Ben Agent" in page.content
    session = UserSession.objects.get(user_id=agent.pk)
    assert session.ip_address == "127.0.0.1"


def test_wrong_password_shows_the_form_again(agent: User) -> None:
    response = sign_in(Client(), agent.email, "nope")
    assert response.status_code == 200
    assert b"do not match an active account" in response.content


def test_lockout_after_repeated_failures_is_per_account_and_address(agent: User) -> None:
    client = Client()
    for _ in range(5):
        sign_in(client, agent.email, "wrong", REMOTE_ADDR="203.0.113.9")
    response = sign_in(client, agent.email, PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert b"Too many sign-in attempts" in response.content
    assert b"Try again in 15 minutes" in response.content
    # The same account from the colleague's own address is not locked out.
    assert sign_in(Client(), agent.email, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_deactivated_user_cannot_sign_in(agent: User) -> None:
    User.objects.filter(pk=agent.pk).update(is_active=False)
    response = sign_in(Client(), agent.email, PASSWORD)
    assert response.status_code == 200
    assert b"do not match an active account" in response.content


def test_sign_out_is_a_post_and_ends_the_session(agent_web: Client, agent: User) -> None:
    assert agent_web.get("/accounts/signout/").status_code == 405
    response = agent_web.post("/accounts/signout/")
    assert response.status_code == 302
    assert agent_web.get("/inbox/").status_code == 302  # back to sign-in
    assert not UserSession.objects.filter(user_id=agent.pk).exists()


def test_password_change_signs_out_other_sessions(agent: User) -> None:
    laptop, phone = Client(), Client()
    sign_in(laptop, agent.email, PASSWORD)
    sign_in(phone, agent.email, PASSWORD)
    response = laptop.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-secret",
            "new_password2": "a-brand-new-secret",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/inbox/").status_code == 200
    assert phone.get("/inbox/").status_code == 302
    assert UserSession.objects.filter(user_id=agent.pk).count() == 1
    assert AuditEntry.objects.filter(action="user.password_changed", actor=agent).exists()


def test_password_change_form_errors(agent_web: Client) -> None:
    response = agent_web.post(
        "/accounts/password/change/",
        {
            "old_password": "wrong",
            "new_password1": "x",
            "new_password2": "y",
        },
    )
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content


def test_password_reset_by_email_through_the_task_queue(
    agent: User, django_capture_on_commit_callbacks, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    other_session = Client()
    sign_in(other_session, agent.email, PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/password/reset/", {"email": agent.email})
    assert response.status_code == 302
    assert mail.outbox == []  # not sent inside the request
    assert run_tasks() == 1
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    assert link
    client = Client()
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    response = client.post(
        form.redirect_chain[-1][0],
        {
            "new_password1": "reset-passphrase-42",
            "new_password2": "reset-passphrase-42",
        },
    )
    assert response.status_code == 302
    assert sign_in(Client(), agent.email, "reset-passphrase-42").status_code == 302
    assert other_session.get("/inbox/").status_code == 302  # old sessions ended
    # The link works once.
    reused = Client().get(link.group(1), follow=True)
    assert b"This link no longer works" in reused.content


def test_password_reset_does_not_reveal_unknown_addresses(
    db: None, django_capture_on_commit_callbacks, run_tasks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == "/accounts/password/reset/sent/"
    run_tasks()
    assert mail.outbox == []


def test_profile_and_availability(agent_web: Client, agent: User) -> None:
    response = agent_web.post(
        "/accounts/profile/availability/", {"availability": "busy", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response.url == "/inbox/"
    agent.refresh_from_db()
    assert agent.availability == "busy"
    response = agent_web.post(
        "/accounts/profile/availability/", {"availability": "asleep"}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 400

    response = agent_web.post("/accounts/profile/", {"name": "", "time_zone": "Mars/Base"})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    response = agent_web.post(
        "/accounts/profile/",
        {"name": "Benjamin", "time_zone": "Asia/Tokyo", "signature": " Ben, Acme support \n"},
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.name, agent.time_zone) == ("Benjamin", "Asia/Tokyo")
    assert agent.signature == "Ben, Acme support"
    assert "Ben, Acme support" in agent_web.get("/accounts/profile/").content.decode()


def test_avatar_upload_accepts_images_only(agent_web: Client, agent: User) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "purple").save(buffer, "PNG")
    good = SimpleUploadedFile("me.png", buffer.getvalue(), "image/png")
    response = agent_web.post(
        "/accounts/profile/", {"name": "Ben", "time_zone": "UTC", "avatar": good}
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.avatar.name.startswith("avatars/")

    svg = SimpleUploadedFile("x.svg", b"<svg onload=alert(1)></svg>", "image/svg+xml")
    response = agent_web.post(
        "/accounts/profile/", {"name": "Ben", "time_zone": "UTC", "avatar": svg}
    )
    assert response.status_code == 200
    assert b"Upload a valid image" in response.content


def test_pages_require_sign_in(db: None) -> None:
    for path in ["/inbox/", "/accounts/profile/", "/accounts/admin/users/"]:
        response = Client().get(path)
        assert response.status_code == 302 and response.url.startswith("/accounts/signin/?next=")
