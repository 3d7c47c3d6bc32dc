"""What an admin and an agent do in a real browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import ApiToken, User
from tests.e2e.conftest import ARTIFACTS, sign_in
from tests.factories import PASSWORD, AdminFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_invites_an_agent_who_joins_and_lands_signed_in(new_page, run_tasks) -> None:
    AdminFactory(name="Ada Admin", email="ada@example.com")
    admin = new_page()
    sign_in(admin, "ada@example.com", PASSWORD)
    expect(admin.get_by_role("heading", name="Inbox")).to_be_visible()

    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    admin.get_by_role("link", name="Invite someone").click()
    admin.get_by_label("Email address").fill("nia@example.com")
    admin.get_by_label("Name (optional)").fill("Nia")
    admin.get_by_label("Agent").check()
    admin.get_by_role("button", name="Send invitation").click()
    expect(admin.get_by_text("Invitation sent to nia@example.com.")).to_be_visible()
    expect(admin.locator("#invitations")).to_contain_text("nia@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    admin.screenshot(path=ARTIFACTS / "users-with-invitation.png", full_page=True)

    assert run_tasks() == 1
    assert [m.to for m in mail.outbox] == [["nia@example.com"]]
    link = re.search(r"(http://\S+/accounts/invitation/\S+/)", mail.outbox[0].body).group(1)

    invitee = new_page(width=390, height=844)  # on a phone
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Parley")).to_be_visible()
    expect(invitee.get_by_label("Your name")).to_have_value("Nia")
    invitee.get_by_label("Your name").fill("Nia Okafor")
    invitee.get_by_label("Choose a password").fill("a-very-good-passphrase")
    invitee.get_by_label("Repeat the password").fill("a-very-good-passphrase")
    invitee.screenshot(path=ARTIFACTS / "accept-invitation-phone.png", full_page=True)
    invitee.get_by_role("button", name="Create my account").click()

    expect(invitee).to_have_url(re.compile(r"/inbox/$"))
    expect(invitee.get_by_text("Welcome to Parley, Nia!")).to_be_visible()
    expect(invitee.get_by_role("heading", name="Inbox")).to_be_visible()
    user = User.objects.get(email="nia@example.com")
    assert user.name == "Nia Okafor" and user.role == "agent"

    # The admin sees the new colleague in the list, and the invitation is gone.
    admin.reload()
    expect(admin.locator("#users")).to_contain_text("Nia Okafor")
    expect(admin.locator("#invitations")).to_have_count(0)

    # The link does not work a second time.
    second = new_page()
    second.goto(link)
    expect(second.get_by_role("heading", name="This invitation was already used")).to_be_visible()


def test_an_agent_cannot_open_the_admin_pages(new_page) -> None:
    UserFactory(name="Ben Agent", email="ben@example.com")
    page = new_page()
    sign_in(page, "ben@example.com", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    for path in ["/accounts/admin/users/", "/accounts/admin/teams/", "/accounts/admin/audit/"]:
        response = page.goto(path)
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="You can’t open this page")).to_be_visible()


def test_a_locked_out_login_shows_the_message(new_page) -> None:
    UserFactory(email="ben@example.com")
    page = new_page()
    for _ in range(4):
        sign_in(page, "ben@example.com", "not-the-password")
        expect(page.get_by_text("do not match an active account")).to_be_visible()
    sign_in(page, "ben@example.com", "not-the-password")  # the fifth failure locks
    expect(page.get_by_role("heading", name="Too many sign-in attempts")).to_be_visible()
    sign_in(page, "ben@example.com", PASSWORD)  # even the right password now
    expect(page.get_by_role("heading", name="Too many sign-in attempts")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Try again in 15 minutes")
    page.screenshot(path=ARTIFACTS / "locked-out.png")


def test_availability_switch_with_the_keyboard(new_page) -> None:
    agent = UserFactory(name="Ben Agent", email="ben@example.com")
    page = new_page()
    sign_in(page, "ben@example.com", PASSWORD)
    menu = page.locator("summary[aria-label^='Your account']")
    menu.focus()
    page.keyboard.press("Enter")
    busy = page.get_by_role("radio", name="Busy")
    expect(busy).to_be_visible()
    busy.focus()
    page.keyboard.press("Space")
    expect(page.locator(".usermenu summary .status-dot")).to_have_class(re.compile("status-busy"))
    page.screenshot(path=ARTIFACTS / "user-menu.png")
    page.keyboard.press("Escape")
    expect(busy).to_be_hidden()
    agent.refresh_from_db()
    assert agent.availability == "busy"
    page.reload()
    expect(page.locator(".usermenu summary .status-dot")).to_have_class(re.compile("status-busy"))


def test_api_token_is_shown_once(new_page) -> None:
    UserFactory(email="ben@example.com")
    page = new_page()
    sign_in(page, "ben@example.com", PASSWORD)
    page.goto("/accounts/profile/tokens/")
    page.get_by_label("Token name").fill("CRM sync")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New API token").input_value()
    assert secret.startswith("prl_")
    page.reload()  # after the redirect: reloading neither re-posts nor shows it again
    expect(page.get_by_label("New API token")).to_have_count(0)
    expect(page.get_by_role("table")).to_contain_text("CRM sync")
    assert secret not in page.content()
    assert ApiToken.objects.filter(name="CRM sync").count() == 1


def test_interactive_api_docs_load_without_a_cdn(new_page) -> None:
    page = new_page()
    page.goto("/api/docs/")
    expect(page.get_by_role("heading", name=re.compile("Parley API"))).to_be_visible()
    expect(page.get_by_text("/api/v1/invitations/").first).to_be_visible()


def test_admin_sets_up_an_email_inbox(new_page) -> None:
    AdminFactory(name="Ada Admin", email="ada@example.com")
    page = new_page()
    sign_in(page, "ada@example.com", PASSWORD)
    page.goto("/settings/inboxes/")
    page.get_by_role("link", name="New email inbox").click()
    page.get_by_label("Name", exact=True).fill("Support mail")
    page.get_by_label("Address", exact=True).fill("support@example.com")
    page.get_by_label("Aliases").fill("help@example.com")
    page.get_by_label("IMAP password").fill("app-password")
    page.get_by_role("button", name="Create inbox").click()
    expect(page.get_by_role("heading", name="How mail reaches this inbox")).to_be_visible()
    expect(page.get_by_text("inbound_email --inbox support@example.com")).to_be_visible()
    expect(page.get_by_label("IMAP password")).to_have_value("")  # never shown back
    page.screenshot(path=ARTIFACTS / "settings-email-inbox-desktop.png", full_page=True)
    phone = new_page(width=390, height=844)
    sign_in(phone, "ada@example.com", PASSWORD)
    phone.goto(page.url)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
