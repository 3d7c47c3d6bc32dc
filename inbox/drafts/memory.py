"""Team memory: when a conversation is resolved, each agent reply and the customer words it
answered are remembered (`ReplyMemory`), with the customer's name, address and numbers in
the reply replaced by variables or placeholders. A new customer message is matched (BM25)
against remembered questions of the same inbox, and the best answers come back as drafts:
“Similar to Ben's reply in #1234”.

The index lives in each process and grows by the rows added since it was built (one
indexed query per suggestion); every CHECK_SECONDS an index-only count tells whether rows
were removed, and only then is it rebuilt. Common words (in more than COMMON_SHARE of
questions) are skipped when scoring: their weight is small and their postings are long
(bench/drafts.py)."""

from __future__ import annotations

import math
import re
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from inbox.canned import escape_variables
from inbox.drafts.engines import DraftContext, Suggestion
from inbox.drafts.lexical import K1, B, Match, confidence, evidence_weight, query_text, tokens

CHECK_SECONDS = 60  # how often to look for removed rows (a rebuild only then)
COMMON_SHARE = 0.05
BATCH = 5000
QUESTION_CHARS = 2000
MEMORY_WEIGHT = 0.9  # a past reply is less curated than a canned one


@dataclass
class _Index:
    built_at: float = 0.0
    last_id: int = 0
    ids: array = field(default_factory=lambda: array("q"))  # ReplyMemory ids
    inboxes: array = field(default_factory=lambda: array("q"))
    lengths: array = field(default_factory=lambda: array("I"))
    total_length: int = 0
    postings: dict[str, tuple[array, array]] = field(default_factory=dict)  # docs, tfs

    def add(self, row_id: int, inbox_id: int, question: str) -> None:
        position = len(self.ids)
        counts = Counter(tokens(question[:QUESTION_CHARS]))
        self.ids.append(row_id)
        self.inboxes.append(inbox_id)
        length = sum(counts.values())
        self.lengths.append(length)
        self.total_length += length
        for word, tf in counts.items():
            docs_tfs = self.postings.get(word)
            if docs_tfs is None:
                docs_tfs = self.postings[word] = (array("I"), array("H"))
            docs_tfs[0].append(position)
            docs_tfs[1].append(min(tf, 65535))
        self.last_id = max(self.last_id, row_id)

    def search(self, words: list[str], inbox_id: int, limit: int) -> list[Match]:
        """The best remembered questions of the inbox (Match.id: the ReplyMemory id)."""
        n = len(self.ids)
        if not n:
            return []
        average = self.total_length / n or 1.0
        common = max(50, int(n * COMMON_SHARE))
        scores: dict[int, list[float]] = {}  # doc → [score, evidence, words]
        inboxes, lengths = self.inboxes, self.lengths
        for word in set(words):
            found = self.postings.get(word)
            if found is None or len(found[0]) > common:
                continue
            docs, tfs = found
            df = len(docs)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            weight = evidence_weight(n, df)
            for doc, tf in zip(docs, tfs, strict=True):
                if inboxes[doc] != inbox_id:
                    continue
                norm = K1 * (1 - B + B * lengths[doc] / average)
                entry = scores.get(doc)
                if entry is None:
                    entry = scores[doc] = [0.0, 0.0, 0]
                entry[0] += idf * tf * (K1 + 1) / (tf + norm)
                entry[1] += weight
                entry[2] += 1
        best = sorted(scores.items(), key=lambda pair: -pair[1][0])[:limit]
        return [Match(self.ids[doc], e[0], e[1], int(e[2])) for doc, e in best]


_index = _Index()
_lock = threading.Lock()


def _fresh_index() -> _Index:
    """The process's index with every row added since it was last brought up to date."""
    global _index
    from inbox.models import ReplyMemory

    with _lock:
        if time.monotonic() - _index.built_at > CHECK_SECONDS:
            # Rows removed since (a conversation deleted): start again. An index-only count.
            kept = ReplyMemory.objects.filter(id__lte=_index.last_id).count()
            if kept != len(_index.ids):
                _index = _Index()
            _index.built_at = time.monotonic()
        index = _index
        while True:
            rows = list(
                ReplyMemory.objects.filter(id__gt=index.last_id)
                .order_by("id")
                .values_list("id", "inbox_id", "question")[:BATCH]
            )
            for row_id, inbox_id, question in rows:
                index.add(row_id, inbox_id, question)
            if len(rows) < BATCH:
                return index


def _behind(index: _Index) -> bool:
    """More rows to add than one batch (a cold or long-idle process)?"""
    from inbox.models import ReplyMemory

    return (
        ReplyMemory.objects.filter(id__gt=index.last_id).order_by("id")[BATCH : BATCH + 1].exists()
    )


_warming: threading.Thread | None = None


def _warm_in_background() -> None:
    """Build the index in a thread of this process, so that a web request never waits for
    it (about 9 s at 100,000 rows); the next request finds it ready."""
    global _warming
    with _lock:
        if _warming is not None and _warming.is_alive():
            return

        def build() -> None:
            from django.db import connection

            try:
                _fresh_index()
            finally:
                connection.close()

        _warming = threading.Thread(target=build, name="team-memory-index", daemon=True)
        _warming.start()


def forget_index() -> None:
    """Start from scratch on the next suggestion (tests; after a bulk delete)."""
    global _index
    with _lock:
        _index = _Index()


class TeamMemory:
    """Engine: answers agents gave to similar questions in this inbox."""

    name = "memory"
    slow = False

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]:
        from inbox.models import ReplyMemory

        words = tokens(query_text(context.subject, context.text))
        if not words:
            return []
        conversation = context.conversation
        if context.interactive:
            # In a web request: the index as it is; bringing it up to date (new rows, or a
            # rebuild after deletions) happens in a thread of this process.
            index = _index
            stale = time.monotonic() - index.built_at > CHECK_SECONDS
            if stale or _behind(index):
                _warm_in_background()
            if not index.ids:
                return []
        else:
            index = _fresh_index()
        ranked = index.search(words, conversation.inbox_id, limit * 3)
        if not ranked:
            return []
        rows = ReplyMemory.objects.select_related("conversation", "agent").in_bulk(
            [match.id for match in ranked]
        )
        best = ranked[0].score
        out: list[Suggestion] = []
        seen: set[str] = set()
        for match in ranked:
            row = rows.get(match.id)
            if row is None or row.conversation_id == conversation.pk:
                continue
            key = re.sub(r"\W+", " ", row.answer.lower()).strip()
            if key in seen:
                continue  # the same answer, given many times: once is enough
            seen.add(key)
            who = f"{row.agent.name}'s" if row.agent else "a"
            out.append(
                Suggestion(
                    template=row.answer,
                    score=round(confidence(match, best) * MEMORY_WEIGHT, 3),
                    engine=self.name,
                    reason=f"Similar to {who} reply in #{row.conversation.number}",
                    extra={"memory_id": row.pk, "conversation_id": row.conversation_id},
                )
            )
            if len(out) == limit:
                break
        return out


# Remembering ------------------------------------------------------------------------

# Order numbers, tracking codes, IBANs, phone numbers: 4+ characters with a digit, and runs
# of them ("FR76 3000 6000 …" is one placeholder).
PHONE = re.compile(r"(?<![\w#])\+?\d(?:[\s().-]*\d){6,}(?!\w)")
NUMBER = re.compile(r"(?<![\w#{])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{4,}(?![\w}])")
NUMBER_RUN = re.compile(r"\[number\](?:[ .-]*\[number\]|[ .-]+\d{1,3}(?!\w))+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def _word(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")


def adapt(answer: str, *, contact: Any, agent: Any, conversation: Any) -> str:
    """An agent's reply made reusable: the customer's names and address, the agent's name
    and the conversation number become variables; other long numbers (orders, tracking,
    phones) and addresses become placeholders the next agent must fill."""
    text = escape_variables(answer)  # never a variable by accident
    names: list[tuple[str, str]] = []
    for person, full, first in (
        (contact, "{{contact.name}}", "{{contact.first_name|there}}"),
        (agent, "{{agent.name}}", "{{agent.first_name}}"),
    ):
        if person is None or not person.name.strip():
            continue
        parts = person.name.split()
        names.append((person.name.strip(), full))
        names.append((parts[0], first))
        # A surname alone ("Mr Turner") is the person too; as written or in capitals.
        names.extend((part, "[name]") for part in parts[1:] if len(part) > 2)
    names += [(value.upper(), variable) for value, variable in names if len(value) > 2]
    if contact is not None and contact.email:
        text = re.compile(re.escape(contact.email), re.IGNORECASE).sub("{{contact.email}}", text)
    text = EMAIL.sub("[email address]", text)
    for value, variable in names:
        if len(value) > 1:
            text = _word(value).sub(variable, text)
    if conversation is not None:
        text = re.sub(rf"#{conversation.number}(?!\d)", "#{{conversation.number}}", text)
    text = PHONE.sub("[number]", text)
    return NUMBER_RUN.sub("[number]", NUMBER.sub("[number]", text))


def remember(conversation: Any) -> int:
    """Remember a resolved conversation's replies; returns how many were added."""
    from inbox.models import Message, ReplyMemory

    rows = list(
        Message.objects.filter(conversation=conversation, kind=Message.Kind.MESSAGE)
        .select_related("sender_user")
        .order_by("id")
    )
    memories = []
    asked: list[str] = []
    for message in rows:
        if message.direction == Message.Direction.INCOMING:
            email = (message.data or {}).get("email") or {}
            if not email.get("automated"):
                asked.append(email.get("new_text") or message.text)
            continue
        if message.sender_user is None or (message.data or {}).get("automated"):
            continue
        question = "\n".join(part for part in asked if part.strip()).strip()
        asked = []
        if not question or not message.text.strip():
            continue
        memories.append(
            ReplyMemory(
                inbox_id=conversation.inbox_id,
                conversation=conversation,
                answer_message=message,
                question=f"{conversation.subject}\n{question}"[:QUESTION_CHARS],
                answer=adapt(
                    message.text,
                    contact=conversation.contact,
                    agent=message.sender_user,
                    conversation=conversation,
                ),
                agent=message.sender_user,
                created_at=message.created_at,
            )
        )
    before = ReplyMemory.objects.filter(conversation=conversation).count()
    ReplyMemory.objects.bulk_create(memories, ignore_conflicts=True)
    return ReplyMemory.objects.filter(conversation=conversation).count() - before
