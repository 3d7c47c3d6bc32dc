# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""The conversation list, its counts and search at scale, through `inbox.queries`.

    python bench/list_at_scale.py                    # 1M conversations / 5M messages (generated)
    python bench/list_at_scale.py --quick            # 100k / 500k
    python bench/list_at_scale.py --reuse --keep     # reuse a generated database, keep it
    python bench/list_at_scale.py --quick --candidates   # also measure the proposed fixes

Data: `bench/generate.py` (50 inboxes, 100 agents each in 10 inboxes). Each case calls the
query function the REST API calls (`conversation_page`, `conversation_counts`,
`search_conversations`) and materialises its rows, as an agent who is a member of 10 inboxes
(`agent0`, "me") and as an admin. A deep page is the page reached by following `next` from
the first page (20 pages of 25 by default). Reports p50/p95 over repeated runs after warm-up,
with a baseline measured in the same run (`SELECT 1` on the same connection), then
`EXPLAIN (ANALYZE, BUFFERS)` of the slowest query of each case.

Targets (issue): list p95 ≤ 30 ms, counts p95 ≤ 50 ms, search p95 ≤ 200 ms.

`--candidates` then creates the indexes proposed in this file (`candidate_indexes()`) in the
bench database, measures again, and also measures the query rewrites proposed here
(`counts_by_group`, `search_rewritten`), so each proposal has a before/after.
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


def candidate_indexes() -> list[tuple[Any, Any]]:
    """(model, index) the benchmarks propose, written as the lead would add them to the
    models' Meta.indexes; created here through the schema editor, so the SQL measured is the
    SQL a migration would run."""
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector
    from django.db.models import Index, Q

    from inbox.models import Contact, Conversation, Message

    return [
        # search_conversations: one per searched source, matching its SearchVector exactly.
        (
            Message,
            GinIndex(
                SearchVector("text", config="simple"),
                name="message_text_fts",
                condition=Q(kind__in=["message", "note"]),
            ),
        ),
        (
            Contact,
            GinIndex(SearchVector("name", "email", config="simple"), name="contact_name_email_fts"),
        ),
        (Conversation, GinIndex(SearchVector("subject", config="simple"), name="conv_subject_fts")),
        # sort=waiting: customers waiting longest first, per inbox and across inboxes.
        (
            Conversation,
            Index(
                fields=["inbox", "status", "waiting_since", "id"],
                condition=Q(waiting_since__isnull=False),
                name="conv_inbox_status_waiting",
            ),
        ),
        (
            Conversation,
            Index(
                fields=["status", "waiting_since", "id"],
                condition=Q(waiting_since__isnull=False),
                name="conv_status_waiting",
            ),
        ),
        # conversation_counts: an index-only scan instead of reading the table.
        (
            Conversation,
            Index(fields=["inbox", "status", "assignee"], name="conv_inbox_status_assignee"),
        ),
    ]


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


# --- proposed query rewrites ----------------------------------------------------------------


def counts_by_group(user: Any, *, inbox: int | None = None) -> dict[str, dict[str, int]]:
    """conversation_counts as GROUP BY status, assignee-is-me, assignee-is-null: the same
    answer, one index-only scan of (inbox, status, assignee) instead of 12 FILTERed counts."""
    from django.db.models import Case, Count, IntegerField, Value, When

    from inbox.queries.access import visible_conversations
    from inbox.queries.conversations import STATUSES

    qs = visible_conversations(user)
    if inbox is not None:
        qs = qs.filter(inbox_id=inbox)
    rows = (
        qs.order_by()
        .annotate(
            who=Case(
                When(assignee_id=user.pk, then=Value(1)),
                When(assignee_id__isnull=True, then=Value(2)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values("status", "who")
        .annotate(n=Count("*"))
    )
    out = {view: dict.fromkeys(STATUSES, 0) for view in ("mine", "unassigned", "all")}
    for row in rows:
        if row["status"] not in out["all"]:
            continue
        out["all"][row["status"]] += row["n"]
        if row["who"] == 1:
            out["mine"][row["status"]] += row["n"]
        elif row["who"] == 2:
            out["unassigned"][row["status"]] += row["n"]
    return out


def search_rewritten(user: Any, query: str, *, limit: int = 50) -> list[Any]:
    """search_conversations with each source searched through its own GIN index (message
    text, contact name/email, subject) and the matching conversation ids united (UNION)
    before the visible filter and the ordering, instead of a document computed per row of
    a conversation ⋈ contact join and an OR of two hashed subplans over every visible
    conversation. Difference: a multi-word query must match within one source (all words in
    the subject, or all in the contact's name/email), where the original also matched words
    split between the subject and the contact."""
    from django.contrib.postgres.search import SearchQuery, SearchVector

    from inbox.models import Contact, Conversation, Message
    from inbox.payloads import CONVERSATION_PREFETCH, CONVERSATION_SELECT
    from inbox.queries.access import visible_conversations
    from inbox.queries.conversations import with_unread

    query = query.strip()[:200]
    if not query:
        return []
    search = SearchQuery(query, search_type="websearch", config="simple")
    by_message = (
        Message.objects.annotate(document=SearchVector("text", config="simple"))
        .filter(document=search, kind__in=["message", "note"])
        .order_by()
        .values("conversation_id")
    )
    contacts = (
        Contact.objects.annotate(document=SearchVector("name", "email", config="simple"))
        .filter(document=search)
        .order_by()
        .values("id")
    )
    by_contact = Conversation.objects.filter(contact_id__in=contacts).order_by().values("id")
    by_subject = (
        Conversation.objects.annotate(document=SearchVector("subject", config="simple"))
        .filter(document=search)
        .order_by()
        .values("id")
    )
    ids = visible_conversations(user).filter(id__in=by_message.union(by_contact, by_subject))
    return list(
        with_unread(ids, user)
        .select_related(*CONVERSATION_SELECT)
        .prefetch_related(*CONVERSATION_PREFETCH)
        .order_by("-last_activity_at", "-id")[:limit]
    )


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
    parser.add_argument("--candidates", action="store_true", help="measure the proposed fixes too")
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

        if args.candidates:
            with connection.cursor() as cur:
                for _, index in candidate_indexes():
                    cur.execute(f"DROP INDEX IF EXISTS {index.name}")
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
    if args.candidates:
        candidates(args, me, admin, inbox_id, needle, name, cases, before, repeat, baseline)


def summarise(results: dict[str, dict[str, float]]) -> None:
    print()
    for kind, limit in TARGETS.items():
        worst = max((r["p95"] for r in results.values() if r["kind"] == kind), default=0)
        missed = [n for n, r in results.items() if r["kind"] == kind and r["p95"] > limit]
        print(
            f"{kind}: worst p95 {worst:.1f} ms vs target ≤ {limit:g} ms: "
            f"{'met' if not missed else f'NOT met in {len(missed)} case(s)'}"
        )


def candidates(
    args: argparse.Namespace,
    me: Any,
    admin: Any,
    inbox_id: int,
    needle: str,
    name: str,
    cases: list[tuple[str, str, Callable[[], Any]]],
    before: dict[str, dict[str, float]],
    repeat: int,
    baseline: float,
) -> None:
    from django.db import connection

    print("\n=== proposed changes ===")
    with connection.schema_editor() as editor:
        for model, index in candidate_indexes():
            start = time.monotonic()
            editor.execute(f"DROP INDEX IF EXISTS {index.name}")
            editor.add_index(model, index)
            print(
                f"created {index.name} in {time.monotonic() - start:.1f} s: "
                f"{str(index.create_sql(model, editor))[:200]}"
            )
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) inbox_message, inbox_contact, inbox_conversation")
    print("\nsame cases with the candidate indexes (query code unchanged):")
    after = run_cases(cases, repeat, baseline)
    summarise(after)

    print("\nquery rewrites, with the candidate indexes (before = product code, same indexes):")
    rewrites: list[tuple[str, str, Callable[[], Any]]] = []
    for who, user in (("agent", me), ("admin", admin)):
        rewrites.append(
            (
                "counts",
                f"{who}: counts_by_group, all visible inboxes",
                lambda u=user: counts_by_group(u),
            )
        )
        rewrites.append(
            (
                "counts",
                f"{who}: counts_by_group, inbox={inbox_id}",
                lambda u=user: counts_by_group(u, inbox=inbox_id),
            )
        )
        for label, term in (
            ("order number", needle),
            ("contact name", name),
            ("common word", "refund"),
        ):
            rewrites.append(
                (
                    "search",
                    f"{who}: search_rewritten {label} {term!r}",
                    lambda u=user, t=term: search_rewritten(u, t),
                )
            )
    # Same answers before timing them (at the quick scale: the product's search is too slow
    # to run this at full scale).
    from inbox.queries.conversations import conversation_counts, search_conversations

    for user in (me, admin) if args.quick else ():
        assert counts_by_group(user) == conversation_counts(user)
        assert counts_by_group(user, inbox=inbox_id) == conversation_counts(user, inbox=inbox_id)
        for term in (needle, name, "refund"):
            got = [c.pk for c in search_rewritten(user, term)]
            want = [c.pk for c in search_conversations(user, term)]
            assert got == want, (term, got[:5], want[:5])
    rewritten = run_cases(rewrites, repeat, baseline)
    summarise({**{k: v for k, v in after.items() if v["kind"] == "list"}, **rewritten})
    if not args.no_plans:
        print("\nEXPLAIN (ANALYZE, BUFFERS), rewrites:")
        for _, case, call in rewrites:
            sql, _ = slowest_query(call)
            print(f"\n-- {case}")
            for line in explain(sql):
                print(f"   {line}")


if __name__ == "__main__":
    main()
