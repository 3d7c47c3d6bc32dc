"""Signals that a conversation needs a person rather than a suggested draft: the customer
asks for a human, is angry, is in a vulnerable situation, or uses a keyword an admin chose.

Everything works on folded text (lowercase, accents stripped, "ß" as "ss", typographic
apostrophes as plain ones), so patterns are written folded: "parler a quelqu'un" also
matches "Parler à quelqu'un" typed with accents. Precision comes first: phrases that really
say the thing ("passed away", "my card was stolen") rather than single words that often mean
something else ("died", "stolen"). Covered: English, French, Spanish and German, with the
common phrases of Portuguese, Italian and Dutch.

Speed: one regex of a few hundred alternatives tries each of them at every word of the
message (hundreds of µs). Phrases are therefore rules (leading words, rest of the pattern),
each alternative precompiled on its own, and tried only when its first word is in the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from inbox.drafts.lexical import _fold


def _norm(text: str) -> str:
    """Folded text: lowercase, without accents, "ß" as "ss", apostrophes as "'"."""
    if text.isascii():
        return text.lower()
    return _fold(text).replace("ß", "ss").replace("’", "'").replace("‘", "'")


_LEAD = re.compile(r"\w[\w' -]*")
_WORD = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"[\w-]")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
Rule = str | tuple[str, str]


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _words(folded: str) -> set[str]:
    return set(_WORD.findall(folded))


def _search_at_word_start(
    pattern: re.Pattern[str], text: str, word_char: re.Pattern[str]
) -> re.Match[str] | None:
    """The first match of `pattern` not preceded by a `word_char`. A lookbehind at the
    start of the pattern would do the same but hide its literal prefix from `re`, which
    then tries the pattern at every position (twenty times slower)."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        start = match.start()
        if start == 0 or not word_char.match(text, start - 1):
            return match
        position = start + 1
    return None


class _Phrases:
    """Precompiled rules: (lead, rest) where `lead` is literal alternatives separated by "|"
    ("talk|speak") and `rest` a regex continuing them; a lone string is a lead without rest.
    A space matches any whitespace; a match starts and ends at word boundaries (a hyphen
    belongs to the word: "human-readable" is not "human").

    Each alternative is its own regex starting with a literal (which `re` finds fast), tried
    only when the first word of the alternative is a word of the text (or, when `rest` may
    extend that word, "scam" + "(?:med)?", a substring of it)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by_word: dict[str, list[re.Pattern[str]]] = {}
        self._by_substring: list[tuple[str, re.Pattern[str]]] = []
        for rule in rules:
            lead, rest = (rule, "") if isinstance(rule, str) else rule
            for alternative in lead.split("|"):
                if not _LEAD.fullmatch(alternative):
                    raise ValueError(f"a lead is literal words: {alternative!r}")
                key = alternative.split(" ")[0].split("'")[0].split("-")[0]
                body = f"{alternative}{rest}".replace(" ", r"\s+")
                pattern = re.compile(rf"{body}(?![\w-])")
                # The text has the word `key` unless `rest` may go on with letters.
                if key != alternative or not rest or rest[0] in " ,":
                    self._by_word.setdefault(key, []).append(pattern)
                else:
                    self._by_substring.append((key, pattern))

    def _matches(self, folded: str, words: set[str]) -> Iterator[re.Match[str]]:
        patterns = [p for key in words & self._by_word.keys() for p in self._by_word[key]]
        patterns += [p for key, p in self._by_substring if key in folded]
        for pattern in patterns:
            match = _search_at_word_start(pattern, folded, _WORD_CHAR)
            if match is not None:
                yield match

    def search(self, folded: str, words: set[str] | None = None) -> re.Match[str] | None:
        """The earliest match in `folded` (already folded text; `words`: its words)."""
        matches = self._matches(folded, _words(folded) if words is None else words)
        return min(matches, key=lambda m: (m.start(), -m.end()), default=None)

    def found(self, folded: str, words: set[str] | None = None) -> bool:
        matches = self._matches(folded, _words(folded) if words is None else words)
        return next(matches, None) is not None


# --- Asking for a person --------------------------------------------------------------

_EN_PERSON = (
    r"(?:real |actual |live |human |genuine |proper |customer service |support )*"
    r"(?:human(?: being)?s?|person|people|someone|somebody|agent|representative|rep"
    r"|operator|staff(?: member)?|employee|adviser|advisor|manager|supervisor)"
)
_EN_DET = r"(?:(?:a|an|the|your|some|one of your|one of the) )?"
_EN_BOTS = (
    r" (?:automated |stupid |useless |your )?(?:(?:chat\s*)?bots?|robots?|automated (?:replies"
    r"|responses|answers|messages)|canned (?:replies|responses))"
)
_FR_PERSON = (
    r"(?:un |une |des |le |la |votre |vos )?(?:vrai |vraie |veritable )?"
    r"(?:(?:etre )?humains?|personne (?:reelle|physique|humaine)|vraie personne|quelqu'un"
    r"|quelqu un|conseill(?:er|ere)s?|agent|operat(?:eur|rice)|interlocut(?:eur|rice)"
    r"|responsable|employe|superieur)"
)
_FR_BOTS = r"(?:robots?|chatbots?|bots?|reponses automatiques)"
_ES_PERSON = (
    r"(?:un |una |el |la |su |algun |alguna )?(?:(?:ser )?humano|persona(?: real| de verdad"
    r"| humana)?|alguien|agente|asesora?|operadora?|representante|empleado|encargado"
    r"|supervisor|gerente|ejecutivo)"
)
_DE_PERSON = (
    r"(?:echten |richtigen |realen |menschlichen )?(?:menschen|mensch|person|mitarbeiter(?:in)?"
    r"|berater(?:in)?|ansprechpartner(?:in)?|kundenberater(?:in)?|sachbearbeiter(?:in)?"
    r"|agenten|vorgesetzten|jemandem|jemand)"
)

_ASKS_FOR_PERSON = _Phrases(
    [
        # English
        ("talk|speak|chat", rf"(?:ing)? (?:to|with) {_EN_DET}{_EN_PERSON}"),
        (
            "connect|transfer|put|pass|forward|escalate",
            rf"(?: me| this| us)?(?: through)? (?:to|with) {_EN_DET}{_EN_PERSON}",
        ),
        (
            "want|need|would like|i'd like|id like|we'd like|demand|request|get me|give me",
            r" (?:a |an |to )?(?:real |actual |live |human )*(?:human(?: being)?|person|agent"
            r"|representative|operator)(?! (?:number|id|code|who|that|which|to sign))",
        ),
        ("stop sending me|no more", _EN_BOTS),
        (
            "don't want|do not want|dont want",
            r"(?: to (?:talk|speak|chat) (?:to|with))?(?: a| an| the| this)?" + _EN_BOTS,
        ),
        (
            "sick of|tired of|fed up with|enough",
            r"(?: with)?(?: this| the| talking to)?(?: a)?" + _EN_BOTS,
        ),
        (
            "are you|is this|am i talking|am i speaking|am i chatting",
            r"(?: to| with)? (?:(?:a |an )?(?:bot|robot|machine|real person|human)|an ai)",
        ),
        (
            "human|real person|live agent|agent|representative|operator",
            r",? (?:please|pls|plz)",
        ),
        "live agent|human agent|real human",
        # French
        ("parler|discuter|echanger|communiquer", rf" (?:a|avec) {_FR_PERSON}"),
        ("mettre|mettez|mets|met", r"(?:-| )(?:moi|nous) en (?:relation|contact) avec"),
        ("passez|passe|passer", rf"(?:-| )(?:moi|nous) {_FR_PERSON}"),
        (
            "un|une",
            r" (?:vrai |vraie )?(?:conseill(?:er|ere)|humain|etre humain|personne reelle"
            r"|operat(?:eur|rice))(?! (?:m'a|m a|m'avait|a |avait|est |etait |m'est))",
        ),
        ("marre|assez", r" (?:de|des|du) " + _FR_BOTS),
        (
            "pas|plus|arretez|arrete",
            r" (?:de |des |un |les |vos |avec (?:un |les |vos )?)?" + _FR_BOTS,
        ),
        ("etes-vous|etes vous|es-tu|es tu|c'est", r" un (?:robot|bot)"),
        # Spanish
        ("hablar|conversar|chatear|comunicarme|hable|hablo", rf" con {_ES_PERSON}"),
        (
            "quiero|necesito|deseo|prefiero|exijo|pasame|paseme|comuniqueme|comunicame"
            "|transfierame|transfiereme|ponme|pongame",
            r" (?:con )?(?:un |una )?(?:(?:ser )?humano|persona real|persona de verdad|agente"
            r"|asesora?|operadora?|representante)",
        ),
        (
            "no quiero|no mas|basta de|harto de|harta de|cansado de|cansada de|deje de|dejen de",
            r" (?:hablar con )?(?:un |una |el |los |la |las )?(?:bots?|robots?|maquinas?"
            r"|respuestas automaticas)",
        ),
        ("eres|es usted|es esto", r" un (?:bot|robot)"),
        # German
        (
            "mit",
            rf" (?:einem |einer |einen |ihrem |ihrer |dem |der )?{_DE_PERSON}(?: \w+){{0,3}}?"
            r" (?:sprechen|reden|telefonieren|chatten|verbunden|verbinden)",
        ),
        ("einen|eine|einem", rf" {_DE_PERSON}(?: \w+){{0,2}}? sprechen"),
        "verbinden sie mich mit|verbinden sie mich bitte mit",
        ("echten|richtigen|realen|lebendigen", r" (?:menschen|person|mitarbeiter)"),
        (
            "kein|keine|keinen|nicht mit|schluss mit",
            r"(?: einem| dem| den)? (?:chat)?(?:bots?|automatischen antworten)",
        ),
        ("sind sie|bist du", r" ein (?:bot|roboter|chatbot|mensch)"),
        # Portuguese
        (
            "falar|conversar",
            r" com (?:um |uma |o |a |algum )?(?:atendente|(?:ser )?humano|pessoa(?: real"
            r"| de verdade)?|alguem|agente|operadora?|representante|funcionario|consultora?)",
        ),
        ("quero|preciso de", r" (?:um |uma )?(?:atendente|humano|pessoa real)"),
        "atendimento humano",
        # Italian
        (
            "parlare|parlo",
            r" con (?:un |una |un'|l')?(?:operat(?:ore|rice)|persona(?: reale| vera)?"
            r"|(?:essere )?umano|qualcuno|agente|consulente|addetto|responsabile)",
        ),
        ("voglio|vorrei", r" (?:un |una )?(?:operatore|persona reale|persona vera|essere umano)"),
        "operatore umano",
        # Dutch
        (
            "met",
            r" (?:een |de )?(?:echte |echt )?(?:mens|medewerker|persoon|adviseur|iemand)"
            r"(?: \w+){0,3}? (?:spreken|praten|chatten)",
        ),
        ("een|de", r" (?:echte )?(?:mens|medewerker|persoon) (?:\w+ )?spreken"),
    ]
)


def _original_span(text: str, start: int, end: int) -> str | None:
    """The slice of `text` that folds to folded[start:end], or None if folding does not
    map character by character (a character whose fold depends on its neighbours)."""
    position, begin = 0, None
    for index, char in enumerate(text):
        folded = _norm(char)
        if position == start and begin is None and folded:
            begin = index
        position += len(folded)
        if position >= end and begin is not None:
            return text[begin : index + 1]
    return None


def asks_for_person(text: str) -> str | None:
    """The customer's words asking for a human ("can I talk to an agent"), or None."""
    folded = _norm(text)
    match = _ASKS_FOR_PERSON.search(folded)
    if match is None:
        return None
    if text.isascii():  # folding kept every position
        return text[match.start() : match.end()]
    span = _original_span(text, match.start(), match.end())
    if span is not None and _norm(span) == match.group():
        return span
    return match.group()


# --- Sentiment -----------------------------------------------------------------------

# Folded words → valence, -3 (furious) .. +3 (delighted). A "*" ends a stem. Words that
# often mean something else are left out ("kind", "top", German "fast" = almost).
_LEXICON_TEXT = """
unacceptable -3 terrible -3 horrible -3 awful -3 worst -3 furious -3 outraged -3
disgusting -3 disgusted -3 appalling -3 appalled -3 livid -3 hate -3 hated -3 liar -3
shameful -2.5 ridiculous -2.5 pathetic -2.5 useless -2.5 incompetent -2.5 angry -2.5
crap -2.5 sucks -2.5 cheated -2.5 lied -2.5 shit -3 rubbish -2 nonsense -2 worse -2
disappoint* -2 frustrat* -2 annoy* -2 upset -2 unhappy -2 bad -2 mess -2 waste -2 wasted -2
joke -1 poor -1.5 broken -1.5 failed -1.5 failure -1.5 shame -1.5 sad -1.5 damn -1.5
complaint -1.5 complain -1.5 slow -1 late -1 delayed -1 wrong -1 lost -0.5 problem -0.5
problems -0.5 issue -0.3
thanks 2 thank 2 thx 1.5 great 3 excellent 3 amazing 3 awesome 3 fantastic 3 perfect 3
wonderful 3 brilliant 3 love 3 loved 3 lovely 2.5 happy 2.5 good 2 nice 2 glad 2 pleased 2
satisfied 2 helpful 2 appreciat* 2 dislike -2 resolved 1.5 solved 1.5 quick 1 super 2
inacceptable -3 inadmissible -3 scandaleu* -3 scandale -3 honteu* -3 horrible -3
affreu* -3 pire -3 furieu* -3 lamentable -3 catastroph* -3 insupportable -3 nul -2.5
nulle -2.5 minable -2.5 ridicule -2.5 degoute -2.5 colere -2.5 mecontent* -2.5
incompetent* -2.5 honte -2 enerve* -2 agace* -2 decu -2 decue -2 decevant* -2
deception -2 inutile -2 mauvais -2 mauvaise -2 marre -2 triste -1.5 lent -1 lente -1
retard -1 probleme -0.5 souci -0.5
merci 2 genial 3 excellente 3 parfait 3 parfaite 3 formidable 3 magnifique 3 adore 3
bravo 2.5 ravi 2.5 ravie 2.5 heureux 2.5 heureuse 2.5 content 1.5 contente 2 satisfait 2
satisfaite 2 efficace 2 aimable 2 sympa 2 remercie 2 agreable 2 aime 2 bien 1 bon 1
bonne 1 rapide 1
inaceptable -3 pesimo -3 pesima -3 peor -3 furios* -3 indignante -3 vergonzoso -3 asco -3
enfadad* -2.5 enojad* -2.5 ridiculo -2.5 verguenza -2.5 incompetente* -2.5 fatal -2.5
molest* -2 harto -2 harta -2 decepciona* -2 decepcion -2 frustrad* -2 inutil -2 malo -2 mala -2
lento -1 retraso -1 problema -0.5
gracias 2 excelente 3 perfecto 3 perfecta 3 maravillos* 3 fantastico 3 encantad* 2.5
feliz 2.5 contento 2 satisfech* 2 amable 2 agradezco 2 agradecid* 2 bueno 1.5 buena 1.5
util 1.5 rapido 1
inakzeptabel -3 unakzeptabel -3 unverschamt* -3 frechheit -3 katastroph* -3 schrecklich* -3
furchtbar* -3 schlechteste* -3 miserabel -3 wutend -3 skandal* -3 zumutung -3
lacherlich -2.5 inkompetent -2.5 unzufrieden -2.5 schlimm -2 schlecht* -2 mies -2 sauer -2
verargert -2 argerlich -2 arger -2 enttausch* -2 frustrier* -2 nutzlos -2 traurig -1.5
langsam -1 verspatung -1
danke 2 dank 1.5 toll 2.5 prima 2.5 klasse 2.5 spitze 2.5 ausgezeichnet 3 hervorragend 3
perfekt 3 wunderbar 3 begeistert 3 glucklich 2.5 zufrieden 2 freundlich 2 hilfreich 2
froh 2 dankbar 2 gut 1.5 schnell 1
pessimo -3 horrivel -3 inaceitavel -3 pior -3 decepcionad* -2 irritad* -2 ruim -2
absurdo -2.5 vergonha -2.5 obrigado 2 obrigada 2 otimo 3 perfeito 3 satisfeit* 2 bom 1.5
orribile -3 inaccettabile -3 peggiore -3 peggio -2 arrabbiat* -2.5 delus* -2 vergogna -2.5
schifo -3 grazie 2 ottimo 3 eccellente 3 perfetto 3 soddisfatt* 2 felice 2.5 buono 1.5
bene 1
verschrikkelijk -3 onacceptabel -3 slechtste -3 woedend -3 schandalig -3 boos -2.5
belachelijk -2.5 teleurgesteld -2 slecht -2 probleem -0.5 bedankt 2 geweldig 3
uitstekend 3 tevreden 2 blij 2 goed 1.5
"""


def _lexicon() -> tuple[dict[str, float], dict[str, float]]:
    words: dict[str, float] = {}
    stems: dict[str, float] = {}
    items = _LEXICON_TEXT.split()
    for word, value in zip(items[::2], items[1::2], strict=True):
        if word.endswith("*"):
            stems[word[:-1]] = float(value)
        else:
            words[word] = float(value)
    return words, stems


_WORDS, _STEMS = _lexicon()
_MIN_STEM = min(len(stem) for stem in _STEMS)

_NEGATIONS = _words_of(
    """not no never none nothing nobody neither nor without cannot cant dont doesnt didnt
    isnt wasnt arent werent wont wouldnt couldnt shouldnt havent hasnt hadnt aint pas
    jamais rien aucun aucune ni sans nunca jamas sin tampoco nada ningun ninguna nicht
    kein keine keinen keinem keiner nie niemals ohne nichts nao nem sem non senza
    nessun nessuno niente niet geen nooit zonder"""
)
# Amplify the next sentiment word (within two words): "very", "extremely", "absolutely".
_BOOSTERS = _words_of(
    """very really so extremely absolutely totally completely utterly incredibly super
    truly seriously highly deeply most too such tres vraiment trop extremement absolument
    totalement completement tellement hyper particulierement muy realmente totalmente
    completamente absolutamente extremadamente tan sumamente demasiado sehr wirklich total
    absolut extrem vollig komplett unglaublich echt besonders ausserst muito
    extremamente tao molto davvero veramente assolutamente estremamente cosi troppo zeer
    erg heel totaal helemaal extreem ontzettend zo vielen muchas many"""
)
# Amplify the previous sentiment word: "thanks so much", "merci beaucoup".
_AFTER_BOOSTERS = _words_of("much lot beaucoup mucho mille")
_DAMPENERS = _words_of(
    "slightly somewhat fairly bit little peu poco etwas bisschen wenig pouco beetje"
)
# Words before "but" count half, words after it one and a half times.
_BUT = _words_of("but however mais cependant pero aber doch jedoch mas ma maar")
_NEGATION_FACTOR = -0.6
_BOOST, _DAMPEN, _CAPS = 1.5, 0.5, 1.5
_ALPHA = 8.0  # normalisation: score / sqrt(score² + alpha)

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[.!?;:]")
_PUNCTUATION = frozenset(".!?;:")
# "don't", "isn't", …: folded without the apostrophe, a verb followed by "nt".
_NT = _words_of("do does did is was are were wo would could should have has had ca ai")
# Formulas of politeness, not feelings: "Best regards", "Thanks in advance", "Cordialement".
_SIGNATURE_MARKERS = ("regards", "wishes", "advance", "avance", "cordial", "freundlichen")
_SIGNATURE_PHRASES = re.compile(
    r"\b(?:(?:best|kind|warm) (?:regards|wishes)|merci d['’]avance|thanks in advance"
    r"|cordialement|saludos cordiales|mit freundlichen gr(?:u|ü|ue)(?:ss|ß)en)\b",
    re.IGNORECASE,
)
_EMOJI = {
    "😡": -3.0,
    "🤬": -3.0,
    "😠": -2.5,
    "😤": -2.0,
    "😢": -2.0,
    "😭": -2.0,
    "😞": -2.0,
    "🙁": -1.5,
    "👎": -1.5,
    ":(": -1.5,
    ":-(": -1.5,
    "😊": 2.0,
    "😀": 2.0,
    "😃": 2.0,
    "😍": 3.0,
    "❤": 2.0,
    "👍": 1.5,
    "🙏": 1.5,
    "🙂": 1.0,
    ":)": 1.5,
    ":-)": 1.5,
}
_EMOJI_PATTERN = re.compile("|".join(re.escape(e) for e in sorted(_EMOJI, key=len, reverse=True)))


@lru_cache(maxsize=16384)
def _folded_token(token: str) -> str:
    return _norm(token).replace("'", "")


@lru_cache(maxsize=16384)
def _valence(word: str) -> float:
    """The lexicon value of a folded word: the word itself, else its longest listed stem."""
    value = _WORDS.get(word)
    if value is not None:
        return value
    for length in range(len(word), _MIN_STEM - 1, -1):
        value = _STEMS.get(word[:length])
        if value is not None:
            return value
    return 0.0


def _before(folded: list[str], index: int, size: int) -> list[str]:
    """Up to `size` words before `index`, nearest first, not crossing . ! ? ; :"""
    out = []
    for word in reversed(folded[max(0, index - size) : index]):
        if word in _PUNCTUATION:
            break
        out.append(word)
    return out


def _negates(word: str) -> bool:
    return word in _NEGATIONS or (word.endswith("nt") and word[:-2] in _NT)


def sentiment(text: str) -> float:
    """-1 (furious) .. 1 (delighted), about 0 for a calm question. A lexicon valence per
    word, turned around by a negation in the three words before it ("not happy", "pas
    content", "nicht zufrieden"), amplified by "very"/"extremely", by ALL CAPS and by "!";
    after "but" words count more than before it. Normalised like VADER: s / √(s² + 8)."""
    lowered = text.lower()
    if any(marker in lowered for marker in _SIGNATURE_MARKERS):
        text = _SIGNATURE_PHRASES.sub(" ", text)
    raw = _TOKEN.findall(text)
    folded = [_folded_token(token) for token in raw]
    valences = [_valence(word) for word in folded]
    but_at = max((i for i, word in enumerate(folded) if word in _BUT), default=-1)
    score = 0.0
    for index, value in enumerate(valences):
        if not value:
            continue
        word = folded[index]
        following = folded[index + 1 : index + 3]
        if word in _BOOSTERS and following and _valence(following[0]):
            continue  # "super happy": "super" boosts "happy", it is not counted itself
        before = _before(folded, index, 3)
        if any(w in _BOOSTERS for w in before[:2]):
            value *= _BOOST
        if any(w in _DAMPENERS for w in before[:2]):
            value *= _DAMPEN
        if (following[:1] and following[0] in _AFTER_BOOSTERS) or following[1:] == ["much"]:
            value *= _BOOST  # "thanks a lot", "thanks so much", "merci beaucoup"
        if len(raw[index]) > 1 and raw[index].isupper():
            value *= _CAPS
        if any(_negates(w) for w in before):
            value *= _NEGATION_FACTOR
        if but_at >= 0:
            value *= 1.5 if index > but_at else 0.5
        score += value
    if ":" in text or not text.isascii():
        score += sum(_EMOJI[e] for e in _EMOJI_PATTERN.findall(text))
    if score:
        score *= 1 + 0.15 * min(text.count("!"), 4)
    return round(score / math.sqrt(score * score + _ALPHA), 3)


def is_angry(text: str, threshold: float = -0.5) -> bool:
    """Whether the sentiment is at or below `threshold`."""
    return sentiment(text) <= threshold


# --- Vulnerable situations -----------------------------------------------------------

_EN_RELATION = (
    r"(?:mother|father|mum|mom|mam|dad|husband|wife|partner|spouse|son|daughter|child|baby"
    r"|brother|sister|grandmother|grandfather|grandma|grandpa|granny|nan|nana|uncle|aunt"
    r"|cousin|friend|fiance|fiancee|parents?|family member|loved one|father-in-law"
    r"|mother-in-law)"
)
_FR_RELATION = (
    r"(?:mere|pere|mari|femme|epoux|epouse|fils|fille|enfant|bebe|frere|soeur|sœur"
    r"|grand(?:-| )(?:mere|pere)|oncle|tante|cousine?|amie?|conjointe?|compagnon|compagne"
    r"|parents)"
)
_ES_RELATION = (
    r"(?:madre|padre|mama|papa|marido|esposo|esposa|mujer|hijo|hija|bebe|hermano|hermana"
    r"|abuelo|abuela|tio|tia|primo|prima|amigo|amiga|pareja)"
)
_DE_RELATION = (
    r"(?:mutter|vater|mama|papa|mann|ehemann|frau|ehefrau|partner(?:in)?|sohn|tochter|kind"
    r"|baby|bruder|schwester|oma|opa|grossmutter|grossvater|onkel|tante|freund(?:in)?"
    r"|eltern)"
)

_BEREAVEMENT: list[Rule] = [
    # English
    "passed away|bereaved|bereavement|funeral|condolences|deceased|death certificate|probate",
    ("widow", r"(?:ed|er|s)?"),
    ("executor of", r" (?:the|his|her|my) estate"),
    (
        "my|our",
        rf" (?:late )?{_EN_RELATION}(?: \w+)? (?:has |had |just |recently |sadly "
        r"|unfortunately )*(?:died|passed|is deceased|was killed)",
    ),
    ("my late", rf" {_EN_RELATION}"),
    ("death of my|death of our|lost my|lost our", rf" (?:\w+ )?{_EN_RELATION}(?!')"),
    # French
    ("decede", r"(?:e|s|es)?"),
    "deces|obseques|funerailles|enterrement|condoleances|veuf|veuve",
    (
        "mon|ma|mes|notre|nos",
        rf" {_FR_RELATION}(?: \w+){{0,2}}? (?:est (?:mort|morte|decedee?)|sont morts"
        r"|nous a quittes?|vient de (?:mourir|deceder|nous quitter)|a perdu la vie)",
    ),
    # Spanish
    ("falleci", r"(?:o|do|da|dos|miento)"),
    "ha fallecido|velorio|entierro|luto|viudo|viuda|defuncion|condolencias|en paz descanse",
    ("mi", rf" {_ES_RELATION} (?:\w+ )?(?:murio|ha muerto|se murio)"),
    # German
    ("verstorben|verstarb", r"\w*"),
    "todesfall|trauerfall|beerdigung|beisetzung|trauerfeier|sterbeurkunde|witwe|witwer|beileid",
    ("tod", r" (?:meines|meiner|unseres|unserer)"),
    (
        "mein|meine|unser|unsere",
        rf" {_DE_RELATION}(?: \w+){{0,3}}? (?:gestorben|verschieden)",
    ),
    # Portuguese, Italian, Dutch
    "faleceu|falecido|falecida|falecimento|enterro|viuvo|viuva|obito",
    "deceduto|deceduta|decesso|funerale|lutto|vedovo|vedova|defunto",
    "overleden|overlijden|begrafenis|uitvaart|weduwe|weduwnaar|condoleance",
]

_ILLNESS: list[Rule] = [
    # English
    ("hospital", r"(?:i[sz]ed)?"),
    ("chemo", r"(?:therapy)?"),
    "cancer|radiotherapy|intensive care|palliative|hospice|dementia|diagnosed with"
    "|heart attack|mental health|nursing home|care home",
    ("alzheimer", r"(?:'?s)?"),
    ("seriously|terminally|critically|gravely|very", r" (?:ill|sick)"),
    ("terminal", r" (?:illness|diagnosis)"),
    ("had a|suffered a", r" (?:stroke|heart attack)"),
    ("undergoing|had|recovering from", r" (?:major )?surgery"),
    # French
    ("hospitalise", r"e?"),
    ("chimio", r"(?:therapie)?"),
    "hopital|radiotherapie|maladie grave|reanimation|demence|crise cardiaque",
    ("gravement|tres|serieusement", r" malade"),
    ("soins", r" (?:intensifs|palliatifs)"),
    ("je suis|suis|est|tombe|tombee", r" (?:tres |gravement )?malade"),
    # Spanish
    ("hospitalizado|hospitalizada|quimio", r"\w*"),
    "radioterapia|enfermedad grave|terapia intensiva|infarto",
    ("gravemente|muy", r" enferm[oa]"),
    ("cuidados", r" (?:intensivos|paliativos)"),
    ("diagnosticado con|diagnosticada con", ""),
    # German
    "krankenhaus|klinik|spital|krebs|bestrahlung|schwerkrank|todkrank|intensivstation"
    "|diagnostiziert|demenz|hospiz|herzinfarkt|schlaganfall",
    ("chemotherapie|palliativ", r"\w*"),
    ("schwer|sehr", r" krank"),
    # Portuguese, Italian, Dutch
    "internado|internada|cancro|quimioterapia|gravemente doente|muito doente",
    "ospedale|ricoverato|ricoverata|tumore|chemioterapia|gravemente malato|gravemente malata",
    "ziekenhuis|kanker|chemokuur|ernstig ziek|heel ziek",
]

_FRAUD: list[Rule] = [
    # English
    ("scam", r"(?:med|mer|mers|s)?"),
    ("fraud", r"(?:ulent|ulently|ster|sters)?"),
    "phishing|identity theft|hacked|chargeback",
    (
        "stolen",
        r" (?:credit |debit |bank )?(?:card|identity|account|details|bank details)",
    ),
    (
        "card|identity|account|details|password",
        r" (?:was|has been|were|have been|got) (?:stolen|hacked|compromised|cloned)",
    ),
    (
        "someone|somebody",
        r" (?:has )?(?:used|accessed|hacked|took over|logged into|is using|stole|has stolen)"
        r" (?:my|our)",
    ),
    (
        "unauthorised|unauthorized",
        r" (?:charge|transaction|payment|purchase|access|use|order)s?",
    ),
    (
        "charge|transaction|payment|order|purchase",
        r"s? (?:that )?i (?:didn't|did not|never) (?:make|authori[sz]e|place|order)",
    ),
    (
        "i didn't|i did not|i never",
        r" (?:make|authori[sz]e|place) (?:this|these|that|the)"
        r" (?:order|payment|purchase|charge|transaction)s?",
    ),
    # French
    ("arnaque|escroc|fraude|piratage", r"\w*"),
    "frauduleux|frauduleuse|usurpation|hameconnage|piratage|on m'a pirate",
    ("compte|carte|mail|email|telephone", r" (?:a ete |est |s'est fait )?pirate(?:e|s)?"),
    ("carte", r" (?:bancaire )?(?:volee|piratee|clonee)"),
    ("vol de", r" (?:ma carte|mon identite|mes donnees)"),
    ("quelqu'un a", r" (?:utilise|pirate|vole|accede a) (?:mon|ma|mes)"),
    ("paiement|prelevement|achat", r"s? (?:non autorises?|frauduleux)"),
    # Spanish
    ("estafa", r"\w*"),
    ("fraudulento|fraudulenta", r"s?"),
    "suplantacion de identidad|tarjeta robada|hackeado|hackeada|hackearon|pirateado|pirateada",
    ("robo de", r" (?:identidad|tarjeta|datos)"),
    ("han robado|robaron", r" (?:la |mi )(?:tarjeta|cuenta|identidad)"),
    ("alguien", r" (?:ha )?(?:usado|accedido a|entrado en|utilizado) (?:a )?mi"),
    ("cargo|compra|pago", r"s? no autorizad[oa]s?"),
    # German ("betrug" alone is also "amounted to": "die Rechnung betrug 50 €")
    ("betrug", r"(?:sfall|sversuch|er|erin|erisch\w*)"),
    ("ein|das ist|ist|reiner|wegen|bei", r" betrug"),
    ("betrug", r" (?:melden|anzeigen|vor)"),
    "abzocke|betrogen|identitatsdiebstahl|gehackt",
    ("gestohlene", r" (?:karte|kreditkarte|identitat)"),
    ("karte|kreditkarte|konto|identitat", r" (?:wurde |ist )?(?:gestohlen|gehackt|missbraucht)"),
    (
        "jemand hat",
        r" (?:mein|meine|meinen) (?:\w+ )?(?:benutzt|verwendet|gehackt|missbraucht|gestohlen)",
    ),
    ("nicht autorisiert|unbefugt", r"\w*"),
    # Portuguese, Italian, Dutch
    "golpista|cartao roubado|cartao clonado|clonaram",
    ("cai|caiu", r" (?:num|em um) golpe"),
    "truffa|truffato|truffata|truffatore|frode|carta rubata|carta clonata|qualcuno ha usato il mio",
    "oplichting|opgelicht|oplichter|pas gestolen",
]

_HARDSHIP: list[Rule] = [
    # English ("can't pay with PayPal" is a technical problem, not hardship)
    ("can't|cannot|can not|unable to", r" afford"),
    (
        "can't|cannot|can not|unable to",
        r" pay(?! (?:with|by|via|using|online|through|on|in|at|because|as|since))",
    ),
    ("lost my", r" (?:job|income|work)"),
    "made redundant|laid off|unemployed|out of work|in debt|debt|debts|hardship|bankrupt"
    "|bankruptcy|food bank|on benefits|universal credit",
    ("debt collect", r"\w*"),
    ("financial", r" (?:hardship|difficulty|difficulties|problems|trouble)"),
    (
        "struggling",
        r" (?:financially|to pay|to make ends meet|with (?:money|bills|debt))",
    ),
    ("no money", r" (?:left|to)"),
    ("behind on|behind with", r" (?:my )?(?:payments|bills|rent)"),
    "evicted|eviction",
    # French
    (
        "ne",
        r" (?:peux|pourrai|parviens|pourrais) (?:pas|plus) (?:payer|regler|rembourser)"
        r"(?! (?:par|avec|en ligne|sur|via))",
    ),
    "pas les moyens|plus les moyens|licencie|licenciee|licenciement|au chomage|chomeur"
    "|chomeuse|dette|dettes|huissier|faillite",
    ("perdu mon", r" (?:emploi|travail|boulot)"),
    ("surendette", r"(?:e|ment)?"),
    ("difficultes", r" (?:financieres|a payer|pour payer)"),
    # Spanish
    ("no puedo|no podemos", r" pagar(?! (?:con|por|en linea|online|mediante))"),
    "no me alcanza|no tengo dinero|me despidieron|desempleado|desempleada|deuda|deudas"
    "|quiebra|bancarrota",
    ("perdi", r" (?:mi|el) (?:trabajo|empleo)"),
    ("dificultades|problemas", r" (?:economic|financier)[oa]s"),
    # German
    ("kann|konnen", r" (?:\w+ )?(?:mir |uns )?(?:\w+ )?nicht (?:mehr )?leisten"),
    ("kann|konnen", r" (?:die rechnung |das |es |sie )?nicht (?:mehr )?(?:be)?zahlen"),
    "arbeitslos|mir wurde gekundigt|schulden|zahlungsschwierigkeiten|insolvenz"
    "|privatinsolvenz|pleite|kein geld mehr|inkasso|burgergeld",
    ("job|arbeit|stelle|arbeitsplatz", r" verloren"),
    ("finanzielle", r" (?:schwierigkeiten|probleme|notlage)"),
    # Portuguese, Italian, Dutch
    ("nao posso|nao consigo", r" pagar(?! com)"),
    ("perdi", r" (?:o )?(?:meu )?emprego"),
    "desempregado|desempregada|divida|dividas|dificuldades financeiras|sem dinheiro",
    ("non posso|non riesco a", r" pagare(?! con)"),
    ("perso il", r" (?:mio )?lavoro"),
    "disoccupato|disoccupata|debiti|difficolta economiche|difficolta finanziarie|senza soldi",
    ("kan", r" (?:het |de rekening )?niet (?:meer )?betalen"),
    "baan kwijt|werkloos|financiele problemen|geldproblemen|geen geld meer",
]

_VULNERABILITY: list[tuple[str, _Phrases]] = [
    ("bereavement", _Phrases(_BEREAVEMENT)),
    ("illness", _Phrases(_ILLNESS)),
    ("fraud", _Phrases(_FRAUD)),
    ("financial hardship", _Phrases(_HARDSHIP)),
]
VULNERABILITY_CATEGORIES = tuple(category for category, _ in _VULNERABILITY)


def vulnerability(text: str) -> str | None:
    """The vulnerable situation the customer describes, or None. When several match, the
    first of bereavement, illness, fraud, financial hardship."""
    folded = _norm(text)
    words = _words(folded)
    for category, phrases in _VULNERABILITY:
        if phrases.found(folded, words):
            return category
    return None


# --- Admin keywords ------------------------------------------------------------------


@lru_cache(maxsize=256)
def _keyword_patterns(
    keywords: tuple[str, ...],
) -> tuple[tuple[str, re.Pattern[str], bool], ...]:
    """Each keyword (first spelling of its folded form) with its regex and whether the
    match must start a word: whole words, the last one as a prefix ("cancel" finds
    "cancelled"); a keyword without letters or digits ("?!") is matched anywhere."""
    patterns: list[tuple[str, re.Pattern[str], bool]] = []
    seen: set[str] = set()
    for keyword in keywords:
        folded = " ".join(_norm(keyword).split())
        if not folded or folded in seen:
            continue
        seen.add(folded)
        words = re.findall(r"[^\W_]+", folded)
        if words:
            body = r"[\W_]+".join(re.escape(word) for word in words)
            patterns.append((keyword, re.compile(body), True))
        else:
            patterns.append((keyword, re.compile(re.escape(folded)), False))
    return tuple(patterns)


def matching_keywords(text: str, keywords: list[str]) -> list[str]:
    """The admin's keywords found in `text`, as written and in the admin's order, once each.
    Case and accents do not matter; a keyword matches the start of a word ("cancel" finds
    "Cancellation", not "scancel"), and a phrase ("legal action") matches as a phrase."""
    patterns = _keyword_patterns(tuple(keywords))
    if not patterns:
        return []
    folded = _norm(text)
    return [
        keyword
        for keyword, pattern, word_start in patterns
        if (
            _search_at_word_start(pattern, folded, _LETTER_OR_DIGIT)
            if word_start
            else pattern.search(folded)
        )
        is not None
    ]
