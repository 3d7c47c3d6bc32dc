"""Conversation counts per (inbox, status, assignee), kept in `ConversationTally` rows.

`Conversation.save()` reports each move (created, or its inbox, status or assignee changed)
here. Inside `writing()` the moves are buffered and applied at the end of the block, just
before the events, in key order: the tally rows stay locked only for the end of the
transaction and two writers always lock them in the same order. Outside `writing()` they are
applied at once, in whatever transaction the caller has.

`recount()` rebuilds every row from the conversations (after a bulk load, or if a write
ever bypassed `save()`); `manage.py recount_conversations` runs it.
"""

from __future__ import annotations

from collections import Counter

from django.db import DEFAULT_DB_ALIAS, connections, transaction

Key = tuple[int, str, int]  # (inbox id, status, assignee id or 0)


def stored_key(conversation_id: int) -> Key | None:
    from inbox.models import Conversation

    row = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("inbox_id", "status", "assignee_id")
        .first()
    )
    return None if row is None else (row[0], row[1], row[2] or 0)


def moved(before: Key | None, after: Key | None) -> None:
    """One conversation left `before` (None: it is new) for `after` (None: deleted)."""
    from inbox.events import buffered_tallies

    changes = [(k, d) for k, d in ((before, -1), (after, 1)) if k is not None]
    pending = buffered_tallies()
    if pending is None:
        apply(changes)
    else:
        pending.extend(changes)


def apply(changes: list[tuple[Key, int]]) -> None:
    totals: Counter[Key] = Counter()
    for key, delta in changes:
        totals[key] += delta
    rows = [(key, delta) for key, delta in sorted(totals.items()) if delta]
    if not rows:
        return
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        for (inbox_id, status, assignee_key), delta in rows:
            cursor.execute(
                "INSERT INTO inbox_conversationtally (inbox_id, status, assignee_key, count) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (inbox_id, status, assignee_key) "
                "DO UPDATE SET count = inbox_conversationtally.count + EXCLUDED.count",
                [inbox_id, status, assignee_key, delta],
            )


def recount() -> int:
    """Rebuild the tallies from the conversations. Returns the number of rows written."""
    from django.db.models import Count, Value
    from django.db.models.functions import Coalesce

    from inbox.models import Conversation, ConversationTally

    with transaction.atomic():
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor == "postgresql":
            # Writers update tallies before they commit: they wait for this, and whatever
            # committed before the lock is in the count below.
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE inbox_conversationtally IN EXCLUSIVE MODE")
        ConversationTally.objects.all().delete()
        groups = (
            Conversation.objects.order_by()
            .values("inbox_id", "status")
            .annotate(key=Coalesce("assignee_id", Value(0)), n=Count("id"))
        )
        rows = [
            ConversationTally(
                inbox_id=g["inbox_id"], status=g["status"], assignee_key=g["key"], count=g["n"]
            )
            for g in groups
        ]
        ConversationTally.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
