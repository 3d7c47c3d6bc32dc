"""Suggested drafts from canned replies: the customer's words (not their quoted history)
ranked against titles, bodies, tags and example questions; nothing below the confidence
threshold; rendered for the conversation."""

from __future__ import annotations

import pytest

from inbox import actions
from inbox.drafts.lexical import tokens
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db

GREETING = "Hi {{contact.first_name|there}}, "
LIBRARY = [
    (
        "Return label",
        "return-label",
        GREETING + "here is your return label.",
        ["returns"],
        ["how do I send my order back", "I want to return the jacket"],
    ),
    (
        "Where is my order",
        "where-order",
        GREETING + "your parcel is on its way.",
        ["shipping"],
        ["my package has not arrived", "tracking number not working"],
    ),
    (
        "Reset password",
        "reset-password",
        "Use the reset link on the sign-in page.",
        ["account"],
        ["I cannot log in", "forgot my password"],
    ),
]


@pytest.fixture
def library(db: None) -> None:
    admin = AdminFactory()
    for title, code, body, tags, examples in LIBRARY:
        actions.create_canned_reply(
            actor=admin, title=title, shortcode=code, body=body, tags=tags, examples=examples
        )


def test_words_are_folded_and_stemmed() -> None:
    assert tokens("Hello, I RETURNED the Jackets – café") == ["return", "jacket", "cafe"]


def test_the_matching_canned_reply_is_suggested_filled_in(
    library, agent, api, make_inbox, inbound
) -> None:
    inbox = make_inbox(members=[agent])
    conversation = inbound(
        inbox,
        "Hi, my parcel still hasn't arrived and the tracking number does nothing",
        name="Ann Archer",
    ).conversation
    results = (
        api(agent).get(f"/api/v1/conversations/{conversation.pk}/suggestions/").json()["results"]
    )
    assert results[0]["reason"] == "Matches canned reply “Where is my order”"
    assert results[0]["text"] == "Hi Ann, your parcel is on its way."
    assert 0 < results[0]["score"] <= 1


def test_a_paraphrase_still_finds_its_reply(library, agent, api, make_inbox, inbound) -> None:
    conversation = inbound(
        make_inbox(members=[agent]), "I'd like to send the jacket back"
    ).conversation
    results = (
        api(agent).get(f"/api/v1/conversations/{conversation.pk}/suggestions/").json()["results"]
    )
    assert results and results[0]["reason"].endswith("“Return label”")


def test_nothing_confident_means_no_draft(library, agent, api, make_inbox, inbound) -> None:
    conversation = inbound(
        make_inbox(members=[agent]), "Do you sponsor local football clubs?"
    ).conversation
    results = api(agent).get(f"/api/v1/conversations/{conversation.pk}/suggestions/").json()
    assert results["results"] == []


def test_an_empty_message_gets_no_draft_and_no_error(library, agent, api, make_inbox) -> None:
    from inbox.actions import AttachmentInput, IdentityInput, receive_inbound_message

    inbox = make_inbox(members=[agent])
    result = receive_inbound_message(
        inbox=inbox,
        identity=IdentityInput(kind="external", value="c9"),
        text="",
        attachments=[AttachmentInput("photo.jpg", "image/jpeg", b"\xff\xd8jpeg")],
    )
    response = api(agent).get(f"/api/v1/conversations/{result.conversation.pk}/suggestions/")
    assert response.status_code == 200 and response.json()["results"] == []
