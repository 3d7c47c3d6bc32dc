# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""Ingestion: sustained inbound messages per second through the API source endpoint.

    python bench/ingest.py            # 30 s per case
    python bench/ingest.py --quick    # 8 s per case

Setup: a throwaway database (bench_ingest), one API inbox with 5 member agents and 300
contacts who already have a conversation. Closed-loop HTTP clients (threads, one keep-alive
connection each) post `POST /sources/api/<public_id>/messages` as fast as answers come: 30 %
from new contacts (a new contact and conversation), 70 % from existing ones (appended to
their conversation). Events are published to the Redis layer as in production (no socket
listens, so this is the write path alone). Cases: 1 Daphne process, then N processes (the
clients spread over them, as a load balancer would).

Baseline, same run: `GET /healthz` (one `SELECT 1`) through the same clients and server,
the ceiling of the HTTP stack itself. Then where the time of one message goes: the same
request in-process through Django's test client, under cProfile, with its SQL queries
counted and timed. Target (issue): ≥ 300 messages/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import pstats
import random
import secrets as pysecrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

TARGET = 300.0
EXISTING = 300
NEW_SHARE = 0.30
TEXT = (
    "Hi, the parcel for order {n} arrived damaged: the box was crushed and one of the cups is "
    "broken. Can you send a replacement or refund it? Photos on request."
)


def seed() -> tuple[Any, str]:
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import IdentityInput, create_inbox, receive_inbound_message

    admin = User.objects.create_user(
        "bench-admin@example.com", "bench-password-1", name="Bench Admin", role="admin"
    )
    agents = User.objects.bulk_create(
        User(email=f"agent{i}@example.com", name=f"Agent {i}", password="!") for i in range(5)
    )
    api_key = pysecrets.token_urlsafe(32)
    inbox = create_inbox(
        name="Bench API",
        kind="api",
        actor=admin,
        origin=SYSTEM,
        members=agents,
        secrets={"api_key": api_key, "signing_secret": pysecrets.token_urlsafe(32)},
    )
    for i in range(EXISTING):
        receive_inbound_message(
            inbox=inbox,
            identity=IdentityInput(kind="external", value=f"known-{i}", name=f"Known {i}"),
            text=TEXT.format(n=i),
            subject="Damaged parcel",
        )
    return inbox, api_key


class Load:
    """Closed-loop clients: each thread sends its next request as soon as the last is
    answered, for `seconds`; requests go round-robin over `ports`."""

    def __init__(self, ports: list[int], threads: int, seconds: float, request: Any) -> None:
        self.ports, self.threads, self.seconds, self.request = ports, threads, seconds, request
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def _client(self, port: int, stop_at: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, statuses = [], {}
        while time.monotonic() < stop_at:
            method, path, body, headers = self.request()
            start = time.monotonic()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc)[:120])
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine.append((time.monotonic() - start) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status >= 400 and len(self.errors) < 20:
                self.errors.append(f"{response.status} {payload[:120]!r}")
        with self.lock:
            self.latencies.extend(mine)
            for k, v in statuses.items():
                self.statuses[k] = self.statuses.get(k, 0) + v

    def run(self) -> float:
        """Requests answered per second."""
        stop_at = time.monotonic() + self.seconds
        workers = [
            threading.Thread(target=self._client, args=(self.ports[i % len(self.ports)], stop_at))
            for i in range(self.threads)
        ]
        started = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return len(self.latencies) / (time.monotonic() - started)


def message_request(public_id: Any, api_key: str) -> Any:
    counter = itertools.count()
    rng = random.Random()
    run = pysecrets.token_hex(4)  # every generator's ids are its own: no redeliveries
    path = f"/sources/api/{public_id}/messages"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def make() -> tuple[str, str, bytes, dict[str, str]]:
        n = next(counter)
        if rng.random() < NEW_SHARE:
            contact = {"kind": "external", "identifier": f"new-{run}-{n}", "name": f"New {n}"}
        else:
            i = rng.randrange(EXISTING)
            contact = {"kind": "external", "identifier": f"known-{i}", "name": f"Known {i}"}
        body = json.dumps(
            {
                "contact": contact,
                "text": TEXT.format(n=n),
                "subject": "Damaged parcel",
                "external_id": f"ingest-{run}-{n}",
            }
        ).encode()
        return "POST", path, body, headers

    return make


def healthz_request() -> tuple[str, str, bytes | None, dict[str, str]]:
    return "GET", "/healthz", None, {}


def run_case(
    name: str, ports: list[int], pids: dict[str, int], threads: int, seconds: float, request: Any
) -> dict[str, Any]:
    load = Load(ports, threads, seconds, request)
    cpu = harness.CpuWindow(pids)
    rate = load.run()
    usage = cpu.report()
    s = harness.summary(load.latencies)
    servers = " ".join(f"{k} {v:.0f}" for k, v in usage.items() if k.startswith("daphne"))
    print(
        f"{name:46} {rate:8.1f}/s  p50 {s['p50']:6.1f} ms  p99 {s['p99']:7.1f} ms  "
        f"statuses {dict(sorted(load.statuses.items()))}  CPU % of a core: {servers}, "
        f"bench {usage['bench']:.0f}, machine {usage['machine']:.0f} % of 2"
    )
    if load.errors:
        print(f"  errors: {load.errors[:3]}")
    return {"rate": rate, **s, "statuses": load.statuses}


def where_time_goes(inbox: Any, api_key: str, count: int) -> None:
    """One message at a time through Django's test client (the whole view, no network):
    its SQL queries and time, the publishing to Redis, and a cProfile summary."""
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from inbox import events

    published = {"seconds": 0.0, "calls": 0}
    original = events._publish

    def timed_publish(frames: Any) -> None:
        start = time.perf_counter()
        original(frames)
        published["seconds"] += time.perf_counter() - start
        published["calls"] += 1

    events._publish = timed_publish
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}", HTTP_HOST="127.0.0.1")
    make = message_request(inbox.public_id, api_key)

    def post() -> None:
        _, path, body, _ = make()
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code in (200, 201), response.content[:200]

    for _ in range(20):
        post()  # warm
    published.update(seconds=0.0, calls=0)
    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        cpu = time.process_time()
        for _ in range(count):
            post()
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
    events._publish = original
    # A second pass under cProfile, only to rank functions (the profiler inflates Python).
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        post()
    profiler.disable()
    sql = sum(float(q["time"]) for q in ctx.captured_queries)
    print(
        f"\nwhere the time of one message goes (in-process, {count} messages, 30 % new contacts):"
    )
    print(
        f"  total {1000 * total / count:.2f} ms/message ({count / total:.0f}/s on one thread), "
        f"of which this process's CPU {1000 * cpu / count:.2f} ms"
    )
    print(
        f"  SQL: {len(ctx.captured_queries) / count:.1f} queries, "
        f"{1000 * sql / count:.2f} ms/message (client-side round trips)"
    )
    print(
        f"  publishing to Redis after commit: {1000 * published['seconds'] / count:.2f} ms/message "
        f"({published['calls'] / count:.1f} publish calls)"
    )
    print(
        f"  rest (Python: DRF, serialisation, payloads, ORM): "
        f"{1000 * (total - sql - published['seconds']) / count:.2f} ms/message"
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(
        r"inbox/|accounts/|rest_framework/views|asgiref/sync|channels_redis|psycopg/cursor", 22
    )
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print(
        "  cProfile (second pass), cumulative (project code, DRF, asgiref, channels_redis, psycopg):"
    )
    for line in lines[start : start + 24]:
        print("   ", line[:150])
    shapes: dict[str, int] = {}
    for q in ctx.captured_queries:
        key = q["sql"].split(" WHERE ")[0][:90]
        shapes[key] = shapes.get(key, 0) + 1
    print("  most repeated query shapes per message:")
    for key, n in sorted(shapes.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {n / count:4.1f}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 s per case")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--threads", type=int, default=8, help="client threads (connections)")
    parser.add_argument(
        "--servers", type=int, default=2, help="Daphne processes in the scaled case"
    )
    parser.add_argument("--profile-count", type=int)
    parser.add_argument("--candidates", default="", help="see bench/candidate_asgi.py")
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    profile_count = args.profile_count or (100 if args.quick else 300)
    harness.raise_fd_limit()
    env = harness.services_env()
    redis = harness.bench_redis_url(env["REDIS_URL"])
    started = time.monotonic()
    print(
        f"ingest — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    if args.candidates:
        print(f"  with candidate changes: {args.candidates}")
    with harness.bench_database(env["DATABASE_URL"], "bench_ingest") as db_url:
        harness.django_setup(db_url, redis)
        inbox, api_key = seed()
        from django.db import connections

        connections.close_all()
        post = message_request(inbox.public_id, api_key)
        import os

        me = os.getpid()
        print(
            f"{args.threads} client threads, {seconds:g} s per case, {int(NEW_SHARE * 100)} % new contacts"
        )
        results = {}
        with harness.daphne(db_url, redis, log_name="ingest", candidates=args.candidates) as one:
            pids = {"daphne": one.pid, "bench": me}
            run_case("warm-up (not counted)", [one.port], pids, args.threads, 2, post)
            results["healthz"] = run_case(
                "baseline: GET /healthz, 1 Daphne",
                [one.port],
                pids,
                args.threads,
                seconds,
                healthz_request,
            )
            results["one"] = run_case(
                "POST message, 1 Daphne", [one.port], pids, args.threads, seconds, post
            )
            servers = [one]
            try:
                for i in range(1, args.servers):
                    servers.append(
                        harness.daphne(
                            db_url, redis, log_name=f"ingest{i}", candidates=args.candidates
                        )
                    )
                pids = {f"daphne{i}": s.pid for i, s in enumerate(servers)} | {"bench": me}
                ports = [s.port for s in servers]
                run_case("warm-up (not counted)", ports, pids, args.threads, 2, post)
                results["healthz_many"] = run_case(
                    f"baseline: GET /healthz, {len(servers)} Daphne",
                    ports,
                    pids,
                    args.threads,
                    seconds,
                    healthz_request,
                )
                results["many"] = run_case(
                    f"POST message, {len(servers)} Daphne", ports, pids, args.threads, seconds, post
                )
            finally:
                for s in servers[1:]:
                    s.stop()
        best = max(results["one"]["rate"], results.get("many", {"rate": 0})["rate"])
        print(
            f"ratio to baseline: {results['one']['rate'] / results['healthz']['rate']:.2f} of "
            f"/healthz's rate on 1 Daphne"
            + (
                f", {results['many']['rate'] / results['healthz_many']['rate']:.2f} on "
                f"{args.servers}"
                if "many" in results
                else ""
            )
        )
        print(
            f"target ≥ {TARGET:g} messages/s: {'met' if best >= TARGET else 'NOT met'} "
            f"(best {best:.0f}/s)"
        )
        in_process = ",".join(c for c in args.candidates.split(",") if c)
        if in_process:  # the same changes in this process
            os.environ["BENCH_CANDIDATES"] = in_process
            import candidate_asgi  # noqa: F401 (applies the same changes in this process)
        where_time_goes(inbox, api_key, profile_count)
        connections.close_all()
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
