"""Suggested drafts and the "needs a person" badge in the agent app, in a real browser, live
over the websocket. The background task (the worker's job) runs from this process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from inbox import actions
from inbox.drafts.pipeline import after_customer_message
from inbox.models import ReplyMetric
from tests.e2e.conftest import ARTIFACTS, in_thread
from tests.e2e.test_inbox_live import LIVE, customer_writes, open_inbox, row, team_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["team_setup"]  # the fixture, imported for this module's tests


def customer_writes_and_task_runs(inbox, text: str, **kwargs: Any) -> actions.InboundResult:
    result = customer_writes(inbox, text, **kwargs)
    in_thread(after_customer_message, result.message.pk)
    return result


@pytest.fixture
def library(team_setup, settings, asgi_media) -> None:
    settings.MEDIA_ROOT = asgi_media  # the server reads the canned reply's file
    for title, code, body, examples in [
        (
            "Reset password",
            "reset-password",
            "Hi {{contact.first_name|there}}, use the reset link on the sign-in page.\n\n"
            "Best regards,\n{{agent.first_name}}",
            ["I forgot my password", "I cannot log in"],
        ),
        (
            "Two-factor codes",
            "2fa",
            "Codes from your authenticator app change every 30 seconds.",
            ["my login code does not work", "two factor code rejected"],
        ),
    ]:
        reply = actions.create_canned_reply(
            actor=team_setup["admin"], title=title, shortcode=code, body=body, examples=examples
        )
        if code == "reset-password":
            actions.add_canned_attachment(
                reply=reply,
                actor=team_setup["admin"],
                filename="reset-guide.pdf",
                content_type="application/pdf",
                content=b"%PDF-1.4 guide",
            )


def test_the_best_draft_is_prefilled_marked_and_sent_after_edits(
    asgi_page, team_setup, library
) -> None:
    ben, inbox = team_setup["ben"], team_setup["inbox"]
    result = customer_writes_and_task_runs(
        inbox, "I forgot my password and cannot reset it; also the app code is rejected"
    )
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(page, "Casey Customer").click()
    composer = page.locator("#composer-text")
    # Chat: the short form, filled for Casey, the sign-off dropped.
    expect(composer).to_have_value("Hi Casey, use the reset link on the sign-in page.")
    expect(composer).to_have_class(re.compile("is-suggestion"))
    panel = page.get_by_role("region", name="Suggested draft")
    expect(panel).to_contain_text("Matches canned reply “Reset password”")
    files = page.get_by_role("list", name="Files to send")
    expect(files).to_contain_text("reset-guide.pdf")
    page.screenshot(path=str(ARTIFACTS / "drafts-prefilled.png"))
    # The other candidate is one click away, then back.
    panel.get_by_role("button", name=re.compile("^Try: Matches canned reply “Two-factor")).click()
    expect(composer).to_have_value("Codes from your authenticator app change every 30 seconds.")
    panel.get_by_role(
        "button", name=re.compile("^Try: Matches canned reply “Reset password")
    ).click()
    composer.press("End")
    composer.type(" Tell me if it does not arrive!")
    composer.press("Control+Enter")
    expect(composer).to_have_value("")
    expect(panel).to_be_hidden()
    expect(page.locator("#composer-files li")).to_have_count(0)
    metric = ReplyMetric.objects.get(conversation=result.conversation)
    assert metric.origin == "suggestion" and metric.engine == "canned"
    assert [a.filename for a in metric.message.attachments.all()] == ["reset-guide.pdf"]
    assert 0.7 < metric.similarity < 1


def test_a_draft_arrives_live_in_the_open_conversation_and_can_be_discarded(
    asgi_page, team_setup, library
) -> None:
    ben, inbox = team_setup["ben"], team_setup["inbox"]
    customer_writes(inbox, "hello?")
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(page, "Casey Customer").click()
    composer = page.locator("#composer-text")
    expect(page.locator("#messages")).to_contain_text("hello?")
    expect(composer).to_have_value("")
    customer_writes_and_task_runs(inbox, "sorry, I forgot my password")
    expect(composer).to_have_value(re.compile("^Hi Casey, use the reset link"), timeout=LIVE)
    page.get_by_role("region", name="Suggested draft").get_by_role("button", name="Discard").click()
    expect(composer).to_have_value("")
    expect(page.get_by_role("region", name="Suggested draft")).to_be_hidden()


def test_a_conversation_that_needs_a_person_shows_why(asgi_page, team_setup) -> None:
    ben, inbox = team_setup["ben"], team_setup["inbox"]
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    customer_writes_and_task_runs(inbox, "Stop it. I want to talk to a human, now.")
    chip = row(page, "Casey Customer").locator(".needs-person-chip")
    expect(chip).to_have_text("Needs a person", timeout=LIVE)
    row(page, "Casey Customer").click()
    badge = page.locator("#needs-person")
    expect(badge).to_contain_text("Asks for a person")
    expect(badge).to_contain_text("No automatic message will be sent")
    expect(page.locator("#priority-select")).to_have_value("3")
    page.screenshot(path=str(ARTIFACTS / "drafts-needs-person.png"))
    badge.get_by_role("button", name="Clear flag").click()
    expect(badge).to_be_hidden()
    expect(chip).to_have_count(0)


def test_an_api_answer_older_than_an_applied_event_does_not_undo_it(asgi_page, team_setup) -> None:
    """A new conversation makes the app fetch it; hold that answer (read before the flag)
    until the flag's event has been applied, then deliver it: the flag must stay."""
    ben, inbox = team_setup["ben"], team_setup["inbox"]
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append((route, route.fetch()))  # read now, delivered later

    detail = re.compile(r"/api/v1/conversations/\d+/$")
    page.route(detail, hold)
    result = customer_writes(inbox, "Stop it. I want to talk to a human, now.")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the app did not fetch the new conversation"
    assert held[0][1].json()["needs_person"] == []  # the answer predates the flag
    in_thread(after_customer_message, result.message.pk)
    chip = row(page, "Casey Customer").locator(".needs-person-chip")
    expect(chip).to_have_text("Needs a person", timeout=LIVE)
    route, response = held[0]
    with page.expect_response(detail):
        route.fulfill(response=response)
    page.evaluate("() => new Promise((done) => setTimeout(done, 100))")
    expect(chip).to_have_text("Needs a person")
