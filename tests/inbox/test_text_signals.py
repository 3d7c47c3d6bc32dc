"""Text signals, pure Python: the language of a message, the "needs a person" detectors
(asking for a human, anger, vulnerable situations, admin keywords) and SMS segment counting,
with the JavaScript segment counter checked against the Python one in Chromium."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inbox import segments
from inbox.drafts import language, signals
from inbox.drafts.language import detect
from inbox.drafts.signals import (
    asks_for_person,
    is_angry,
    matching_keywords,
    sentiment,
    vulnerability,
)
from inbox.segments import count

ROOT = Path(__file__).resolve().parents[2]

# --- Language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bonjour, où est ma commande ?", "fr"),
        ("Wo ist meine Bestellung?", "de"),
        ("¿Dónde está mi pedido?", "es"),
        ("Where is my order?", "en"),
        ("Onde está o meu pedido?", "pt"),
        ("Dov'è il mio ordine?", "it"),
        ("Dov’è il mio ordine?", "it"),  # typographic apostrophe
        ("Waar is mijn bestelling?", "nl"),
        ("Hi, I ordered a jacket last week and it still hasn't arrived. Can you check?", "en"),
        ("Je n'ai toujours pas reçu mon colis, c'est inadmissible.", "fr"),
        ("Hola, quiero devolver los zapatos porque son demasiado pequeños.", "es"),
        ("Ich habe mein Paket noch nicht erhalten. Können Sie mir helfen?", "de"),
        ("Olá, não recebi a minha encomenda. Podem ajudar?", "pt"),
        ("Ciao, non ho ancora ricevuto il pacco. Potete aiutarmi?", "it"),
        ("Hallo, ik heb mijn pakket nog niet ontvangen. Kunnen jullie helpen?", "nl"),
        ("Mi pedido no ha llegado", "es"),
        ("O meu pedido não chegou", "pt"),
        ("Il mio ordine non è arrivato", "it"),
        ("Mein Paket ist nicht angekommen", "de"),
        ("Mijn pakket is niet aangekomen", "nl"),
        ("MY PARCEL HAS NOT ARRIVED", "en"),
        ("Merci beaucoup", "fr"),
        ("Muchas gracias", "es"),
        ("Vielen Dank", "de"),
    ],
)
def test_the_language_of_short_support_messages(text: str, code: str) -> None:
    detected, confidence = detect(text)
    assert detected == code, (text, detected, confidence)
    assert 0.2 <= confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    ["", "ok", "OK!", "12345", "#4711", "hallo", "?!", "😀👍", "la", "de", "a", "No", "Sí"],
)
def test_too_short_or_ambiguous_is_unknown(text: str) -> None:
    assert detect(text) == ("", 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "Order 1234",
        "Tack för hjälpen",  # Swedish: not a supported language
        "Var är min beställning?",
        "Привет, где мой заказ?",
        "我的订单在哪里",
        "Kiitos paljon",
        "ok thanks",
    ],
)
def test_never_a_wrong_language_with_high_confidence(text: str) -> None:
    code, confidence = detect(text)
    assert code in ("", "en"), (text, code, confidence)
    assert confidence < 0.5


def test_confidence_grows_with_the_evidence() -> None:
    assert detect("merci")[1] < detect("Merci pour votre aide")[1]
    assert (
        detect("Merci pour votre aide")[1]
        < detect(
            "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous vérifier où elle est ?"
        )[1]
    )


def test_urls_email_addresses_and_quoted_lines_are_ignored() -> None:
    assert detect("https://shop.example.com/where-is-my-order-the-best") == ("", 0.0)
    assert detect("where.is.the.order@example.com") == ("", 0.0)
    code, _ = detect(
        "Bonjour, voici le lien : https://shop.example.com/where/is/my/order/please/help "
        "et mon adresse where.is.my.order@example.com, merci"
    )
    assert code == "fr"
    code, _ = detect(
        "Je n'ai rien reçu.\n> On Monday you wrote: where is the order, is it shipped yet?\n"
        "> Thanks for your patience and we are sorry for the delay in this matter"
    )
    assert code == "fr"


def test_every_supported_code_has_a_name() -> None:
    assert language.name("fr") == "French"
    assert language.name("en") == "English"
    assert [language.name(c) for c in ("es", "de", "pt", "it", "nl")] == [
        "Spanish",
        "German",
        "Portuguese",
        "Italian",
        "Dutch",
    ]
    assert language.name("") == ""
    assert language.name("sv") == "sv"


def test_detect_survives_odd_input() -> None:
    for text in ["\n\n\n", "'", "'''", "l'", "a'b'c", "ß", "x" * 10_000, "é" * 500, "\x00\x1b"]:
        code, confidence = detect(text)
        assert code in ("", *language.NAMES)
        assert 0.0 <= confidence <= 1.0


# --- Asking for a person ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I want to talk to a human", "talk to a human"),
        ("Can I speak to someone please?", "speak to someone"),
        ("Please let me speak to a real person.", "speak to a real person"),
        ("can I talk to an agent", "talk to an agent"),
        ("I want a human", "want a human"),
        ("Connect me to a representative now", "Connect me to a representative"),
        ("Stop sending me bots!", "Stop sending me bots"),
        ("I don't want to talk to a bot", "don't want to talk to a bot"),
        ("Are you a bot?", "Are you a bot"),
        ("Human please", "Human please"),
        ("I'd like a real person", "I'd like a real person"),
        ("Can you transfer me to your supervisor", "transfer me to your supervisor"),
        ("I wish to SPEAK WITH A MANAGER", "SPEAK WITH A MANAGER"),
        ("Je voudrais parler à un humain", "parler à un humain"),
        ("Puis-je parler à quelqu’un ?", "parler à quelqu’un"),
        ("Passez-moi un conseiller svp", "Passez-moi un conseiller"),
        ("Je veux un conseiller", "un conseiller"),
        ("Mettez-moi en relation avec le service", "Mettez-moi en relation avec"),
        ("J'en ai marre des robots", "marre des robots"),
        ("Quiero hablar con una persona", "hablar con una persona"),
        ("¿Puedo hablar con un agente?", "hablar con un agente"),
        ("Necesito un humano", "Necesito un humano"),
        ("Ich möchte mit einem Menschen sprechen", "mit einem Menschen sprechen"),
        ("Kann ich bitte einen Mitarbeiter sprechen?", "einen Mitarbeiter sprechen"),
        ("Verbinden Sie mich bitte mit der Buchhaltung", "Verbinden Sie mich bitte mit"),
        ("Ich will einen echten Menschen", "echten Menschen"),
        ("Quero falar com um atendente", "falar com um atendente"),
        ("Vorrei parlare con un operatore", "parlare con un operatore"),
        ("Ik wil met een medewerker spreken", "met een medewerker spreken"),
    ],
)
def test_asking_for_a_person_returns_the_customers_words(text: str, phrase: str) -> None:
    assert asks_for_person(text) == phrase


@pytest.mark.parametrize(
    "text",
    [
        "the person who delivered my parcel was rude",
        "my agent number is 123",
        "someone stole my card",
        "I spoke to an agent yesterday and he said it would be fixed",
        "Please speak to your bank about this",
        "I need a human-readable invoice",
        "It sounds like a human wrote it",
        "Where is my order?",
        "Un conseiller m'a dit que le colis arriverait lundi",
        "La personne qui a livré le colis était très gentille",
        "La persona que entregó el paquete",
        "Die Person, die das Paket geliefert hat, war nett",
        "The agent now says the parcel is lost",
        "My robot vacuum stopped working",
        "",
    ],
)
def test_no_person_request_in_ordinary_sentences(text: str) -> None:
    assert asks_for_person(text) is None


def test_the_phrase_is_taken_from_the_original_text_even_when_folding_moves_it() -> None:
    # "İ" folds to two characters: positions in the folded text are not the original's.
    assert asks_for_person("İstanbul Ω: can I TALK TO A HUMAN?") == "TALK TO A HUMAN"
    assert asks_for_person("Straße 5 — Ich möchte mit einem Menschen sprechen") == (
        "mit einem Menschen sprechen"
    )
    assert asks_for_person("parler  à\nun   humain") == "parler  à\nun   humain"
    decomposed = "Je veux parle\u0301r a\u0300 un humain"  # combining accents
    assert asks_for_person(decomposed) == "parle\u0301r a\u0300 un humain"


# --- Sentiment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order?",
        "Can you tell me when the parcel will arrive?",
        "Bonjour, où est ma commande ?",
        "¿Cuándo llegará mi pedido?",
        "Wann kommt mein Paket an?",
        "Hi, my order number is 4711. Best regards, John",
        "What kind of jacket is this? Is it on top of the list?",
        "Das Paket ist fast zwei Wochen unterwegs",
        "",
    ],
)
def test_a_calm_question_is_about_neutral(text: str) -> None:
    assert abs(sentiment(text)) < 0.2
    assert not is_angry(text)


@pytest.mark.parametrize(
    "text",
    [
        "This is absolutely unacceptable, worst service ever, I am furious!!!",
        "C'est inadmissible, je suis très déçu",
        "Es una vergüenza, pésimo servicio",
        "Das ist eine Frechheit!! Ich bin wütend",
        "THIS IS UNACCEPTABLE",
        "Terrible. Just terrible. I'm disgusted 😡",
    ],
)
def test_anger_is_clearly_negative(text: str) -> None:
    assert sentiment(text) < -0.5
    assert is_angry(text)


def test_the_worst_complaint_is_well_below_the_threshold() -> None:
    assert sentiment("This is absolutely unacceptable, worst service ever, I am furious!!!") < -0.9


@pytest.mark.parametrize(
    "text",
    [
        "Thanks so much, great help",
        "Merci beaucoup, c'est parfait !",
        "Muchas gracias, excelente servicio",
        "Vielen Dank, super Service",
        "Grazie mille, ottimo",
        "Bedankt, geweldig",
        "Obrigado, perfeito 👍",
        "Livré le 3 mai, très content",
    ],
)
def test_gratitude_is_positive(text: str) -> None:
    assert sentiment(text) > 0.5
    assert not is_angry(text)


@pytest.mark.parametrize(
    ("positive", "negated"),
    [
        ("I am happy", "I am not happy"),
        ("I am happy", "I'm not happy with this"),
        ("Je suis content", "Je ne suis pas content"),
        ("Ich bin zufrieden", "Ich bin nicht zufrieden"),
        ("Estoy contento", "No estoy contento"),
        ("Sono soddisfatto", "Non sono soddisfatto"),
    ],
)
def test_negation_turns_the_feeling_around(positive: str, negated: str) -> None:
    assert sentiment(positive) > 0
    assert sentiment(negated) < 0


def test_negating_a_bad_word_softens_it() -> None:
    assert sentiment("not bad") > 0
    assert sentiment("No problem at all") >= 0


def test_negation_stops_at_the_end_of_a_sentence() -> None:
    assert sentiment("Not sure. Happy anyway") > 0


def test_intensifiers_capitals_and_exclamations_amplify() -> None:
    assert sentiment("very bad") < sentiment("bad") < 0
    assert sentiment("extremely disappointed") < sentiment("disappointed")
    assert sentiment("This is BAD") < sentiment("This is bad")
    assert sentiment("bad!!!") < sentiment("bad!") < sentiment("bad")
    assert sentiment("great!!!") > sentiment("great")
    assert sentiment("très mauvais") < sentiment("mauvais")
    assert sentiment("sehr schlecht") < sentiment("schlecht")
    assert sentiment("muy malo") < sentiment("malo")
    assert sentiment("slightly annoyed") > sentiment("annoyed")


def test_a_booster_counts_once() -> None:
    # "super" boosts the next word; alone it is praise.
    assert sentiment("super frustrated") < sentiment("frustrated") < 0
    assert sentiment("Super!") > 0


def test_what_follows_but_counts_more() -> None:
    assert sentiment("The product is good but the delivery was terrible") < 0
    assert sentiment("The delivery was late but the support was excellent") > 0


def test_sentiment_stays_within_bounds() -> None:
    furious = "WORST TERRIBLE AWFUL HORRIBLE UNACCEPTABLE!!!!!!!! " * 50
    delighted = "great excellent amazing perfect thanks!!! " * 50
    assert -1.0 <= sentiment(furious) < -0.99
    assert 0.99 < sentiment(delighted) <= 1.0


def test_the_anger_threshold_can_be_chosen() -> None:
    text = "I am not happy"
    assert -0.5 < sentiment(text) < 0
    assert not is_angry(text)
    assert is_angry(text, threshold=-0.2)


# --- Vulnerable situations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("My mother passed away last week", "bereavement"),
        ("my husband died in March and the account is in his name", "bereavement"),
        ("I need to close the account of my late father", "bereavement"),
        ("The funeral is on Friday", "bereavement"),
        ("Mon père est décédé le mois dernier", "bereavement"),
        ("Ma mère nous a quittés", "bereavement"),
        ("Mi padre falleció ayer", "bereavement"),
        ("Mein Vater ist verstorben", "bereavement"),
        ("Meine Mutter ist letzte Woche gestorben", "bereavement"),
        ("Mijn vader is overleden", "bereavement"),
        ("I'm in hospital until next week", "illness"),
        ("My wife is undergoing chemo", "illness"),
        ("I have been seriously ill", "illness"),
        ("Je suis hospitalisée depuis lundi", "illness"),
        ("Estoy en el hospital", "illness"),
        ("Ich liege im Krankenhaus", "illness"),
        ("I think this is a scam", "fraud"),
        ("someone stole my card", "fraud"),
        ("Someone used my account to order this", "fraud"),
        ("My card was stolen", "fraud"),
        ("There is an unauthorized charge on my statement", "fraud"),
        ("C'est une arnaque", "fraud"),
        ("Mon compte a été piraté", "fraud"),
        ("Esto es una estafa", "fraud"),
        ("Das ist Betrug", "fraud"),
        ("Ich bin ein Betrugsopfer, jemand hat mein Konto benutzt", "fraud"),
        ("I can't afford the next payment", "financial hardship"),
        ("I lost my job last month", "financial hardship"),
        ("We are in debt", "financial hardship"),
        ("je ne peux pas payer cette facture", "financial hardship"),
        ("Je suis au chômage", "financial hardship"),
        ("No puedo pagar la factura este mes", "financial hardship"),
        ("Ich bin arbeitslos und kann die Rechnung nicht bezahlen", "financial hardship"),
    ],
)
def test_vulnerable_situations(text: str, category: str) -> None:
    assert vulnerability(text) == category


@pytest.mark.parametrize(
    "text",
    [
        "password reset",
        "I'm dying to try it",
        "My phone died",
        "the battery died after a day",
        "I lost my parcel's tracking number",
        "lost my friend's parcel",
        "I can't pay with PayPal",
        "No puedo pagar con tarjeta",
        "Ich kann nicht mit PayPal bezahlen",
        "Die Rechnung betrug 50 Euro",
        "I'd like to cancel my order",
        "Our anti-fraud checks held the order",
        "I'm sick of waiting",
        "Ich habe kein Geld zurückbekommen",
        "The hospitality industry",
        "Where is my order?",
        "",
    ],
)
def test_no_vulnerability_in_ordinary_sentences(text: str) -> None:
    assert vulnerability(text) is None


def test_the_first_category_wins_when_several_match() -> None:
    text = "My husband passed away and I lost my job"
    assert vulnerability(text) == "bereavement"
    assert signals.VULNERABILITY_CATEGORIES == (
        "bereavement",
        "illness",
        "fraud",
        "financial hardship",
    )


def test_a_rule_lead_must_be_literal_words() -> None:
    with pytest.raises(ValueError, match="literal"):
        signals._Phrases([("(?:talk|speak)", " to")])


# --- Admin keywords --------------------------------------------------------------------


def test_keywords_match_the_start_of_words_case_and_accent_insensitive() -> None:
    text = "I want to CANCEL; the cancellation is late, scancel, Légal actions pending"
    assert matching_keywords(text, ["cancel", "legal action", "refund", "scan"]) == [
        "cancel",
        "legal action",
        "scan",
    ]
    assert matching_keywords("Cancelled already", ["cancel"]) == ["cancel"]
    assert matching_keywords("scancel", ["cancel"]) == []
    assert matching_keywords("l'annulation", ["annul"]) == ["annul"]
    assert matching_keywords("Rückerstattung bitte", ["ruckerstattung"]) == ["ruckerstattung"]
    assert matching_keywords("Rueckerstattung", ["Rückerstattung"]) == []


def test_keywords_come_back_as_written_in_the_admins_order_once() -> None:
    text = "refund, then cancel, then REFUND again"
    assert matching_keywords(text, ["Cancel", "REFUND", "refund", "  cancel "]) == [
        "Cancel",
        "REFUND",
    ]
    assert matching_keywords(text, []) == []
    assert matching_keywords(text, ["", "   "]) == []


def test_phrase_keywords_match_as_phrases() -> None:
    assert matching_keywords("we will take legal   action", ["legal action"]) == ["legal action"]
    assert matching_keywords("legal-action", ["legal action"]) == ["legal action"]
    assert matching_keywords("legal team, action now", ["legal action"]) == []
    assert matching_keywords("this is illegal action", ["legal action"]) == []


def test_keywords_with_odd_characters() -> None:
    assert matching_keywords("ß straße", ["strasse"]) == ["strasse"]
    assert matching_keywords("Email: my e-mail bounced", ["e-mail"]) == ["e-mail"]
    assert matching_keywords("price (100$)?!", ["?!", "$"]) == ["?!", "$"]
    assert matching_keywords("C++ question", ["c++"]) == ["c++"]


# --- Speed -----------------------------------------------------------------------------


def test_each_detector_is_fast_on_a_long_message() -> None:
    """A guard against catastrophic regexes, generous for slow machines (typically tens of
    microseconds per call)."""
    text = (
        "Hello, I ordered a blue jacket two weeks ago and it still has not arrived. The "
        "tracking page says it is in transit but nothing moved since Monday. Je n'ai rien "
        "reçu, pouvez-vous vérifier ? Ich warte immer noch auf mein Paket. "
    ) * 4
    detectors: list[Callable[[str], object]] = [
        detect,
        asks_for_person,
        sentiment,
        vulnerability,
        lambda t: matching_keywords(t, ["cancel", "refund", "legal action", "lawyer"]),
        count,
    ]
    for detector in detectors:
        detector(text)  # warm caches
        runs = 50
        started = time.perf_counter()
        for _ in range(runs):
            detector(text)
        per_call = (time.perf_counter() - started) / runs
        assert per_call < 0.005, (detector, per_call)


# --- SMS segments ----------------------------------------------------------------------


def test_the_gsm_alphabet() -> None:
    assert len(segments.GSM_BASIC) == 127  # 128 positions, one of them the escape
    assert frozenset("^{}\\[~]|€\f") == segments.GSM_EXTENSION
    for char in "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡§¿ÄÖÑÜäöñüà":
        assert char in segments.GSM_BASIC, char
    for char in "ç`ÁáíóúâêôõãÀ\t\x1b€":
        assert char not in segments.GSM_BASIC, char


def test_empty_text() -> None:
    assert count("") == segments.Segments("GSM-7", 0, 0, 160, 160)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello", ("GSM-7", 5, 1, 160, 155)),
        ("a" * 160, ("GSM-7", 160, 1, 160, 0)),
        ("a" * 161, ("GSM-7", 161, 2, 153, 145)),
        ("a" * 306, ("GSM-7", 306, 2, 153, 0)),
        ("a" * 307, ("GSM-7", 307, 3, 153, 152)),
        ("€", ("GSM-7", 2, 1, 160, 158)),
        ("€" * 80, ("GSM-7", 160, 1, 160, 0)),
        ("a" * 159 + "€", ("GSM-7", 161, 2, 153, 145)),
        ("{}[]~|^\\\f", ("GSM-7", 18, 1, 160, 142)),
        # 152 septets then an escape pair: the pair starts the second segment.
        ("a" * 152 + "€" + "b" * 7, ("GSM-7", 161, 2, 153, 144)),
        ("a" * 153 + "€" * 4, ("GSM-7", 161, 2, 153, 145)),
        ("é" * 160, ("GSM-7", 160, 1, 160, 0)),
        ("Ünïcode", ("UCS-2", 7, 1, 70, 63)),  # "ï" is not GSM
        ("ç" * 70, ("UCS-2", 70, 1, 70, 0)),
        ("ç" * 71, ("UCS-2", 71, 2, 67, 63)),
        ("a" * 133 + "ç", ("UCS-2", 134, 2, 67, 0)),
        ("a" * 134 + "ç", ("UCS-2", 135, 3, 67, 66)),
        ("😀", ("UCS-2", 2, 1, 70, 68)),
        ("😀" * 35, ("UCS-2", 70, 1, 70, 0)),
        ("😀" * 36, ("UCS-2", 72, 2, 67, 61)),
        # 66 units then a surrogate pair: the pair starts the second segment.
        ("a" * 66 + "😀" + "b" * 3, ("UCS-2", 71, 2, 67, 62)),
        ("Line 1\r\nLine 2 @ £5", ("GSM-7", 19, 1, 160, 141)),
        ("ΔΦΓΛΩΠΨΣΘΞ", ("GSM-7", 10, 1, 160, 150)),
        ("日本語", ("UCS-2", 3, 1, 70, 67)),
        ("€ and 😀", ("UCS-2", 8, 1, 70, 62)),  # UCS-2: "€" is one unit, not two
    ],
)
def test_segments(text: str, expected: tuple[str, int, int, int, int]) -> None:
    assert dataclasses.astuple(count(text)) == expected


def test_segments_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        count("hi").segments = 3  # type: ignore[misc]


# --- The JavaScript counter, in Chromium ------------------------------------------------

JS_CASES = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "a" * 152 + "€" + "b" * 7,
    "{}[]~|^\\\f",
    "".join(sorted(segments.GSM_BASIC)),
    "".join(sorted(segments.GSM_EXTENSION)) * 3,
    "Line 1\r\nLine 2 @ £5 ÄÖÑÜ§¿äöñüà",
    "ç" * 70,
    "ç" * 71,
    "😀",
    "😀" * 35,
    "😀" * 36,
    "a" * 66 + "😀" + "b" * 3,
    "日本語 and € and `backtick`",
    "👨‍👩‍👧 family",  # a ZWJ sequence: several code points, surrogate pairs among them
]


def _as_js(result: segments.Segments) -> dict[str, object]:
    return {
        "encoding": result.encoding,
        "units": result.units,
        "segments": result.segments,
        "perSegment": result.per_segment,
        "remaining": result.remaining,
    }


@pytest.mark.browser
def test_the_javascript_counter_agrees_with_python() -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    source = (ROOT / "static/js/inbox/segments.js").read_text()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.set_content("<!doctype html><title>segments</title>")
            page.add_script_tag(
                content=source + "\nwindow.__segments = { countSegments };", type="module"
            )
            page.wait_for_function("() => window.__segments !== undefined", timeout=10_000)
            results = page.evaluate(
                "cases => cases.map((text) => window.__segments.countSegments(text))", JS_CASES
            )
        finally:
            browser.close()
    assert not errors
    assert results == [_as_js(count(text)) for text in JS_CASES]
