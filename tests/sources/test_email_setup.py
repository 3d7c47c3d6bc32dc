"""Admins set up an email inbox from the settings pages: addresses, IMAP and SMTP with
write-only passwords, the ways mail can arrive, and the connection checks."""

from __future__ import annotations

from typing import Any

import pytest

from inbox.models import Inbox, InboxAddress

pytestmark = pytest.mark.django_db


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Support mail",
        "address": "Support@Example.com",
        "aliases": "help@example.com, billing@example.com",
        "signature": "The Acme team",
        "imap_host": "",
        "imap_security": "ssl",
        "imap_folder": "INBOX",
        "smtp_host": "",
        "smtp_security": "starttls",
        **overrides,
    }


def test_an_admin_creates_and_edits_an_email_inbox(admin_web: Any, agent_web: Any) -> None:
    assert agent_web.get("/settings/inboxes/new-email/").status_code in (302, 403)
    response = admin_web.post("/settings/inboxes/new-email/", form(smtp_password="s3cret"))
    inbox = Inbox.objects.get(kind="email")
    assert response.status_code == 302
    assert response["Location"] == f"/settings/inboxes/{inbox.pk}/email/"
    assert sorted(InboxAddress.objects.values_list("address", flat=True)) == [
        "billing@example.com",
        "help@example.com",
        "support@example.com",
    ]
    assert inbox.get_secrets() == {"smtp_password": "s3cret"}

    page = admin_web.get(f"/settings/inboxes/{inbox.pk}/email/").content.decode()
    assert "How mail reaches this inbox" in page
    assert "inbound_email --inbox support@example.com" in page
    assert "s3cret" not in page  # passwords are write-only
    assert "Provider webhooks are off" in page

    # Saving without a password keeps it; a taken address is refused with the reason.
    admin_web.post(f"/settings/inboxes/{inbox.pk}/email/", form(name="Support"))
    inbox.refresh_from_db()
    assert inbox.name == "Support" and inbox.get_secrets() == {"smtp_password": "s3cret"}
    other = admin_web.post(
        "/settings/inboxes/new-email/", form(address="help@example.com", aliases="")
    )
    assert "help@example.com already belongs to another inbox." in other.content.decode()
    assert Inbox.objects.filter(kind="email").count() == 1


def test_connection_checks_report_what_went_wrong(admin_web: Any) -> None:
    from tests.servers import free_port

    admin_web.post(
        "/settings/inboxes/new-email/",
        form(
            imap_host="127.0.0.1",
            imap_port=free_port(),
            imap_security="none",
            smtp_host="127.0.0.1",
            smtp_port=free_port(),
            smtp_security="none",
        ),
    )
    inbox = Inbox.objects.get(kind="email")
    imap = admin_web.post(f"/settings/inboxes/{inbox.pk}/email/test-imap/", follow=True)
    assert "Cannot connect to 127.0.0.1:" in imap.content.decode()
    send = admin_web.post(f"/settings/inboxes/{inbox.pk}/email/test-send/", follow=True)
    assert "The test email could not be sent:" in send.content.decode()
