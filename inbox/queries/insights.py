"""The balance between automation and people, in numbers: what happened to suggested drafts
(shown, used as is, used with edits, discarded) per inbox, engine and agent; the canned
replies most used, most edited and never used; conversations flagged for a person and why;
automated messages; and how fast customers got an answer with and without a suggestion.
Shown on /insights/, in the API (/api/v1/insights/) and as CSV."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from inbox.models import (
    CannedReply,
    DraftSuggestion,
    Inbox,
    Message,
    ReplyMetric,
    SuggestionView,
)

MAX_DAYS = 366
AGENT_COLUMNS = (
    "replies",
    "from_suggestion",
    "from_canned",
    "typed",
    "shown",
    "used",
    "edited",
    "discarded",
    "acceptance",
    "similarity",
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    inbox_ids: tuple[int, ...]
    # Every inbox there is: no inbox filter in the queries, so PostgreSQL can walk the
    # created_at indexes of the period instead of scanning every row of 50 inboxes.
    everything: bool = False

    def scope(self, prefix: str = "") -> dict[str, Any]:
        """Filter arguments for rows in the period (through `prefix`, e.g. "suggestion__")."""
        found: dict[str, Any] = {
            f"{prefix}created_at__gte": self.since,
            f"{prefix}created_at__lt": self.until,
        }
        if not self.everything:
            found[f"{prefix}inbox_id__in"] = self.inbox_ids
        return found

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))


def period(
    *, start: date | None, end: date | None, inbox_id: int | None, visible: list[int]
) -> Period:
    """The period asked for (default: the last 30 days), limited to inboxes in `visible`."""
    today = timezone.localdate()
    end = min(end or today, today + timedelta(days=1))
    start = start or end - timedelta(days=29)
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_DAYS - 1))  # at most a year at a time
    inboxes = tuple(i for i in visible if inbox_id is None or i == inbox_id)
    everything = inbox_id is None and set(inboxes) >= set(
        Inbox.objects.values_list("id", flat=True)
    )
    return Period(start, end, inboxes, everything)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _suggestion_rows(p: Period, key: str) -> list[dict[str, Any]]:
    rows = (
        DraftSuggestion.objects.filter(**p.scope())
        .values(key)
        .annotate(
            computed=Count("id"),
            shown=Count("id", filter=Q(shown_at__isnull=False)),
            used=Count("id", filter=Q(outcome="used")),
            edited=Count("id", filter=Q(outcome="edited")),
            discarded=Count("id", filter=Q(outcome="discarded")),
        )
        .order_by(key)
    )
    out = []
    for row in rows:
        acted = row["used"] + row["edited"]
        row["acceptance"] = _rate(acted, row["shown"])
        out.append(row)
    return out


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5): the median without reading the rows here."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _seconds_summary(rows: QuerySet[ReplyMetric]) -> dict[str, int | None]:
    """How many conversations and their median seconds to a first reply."""
    rows = rows.exclude(response_seconds=None)
    if connection.vendor == "postgresql":
        found = rows.aggregate(n=Count("id"), median=Median("response_seconds"))
        median = found["median"]
        return {
            "conversations": found["n"],
            "median_seconds": None if median is None else int(median),
        }
    # SQLite (the embedded shape, one small team) has no percentile: read the one column.
    values = [v for v in rows.values_list("response_seconds", flat=True) if v is not None]
    return {
        "conversations": len(values),
        "median_seconds": int(statistics.median(values)) if values else None,
    }


def _reason_kind(reason: str) -> str:
    """“Asks for a person (“talk to a human”)” → “Asks for a person”; keywords stay whole."""
    if reason.startswith("Keyword"):
        return reason
    return re.sub(r"\s*\(.*\)$", "", reason)


def insights(p: Period) -> dict[str, Any]:
    names = dict(Inbox.objects.filter(pk__in=p.inbox_ids).values_list("id", "name"))
    in_range = p.scope()

    by_inbox = _suggestion_rows(p, "inbox_id")
    for row in by_inbox:
        row["inbox"] = names.get(row.pop("inbox_id"), "")
    by_engine = _suggestion_rows(p, "engine")
    totals = {
        key: sum(row[key] for row in by_inbox)
        for key in ("computed", "shown", "used", "edited", "discarded")
    }
    totals["acceptance"] = _rate(totals["used"] + totals["edited"], totals["shown"])

    metrics = ReplyMetric.objects.filter(**in_range)
    by_agent = {
        row["agent_id"]: row
        for row in metrics.exclude(agent=None)
        .values("agent_id")
        .annotate(
            replies=Count("id"),
            from_suggestion=Count("id", filter=Q(origin="suggestion")),
            from_canned=Count("id", filter=Q(origin="canned")),
            typed=Count("id", filter=Q(origin="typed")),
            similarity=Avg("similarity"),
        )
        .order_by()
    }
    # Shown: once per agent whose composer showed the suggestion; outcomes by who acted.
    shown_to = dict(
        SuggestionView.objects.filter(**p.scope("suggestion__"))
        .values_list("agent_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    acted: dict[tuple[int, str], int] = {
        (agent_id, outcome): n
        for agent_id, outcome, n in DraftSuggestion.objects.filter(**in_range)
        .exclude(outcome_by=None)
        .values_list("outcome_by", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    }
    agent_ids = set(by_agent) | set(shown_to) | {agent_id for agent_id, _ in acted}
    agent_names = dict(User.objects.filter(pk__in=agent_ids).values_list("id", "name"))
    agents = []
    for agent_id in sorted(agent_ids, key=lambda i: (agent_names.get(i, "").lower(), i)):
        counts: dict[str, Any] = dict(by_agent.get(agent_id) or {})
        shown = shown_to.get(agent_id, 0)
        used, edited = acted.get((agent_id, "used"), 0), acted.get((agent_id, "edited"), 0)
        similarity = counts.get("similarity")
        agents.append(
            {
                "agent": agent_names.get(agent_id, ""),
                "replies": counts.get("replies", 0),
                "from_suggestion": counts.get("from_suggestion", 0),
                "from_canned": counts.get("from_canned", 0),
                "typed": counts.get("typed", 0),
                "shown": shown,
                "used": used,
                "edited": edited,
                "discarded": acted.get((agent_id, "discarded"), 0),
                "acceptance": _rate(used + edited, shown),
                "similarity": None if similarity is None else round(similarity, 3),
            }
        )
    origins = dict(metrics.values_list("origin").annotate(n=Count("id")))
    automated = dict(
        metrics.filter(origin="automated").values_list("automated_kind").annotate(n=Count("id"))
    )

    # First response: seconds to each conversation's first reply by a person (marked on its
    # metric when sent), with and without a suggestion; medians in the database.
    firsts = metrics.filter(first_response=True).exclude(origin="automated")
    with_s = _seconds_summary(firsts.filter(origin="suggestion"))
    without = _seconds_summary(firsts.exclude(origin="suggestion"))

    canned_use = Counter(
        dict(
            metrics.exclude(canned_reply=None)
            .values_list("canned_reply_id")
            .annotate(n=Count("id"))
        )
    )
    titles = dict(CannedReply.objects.values_list("id", "title"))
    edited_rows = (
        metrics.exclude(canned_reply=None)
        .exclude(similarity=None)
        .values("canned_reply_id")
        .annotate(similarity=Avg("similarity"), n=Count("id"))
        .filter(n__gte=2)
        .order_by("similarity")[:10]
    )
    never = list(
        CannedReply.objects.filter(usage_count=0)
        .exclude(pk__in=ReplyMetric.objects.exclude(canned_reply=None).values("canned_reply_id"))
        .order_by("title")
        .values_list("title", flat=True)[:50]
    )

    flags: Counter[str] = Counter()
    flagged_conversations: set[int] = set()
    for conversation_id, data in Message.objects.filter(
        **in_range, kind=Message.Kind.ACTIVITY, data__verb="needs_person"
    ).values_list("conversation_id", "data"):
        flagged_conversations.add(conversation_id)
        for reason in data.get("reasons", []):
            flags[_reason_kind(reason)] += 1

    days: dict[str, dict[str, int]] = {}
    day = p.start
    while day <= p.end:
        days[day.isoformat()] = {"suggested": 0, "accepted": 0, "discarded": 0, "automated": 0}
        day += timedelta(days=1)
    # Grouped by day in the database (the server's time zone), not row by row here.
    zone = timezone.get_current_timezone()
    for day_value, outcome, n in (
        DraftSuggestion.objects.filter(**in_range)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    ):
        bucket = days.get(day_value.isoformat())
        if bucket is not None:
            bucket["suggested"] += n
            if outcome in ("used", "edited"):
                bucket["accepted"] += n
            elif outcome == "discarded":
                bucket["discarded"] += n
    for day_value, n in (
        metrics.filter(origin="automated")
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    ):
        bucket = days.get(day_value.isoformat())
        if bucket is not None:
            bucket["automated"] += n

    return {
        "period": {
            "from": p.start.isoformat(),
            "to": p.end.isoformat(),
            "inboxes": [{"id": i, "name": names.get(i, "")} for i in p.inbox_ids],
        },
        "suggestions": {**totals, "by_inbox": by_inbox, "by_engine": by_engine},
        "agents": agents,
        "replies": {
            "total": sum(origins.values()),
            "by_origin": {key: origins.get(key, 0) for key in ReplyMetric.Origin.values},
            "automated": automated,
        },
        "first_response": {"with_suggestion": with_s, "without_suggestion": without},
        "canned": {
            "most_used": [
                {"title": titles.get(reply_id, "(deleted)"), "replies": n}
                for reply_id, n in canned_use.most_common(10)
            ],
            "most_edited": [
                {
                    "title": titles.get(row["canned_reply_id"], "(deleted)"),
                    "replies": row["n"],
                    "similarity": round(row["similarity"], 3),
                }
                for row in edited_rows
            ],
            "never_used": never,
        },
        "needs_person": {
            "conversations": len(flagged_conversations),
            "reasons": [{"reason": r, "count": n} for r, n in flags.most_common()],
        },
        "daily": [{"day": key, **value} for key, value in days.items()],
    }


def csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    """The same numbers, one per row: section, group, metric, value."""
    rows: list[list[Any]] = [["section", "group", "metric", "value"]]
    s = data["suggestions"]
    for key in ("computed", "shown", "used", "edited", "discarded", "acceptance"):
        rows.append(["suggestions", "all", key, s[key]])
    for row in s["by_inbox"]:
        for key in ("computed", "shown", "used", "edited", "discarded", "acceptance"):
            rows.append(["suggestions by inbox", row["inbox"], key, row[key]])
    for row in s["by_engine"]:
        for key in ("computed", "shown", "used", "edited", "discarded", "acceptance"):
            rows.append(["suggestions by engine", row["engine"] or "(none)", key, row[key]])
    for row in data["agents"]:
        for key in AGENT_COLUMNS:
            rows.append(["agents", row["agent"], key, row[key]])
    for key, value in data["replies"]["by_origin"].items():
        rows.append(["replies by origin", key, "replies", value])
    for key, value in data["replies"]["automated"].items():
        rows.append(["automated messages", key, "messages", value])
    for group, value in data["first_response"].items():
        rows.append(["first response", group, "conversations", value["conversations"]])
        rows.append(["first response", group, "median_seconds", value["median_seconds"]])
    for row in data["canned"]["most_used"]:
        rows.append(["canned most used", row["title"], "replies", row["replies"]])
    for row in data["canned"]["most_edited"]:
        rows.append(["canned most edited", row["title"], "similarity", row["similarity"]])
    for title in data["canned"]["never_used"]:
        rows.append(["canned never used", title, "replies", 0])
    rows.append(["needs a person", "all", "conversations", data["needs_person"]["conversations"]])
    for row in data["needs_person"]["reasons"]:
        rows.append(["needs a person", row["reason"], "count", row["count"]])
    for row in data["daily"]:
        for key in ("suggested", "accepted", "discarded", "automated"):
            rows.append(["daily", row["day"], key, row[key]])
    return rows
