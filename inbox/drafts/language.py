"""Language of a customer's message, offline: en, fr, es, de, pt, it or nl.

Short support messages are too short for character n-gram models, so this counts the
function words every sentence has ("où est ma", "wo ist meine", "waar is mijn") and a few
support words ("commande", "Bestellung"), each weighted by how many of the languages share
it ("de" is French, Spanish, Portuguese and Dutch: a quarter each). Characters and endings
that only some languages use (ß, ñ, ¿, ã, "-ção", "ij", "c'est", "don't") add hints, but a
guess needs at least one known word: "Tack för hjälpen" is not taken for German because of
its "ö". URLs, email addresses and quoted lines ("> …") are ignored.

The confidence combines the lead over the runner-up with the amount of evidence, so "Where
is my order?" is confident, "thanks!" is English with a low confidence and "ok", "12345" or
"hallo" (German or Dutch) are ("", 0.0).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from functools import lru_cache

from inbox.drafts.lexical import _fold

NAMES = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
}

# Folded (lowercase, no accents) function words and common support words. A word listed
# under several languages counts for each, divided by how many.
_WORDS = {
    "en": """
        the a an and or but of to in on at for with from by about as into over after
        is are was were be been being am do does did done have has had will would can
        could should may might must shall i you he she it we they me him her us them my
        your his its our their mine yours this that these those there here what where
        when why how who which whom whose not no yes if then than so just also still yet
        please thanks thank hello hi hey dear regards cheers sorry any some all every
        order orders package parcel delivery refund account help payment invoice money
        received arrived sent yet never again today yesterday tomorrow week get got need
        want know like would wrong issue problem item items email phone number address
        """,
    "fr": """
        le la les un une des du de au aux a en et ou mais donc car ni est sont suis es sommes
        etes etait ete etre avoir ai as avons avez ont avait je tu il elle on nous vous
        ils elles me te se moi toi lui leur leurs mon ma mes ton ta tes son sa ses notre
        nos votre vos ce cet cette ces ceci cela ca qui que quoi dont ou quand comment
        pourquoi combien pas plus jamais rien ne tres bien aussi encore deja toujours
        avec pour sans sur sous dans chez par vers depuis pendant avant apres bonjour
        bonsoir salut merci madame monsieur cordialement svp stp oui non commande colis
        livraison remboursement compte aide paiement facture argent recu toujours
        aujourd hui hier demain semaine besoin voudrais veux peux pouvez faire fait
        probleme beaucoup jusqu qu lorsqu puisqu quelqu
        """,
    "es": """
        el la los las un una unos unas de del al a en y o pero ni que es son soy eres somos
        esta estan estoy estas estaba fue ser estar he ha han hemos habia tengo tiene
        tienen yo tu el ella usted nosotros ustedes ellos ellas me te se nos le les lo mi
        mis tu tus su sus nuestro nuestra este esta estos estas ese esa eso esto aqui
        donde cuando como por para con sin sobre entre hasta desde muy mas ya tambien
        todavia aun nunca nada no si hola gracias buenos buenas dias tardes noches
        saludos senor senora favor pedido paquete envio entrega reembolso cuenta ayuda
        pago factura dinero recibido recibi llego llegado enviado hoy ayer manana semana
        necesito quiero puedo pueden hacer hecho problema porque pues
        """,
    "de": """
        der die das den dem des ein eine einen einem einer eines und oder aber denn ist
        sind bin bist war waren sein haben habe hat hatte hatten wird werden wurde wurden
        kann konnen konnte muss mussen soll will mochte ich du er sie es wir ihr mich
        dich ihn uns euch mir dir ihm ihnen mein meine meinen meinem meiner dein deine
        sein seine ihre ihren unser unsere euer dieser diese dieses diesen hier dort wo
        wann wie warum was wer welche welcher nicht kein keine keinen nie noch schon
        auch nur sehr mit fur von zu zum zur bei nach aus uber unter auf an im am ohne
        bis seit hallo guten tag danke dank vielen bitte gruße grusse freundlichen herr frau ja nein
        bestellung paket lieferung erstattung ruckerstattung konto hilfe zahlung rechnung
        geld erhalten angekommen heute gestern morgen woche brauche problem leider
        """,
    "pt": """
        o a os as um uma uns umas de do da dos das no na nos nas ao aos e ou mas nem que
        e sao sou somos esta estao estou estava foi ser estar tenho tem temos tinha eu tu
        ele ela voce voces nos eles elas me te se lhe lhes meu minha meus minhas teu tua
        seu sua seus suas nosso nossa este esta isto esse essa isso aqui onde quando como
        por para com sem sobre entre ate desde muito mais ja tambem ainda nunca nada nao
        sim ola obrigado obrigada bom dia boa tarde noite senhor senhora favor pedido
        encomenda pacote entrega reembolso conta ajuda pagamento fatura dinheiro recebi
        chegou recebido enviado hoje ontem amanha semana preciso quero posso podem
        fazer problema porque
        """,
    "it": """
        il lo la i gli le un uno una di del dello della dei degli delle a al allo alla
        ai agli alle da dal dalla in nel nella su sul sulla con per tra fra e o ma che
        non sono sei siamo siete era stato essere ho hai ha abbiamo avete hanno avere io
        tu lui lei noi voi loro mi ti ci vi si mio mia miei mie tuo tua suo sua nostro
        nostra questo questa quello quella qui qua dove quando come perche cosa chi
        quale molto piu gia anche ancora mai niente si no ciao buongiorno buonasera
        grazie salve cordiali saluti signor signora prego ordine pacco spedizione
        consegna rimborso conto aiuto pagamento fattura soldi ricevuto arrivato oggi
        ieri domani settimana bisogno voglio vorrei posso potete fare problema dov
        """,
    "nl": """
        de het een en of maar want is zijn te er ben bent was waren wordt worden werd heb
        hebt heeft hebben had kan kunnen kon moet moeten wil wilt willen zou ik jij je
        hij zij ze wij we jullie u mij me hem haar ons hen mijn jouw jullie zijn onze uw
        dit dat deze die hier daar waar wanneer hoe waarom wat wie welke niet geen nooit
        nog al ook alleen erg heel zeer met voor van naar bij uit over onder op aan in
        zonder tot sinds om hallo hoi goedemorgen goedemiddag dag dank bedankt alstublieft
        graag groeten vriendelijke meneer mevrouw ja nee bestelling pakket levering
        terugbetaling account hulp betaling factuur geld ontvangen aangekomen vandaag
        gisteren morgen week nodig probleem helaas
        """,
}

# Hints, each counted once per text: characters of the lowercase text, word endings of
# the unfolded words, and elisions/contractions ("c'est", "dov'è", "don't").
_CHAR_HINTS: list[tuple[frozenset[str], dict[str, float]]] = [
    (frozenset("ß"), {"de": 1.5}),
    (frozenset("ñ¿¡"), {"es": 1.5}),
    (frozenset("ãõ"), {"pt": 1.5}),
    (frozenset("ç"), {"fr": 0.6, "pt": 0.6}),
    (frozenset("äöü"), {"de": 0.8}),
    (frozenset("ìò"), {"it": 1.0}),
    (frozenset("è"), {"it": 0.6, "fr": 0.5}),
    (frozenset("ù"), {"fr": 0.6, "it": 0.4}),
    (frozenset("âêîûœ"), {"fr": 0.6, "pt": 0.2}),
    (frozenset("áíóú"), {"es": 0.4, "pt": 0.4}),
]
_ENDING_HINTS: list[tuple[tuple[str, ...], int, dict[str, float]]] = [
    # (endings, minimum word length, weights)
    (("ção", "ções"), 5, {"pt": 1.2}),
    (("ción", "ciones"), 5, {"es": 1.2}),
    (("zione", "zioni"), 6, {"it": 1.2}),
    (("ung", "ungen", "keit", "lich"), 6, {"de": 0.6}),
    (("eau", "eaux"), 4, {"fr": 0.8}),
]
_DUTCH_PAIRS = ("ij", "oe", "aa", "uu")
_DUTCH_HINT = {"nl": 0.6}
# Around an apostrophe: "don't" is English, "qu'il" French, "dov'è" Italian.
_ENGLISH_CONTRACTIONS = frozenset(["t", "s", "m", "re", "ve", "ll", "d"])
_FRENCH_ELISIONS = frozenset(["c", "j", "qu", "n", "s", "d", "m", "t", "jusqu", "lorsqu", "puisqu"])
_ITALIAN_ELISIONS = frozenset(
    ["dov", "com", "un", "dell", "nell", "all", "sull", "dall", "quest", "quell", "po"]
)

_IGNORED = (
    ("http", re.compile(r"https?://\S+", re.IGNORECASE)),
    ("www.", re.compile(r"www\.\S+", re.IGNORECASE)),
    ("@", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (">", re.compile(r"^[ \t]*>.*$", re.MULTILINE)),
)
# Words, with one elision or contraction kept whole: "c'est", "don't", "po'".
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]*)?")


def _weights() -> dict[str, dict[str, float]]:
    languages_of: dict[str, set[str]] = defaultdict(set)
    for language, words in _WORDS.items():
        for word in words.split():
            languages_of[word].add(language)
    return {
        word: {language: 1.0 / len(languages) for language in languages}
        for word, languages in languages_of.items()
    }


_WEIGHTS = _weights()
MIN_CONFIDENCE = 0.2


def _cleaned(text: str) -> str:
    """Lowercase text without URLs, email addresses and quoted lines."""
    for marker, pattern in _IGNORED:
        if marker in text:
            text = pattern.sub(" ", text)
    return text.replace("’", "'").lower()


_EN_HINT, _FR_HINT, _IT_HINT, _L_HINT = (
    {"en": 1.0},
    {"fr": 1.0},
    {"it": 1.0},
    {"fr": 0.3, "it": 0.3},
)


def _elision_hint(left: str, right: str) -> dict[str, float] | None:
    if right in _ENGLISH_CONTRACTIONS and left not in _FRENCH_ELISIONS:
        return _EN_HINT  # don't, it's, I'm, we're (not "qu'il", "s'il")
    if left in _ITALIAN_ELISIONS or (left == "c" and right in ("è", "era")):
        return _IT_HINT
    if left in _FRENCH_ELISIONS:
        return _FR_HINT
    if left == "l":
        return _L_HINT
    return None


@lru_cache(maxsize=8192)
def _word(word: str) -> tuple[dict[str, float] | None, tuple[dict[str, float], ...]]:
    """A lowercase word's weights per language and the hints of its spelling."""
    hints = [
        weights
        for endings, length, weights in _ENDING_HINTS
        if len(word) >= length and word.endswith(endings)
    ]
    if len(word) > 3 and any(pair in word[1:-1] for pair in _DUTCH_PAIRS):
        hints.append(_DUTCH_HINT)
    return _WEIGHTS.get(word if word.isascii() else _fold(word)), tuple(hints)


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence 0..1), or ("", 0.0) when too short or ambiguous."""
    text = _cleaned(text)
    tokens = _TOKEN.findall(text)
    if not tokens:
        return "", 0.0
    word_scores: dict[str, float] = defaultdict(float)
    hints: list[dict[str, float]] = []
    words = known = 0
    for token in tokens:
        parts = token.split("'")
        if len(parts) == 2:
            hint = _elision_hint(*parts)
            if hint is not None:
                hints.append(hint)
        for part in parts:
            if not part:
                continue
            words += 1
            weights, spelling = _word(part)
            hints += spelling
            if weights:
                known += 1
                for language, weight in weights.items():
                    word_scores[language] += weight
    if not word_scores:
        return "", 0.0
    if not text.isascii():
        characters = set(text)
        hints += [weights for chars, weights in _CHAR_HINTS if not chars.isdisjoint(characters)]
    scores: dict[str, float] = defaultdict(float, word_scores)
    # Each kind of hint counts once: a long text is judged on its words.
    for hint in {id(h): h for h in hints}.values():
        for language, weight in hint.items():
            scores[language] += weight
    # A language needs a word of its own to win, not only characters.
    ranked = sorted(
        ((score, language) for language, score in scores.items() if word_scores[language] > 0),
        reverse=True,
    )
    best, language = ranked[0]
    runner_up = max((s for lang, s in scores.items() if lang != language), default=0.0)
    lead = (best - runner_up) / best
    evidence = 1 - math.exp(-best / 2)  # 1 word ≈ 0.4, 3 words ≈ 0.78, 6 words ≈ 0.95
    coverage = min(1.0, 0.5 + known / words)  # mostly unknown words: maybe another one
    confidence = round(lead * evidence * coverage, 3)
    if confidence < MIN_CONFIDENCE:
        return "", 0.0
    return language, confidence


def name(code: str) -> str:
    """English name of a language code ("fr" → "French"); the code itself if unknown."""
    return NAMES.get(code, code)
