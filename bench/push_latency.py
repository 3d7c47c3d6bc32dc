# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""Push latency: an inbound message posted to the API source → its `message.created` frame
at every connected agent, through Daphne, PostgreSQL and the Redis channel layer.

    python bench/push_latency.py            # 200 agents, 50 msg/s, 20 s
    python bench/push_latency.py --quick    # 50 agents, 50 msg/s, 10 s

Setup: a throwaway database (bench_push), one API inbox, N agents who are its members, each
with a personal API token; one Daphne process (scaled shape: Redis layer, no in-process
worker); the agents' sockets spread over load processes. A poster sends
`POST /sources/api/<public_id>/messages` at a steady rate (open loop, 16 keep-alive
connections), each text carrying a unique token; latency = POST sent → frame received,
pooled over every (agent, message).

Baseline, same run and machine: `bench/bare_broadcast.py` fanning the very frames Parley sent
(read back from the event log, so the sizes match) to the same number of clients, at the same
rate. Our p50/p99 are reported as ratios to it. Targets (issue): p50 ≤ 30 ms, p99 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import queue
import secrets as pysecrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from agent_load import TOKEN, AgentFleet, decode_arrivals, token_text

TARGET_P50, TARGET_P99 = 30.0, 150.0
WARMUP = 5
FILLER = (
    "Hello, I ordered a blue jacket last week and the tracking page still says the label "
    "was created. Could you tell me when it will ship? Thanks, Chloé"
)


# --- setup ----------------------------------------------------------------------------------


def seed(agents: int) -> tuple[Any, str, list[str]]:
    """(inbox, api key, agent token secrets), through the project's actions."""
    from accounts.actions import create_api_token
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import create_inbox

    admin = User.objects.create_user(
        "bench-admin@example.com", "bench-password-1", name="Bench Admin", role="admin"
    )
    users = User.objects.bulk_create(
        User(email=f"agent{i}@example.com", name=f"Agent {i:04d}", password="!")
        for i in range(agents)
    )
    api_key = pysecrets.token_urlsafe(32)
    inbox = create_inbox(
        name="Bench API",
        kind="api",
        actor=admin,
        origin=SYSTEM,
        members=users,
        secrets={"api_key": api_key, "signing_secret": pysecrets.token_urlsafe(32)},
    )
    tokens = [create_api_token(user=u, name="bench", origin=SYSTEM)[1] for u in users]
    return inbox, api_key, tokens


# --- posting --------------------------------------------------------------------------------


class Poster:
    """Open-loop HTTP poster: message `seq` is due at start + seq/rate, whatever the state
    of earlier requests; `sent[seq]` is stamped just before its request is written."""

    def __init__(self, ports: list[int], path: str, api_key: str, connections: int = 16) -> None:
        self.ports, self.path, self.api_key = ports, path, api_key
        self.jobs: queue.Queue[int | None] = queue.Queue()
        self.sent: dict[int, int] = {}
        self.response_ms: list[float] = []
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._work, args=(ports[i % len(ports)],), daemon=True)
            for i in range(connections)
        ]
        for t in self.threads:
            t.start()

    def body(self, seq: int) -> bytes:
        return json.dumps(
            {
                "contact": {
                    "kind": "external",
                    "identifier": f"cust-{seq % 97}",
                    "name": f"Customer {seq % 97}",
                },
                "text": f"{token_text(seq)} {FILLER}",
                "subject": "Where is my order?",
                "external_id": f"push-{seq}",
            }
        ).encode()

    def _work(self, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        while (seq := self.jobs.get()) is not None:
            body = self.body(seq)
            for attempt in range(2):
                try:
                    start = time.monotonic_ns()
                    self.sent[seq] = start
                    conn.request("POST", self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    self.response_ms.append((time.monotonic_ns() - start) / 1e6)
                    if response.status not in (200, 201):
                        self.errors.append(f"{response.status} {payload[:120]!r}")
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if attempt:
                        self.errors.append(repr(exc)[:120])

    def run(self, first: int, count: int, rate: float) -> list[float]:
        """Post seqs first..first+count-1 at `rate`/s; returns how late each was handed to
        a connection (ms), which stays near 0 unless all connections are busy."""
        late = []
        start = time.monotonic() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            late.append(max(0.0, (time.monotonic() - due) * 1000))
            self.jobs.put(first + i)
        return late

    def close(self) -> None:
        """Stop: messages still waiting for a free connection are not sent (they count as
        not delivered); requests in flight get 60 s to finish."""
        try:
            while True:
                self.jobs.get_nowait()
        except queue.Empty:
            pass
        for _ in self.threads:
            self.jobs.put(None)
        for t in self.threads:
            t.join(timeout=60)


def wait_for(fleet: AgentFleet, expected: int, timeout: float) -> float:
    """Wait until `expected` measured arrivals or `timeout`; returns the seconds waited."""
    start = time.monotonic()
    while fleet.progress() < expected and time.monotonic() - start < timeout:
        time.sleep(0.05)
    return time.monotonic() - start


def latencies(
    reports: list[dict[str, Any]], sent: dict[int, int], first: int, last: int
) -> tuple[list[float], int]:
    """Pooled latencies (ms) of seqs first..last, and the number of (agent, seq) pairs
    delivered (duplicates counted once)."""
    out: list[float] = []
    delivered = 0
    for report in reports:
        for blob in report["arrivals"]:
            seen = set()
            for seq, ns in decode_arrivals(blob):
                if first <= seq <= last and seq in sent and seq not in seen:
                    seen.add(seq)
                    out.append((ns - sent[seq]) / 1e6)
            delivered += len(seen)
    return out, delivered


def load_report(reports: list[dict[str, Any]], cpu: dict[str, float]) -> str:
    lags = [x for r in reports for x in r["lags"]]
    parts = []
    for r in reports:
        share = cpu.get(f"load{r['index']}", float("nan"))
        parts.append(
            f"load{r['index']}: {r['sockets']} sockets, {r['frames']} frames, "
            f"{share:.0f} % of a core"
        )
    closed = sum(r["closed"] for r in reports)
    return (
        "; ".join(parts) + f"; client loop lag p50 {harness.percentile(lags, 50):.1f} ms, "
        f"p99 {harness.percentile(lags, 99):.1f} ms; sockets closed early: {closed}"
    )


# --- Parley ---------------------------------------------------------------------------------


def measure_parley(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    redis = harness.bench_redis_url(env["REDIS_URL"])
    with harness.bench_database(env["DATABASE_URL"], "bench_push") as db_url:
        harness.django_setup(db_url, redis)
        t = time.monotonic()
        inbox, api_key, tokens = seed(args.agents)
        print(f"  seeded {args.agents} agents with tokens in {time.monotonic() - t:.1f} s")
        servers = []
        try:
            for i in range(args.servers):
                servers.append(
                    harness.daphne(db_url, redis, log_name=f"push{i}", candidates=args.candidates)
                )
            urls = [f"ws://127.0.0.1:{s.port}/ws/agent/" for s in servers]
            fleet = AgentFleet(urls, list(tokens), args.processes, measure_from=WARMUP)
            opened = fleet.wait_ready()
            print(f"  {opened}/{args.agents} agent sockets open on {len(servers)} Daphne processes")
            poster = Poster(
                [s.port for s in servers], f"/sources/api/{inbox.public_id}/messages", api_key
            )
            # Warm-up: first requests import and connect lazily; not measured.
            poster.run(0, WARMUP, 5)
            time.sleep(3)
            count = int(args.rate * args.seconds)
            daphnes = {f"daphne{i}": s.pid for i, s in enumerate(servers)}
            cpu = harness.CpuWindow({**daphnes, "bench": _self_pid(), **fleet.pids})
            late = poster.run(WARMUP, count, args.rate)
            drain = wait_for(fleet, opened * count, args.drain)
            usage = cpu.report()
            poster.close()
            reports = fleet.stop()
        finally:
            for server in servers:
                server.stop()
        frames = frames_by_seq()
    samples, delivered = latencies(reports, poster.sent, WARMUP, WARMUP + count - 1)
    return {
        "samples": samples,
        "delivered": delivered,
        "expected": opened * count,
        "agents": opened,
        "count": count,
        "late": late,
        "response_ms": poster.response_ms,
        "errors": poster.errors,
        "drain": drain,
        "cpu": usage,
        "reports": reports,
        "frames": frames,
    }


def _self_pid() -> int:
    import os

    return os.getpid()


def frames_by_seq() -> dict[int, list[str]]:
    """The frames Parley published for each posted message, as sent, in id order."""
    from inbox.events import frame_text
    from inbox.models import Event

    out: dict[int, list[str]] = {}
    for event in Event.objects.filter(stream__startswith="inbox:").order_by("id").iterator():
        text = frame_text(event)
        m = TOKEN.search(text)
        if m:
            out.setdefault(int(m.group(1)), []).append(text)
    from django.db import connections

    connections.close_all()
    return out


# --- baseline -------------------------------------------------------------------------------


async def _publish(
    port: int,
    frames: dict[int, list[str]],
    first: int,
    count: int,
    rate: float,
    sent: dict[int, int],
) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/publish", compression=None, max_size=None) as ws:
        start = time.monotonic() + 0.05
        for i in range(count):
            seq = first + i
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if seq not in frames:
                continue  # Parley failed this one: nothing to replay
            sent[seq] = time.monotonic_ns()
            for text in frames[seq]:
                await ws.send(text)
        await asyncio.sleep(0.1)


def measure_bare(
    args: argparse.Namespace, frames: dict[int, list[str]], agents: int, count: int
) -> dict[str, Any]:
    port = harness.free_port()
    argv = [sys.executable, str(Path(__file__).parent / "bare_broadcast.py"), "--port", str(port)]
    with harness.Server(
        argv, port, dict(__import__("os").environ), Path(f"/tmp/parley-bare-{port}.log")
    ) as server:
        server.wait_port()
        fleet = AgentFleet(
            f"ws://127.0.0.1:{port}/", [None] * agents, args.processes, measure_from=WARMUP
        )
        opened = fleet.wait_ready()
        sent: dict[int, int] = {}
        asyncio.run(_publish(port, frames, 0, WARMUP, 5, sent))
        time.sleep(1)
        cpu = harness.CpuWindow({"bare": server.pid, "bench": _self_pid(), **fleet.pids})
        asyncio.run(_publish(port, frames, WARMUP, count, args.rate, sent))
        drain = wait_for(fleet, opened * count, args.drain)
        usage = cpu.report()
        reports = fleet.stop()
    samples, delivered = latencies(reports, sent, WARMUP, WARMUP + count - 1)
    replayed = sum(1 for seq in range(WARMUP, WARMUP + count) if seq in frames)
    return {
        "samples": samples,
        "delivered": delivered,
        "expected": opened * replayed,
        "cpu": usage,
        "reports": reports,
        "drain": drain,
    }


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 agents, 10 s")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument(
        "--servers",
        type=int,
        default=2,
        help="Daphne processes (the scaled shape runs one per core); agents and posts are "
        "spread over them as a load balancer would",
    )
    parser.add_argument(
        "--drain", type=float, default=15.0, help="max wait after the last post (s)"
    )
    parser.add_argument(
        "--candidates",
        default="",
        help="changes to try, see bench/candidate_asgi.py (e.g. pubsub)",
    )
    args = parser.parse_args()
    args.agents = args.agents or (50 if args.quick else 200)
    args.seconds = args.seconds or (10.0 if args.quick else 20.0)
    harness.raise_fd_limit()
    env = harness.services_env()
    started = time.monotonic()
    print(
        f"push latency — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    if args.candidates:
        print(f"  with candidate changes: {args.candidates}")
    print(
        f"  {args.agents} agents, {args.rate:g} msg/s for {args.seconds:g} s, "
        f"{args.processes} load processes, {args.servers} Daphne processes"
    )

    ours = measure_parley(args, env)
    frame_counts = [len(v) for k, v in ours["frames"].items() if k >= WARMUP]
    frame_bytes = [len(t) for k, v in ours["frames"].items() if k >= WARMUP for t in v]
    bare = measure_bare(args, ours["frames"], ours["agents"], ours["count"])

    s, b = harness.summary(ours["samples"]), harness.summary(bare["samples"])
    print()
    print(
        f"frames per message: {harness.percentile(frame_counts, 50):.0f}, "
        f"frame size median {harness.percentile(frame_bytes, 50):.0f} B "
        f"(max {max(frame_bytes, default=0)} B); "
        f"{ours['agents'] * args.rate * (sum(frame_counts) / max(len(frame_counts), 1)):.0f} frames/s pushed"
    )
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  delivered")
    for name, st, r in (
        ("bare websockets broadcast", b, bare),
        ("Parley (Daphne + Redis)", s, ours),
    ):
        print(
            f"{name:28} {st['p50']:8.1f} {st['p95']:8.1f} {st['p99']:8.1f} {st['max']:8.1f}  "
            f"{r['delivered']}/{r['expected']} ({100 * r['delivered'] / max(r['expected'], 1):.1f} %)"
        )
    print(f"ratio to bare: p50 ×{s['p50'] / b['p50']:.1f}, p99 ×{s['p99'] / b['p99']:.1f}")
    print(
        f"targets: p50 ≤ {TARGET_P50:g} ms: {'met' if s['p50'] <= TARGET_P50 else 'NOT met'} "
        f"({s['p50']:.1f}); p99 ≤ {TARGET_P99:g} ms: {'met' if s['p99'] <= TARGET_P99 else 'NOT met'} "
        f"({s['p99']:.1f}); all delivered: {'yes' if ours['delivered'] == ours['expected'] else 'NO'}"
    )
    print(
        f"POST response: {harness.fmt_summary(harness.summary(ours['response_ms']))}; "
        f"poster lateness p99 {harness.percentile(ours['late'], 99):.1f} ms; errors: {len(ours['errors'])} "
        f"{ours['errors'][:2]}"
    )
    cpu = ours["cpu"]
    print(
        "CPU (% of one core) Parley run: "
        + " ".join(f"{k} {v:.0f}," for k, v in cpu.items() if k.startswith("daphne"))
        + f" poster {cpu['bench']:.0f}, "
        f"machine {cpu['machine']:.0f} % of 2 cores; drain after last post {ours['drain']:.1f} s"
    )
    print(f"  {load_report(ours['reports'], cpu)}")
    cpu = bare["cpu"]
    print(
        f"CPU (% of one core) bare run: server {cpu['bare']:.0f}, publisher {cpu['bench']:.0f}, "
        f"machine {cpu['machine']:.0f} %; drain {bare['drain']:.1f} s"
    )
    print(f"  {load_report(bare['reports'], cpu)}")
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
