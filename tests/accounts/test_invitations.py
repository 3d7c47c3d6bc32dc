"""Inviting people: the email, the single-use link, expiry, resend and revoke."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry, Invitation, User
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def invite(admin_web: Client, capture, run_tasks, **data: object):
    form = {"email": "new.person@example.com", "name": "New Person", "role": "agent", **data}
    with capture(execute=True):
        response = admin_web.post("/accounts/admin/users/invite/", form)
    run_tasks()
    return response


def link_in(message: mail.EmailMessage) -> str:
    match = re.search(r"http://testserver(/accounts/invitation/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_admin_invites_and_the_invitee_joins_with_the_emailed_link(
    admin_web: Client, capture, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    team = TeamFactory(name="Billing")
    response = invite(admin_web, capture, run_tasks, teams=[team.pk])
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "Ada Admin invited you" in message.subject
    link = link_in(message)
    assert link in message.alternatives[0][0]  # the HTML part carries the same link

    page = Client().get(link)
    assert page.status_code == 200
    assert b"new.person@example.com" in page.content

    invitee = Client()
    with capture(execute=True):
        response = invitee.post(
            link,
            {
                "name": "Nia Person",
                "password1": "a-long-passphrase",
                "password2": "a-long-passphrase",
                "time_zone": "Europe/Paris",
            },
        )
    assert response.status_code == 302 and response.url == "/inbox/"
    home = invitee.get("/inbox/")
    assert home.status_code == 200 and b"Welcome to Parley, Nia!" in home.content
    user = User.objects.get(email="new.person@example.com")
    assert (user.name, user.role, user.time_zone) == ("Nia Person", "agent", "Europe/Paris")
    assert list(user.teams.all()) == [team]
    assert AuditEntry.objects.filter(action="invitation.accepted", target_id=str(user.pk)).exists()

    # Single use: the same link now explains itself and changes nothing.
    again = Client().post(
        link,
        {
            "name": "Mallory",
            "password1": "another-passphrase",
            "password2": "another-passphrase",
            "time_zone": "UTC",
        },
    )
    assert again.status_code == 410
    assert b"already used" in again.content
    assert User.objects.filter(email="new.person@example.com").count() == 1


def test_expired_and_tampered_links_show_a_clear_page(
    admin_web: Client, capture, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    invite(admin_web, capture, run_tasks)
    link = link_in(mail.outbox[0])

    tampered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    response = Client().get(tampered)
    assert response.status_code == 404
    assert b"not valid" in response.content
    assert Client().get("/accounts/invitation/garbage/").status_code == 404

    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().post(
        link,
        {
            "name": "Late",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 410
    assert b"expired" in response.content
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_resend_rotates_the_link_and_revoke_kills_it(
    admin_web: Client, capture, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    invite(admin_web, capture, run_tasks)
    first = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))

    with capture(execute=True):
        admin_web.post(f"/accounts/admin/invitations/{invitation.pk}/resend/")
    run_tasks()
    assert len(mail.outbox) == 2
    second = link_in(mail.outbox[1])
    assert second != first
    assert Client().get(first).status_code == 404  # the old link stopped working
    assert Client().get(second).status_code == 200  # and the new one has a fresh expiry

    admin_web.post(f"/accounts/admin/invitations/{invitation.pk}/revoke/")
    response = Client().get(second)
    assert response.status_code == 410 and b"withdrawn" in response.content
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.invited", "invitation.resent", "invitation.revoked"} <= set(actions)


def test_invite_form_errors(admin_web: Client, admin: User, capture, run_tasks) -> None:
    response = admin_web.post(
        "/accounts/admin/users/invite/", {"email": "not-an-email", "role": "agent"}
    )
    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content

    response = admin_web.post(
        "/accounts/admin/users/invite/", {"email": admin.email.upper(), "role": "agent"}
    )
    assert b"already has an account" in response.content

    invite(admin_web, capture, run_tasks)
    response = admin_web.post(
        "/accounts/admin/users/invite/", {"email": "New.Person@example.com", "role": "agent"}
    )
    assert b"already has a pending invitation" in response.content
    assert Invitation.objects.count() == 1


def test_accept_form_validates_the_password(
    admin_web: Client, capture, run_tasks, settings
) -> None:
    settings.SITE_URL = "http://testserver"
    invite(admin_web, capture, run_tasks)
    link = link_in(mail.outbox[0])
    response = Client().post(
        link, {"name": "Nia", "password1": "short", "password2": "short", "time_zone": "UTC"}
    )
    assert response.status_code == 200
    assert b"too short" in response.content
    response = Client().post(
        link,
        {
            "name": "Nia",
            "password1": "a-long-passphrase",
            "password2": "different-passphrase",
            "time_zone": "UTC",
        },
    )
    assert b"The two passwords differ." in response.content
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert Invitation.objects.get().status == "pending"
