"""Admin pages for inboxes and labels."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from inbox.models import Inbox, Label
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/settings/inboxes/", "/settings/inboxes/new/", "/settings/labels/"]
)
def test_agents_get_403(agent_web: Client, path: str) -> None:
    assert agent_web.get(path).status_code == 403


def test_admin_creates_an_api_inbox_and_sees_the_keys_once(admin_web: Client) -> None:
    ben = UserFactory(name="Ben")
    team = TeamFactory(name="Tier 1")
    response = admin_web.post(
        "/settings/inboxes/new/",
        {
            "name": "Mobile app",
            "callback_url": "https://app.example.com/cb",
            "members": [ben.pk],
            "teams": [team.pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    inbox = Inbox.objects.get(name="Mobile app")
    assert inbox.kind == "api" and list(inbox.members.all()) == [ben]
    assert inbox.settings["callback_url"] == "https://app.example.com/cb"
    page = response.content.decode()
    api_key = inbox.get_secrets()["api_key"]
    assert api_key in page and f"/sources/api/{inbox.public_id}/messages" in page
    again = admin_web.get(f"/settings/inboxes/{inbox.pk}/").content.decode()
    assert api_key not in again  # shown once

    admin_web.post(f"/settings/inboxes/{inbox.pk}/rotate-keys/")
    inbox.refresh_from_db()
    assert inbox.get_secrets()["api_key"] != api_key

    response = admin_web.post(
        f"/settings/inboxes/{inbox.pk}/",
        {"name": "Mobile", "callback_url": "", "members": [], "teams": [team.pk]},
    )
    assert response.status_code == 302
    inbox.refresh_from_db()
    assert inbox.name == "Mobile" and not inbox.members.exists()
    assert list(inbox.teams.all()) == [team]
    listing = admin_web.get("/settings/inboxes/").content.decode()
    assert "Mobile" in listing and "Tier 1" in listing


def test_inbox_form_errors(admin_web: Client) -> None:
    response = admin_web.post("/settings/inboxes/new/", {"name": "", "callback_url": "nope"})
    assert response.status_code == 200
    assert b"This field is required." in response.content
    assert b"Enter a valid URL." in response.content
    assert not Inbox.objects.exists()
    assert admin_web.get("/settings/inboxes/999999/").status_code == 404


def test_labels_crud(admin_web: Client) -> None:
    assert (
        admin_web.post("/settings/labels/", {"name": "refund", "color": "#ff0000"}).status_code
        == 302
    )
    duplicate = admin_web.post("/settings/labels/", {"name": "Refund", "color": "#00ff00"})
    assert b"A label with this name exists." in duplicate.content
    bad = admin_web.post("/settings/labels/", {"name": "bug", "color": "red"})
    assert b"Use a colour like" in bad.content
    label = Label.objects.get()
    page = admin_web.get("/settings/labels/").content.decode()
    assert re.search(r'style="--chip: #ff0000">refund<', page)
    admin_web.post(
        f"/settings/labels/{label.pk}/",
        {"name": "refunds", "color": "#ff0000", "description": "Money back"},
    )
    label.refresh_from_db()
    assert (label.name, label.description) == ("refunds", "Money back")
    admin_web.post(f"/settings/labels/{label.pk}/", {"delete": "1"})
    assert not Label.objects.exists()
