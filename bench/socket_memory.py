# ruff: noqa: E501  (SQL and report lines read better unwrapped)
"""Memory per idle agent socket: one Daphne process holding N authenticated, idle sockets.

    python bench/socket_memory.py            # 2,000 sockets
    python bench/socket_memory.py --quick    # 300 sockets

Setup: a throwaway database (bench_sockets), N agents with personal API tokens, all members
of one inbox; Daphne in the scaled shape (Redis channel layer). RSS of the Daphne process
(VmRSS from /proc/<pid>/status) after a warm-up socket, then with N agent sockets open
(token auth, `hello` received, joined their groups) and idle for a few seconds; the
difference divided by N. Also the Redis connections the process opened.

Baseline, same run: `bench/bare_broadcast.py` holding the same number of idle sockets.
"""

from __future__ import annotations

import argparse
import secrets as pysecrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from agent_load import AgentFleet

IDLE_SECONDS = 5.0


def seed(agents: int) -> list[str]:
    from accounts.actions import create_api_token
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import create_inbox

    admin = User.objects.create_user(
        "bench-admin@example.com", "bench-password-1", name="Bench Admin", role="admin"
    )
    users = User.objects.bulk_create(
        User(email=f"agent{i}@example.com", name=f"Agent {i:04d}", password="!")
        for i in range(agents + 1)
    )
    create_inbox(
        name="Bench",
        kind="api",
        actor=admin,
        origin=SYSTEM,
        members=users,
        secrets={"api_key": pysecrets.token_urlsafe(32)},
    )
    return [create_api_token(user=u, name="bench", origin=SYSTEM)[1] for u in users]


def redis_clients(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("clients")["connected_clients"])
    finally:
        client.close()


def hold(url: str, secrets: list[str | None], pid: int, processes: int) -> dict[str, Any]:
    """RSS of `pid` before and with len(secrets) - 1 idle sockets open (the first secret
    opens and closes a warm-up socket)."""
    warm = AgentFleet(url, secrets[:1], 1)
    warm.wait_ready()
    warm.stop()
    time.sleep(2)
    before = harness.rss_kib(pid)
    fleet = AgentFleet(url, secrets[1:], processes, connect_concurrency=16)
    start = time.monotonic()
    opened = fleet.wait_ready(timeout=600)
    connect_seconds = time.monotonic() - start
    time.sleep(IDLE_SECONDS)
    after = harness.rss_kib(pid)
    reports = fleet.stop()
    return {
        "before": before,
        "after": after,
        "opened": opened,
        "per_socket": (after - before) / max(opened, 1),
        "connect_seconds": connect_seconds,
        "closed_early": sum(r["closed"] for r in reports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 sockets")
    parser.add_argument("--sockets", type=int)
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--candidates", default="", help="see bench/candidate_asgi.py")
    args = parser.parse_args()
    n = args.sockets or (300 if args.quick else 2000)
    harness.raise_fd_limit(max(65536, 4 * n))
    env = harness.services_env()
    redis = harness.bench_redis_url(env["REDIS_URL"])
    started = time.monotonic()
    print(
        f"socket memory — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    with harness.bench_database(env["DATABASE_URL"], "bench_sockets") as db_url:
        harness.django_setup(db_url, redis)
        t = time.monotonic()
        tokens = seed(n)
        print(f"  {n} agents with tokens in {time.monotonic() - t:.1f} s")
        from django.db import connections

        connections.close_all()
        with harness.daphne(
            db_url, redis, log_name="sockets", candidates=args.candidates
        ) as server:
            redis_before = redis_clients(redis)
            ours = hold(
                f"ws://127.0.0.1:{server.port}/ws/agent/", list(tokens), server.pid, args.processes
            )
            ours["redis_connections"] = redis_clients(redis) - redis_before
    port = harness.free_port()
    argv = [sys.executable, str(Path(__file__).parent / "bare_broadcast.py"), "--port", str(port)]
    import os

    with harness.Server(
        argv, port, dict(os.environ), Path(f"/tmp/parley-bare-{port}.log")
    ) as bare_server:
        bare_server.wait_port()
        bare = hold(f"ws://127.0.0.1:{port}/", [None] * (n + 1), bare_server.pid, args.processes)

    print(f"\n{'':34} {'RSS before':>11} {'RSS after':>11} {'sockets':>8} {'KiB/socket':>11}")
    for name, r in (("bare websockets", bare), ("Parley (Daphne + Redis layer)", ours)):
        print(
            f"{name:34} {r['before'] / 1024:8.1f} MiB {r['after'] / 1024:8.1f} MiB "
            f"{r['opened']:8} {r['per_socket']:11.1f}"
        )
    print(
        f"ratio to bare: ×{ours['per_socket'] / bare['per_socket']:.1f}; Parley opened "
        f"{ours['redis_connections']} Redis connections; connecting took "
        f"{ours['connect_seconds']:.1f} s ({ours['opened'] / ours['connect_seconds']:.0f} sockets/s, "
        f"bare {bare['opened'] / bare['connect_seconds']:.0f}/s); closed early: "
        f"{ours['closed_early']} / {bare['closed_early']}"
    )
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
