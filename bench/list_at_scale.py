# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""The conversation list, its counts and search at scale, through `inbox.queries`.

    python bench/list_at_scale.py                    # 1M conversations / 5M messages (generated)
    python bench/list_at_scale.py --quick            # 100k / 500k
    python bench/list_at_scale.py --reuse --keep     # reuse a generated database, keep it

Data: `bench/generate.py` (50 inboxes, 100 agents each in 10 inboxes). Each case calls the
query function the REST API calls (`conversation_page`, `conversation_counts`,
`search_conversations`) and materialises its rows, as an agent who is a member of 10 inboxes
(`agent0`, "me") and as an admin. A deep page is the page reached by following `next` from
the first page (20 pages of 25 by default). Reports p50/p95 over repeated runs after warm-up,
with a baseline measured in the same run (`SELECT 1` on the same connection), then
`EXPLAIN (ANALYZE, BUFFERS)` of the slowest query of each case.

Targets (issue): list p95 ≤ 30 ms, counts p95 ≤ 50 ms, search p95 ≤ 200 ms.

(The indexes and query rewrites this script once proposed with `--candidates` are in the
product now: inbox/migrations 0004-0006, inbox/tallies.py, search_conversations.)
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

PAGE = 25  # the REST API's default page size
TARGETS = {"list": 30.0, "counts": 50.0, "search": 200.0}

SEARCH_TIMEOUT_MS = 20_000  # a search slower than this is cut off and reported as "> 20 s"


# --- measuring ------------------------------------------------------------------------------


def timed(
    call: Callable[[], Any], repeat: int, warmup: int = 3, budget: float = 60.0
) -> list[float]:
    """Wall-clock ms of `repeat` calls after `warmup`; fewer (at least 3) when they would
    take more than `budget` seconds."""
    first = time.perf_counter()
    call()
    if time.perf_counter() - first > 1.0:
        warmup = 0  # a slow query: its first run warmed the cache enough
    for _ in range(max(warmup - 1, 0)):
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    least = 2 if time.perf_counter() - first > 2.0 else 3
    while len(samples) < repeat and (len(samples) < least or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def cpu_ms(call: Callable[[], Any], runs: int = 5) -> float:
    """Median CPU time of this process per call (Python: building the query and the rows)."""
    samples = []
    for _ in range(runs):
        start = time.process_time()
        call()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def slowest_query(call: Callable[[], Any]) -> tuple[str, int]:
    """The SQL of the slowest query `call` runs, and how many queries it runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        call()
    worst = max(ctx.captured_queries, key=lambda q: float(q["time"]))
    return worst["sql"], len(ctx.captured_queries)


def explain(sql: str, max_lines: int = 40) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS), or a plain EXPLAIN when the query runs past the search
    timeout."""
    from django.db import OperationalError, connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            lines = [row[0] for row in cur.fetchall()]
    except OperationalError:
        with connection.cursor() as cur:
            cur.execute("EXPLAIN " + sql)
            lines = [f"(not run: slower than {SEARCH_TIMEOUT_MS / 1000:g} s; plan only)"]
            lines += [row[0] for row in cur.fetchall()]
    keep = list(lines)
    if len(keep) > max_lines:
        keep = [*keep[: max_lines - 3], "   …", *keep[-2:]]
    return [line[:160] for line in keep]


# --- the cases ------------------------------------------------------------------------------


def deep_cursor(user: Any, filters: Any, pages: int) -> tuple[str | None, int]:
    """The cursor of page `pages` (or the last page), following `next` from the first."""
    from inbox.queries.conversations import conversation_page

    cursor, page = None, 1
    while page < pages:
        _, nxt = conversation_page(user, filters, cursor=cursor, size=PAGE)
        if nxt is None:
            break
        cursor, page = nxt, page + 1
    return cursor, page


def build_cases(
    me: Any, admin: Any, inbox_id: int, pages: int, needle: str, name: str
) -> list[tuple[str, str, Callable[[], Any]]]:
    """(kind, name, call) for every case."""
    from inbox.queries.conversations import (
        ConversationFilters,
        conversation_counts,
        conversation_page,
        search_conversations,
    )

    cases: list[tuple[str, str, Callable[[], Any]]] = []
    views = [
        ("assignee=me, open", ConversationFilters(assignee="me")),
        ("unassigned, open", ConversationFilters(assignee="unassigned")),
        (f"all open, inbox={inbox_id}", ConversationFilters(inbox=inbox_id)),
        ("all open, every visible inbox", ConversationFilters()),
        ("open, waiting longest first", ConversationFilters(sort="waiting")),
    ]
    for who, user in (("agent", me), ("admin", admin)):
        for label, filters in views:
            if who == "admin" and label.startswith("assignee=me"):
                continue  # the admin has nothing assigned: an empty list
            cases.append(
                (
                    "list",
                    f"{who}: {label}, page 1",
                    lambda u=user, f=filters: conversation_page(u, f, cursor=None, size=PAGE),
                )
            )
            cursor, page = deep_cursor(user, filters, pages)
            cases.append(
                (
                    "list",
                    f"{who}: {label}, page {page}",
                    lambda u=user, f=filters, c=cursor: conversation_page(
                        u, f, cursor=c, size=PAGE
                    ),
                )
            )
    for who, user in (("agent", me), ("admin", admin)):
        cases.append(
            ("counts", f"{who}: counts, all visible inboxes", lambda u=user: conversation_counts(u))
        )
        cases.append(
            (
                "counts",
                f"{who}: counts, inbox={inbox_id}",
                lambda u=user: conversation_counts(u, inbox=inbox_id),
            )
        )
    for who, user in (("agent", me), ("admin", admin)):
        for label, term in (
            ("order number", needle),
            ("contact name", name),
            ("common word", "refund"),
        ):
            cases.append(
                (
                    "search",
                    f"{who}: search {label} {term!r}",
                    lambda u=user, t=term: search_conversations(u, t),
                )
            )
    return cases


def with_timeout(call: Callable[[], Any]) -> Callable[[], Any]:
    """The call under the search timeout; a call cut off raises Slow."""
    from django.db import OperationalError, connection, transaction

    def run() -> Any:
        try:
            with transaction.atomic():
                with connection.cursor() as cur:
                    cur.execute(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}")
                return call()
        except OperationalError as exc:
            raise Slow() from exc

    return run


class Slow(Exception):
    pass


def run_cases(
    cases: list[tuple[str, str, Callable[[], Any]]], repeat: int, baseline: float
) -> dict[str, dict[str, float]]:
    results = {}
    print(
        f"{'case':60} {'p50 ms':>8} {'p95 ms':>8} {'× SELECT 1':>10} {'CPU ms':>7} {'queries':>7}  target"
    )
    for kind, name, call in cases:
        guarded = with_timeout(call) if kind == "search" else call
        try:
            samples = timed(guarded, repeat)
        except Slow:
            print(
                f"{name[:60]:60} {'> ' + str(SEARCH_TIMEOUT_MS // 1000) + ' s':>17}  (cut off)  "
                f"MISSED (≤ {TARGETS[kind]:g})"
            )
            results[name] = {"p50": float("inf"), "p95": float("inf"), "kind": kind}
            continue
        _, queries = slowest_query(call)
        cpu = cpu_ms(call, 5 if samples[0] < 1000 else 1)
        s = harness.summary(samples)
        ok = "ok" if s["p95"] <= TARGETS[kind] else f"MISSED (≤ {TARGETS[kind]:g})"
        print(
            f"{name[:60]:60} {s['p50']:8.1f} {s['p95']:8.1f} {s['p50'] / baseline:10.0f} "
            f"{cpu:7.1f} {queries:7}  {ok}"
        )
        results[name] = {**s, "kind": kind, "cpu": cpu}
    return results


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k conversations")
    parser.add_argument("--repeat", type=int, help="timed runs per case")
    parser.add_argument("--pages", type=int, default=20, help="depth of the deep page")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the generated database if present"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-plans", action="store_true")
    args = parser.parse_args()
    repeat = args.repeat or (15 if args.quick else 30)
    scale = "quick" if args.quick else "full"
    name = f"bench_list_{scale}"
    env = harness.services_env()
    started = time.monotonic()
    print(
        f"list at scale — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    import generate

    if args.reuse and harness.database_exists(env["DATABASE_URL"], name):
        url = harness.with_database(env["DATABASE_URL"], name)
        harness.django_setup(url, None, migrate=False)
        print(f"reusing {name}")
    else:
        url = harness.create_database(env["DATABASE_URL"], name)
        harness.django_setup(url, None)
        print(f"generating {generate.SCALES[scale]} into {name}")
        t = time.monotonic()
        generate.generate(url, **generate.SCALES[scale])
        print(f"generated in {time.monotonic() - t:.0f} s")
    try:
        measure(args, repeat)
    finally:
        from django.db import connection

        connection.close()
        if not args.keep:
            harness.drop_database(env["DATABASE_URL"], name)
    print(f"took {time.monotonic() - started:.0f} s")


def measure(args: argparse.Namespace, repeat: int) -> None:
    from django.db import connection

    from accounts.models import User
    from inbox.models import Conversation, Inbox
    from inbox.queries.access import visible_inbox_ids

    me = User.objects.get(email="agent0@example.com")
    admin = User.objects.get(email="bench-admin@example.com")
    mine = visible_inbox_ids(me)
    inbox_id = min(mine)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM inbox_conversation")
        conversations = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM inbox_message")
        messages = cur.fetchone()[0]
    target = Conversation.objects.filter(inbox_id__in=mine).order_by("id")[conversations // 20]
    needle = str(100000 + target.pk)
    name = target.contact.name
    print(
        f"{conversations} conversations, {messages} messages, {Inbox.objects.count()} inboxes; "
        f"'me' = {me.email}, member of {len(mine)} inboxes; {repeat} timed runs per case"
    )

    def select_one() -> None:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    baseline = statistics.median(timed(select_one, 200))
    print(f"baseline: SELECT 1 round trip, median {baseline:.3f} ms\n")
    cases = build_cases(me, admin, inbox_id, args.pages, needle, name)
    before = run_cases(cases, repeat, baseline)
    summarise(before)
    if not args.no_plans:
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the slowest query of each case:")
        for _, case, call in cases:
            sql, _ = slowest_query(call)
            print(f"\n-- {case}")
            for line in explain(sql):
                print(f"   {line}")


def summarise(results: dict[str, dict[str, float]]) -> None:
    print()
    for kind, limit in TARGETS.items():
        worst = max((r["p95"] for r in results.values() if r["kind"] == kind), default=0)
        missed = [n for n, r in results.items() if r["kind"] == kind and r["p95"] > limit]
        print(
            f"{kind}: worst p95 {worst:.1f} ms vs target ≤ {limit:g} ms: "
            f"{'met' if not missed else f'NOT met in {len(missed)} case(s)'}"
        )


if __name__ == "__main__":
    main()
