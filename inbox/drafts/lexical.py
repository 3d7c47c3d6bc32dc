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

from inbox import canned
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
            "ist ich nicht mit hallo danke",
        ]
    ).split()
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    words = [w for w in WORD.findall(_fold(text)) if w not in STOPWORDS and len(w) > 1]
    # A light stemmer: plural and -ing/-ed forms meet ("returns", "returned" → "return").
    out = []
    for w in words:
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 3 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        out.append(w)
    return out


@dataclass
class _Index:
    key: tuple[int, str]
    ids: list[int]
    docs: list[Counter[str]]
    lengths: list[int]
    average: float
    df: Counter[str]


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
    from django.db.models import Max

    from inbox.models import CannedReply

    stats = CannedReply.objects.aggregate(n=Max("id"), changed=Max("updated_at"))
    key = (CannedReply.objects.count(), f"{stats['n']}:{stats['changed']}")
    with _lock:
        cached = _cache.get("all")
        if cached is not None and cached.key == key:
            return cached
    rows = list(CannedReply.objects.only("id", "title", "body", "tags", "examples"))
    docs = [_document(r) for r in rows]
    lengths = [sum(d.values()) for d in docs]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    index = _Index(
        key=key,
        ids=[r.pk for r in rows],
        docs=docs,
        lengths=lengths,
        average=(sum(lengths) / len(lengths)) if lengths else 0.0,
        df=df,
    )
    with _lock:
        _cache["all"] = index
    return index


def rank(query: str, allowed: set[int]) -> list[tuple[int, float]]:
    """(canned reply id, BM25 score) of the allowed replies, best first."""
    index = _index()
    words = tokens(query)
    if not words or not index.docs:
        return []
    n = len(index.docs)
    scores = []
    for position, doc in enumerate(index.docs):
        reply_id = index.ids[position]
        if reply_id not in allowed:
            continue
        score = 0.0
        length = index.lengths[position] or 1
        for word in set(words):
            tf = doc.get(word, 0)
            if not tf:
                continue
            idf = math.log(1 + (n - index.df[word] + 0.5) / (index.df[word] + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / (index.average or 1)))
        if score > 0:
            scores.append((reply_id, score))
    scores.sort(key=lambda pair: -pair[1])
    return scores


class CannedReplyRanker:
    """Engine: the canned replies whose words best match the customer's."""

    name = "canned"

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]:
        from inbox.models import CannedReply
        from inbox.queries.canned import visible_canned_replies

        conversation = context.conversation
        allowed = set(
            visible_canned_replies(context.agent, inbox_id=conversation.inbox_id).values_list(
                "id", flat=True
            )
        )
        ranked = rank(f"{context.subject} {context.text}", allowed)[:limit]
        if not ranked:
            return []
        best = ranked[0][1]
        replies = CannedReply.objects.in_bulk([reply_id for reply_id, _ in ranked])
        filled = canned.values(
            contact=conversation.contact,
            agent=context.agent,
            inbox=conversation.inbox,
            conversation=conversation,
        )
        out = []
        for reply_id, score in ranked:
            reply = replies[reply_id]
            # Confidence: how strong the match is (saturating), and how clearly it beats
            # the others (relative to the best).
            confidence = (score / (score + 4.0)) * (score / best) ** 0.5
            out.append(
                Suggestion(
                    text=canned.render(reply.body, filled),
                    score=round(confidence, 3),
                    engine=self.name,
                    reason=f"Matches canned reply “{reply.title}”",
                    canned_reply_id=reply.pk,
                )
            )
        return out
