"""Canned-reply retrieval with BM25: the customer's words against each canned reply's title,
body, tags and example questions (the examples count double: they are how customers ask).
Offline, no model; the index is rebuilt when the canned replies change."""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass

from inbox.drafts.engines import DraftContext, Suggestion

K1, B = 1.2, 0.75
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that say nothing about what is asked, in the languages we see most.
STOPWORDS = frozenset(
    " ".join(
        [
            "a an and are as at be but by can could do does for from have hello hi how i if in",
            "is it its me my no not of on or our please so that the their them there this to",
            "was we what when where which who why will with would you your thanks thank regards",
            "dear le la les un une des de du et est en je il elle nous vous mon ma mes pour pas",
            "que qui bonjour merci el los las una y es por para hola gracias der die das und",
            "ist ich nicht mit hallo danke all has had much now were just get got also any some",
            "one very been did am im ive ill id its thats youre were theyre dont cant wont ok",
            "re fw fwd aw wg tr sv",
        ]
    ).split()
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


CONTRACTION = re.compile(r"(?<=[^\W_])['’](?=[^\W_])")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|tr|sv|rv|antw)\s*(\[\d+\])?\s*:\s*)+", re.I)


# Words customers use for the same thing, across our languages, meet on one token (after
# folding and stemming): a French "facture" finds an English invoice reply (which is then
# marked as another language), "bill" finds "invoice".
_CONCEPTS = {
    "invoice": "bill receipt facture factura rechnung quittung recibo",
    "refund": "reimburs reimbursement remboursement rembourser reembolso erstattung "
    "ruckerstattung rueckerstattung",
    "parcel": "package packet paquet coli colis paquete paket shipment envoi",
    "order": "commande pedido bestellung",
    "password": "contrasena passwort kennwort mdp",
    "cancel": "annuler annulation cancelar cancelacion kundigen kundigung stornieren storno "
    "cancellation",
    "subscription": "abonnement suscripcion abo membership",
    "return": "renvoyer retourner retour devolver devolucion rucksendung retoure zurucksenden",
    "login": "log connecter connexion anmelden anmeldung sign signin",
    "account": "compte cuenta konto",
    "delivery": "livraison entrega lieferung",
    "tracking": "track suivi seguimiento sendungsverfolgung",
    "gift": "voucher gutschein cadeau regalo",
    "damaged": "broken cassé casse roto rota kaputt beschadigt defect defective",
}
CONCEPTS = {word: concept for concept, words in _CONCEPTS.items() for word in words.split()}


def tokens(text: str) -> list[str]:
    # "we're" and "don't" stay whole (then stopwords), not "re" and "t".
    folded = CONTRACTION.sub("", _fold(text))
    words = [w for w in WORD.findall(folded) if w not in STOPWORDS and len(w) > 1]
    # A light stemmer: plural and -ing/-ed forms meet ("returns", "returned" → "return").
    out = []
    for w in words:
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        out.append(CONCEPTS.get(w, w))
    return out


@dataclass
class _Index:
    key: tuple[int, str]
    ids: list[int]
    docs: list[Counter[str]]
    lengths: list[int]
    average: float
    df: Counter[str]
    postings: dict[str, list[tuple[int, int]]]  # word → (position, term frequency)


_cache: dict[str, _Index] = {}
_lock = threading.Lock()


def _document(reply: object) -> Counter[str]:
    parts = [
        getattr(reply, "title", ""),
        " ".join(getattr(reply, "tags", []) or []),
        getattr(reply, "body", ""),
    ]
    counts = Counter(tokens(" ".join(parts)))
    for example in getattr(reply, "examples", []) or []:
        for word in tokens(example):
            counts[word] += 2
    return counts


def _index() -> _Index:
    from django.db.models import Count, Max

    from inbox.models import CannedReply

    stats = CannedReply.objects.aggregate(count=Count("id"), n=Max("id"), changed=Max("updated_at"))
    key = (stats["count"], f"{stats['n']}:{stats['changed']}")
    with _lock:
        cached = _cache.get("all")
        if cached is not None and cached.key == key:
            return cached
    rows = list(CannedReply.objects.only("id", "title", "body", "tags", "examples"))
    docs = [_document(r) for r in rows]
    lengths = [sum(d.values()) for d in docs]
    df: Counter[str] = Counter()
    postings: dict[str, list[tuple[int, int]]] = {}
    for position, d in enumerate(docs):
        df.update(d.keys())
        for word, tf in d.items():
            postings.setdefault(word, []).append((position, tf))
    index = _Index(
        key=key,
        ids=[r.pk for r in rows],
        docs=docs,
        lengths=lengths,
        average=(sum(lengths) / len(lengths)) if lengths else 0.0,
        df=df,
        postings=postings,
    )
    with _lock:
        _cache["all"] = index
    return index


def query_text(subject: str, text: str) -> str:
    """What to match: the customer's words, and the subject unless it is a reply's
    (“Re: Payment failed” names the old thread, not the new question)."""
    if not subject.strip() or REPLY_PREFIX.match(subject):
        return text
    return f"{subject} {text}"


@dataclass(frozen=True)
class Match:
    id: int
    score: float  # BM25
    evidence: float  # the weight of the distinct words matched (log(1 + N/df) each)
    words: int  # how many distinct words matched


def evidence_weight(n: int, df: int) -> float:
    return math.log(1 + n / df)


def rank(query: str, allowed: set[int] | None = None) -> list[Match]:
    """The canned replies (of `allowed`, when given) that share words with the query, best
    first."""
    index = _index()
    words = set(tokens(query))
    if not words or not index.docs:
        return []
    n = len(index.docs)
    average = index.average or 1
    totals: dict[int, list[float]] = {}  # position → [score, evidence, words]
    for word in words:
        df = index.df.get(word, 0)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        weight = evidence_weight(n, df)
        for position, tf in index.postings[word]:
            if allowed is not None and index.ids[position] not in allowed:
                continue
            length = index.lengths[position] or 1
            entry = totals.get(position)
            if entry is None:
                entry = totals[position] = [0.0, 0.0, 0]
            entry[0] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
            entry[1] += weight
            entry[2] += 1
    found = [Match(index.ids[p], e[0], e[1], int(e[2])) for p, e in totals.items()]
    found.sort(key=lambda m: -m.score)
    return found


# Same language as the customer: a little ahead; another language: a little behind (and
# the agent is told, inbox/drafts/present.py).
SAME_LANGUAGE, OTHER_LANGUAGE = 1.15, 0.8
CANDIDATES = 300  # best matches checked for the agent's access (others' personal replies
# and other teams' replies must not crowd out the usable ones)


EVIDENCE_SATURATION = 4.0
ONE_WORD = 0.6  # a single shared word is weak evidence, however rare


def confidence(match: Match, best: float) -> float:
    """0..1: how much evidence the match has (the distinct words shared, rarer words
    weighing more; saturating; one word alone discounted), and how it compares with the
    best match (BM25)."""
    strength = match.evidence / (match.evidence + EVIDENCE_SATURATION)
    if match.words < 2:
        strength *= ONE_WORD
    return strength * (match.score / best) ** 0.5 if best else 0.0


def usable_languages(context: DraftContext, ids: list[int]) -> dict[int, str]:
    """Of `ids`, the canned replies this agent (or, in the background, any agent of the
    inbox) may use, with their language: one query over a few ids, not the whole library."""
    from inbox.queries.canned import usable_canned_replies

    usable = usable_canned_replies(context.agent, inbox_id=context.conversation.inbox_id)
    return dict(usable.filter(pk__in=ids).values_list("id", "language"))


def language_factor(customer: str, reply: str) -> float:
    """The customer's language a little ahead, another language a little behind."""
    if not customer or not reply:
        return 1.0
    return SAME_LANGUAGE if reply == customer else OTHER_LANGUAGE


class CannedReplyRanker:
    """Engine: the canned replies whose words best match the customer's."""

    name = "canned"
    slow = False

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]:
        from inbox.models import CannedReply

        ranked = rank(query_text(context.subject, context.text))[:CANDIDATES]
        if not ranked:
            return []
        languages = usable_languages(context, [m.id for m in ranked])
        ranked = [m for m in ranked if m.id in languages]
        if not ranked:
            return []
        adjusted = []
        for match in ranked[: limit * 4]:
            factor = language_factor(context.language, languages.get(match.id) or "")
            if factor != 1.0:
                match = Match(match.id, match.score * factor, match.evidence, match.words)
            adjusted.append(match)
        adjusted.sort(key=lambda m: -m.score)
        adjusted = adjusted[:limit]
        best = adjusted[0].score
        replies = CannedReply.objects.in_bulk([m.id for m in adjusted])
        return [
            Suggestion(
                template=replies[m.id].body,
                score=round(confidence(m, best), 3),
                engine=self.name,
                reason=f"Matches canned reply “{replies[m.id].title}”",
                canned_reply_id=m.id,
                language=replies[m.id].language,
            )
            for m in adjusted
        ]
