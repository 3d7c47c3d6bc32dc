"""After a customer message: drafts computed in the background and pushed, shown to agents
rendered for them and for the channel, the human-touch flags, automated messages (only
when an admin enabled them, never to a flagged conversation, throttled), and where every
reply started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.origin import SYSTEM
from inbox import actions
from inbox.drafts.memory import forget_index
from inbox.models import (
    AutoSendRule,
    Contact,
    Conversation,
    DraftSuggestion,
    Event,
    Message,
    ReplyMemory,
    ReplyMetric,
    SuggestionView,
)
from tests.factories import AdminFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIBRARY = [
    {
        "title": "Where is my order",
        "shortcode": "where-order",
        "body": "Hi {{contact.first_name|there}}, your parcel is on its way.\n\n"
        "Best regards,\n{{agent.first_name}}",
        "tags": ["shipping"],
        "examples": ["my package has not arrived", "tracking number not working"],
        "language": "en",
    },
    {
        "title": "Reset password",
        "shortcode": "reset-password",
        "body": "Use the reset link on the sign-in page.",
        "tags": ["account"],
        "examples": ["I cannot log in", "forgot my password"],
        "language": "en",
    },
]


@pytest.fixture
def library(db: None) -> dict[str, Any]:
    admin = AdminFactory(name="Lib Admin")
    return {
        entry["shortcode"]: actions.create_canned_reply(actor=admin, **entry) for entry in LIBRARY
    }


@pytest.fixture
def customer(inbound, django_capture_on_commit_callbacks, run_tasks):
    """customer(inbox, text, **kw) → the inbound result, after its background task ran."""

    def send(inbox, text, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = inbound(inbox, text, **kwargs)
        run_tasks()
        return result

    return send


def set_policy(inbox, **values) -> None:
    stored = (inbox.settings or {}).get("policy") or {}
    actions.update_inbox(
        inbox=inbox,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"policy": {**stored, **values}},
    )
    inbox.refresh_from_db()


def suggestions(api, agent, conversation, *, show: bool = True) -> dict[str, Any]:
    """The drafts as the agent's app reads them; `show`: and then says its composer showed
    them, as the app does once the panel is on screen."""
    url = f"/api/v1/conversations/{conversation.pk}/suggestions/"
    response = api(agent).get(url)
    assert response.status_code == 200
    data = response.json()
    if show and data["suggestion_id"]:
        shown = api(agent).post(
            url + "shown/", {"suggestion_id": data["suggestion_id"]}, format="json"
        )
        assert shown.status_code == 200, shown.content
    return data


def test_drafts_are_computed_pushed_and_prefilled_for_the_agent(
    library, agent, api, make_inbox, customer
) -> None:
    inbox = make_inbox(members=[agent])
    result = customer(
        inbox, "my parcel still hasn't arrived, the tracking does nothing", name="Ann Archer"
    )
    draft = DraftSuggestion.objects.get(message=result.message)
    assert draft.candidates[0]["canned_reply_id"] == library["where-order"].pk
    event = Event.objects.filter(kind="draft.suggested").get()
    assert event.stream == f"inbox:{inbox.pk}"
    assert event.payload["conversation_id"] == result.conversation.pk
    assert event.payload["suggestion_id"] == draft.pk
    # No reason in the event: it may name a team's reply; each agent fetches what they see.
    assert event.payload["best"] == {"engine": "canned", "score": draft.candidates[0]["score"]}

    data = suggestions(api, agent, result.conversation, show=False)
    assert data["suggestion_id"] == draft.pk
    best = data["results"][0]
    # Chat: the short form, filled for this contact and agent, sign-off dropped.
    assert best["text"] == "Hi Ann, your parcel is on its way."
    assert best["index"] == 0
    draft.refresh_from_db()
    assert draft.shown_at is None  # reading is not showing: the app says when it showed them
    suggestions(api, agent, result.conversation)
    suggestions(api, agent, result.conversation)  # a second look counts once
    draft.refresh_from_db()
    assert draft.shown_at is not None
    assert SuggestionView.objects.filter(suggestion=draft).count() == 1
    outsider = api(UserFactory())  # an agent of no inbox of this conversation
    refused = outsider.post(
        f"/api/v1/conversations/{result.conversation.pk}/suggestions/shown/",
        {"suggestion_id": draft.pk},
        format="json",
    )
    assert refused.status_code == 404


def test_a_reply_sent_as_suggested_and_one_edited_are_told_apart(
    library, agent, api, make_inbox, customer
) -> None:
    inbox = make_inbox(members=[agent])
    first = customer(inbox, "forgot my password and cannot log in", sender="a")
    data = suggestions(api, agent, first.conversation)
    response = api(agent).post(
        f"/api/v1/conversations/{first.conversation.pk}/messages/",
        {
            "text": data["results"][0]["text"],
            "suggestion_id": data["suggestion_id"],
            "candidate": 0,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    metric = ReplyMetric.objects.get(message_id=response.json()["id"])
    assert (metric.origin, metric.engine, metric.similarity) == ("suggestion", "canned", 1.0)
    assert metric.canned_reply_id == library["reset-password"].pk
    assert metric.response_seconds is not None and metric.response_seconds >= 0
    assert DraftSuggestion.objects.get(pk=data["suggestion_id"]).outcome == "used"

    second = customer(inbox, "I forgot my password, can't log in", sender="b")
    data = suggestions(api, agent, second.conversation)
    edited = "Sorry about that! " + data["results"][0]["text"] + " It takes a minute to arrive."
    response = api(agent).post(
        f"/api/v1/conversations/{second.conversation.pk}/messages/",
        {"text": edited, "suggestion_id": data["suggestion_id"], "candidate": 0},
        format="json",
    )
    metric = ReplyMetric.objects.get(message_id=response.json()["id"])
    assert metric.origin == "suggestion" and 0.3 < metric.similarity < 0.98
    assert DraftSuggestion.objects.get(pk=data["suggestion_id"]).outcome == "edited"


def test_a_shown_suggestion_replaced_by_a_typed_reply_counts_as_discarded(
    library, agent, api, make_inbox, customer
) -> None:
    result = customer(make_inbox(members=[agent]), "forgot my password")
    data = suggestions(api, agent, result.conversation)
    api(agent).post(
        f"/api/v1/conversations/{result.conversation.pk}/messages/",
        {"text": "Let me check your account."},
        format="json",
    )
    draft = DraftSuggestion.objects.get(pk=data["suggestion_id"])
    assert (draft.outcome, draft.outcome_by) == ("discarded", agent)
    metric = ReplyMetric.objects.get(conversation=result.conversation)
    assert metric.origin == "typed" and metric.similarity is None


def test_a_suggestion_of_another_conversation_is_refused(
    library, agent, api, make_inbox, customer
) -> None:
    inbox = make_inbox(members=[agent])
    one = customer(inbox, "forgot my password", sender="a")
    other = customer(inbox, "forgot my password too", sender="b")
    data = suggestions(api, agent, one.conversation)
    response = api(agent).post(
        f"/api/v1/conversations/{other.conversation.pk}/messages/",
        {"text": "hello", "suggestion_id": data["suggestion_id"]},
        format="json",
    )
    assert response.status_code == 400
    assert not Message.objects.filter(
        conversation=other.conversation, direction="outgoing"
    ).exists()


def test_discarding_hides_the_suggestion(library, agent, api, make_inbox, customer) -> None:
    result = customer(make_inbox(members=[agent]), "forgot my password")
    data = suggestions(api, agent, result.conversation)
    response = api(agent).post(
        f"/api/v1/conversations/{result.conversation.pk}/suggestions/discard/",
        {"suggestion_id": data["suggestion_id"]},
        format="json",
    )
    assert response.json()["outcome"] == "discarded"
    assert suggestions(api, agent, result.conversation)["outcome"] == "discarded"


def test_an_image_alone_gets_no_draft_and_no_error(library, agent, make_inbox, customer) -> None:
    result = customer(make_inbox(members=[agent]), "")
    assert not DraftSuggestion.objects.filter(message=result.message).exists()


def test_email_drafts_get_a_greeting_and_show_the_signature(
    library, agent, api, make_inbox, customer
) -> None:
    agent.signature = "Ben — Support"
    agent.save()
    inbox = make_inbox(members=[agent], kind="email", settings={"address": "help@shop.test"})
    result = customer(inbox, "I forgot my password, I can't log in", name="Zoe Zed")
    best = suggestions(api, agent, result.conversation)["results"][0]
    assert best["text"] == "Hi Zoe,\n\nUse the reset link on the sign-in page."
    assert best["signature"] == "Ben — Support"


def test_sms_drafts_show_their_segment_count(library, agent, api, make_inbox, customer) -> None:
    result = customer(make_inbox(members=[agent], kind="sms"), "forgot my password")
    best = suggestions(api, agent, result.conversation)["results"][0]
    assert best["segments"] == {"encoding": "GSM-7", "count": 1}


def test_an_english_reply_for_a_french_message_says_so(
    library, agent, api, make_inbox, customer
) -> None:
    # An English reply whose example questions include how French customers ask.
    actions.create_canned_reply(
        actor=AdminFactory(),
        title="Account locked",
        shortcode="locked",
        body="Your account is locked for 30 minutes after five failed sign-ins.",
        examples=["mon compte est bloqué", "compte verrouillé après plusieurs essais"],
        language="en",
    )
    result = customer(
        make_inbox(members=[agent]),
        "Bonjour, mon compte est bloqué depuis ce matin, que dois-je faire ?",
    )
    data = suggestions(api, agent, result.conversation)
    assert data["language"] == "fr"
    best = data["results"][0]
    assert best["language_mismatch"] is True
    assert best["reason"].endswith("(in English; the customer wrote in French)")


def test_a_reply_in_the_customers_language_is_preferred(
    library, agent, api, make_inbox, customer
) -> None:
    actions.create_canned_reply(
        actor=AdminFactory(),
        title="Mot de passe oublié",
        shortcode="mdp",
        body="Utilisez le lien de réinitialisation sur la page de connexion.",
        examples=["j'ai oublié mon mot de passe", "je ne peux pas me connecter"],
        language="fr",
    )
    result = customer(
        make_inbox(members=[agent]),
        "Bonjour, j'ai oublié mon mot de passe, je ne peux pas me connecter",
    )
    best = suggestions(api, agent, result.conversation)["results"][0]
    assert best["language"] == "fr" and not best["language_mismatch"]


# ---------------------------------------------------------------- human touch


def test_asking_for_a_person_flags_the_conversation(
    library, agent, api, make_inbox, customer
) -> None:
    inbox = make_inbox(members=[agent])
    team = TeamFactory(name="Escalations")
    set_policy(inbox, flag_team_id=team.pk, ack_enabled=True, ack_first_contact=True)
    result = customer(inbox, "This bot is useless. I want to talk to a human please")
    conversation = Conversation.objects.get(pk=result.conversation.pk)
    assert any(reason.startswith("Asks for a person") for reason in conversation.needs_person)
    assert conversation.priority == Conversation.Priority.HIGH
    assert conversation.team == team
    # An activity line tells the agents why; no automatic message of any kind was sent.
    assert Message.objects.filter(
        conversation=conversation, kind="activity", text__startswith="Needs a person"
    ).exists()
    assert not Message.objects.filter(
        conversation=conversation, kind="message", direction="outgoing"
    ).exists()
    body = api(agent).get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert body["needs_person"] == conversation.needs_person


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "THIS IS ABSOLUTELY UNACCEPTABLE, worst service ever, I am furious!!!",
            "Angry or very negative tone",
        ),
        (
            "My husband passed away last month and I need to close his account",
            "Bereavement mentioned",
        ),
        ("I will contact my lawyer about this order", "Keyword “lawyer”"),
    ],
)
def test_the_moments_that_matter_are_flagged(make_inbox, customer, text, reason) -> None:
    result = customer(make_inbox(), text)
    assert reason in Conversation.objects.get(pk=result.conversation.pk).needs_person


def test_vip_and_high_value_segments_are_flagged(make_inbox, customer) -> None:
    inbox = make_inbox()
    set_policy(inbox, segments=["plan=enterprise"])
    first = customer(inbox, "hello", sender="vip")
    Contact.objects.filter(pk=first.contact.pk).update(is_vip=True)
    second = customer(inbox, "hello again", sender="vip")
    assert "VIP contact" in Conversation.objects.get(pk=second.conversation.pk).needs_person
    other = customer(inbox, "hi", sender="big")
    Contact.objects.filter(pk=other.contact.pk).update(custom_attributes={"plan": "Enterprise"})
    again = customer(inbox, "hi there", sender="big")
    assert (
        "High-value segment (plan = enterprise)"
        in Conversation.objects.get(pk=again.conversation.pk).needs_person
    )


def test_a_repeat_contact_about_the_same_thing_is_flagged(make_inbox, customer) -> None:
    inbox = make_inbox("Chat")
    customer(inbox, "my refund for the blue jacket never arrived", sender="r")
    result = customer(inbox, "still no refund for the blue jacket", sender="r", start_new=True)
    reasons = Conversation.objects.get(pk=result.conversation.pk).needs_person
    assert any(reason.startswith("Repeat contact") for reason in reasons)


def test_a_calm_routine_question_is_not_flagged(library, make_inbox, customer) -> None:
    result = customer(make_inbox(), "Hi, where can I find the tracking number for my parcel?")
    assert Conversation.objects.get(pk=result.conversation.pk).needs_person == []


def test_an_agent_can_clear_the_flag(agent, api, make_inbox, customer) -> None:
    result = customer(make_inbox(members=[agent]), "let me speak to a real person")
    response = api(agent).delete(f"/api/v1/conversations/{result.conversation.pk}/needs-person/")
    assert response.status_code == 200 and response.json()["needs_person"] == []


# ---------------------------------------------------------------- automated messages


def closed_now() -> dict[str, Any]:
    """Business hours that exclude the current moment (open tomorrow 09:00-17:00 only)."""
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%a").lower()
    return {"time_zone": "UTC", "days": {tomorrow: [["09:00", "17:00"]]}}


def outgoing(conversation) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conversation, kind="message", direction="outgoing")
    )


def test_no_acknowledgement_unless_an_admin_turns_it_on(make_inbox, customer) -> None:
    inbox = make_inbox()
    actions.update_inbox(
        inbox=inbox, actor=AdminFactory(), origin=SYSTEM, business_hours=closed_now()
    )
    result = customer(inbox, "hello, a question about my invoice")
    assert outgoing(result.conversation) == []


def test_acknowledgement_outside_hours_once_per_day(make_inbox, customer) -> None:
    inbox = make_inbox()
    actions.update_inbox(
        inbox=inbox, actor=AdminFactory(), origin=SYSTEM, business_hours=closed_now()
    )
    inbox.refresh_from_db()
    set_policy(inbox, ack_enabled=True)
    result = customer(inbox, "hello, a question about my invoice", name="Dana Doe")
    [ack] = outgoing(result.conversation)
    assert ack.text.startswith("Hi Dana, thanks for your message.")
    assert "tomorrow at 09:00" in ack.text
    assert ack.data["automated"] == "acknowledgement" and ack.sender_user is None
    metric = ReplyMetric.objects.get(message=ack)
    assert (metric.origin, metric.automated_kind) == ("automated", "acknowledgement")
    # The customer still waits for a person.
    assert Conversation.objects.get(pk=result.conversation.pk).waiting_since is not None
    customer(inbox, "and another thing", name="Dana Doe")
    assert len(outgoing(result.conversation)) == 1  # throttled: one per contact per 24 h


def test_an_auto_reply_email_never_gets_an_acknowledgement(make_inbox, customer) -> None:
    inbox = make_inbox()
    set_policy(inbox, ack_enabled=True, ack_first_contact=True, ack_outside_hours=False)
    result = customer(inbox, "I am out of the office", automated=True)
    assert outgoing(result.conversation) == []
    first = customer(inbox, "hello there, first time writing", sender="new")
    assert len(outgoing(first.conversation)) == 1


def test_auto_send_only_where_an_admin_enabled_it(library, make_inbox, customer) -> None:
    inbox, other = make_inbox("Chat"), make_inbox("Other")
    AutoSendRule.objects.create(
        inbox=inbox, canned_reply=library["reset-password"], min_confidence=0.3
    )
    result = customer(inbox, "I forgot my password and cannot log in", sender="p")
    [sent] = outgoing(result.conversation)
    assert sent.text == "Use the reset link on the sign-in page."
    assert sent.data["automated"] == "auto_send"
    assert ReplyMetric.objects.get(message=sent).canned_reply == library["reset-password"]
    assert Conversation.objects.get(pk=result.conversation.pk).waiting_since is None
    elsewhere = customer(other, "I forgot my password and cannot log in", sender="q")
    assert outgoing(elsewhere.conversation) == []


def test_auto_send_sends_the_canned_replys_files_too(
    library, make_inbox, customer, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    reply = library["reset-password"]
    actions.add_canned_attachment(
        reply=reply,
        actor=AdminFactory(),
        filename="reset.pdf",
        content_type="application/pdf",
        content=b"%PDF guide",
    )
    inbox = make_inbox()
    AutoSendRule.objects.create(inbox=inbox, canned_reply=reply, min_confidence=0.3)
    result = customer(inbox, "I forgot my password and cannot log in")
    [sent] = outgoing(result.conversation)
    assert [a.filename for a in sent.attachments.all()] == ["reset.pdf"]


def test_auto_send_below_its_confidence_floor_waits_for_a_person(
    library, make_inbox, customer
) -> None:
    inbox = make_inbox()
    AutoSendRule.objects.create(
        inbox=inbox, canned_reply=library["reset-password"], min_confidence=0.99
    )
    result = customer(inbox, "password?")
    assert outgoing(result.conversation) == []


def test_no_auto_send_to_a_conversation_that_needs_a_person(library, make_inbox, customer) -> None:
    inbox = make_inbox()
    AutoSendRule.objects.create(
        inbox=inbox, canned_reply=library["reset-password"], min_confidence=0.1
    )
    result = customer(
        inbox, "I forgot my password!!! this is ridiculous, I want to talk to a human"
    )
    assert outgoing(result.conversation) == []


# ---------------------------------------------------------------- team memory


def test_team_memory_suggests_an_adapted_past_reply(
    agent, api, make_inbox, customer, django_capture_on_commit_callbacks, run_tasks
) -> None:
    forget_index()
    inbox = make_inbox(members=[agent])
    past = customer(
        inbox,
        "Can I pay my invoice by bank transfer instead of card?",
        sender="p",
        name="Paula Past",
    )
    actions.send_reply(
        conversation=past.conversation,
        author=agent,
        text="Hi Paula, yes: transfer to IBAN FR76 3000 6000 0112 3456 7890 189 with reference "
        "#1 and we will confirm. Ben",
    )
    with django_capture_on_commit_callbacks(execute=True):
        actions.set_status(conversation=past.conversation, status="resolved", actor=agent)
    run_tasks()
    memory = ReplyMemory.objects.get(conversation=past.conversation)
    assert "Paula" not in memory.answer and "{{contact.first_name|there}}" in memory.answer
    assert "{{agent.first_name}}" in memory.answer and "[number]" in memory.answer

    now = customer(
        inbox, "is a bank transfer possible to pay the invoice?", sender="n", name="Nick New"
    )
    data = suggestions(api, agent, now.conversation)
    best = data["results"][0]
    assert best["engine"] == "memory"
    assert best["reason"] == f"Similar to Ben Agent's reply in #{past.conversation.number}"
    assert best["text"].startswith("Hi Nick, yes: transfer to IBAN [number]")
    assert best["text"].endswith(f"#{now.conversation.number} and we will confirm. Ben")


@pytest.mark.django_db(transaction=True)  # the index is built by another thread
def test_a_web_request_never_waits_for_the_team_memory_index(
    agent, make_inbox, customer, django_capture_on_commit_callbacks, run_tasks, monkeypatch
) -> None:
    from inbox.drafts import memory
    from inbox.drafts.engines import context_for

    inbox = make_inbox(members=[agent])
    for sender, text in [
        ("p", "Can I pay the invoice by bank transfer?"),
        ("q", "Do you ship to Norway?"),
    ]:
        past = customer(inbox, text, sender=sender)
        actions.send_reply(conversation=past.conversation, author=agent, text="Yes, you can.")
        with django_capture_on_commit_callbacks(execute=True):
            actions.set_status(conversation=past.conversation, status="resolved", actor=agent)
        run_tasks()
    assert ReplyMemory.objects.count() == 2
    now = customer(inbox, "is a bank transfer possible for the invoice?", sender="n")
    forget_index()  # as in a web process that never suggested before
    monkeypatch.setattr(memory, "BATCH", 1)  # two rows to add: "a cold index"
    engine = memory.TeamMemory()
    asked = context_for(now.conversation, agent, interactive=True)
    assert engine.suggest(asked, 3) == []  # not built inside the request…
    assert memory._warming is not None
    memory._warming.join(timeout=30)  # …but in the background, for the next one
    [found] = engine.suggest(asked, 1)
    assert found.engine == "memory" and found.template == "Yes, you can."
    forget_index()
    background = context_for(now.conversation, None)  # the task builds it itself
    assert engine.suggest(background, 1)[0].template == "Yes, you can."


@override_settings(
    DRAFT_ENGINES=[
        "inbox.drafts.lexical.CannedReplyRanker",
        "inbox.drafts.llm.LanguageModelEngine",
    ],
    DRAFT_LLM_URL="http://127.0.0.1:9/v1",
    DRAFT_LLM_TIMEOUT=0.5,
)
def test_a_failing_model_never_holds_back_the_other_drafts(library, make_inbox, customer) -> None:
    result = customer(make_inbox(), "forgot my password")
    draft = DraftSuggestion.objects.get(message=result.message)
    assert [c["engine"] for c in draft.candidates] == ["canned"]


def test_the_inbox_api_validates_the_policy(admin, api, make_inbox) -> None:
    inbox = make_inbox()
    for bad in ({"throttle_hours": 0}, {"keywords": "cancel"}, {"ack_text": "{{agent.name}}"}):
        response = api(admin).patch(
            f"/api/v1/inboxes/{inbox.pk}/", {"settings": {"policy": bad}}, format="json"
        )
        assert response.status_code == 400, bad
    inbox.refresh_from_db()
    assert "policy" not in inbox.settings
    created = api(admin).post(
        "/api/v1/inboxes/",
        {"name": "New", "kind": "api", "settings": {"policy": {"throttle_hours": 0}}},
        format="json",
    )
    assert created.status_code == 400 and "Policy" in str(created.json())


def test_drafts_are_offered_only_while_the_customer_waits(
    library, agent, api, make_inbox, customer
) -> None:
    result = customer(make_inbox(members=[agent]), "forgot my password")
    api(agent).post(
        f"/api/v1/conversations/{result.conversation.pk}/messages/",
        {"text": "On it."},
        format="json",
    )
    data = suggestions(api, agent, result.conversation)
    assert data["results"] == [] and data["suggestion_id"] is None
    # Nobody saw it before the reply: it expired (not counted as discarded).
    assert DraftSuggestion.objects.get(message=result.message).outcome == "expired"


def test_team_memory_hides_surnames_phone_numbers_and_stray_braces() -> None:
    from types import SimpleNamespace

    from inbox import canned
    from inbox.drafts.memory import adapt

    contact = SimpleNamespace(name="Will Turner", email="will@example.com")
    agent = SimpleNamespace(name="Ben Agent")
    text = adapt(
        "Dear Mr Turner, WILL: we will call +33 6 12 34 56 78 about {{{x}}}. Ben",
        contact=contact,
        agent=agent,
        conversation=SimpleNamespace(number=7),
    )
    assert "Turner" not in text and "12 34" not in text
    assert "we will call [number]" in text  # the word "will" is not the name "Will"
    assert canned.render(text, canned.values())  # no variable error from the braces
