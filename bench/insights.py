# ruff: noqa: E501  (SQL reads better unwrapped)
"""The insights page's numbers at scale, through `inbox.queries.insights`.

    python bench/insights.py                 # on 1M conversations / 5M messages (generated)
    python bench/insights.py --quick         # 100k / 500k
    python bench/insights.py --reuse --keep  # reuse a generated database, keep it

Data: `bench/generate.py` (as bench/list_at_scale.py; `--reuse` takes its database), plus
what the drafts leave behind, spread over the same two years: a `DraftSuggestion` for every
other customer message (outcomes mixed, shown to the assignee), a `ReplyMetric` for every
agent reply (origin mixed; the first reply of each conversation marked), and one "needs a
person" activity line per 1,000 messages. Each case computes the whole page for an admin
(all inboxes) or an agent (10 inboxes) over 30 days or a year. Reports p50/p95 with a
baseline measured in the same run (`SELECT 1`), the number of queries, and the plan of
the slowest one.

Target (ours; the issue gives none): the page p95 ≤ 500 ms for a year of all inboxes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness


def add_draft_rows(redo: bool = False) -> dict[str, int]:
    """Fill the drafts' tables from the generated conversations and messages (SQL only), in
    time order as a live installation writes them (a period's rows sit together on disk)."""
    from django.db import connection

    with connection.cursor() as cur:
        if redo:
            cur.execute(
                "TRUNCATE inbox_suggestionview, inbox_replymetric, inbox_draftsuggestion CASCADE"
            )
        cur.execute("SELECT count(*) FROM inbox_replymetric")
        if cur.fetchone()[0]:
            print("draft rows already there")
        else:
            t = time.monotonic()
            cur.execute(
                """UPDATE inbox_message SET data = jsonb_build_object(
                       'verb', 'needs_person',
                       'reasons', CASE WHEN id % 3000 = 2 THEN '["Asks for a person (“talk to a human”)", "Angry tone"]'::jsonb
                                       ELSE '["Keyword “cancel”"]'::jsonb END)
                   WHERE kind = 'activity' AND id % 1000 = 2"""
            )
            cur.execute(
                """INSERT INTO inbox_draftsuggestion (conversation_id, message_id, inbox_id, language,
                        candidates, engine, created_at, shown_at, outcome, outcome_at, outcome_by_id)
                   SELECT m.conversation_id, m.id, m.inbox_id, 'en', '[]', 'canned', m.created_at,
                          CASE WHEN m.id % 7 <> 0 THEN m.created_at END,
                          (ARRAY['used', 'edited', 'discarded', 'expired', 'pending'])[1 + m.id % 5],
                          m.created_at + interval '5 minutes',
                          CASE WHEN m.id % 5 < 3 THEN c.assignee_id END
                   FROM inbox_message m JOIN inbox_conversation c ON c.id = m.conversation_id
                   WHERE m.direction = 'incoming' AND m.kind = 'message' AND m.id % 2 = 0
                   ORDER BY m.created_at"""
            )
            cur.execute(
                """INSERT INTO inbox_suggestionview (suggestion_id, agent_id, shown_at)
                   SELECT id, outcome_by_id, shown_at FROM inbox_draftsuggestion
                   WHERE shown_at IS NOT NULL AND outcome_by_id IS NOT NULL ORDER BY shown_at"""
            )
            cur.execute(
                """INSERT INTO inbox_replymetric (message_id, conversation_id, contact_id, inbox_id,
                        agent_id, origin, engine, canned_reply_id, suggestion_id, similarity,
                        response_seconds, automated_kind, first_response, created_at)
                   SELECT m.id, m.conversation_id, c.contact_id, m.inbox_id, c.assignee_id,
                          (ARRAY['typed', 'typed', 'suggestion', 'canned', 'automated'])[1 + m.id % 5],
                          CASE WHEN m.id % 5 = 2 THEN 'canned' ELSE '' END, NULL, NULL,
                          CASE WHEN m.id % 5 IN (2, 3) THEN (m.id % 100) / 100.0 END,
                          60 + m.id % 86400,
                          CASE WHEN m.id % 5 = 4 THEN 'acknowledgement' ELSE '' END,
                          m.id = first.id, m.created_at
                   FROM inbox_message m
                   JOIN inbox_conversation c ON c.id = m.conversation_id
                   LEFT JOIN (SELECT conversation_id, min(id) id FROM inbox_message
                              WHERE direction = 'outgoing' AND kind = 'message'
                              GROUP BY conversation_id) first ON first.conversation_id = m.conversation_id
                   WHERE m.direction = 'outgoing' AND m.kind = 'message'
                   ORDER BY m.created_at"""
            )
            cur.execute("VACUUM (ANALYZE)")
            print(f"draft rows added in {time.monotonic() - t:.0f} s")
        counts = {}
        for table in ("draftsuggestion", "suggestionview", "replymetric"):
            cur.execute(f"SELECT count(*) FROM inbox_{table}")
            counts[table] = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM inbox_message WHERE kind = 'activity' AND data->>'verb' = 'needs_person'"
        )
        counts["needs_person lines"] = cur.fetchone()[0]
    return counts


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    call()  # warm-up
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def slowest_query(call: Callable[[], Any]) -> tuple[int, str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    worst = max(captured.captured_queries, key=lambda q: float(q["time"]))
    return len(captured.captured_queries), worst["sql"], float(worst["time"]) * 1000


def measure(repeat: int, plans: bool) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from inbox.queries.access import visible_inbox_ids
    from inbox.queries.insights import insights, period

    admin = User.objects.get(email="bench-admin@example.com")
    me = User.objects.get(email="agent0@example.com")
    today = timezone.localdate()

    def case(user: Any, days: int) -> Callable[[], Any]:
        visible = list(visible_inbox_ids(user))
        p = period(
            start=today - timedelta(days=days - 1), end=today, inbox_id=None, visible=visible
        )
        return lambda: insights(p)

    def select_one() -> None:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    baseline = statistics.median(timed(select_one, 200))
    print(f"baseline: SELECT 1 round trip, median {baseline:.3f} ms\n")
    cases = [
        ("admin, all inboxes, 30 days", case(admin, 30)),
        ("admin, all inboxes, 365 days", case(admin, 365)),
        ("agent, 10 inboxes, 30 days", case(me, 30)),
        ("agent, 10 inboxes, 365 days", case(me, 365)),
    ]
    print(f"{'case':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  slowest query")
    worst_sql = {}
    for name, call in cases:
        samples = timed(call, repeat)
        n, sql, ms = slowest_query(call)
        worst_sql[name] = sql
        print(
            f"{name:34} {statistics.median(samples):8.1f} {harness.percentile(samples, 95):8.1f} "
            f"{n:8d}  {ms:.1f} ms: {sql[:70]}…"
        )
    if plans:
        name = cases[1][0]
        print(f"\nEXPLAIN ANALYZE of the slowest query of '{name}':")
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + worst_sql[name])
            for (line,) in cur.fetchall()[:40]:
                print("   " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k conversations")
    parser.add_argument("--repeat", type=int, help="timed runs per case")
    parser.add_argument("--reuse", action="store_true", help="reuse a generated database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument("--redo-drafts", action="store_true", help="refill the drafts' tables")
    args = parser.parse_args()
    repeat = args.repeat or (10 if args.quick else 20)
    scale = "quick" if args.quick else "full"
    name = f"bench_list_{scale}"  # the same data as bench/list_at_scale.py
    env = harness.services_env()
    started = time.monotonic()
    print(
        f"insights at scale — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    import generate

    if args.reuse and harness.database_exists(env["DATABASE_URL"], name):
        url = harness.with_database(env["DATABASE_URL"], name)
        harness.django_setup(url, None)  # migrates what the generated database lacks
        print(f"reusing {name}")
    else:
        url = harness.create_database(env["DATABASE_URL"], name)
        harness.django_setup(url, None)
        print(f"generating {generate.SCALES[scale]} into {name}")
        t = time.monotonic()
        generate.generate(url, **generate.SCALES[scale])
        print(f"generated in {time.monotonic() - t:.0f} s")
    try:
        print(", ".join(f"{v} {k}" for k, v in add_draft_rows(args.redo_drafts).items()))
        measure(repeat, not args.no_plans)
    finally:
        from django.db import connection

        connection.close()
        if not args.keep:
            harness.drop_database(env["DATABASE_URL"], name)
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
