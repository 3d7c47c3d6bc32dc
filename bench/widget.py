# ruff: noqa: E501  (report lines read better unwrapped)
"""Website chat at load: idle visitor sockets, and visitors chatting with agents.

    python bench/widget.py            # 2,000 idle visitor sockets; 500 visitors chatting for 60 s
    python bench/widget.py --quick    # 300 idle; 100 chatting for 30 s
    python bench/widget.py idle       # one part only (idle | chat)

Setup: a throwaway database (bench_widget), one website-chat inbox allowing the origin
https://shop.example, visitors with tokens (their first message already sent, so each has a
conversation), 5 agents with API tokens; Daphne in the scaled shape (Redis channel layer and
cache), one process.

- idle: RSS of the Daphne process before and with N visitor sockets open (hello sent,
  `ready` received, joined their conversation's group) and idle a few seconds; the
  difference divided by N. Baseline, same run: `bench/bare_broadcast.py` holding N sockets.
- chat: V visitors, each with its socket open, send one message every 10 s (staggered) over
  the HTTP API; 5 agent sockets follow the inbox, and the agent whose turn it is answers each
  message over the REST API. Latency visitor → agent: from the start of the visitor's POST to
  the `message.created` frame on the agent's socket; agent → visitor: from the start of the
  agent's POST to the frame on the visitor's socket. Baseline, same run: a `ping` → `pong`
  round trip on a visitor socket (what a frame costs with no work behind it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ORIGIN = "https://shop.example"
AGENTS = 5
IDLE_SECONDS = 5.0
INTERVAL = 10.0  # seconds between a visitor's messages


def seed(visitors: int) -> dict[str, Any]:
    """The inbox, `visitors` visitors each with one message sent, agents with API tokens."""
    from accounts.actions import create_api_token
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import create_inbox
    from inbox.actions import widget as visitor_actions

    admin = User.objects.create_user(
        "bench-admin@example.com", "bench-password-1", name="Bench Admin", role="admin"
    )
    agents = [
        User.objects.create_user(f"agent{i}@example.com", "x", name=f"Agent {i}")
        for i in range(AGENTS)
    ]
    inbox = create_inbox(
        name="Bench chat",
        kind="widget",
        actor=admin,
        origin=SYSTEM,
        members=agents,
        settings={"widget": {"allowed_origins": [ORIGIN]}},
    )
    tokens = []
    for i in range(visitors):
        visitor, token = visitor_actions.start_session(inbox=inbox)
        visitor_actions.visitor_writes(visitor=visitor, text=f"hello from visitor {i}")
        tokens.append(token)
    return {
        "inbox": str(inbox.public_id),
        "tokens": tokens,
        "agent_tokens": [create_api_token(user=a, name="bench", origin=SYSTEM)[1] for a in agents],
    }


# --- the load (one asyncio process; HTTP calls in a thread pool) ---------------------------


async def open_visitor(url: str, token: str) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(
        url,
        origin=ORIGIN,  # type: ignore[arg-type]
        compression=None,
        max_size=None,
        open_timeout=60,
        ping_interval=None,
        close_timeout=2,
    )
    await ws.send(json.dumps({"type": "hello", "token": token, "page": ORIGIN + "/"}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ready.get("type") != "ready":
        raise RuntimeError(f"unexpected first frame {ready}")
    return ws


async def open_all(url: str, tokens: list[str], concurrency: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(token: str) -> Any:
        async with gate:
            return await open_visitor(url, token)

    return await asyncio.gather(*(one(t) for t in tokens))


def idle_holder(url: str, tokens: list[str], pid: int) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        warm = await open_visitor(url, tokens[0])
        await warm.close()
        await asyncio.sleep(2)
        before = harness.rss_kib(pid)
        start = time.monotonic()
        sockets = await open_all(url, tokens[1:])
        connect_seconds = time.monotonic() - start
        await asyncio.sleep(IDLE_SECONDS)
        after = harness.rss_kib(pid)
        closed = sum(1 for ws in sockets if ws.close_code is not None)
        await asyncio.gather(*(ws.close() for ws in sockets))
        return {
            "before": before,
            "after": after,
            "opened": len(sockets),
            "per_socket": (after - before) / max(len(sockets), 1),
            "connect_seconds": connect_seconds,
            "closed_early": closed,
        }

    return asyncio.run(run())


def chat(base: str, seeded: dict[str, Any], visitors: int, seconds: float) -> dict[str, Any]:
    import requests
    from websockets.asyncio.client import connect

    ws_base = base.replace("http://", "ws://")
    inbox = seeded["inbox"]
    tokens = seeded["tokens"][:visitors]
    pool = ThreadPoolExecutor(max_workers=32)
    local = __import__("threading").local()

    def session() -> Any:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return local.s

    def post_visitor(token: str, text: str) -> int:
        response = session().post(
            f"{base}/widget/v1/{inbox}/messages",
            json={"text": text},
            headers={"Origin": ORIGIN, "X-Parley-Visitor": token},
            timeout=60,
        )
        return response.status_code

    def post_agent(secret: str, conversation_id: int, text: str) -> int:
        response = session().post(
            f"{base}/api/v1/conversations/{conversation_id}/messages/",
            json={"text": text},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        return response.status_code

    sent_visitor: dict[str, float] = {}
    sent_agent: dict[str, float] = {}
    to_agent: list[float] = []
    to_visitor: list[float] = []
    errors: list[str] = []
    pings: list[float] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        sockets = await open_all(f"{ws_base}/ws/widget/?inbox={inbox}", tokens)
        agents = [
            await connect(
                f"{ws_base}/ws/agent/",
                additional_headers={"Authorization": f"Bearer {s}"},
                compression=None,
                max_size=None,
                ping_interval=None,
            )
            for s in seeded["agent_tokens"]
        ]
        for ws in agents:
            await asyncio.wait_for(ws.recv(), 30)  # hello
        stop = time.monotonic() + seconds

        async def agent_listener(index: int, ws: Any) -> None:
            async for raw in ws:
                if '"message.created"' not in raw or "bench-v-" not in raw:
                    continue
                frame = json.loads(raw)
                message = frame["payload"]["message"]
                text = message["text"]
                if message["direction"] != "incoming" or text not in sent_visitor:
                    continue
                now = time.monotonic()
                if index == 0:  # every agent gets it; measure once
                    to_agent.append((now - sent_visitor[text]) * 1000)
                owner = int(text.split("-")[2]) % AGENTS
                if index == owner and now < stop:
                    reply = text.replace("bench-v-", "bench-a-")
                    sent_agent[reply] = time.monotonic()
                    status = await loop.run_in_executor(
                        pool,
                        post_agent,
                        seeded["agent_tokens"][index],
                        message["conversation_id"],
                        reply,
                    )
                    if status != 201:
                        errors.append(f"agent POST {status}")

        async def visitor_listener(ws: Any) -> None:
            async for raw in ws:
                if "bench-a-" not in raw:
                    continue
                frame = json.loads(raw)
                if frame.get("kind") != "message.created":
                    continue
                text = frame["payload"]["message"]["text"]
                if text in sent_agent:
                    to_visitor.append((time.monotonic() - sent_agent[text]) * 1000)

        async def visitor_talks(i: int, ws: Any) -> None:
            await asyncio.sleep(random.uniform(0, INTERVAL))
            n = 0
            while time.monotonic() < stop:
                text = f"bench-v-{i}-{n}"
                sent_visitor[text] = time.monotonic()
                status = await loop.run_in_executor(pool, post_visitor, tokens[i], text)
                if status != 201:
                    errors.append(f"visitor POST {status}")
                n += 1
                await asyncio.sleep(INTERVAL)

        async def pinger(ws: Any) -> None:
            while time.monotonic() < stop:
                await asyncio.sleep(1)
                start = time.monotonic()
                await ws.send('{"type":"ping"}')
                pings_pending.append(start)

        pings_pending: list[float] = []

        async def ping_listener(ws: Any) -> None:
            async for raw in ws:
                if '"pong"' in raw and pings_pending:
                    pings.append((time.monotonic() - pings_pending.pop(0)) * 1000)

        tasks = [asyncio.create_task(agent_listener(i, ws)) for i, ws in enumerate(agents)]
        tasks += [asyncio.create_task(visitor_listener(ws)) for ws in sockets[1:]]
        tasks.append(asyncio.create_task(ping_listener(sockets[0])))
        talkers = [asyncio.create_task(visitor_talks(i, ws)) for i, ws in enumerate(sockets) if i]
        talkers.append(asyncio.create_task(pinger(sockets[0])))
        await asyncio.gather(*talkers)
        await asyncio.sleep(5)  # the last answers arrive
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in [*sockets, *agents]), return_exceptions=True)

    started = time.monotonic()
    asyncio.run(run())
    pool.shutdown()
    return {
        "to_agent": to_agent,
        "to_visitor": to_visitor,
        "pings": pings,
        "visitor_messages": len(sent_visitor),
        "agent_replies": len(sent_agent),
        "errors": errors,
        "seconds": time.monotonic() - started,
    }


def fmt(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (
        f"p50 {statistics.median(samples):7.1f} ms  p99 {harness.percentile(samples, 99):7.1f} ms"
        f"  (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", choices=["idle", "chat", []], help="default: both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sockets", type=int)
    parser.add_argument("--visitors", type=int)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    parts = args.parts or ["idle", "chat"]
    idle_n = args.sockets or (300 if args.quick else 2000)
    chatting = args.visitors or (100 if args.quick else 500)
    seconds = args.seconds or (30 if args.quick else 60)
    harness.raise_fd_limit(max(65536, 4 * idle_n))
    env = harness.services_env()
    redis = harness.bench_redis_url(env["REDIS_URL"])
    started = time.monotonic()
    print(
        f"website chat — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    with harness.bench_database(env["DATABASE_URL"], "bench_widget") as db_url:
        harness.django_setup(db_url, redis)
        t = time.monotonic()
        seeded = seed(max(idle_n + 1 if "idle" in parts else 0, chatting + 1))
        print(
            f"  {len(seeded['tokens'])} visitors with a conversation in {time.monotonic() - t:.1f} s"
        )
        from django.db import connections

        connections.close_all()
        rates = {
            "WIDGET_ADDRESS_MESSAGE_RATE": "100000/min",  # every visitor comes from 127.0.0.1
            "WIDGET_ADDRESS_REQUEST_RATE": "100000/min",
            "WIDGET_ADDRESS_SESSION_RATE": "100000/min",
        }
        with harness.daphne(db_url, redis, log_name="widget", **rates) as server:
            base = f"http://127.0.0.1:{server.port}"
            if "idle" in parts:
                ours = idle_holder(
                    f"{base.replace('http', 'ws')}/ws/widget/?inbox={seeded['inbox']}",
                    seeded["tokens"][: idle_n + 1],
                    server.pid,
                )
            if "chat" in parts:
                cpu_before = harness.cpu_seconds(server.pid)
                result = chat(base, seeded, chatting + 1, seconds)
                cpu = harness.cpu_seconds(server.pid) - cpu_before
    if "idle" in parts:
        import os

        from socket_memory import hold

        port = harness.free_port()
        argv = [
            sys.executable,
            str(Path(__file__).parent / "bare_broadcast.py"),
            "--port",
            str(port),
        ]
        with harness.Server(
            argv, port, dict(os.environ), Path(f"/tmp/parley-bare-{port}.log")
        ) as bare_server:
            bare_server.wait_port()
            bare = hold(f"ws://127.0.0.1:{port}/", [None] * (idle_n + 1), bare_server.pid, 2)
        print(
            f"\nidle sockets\n{'':34} {'RSS before':>11} {'RSS after':>11} {'sockets':>8} {'KiB/socket':>11}"
        )
        for name, r in (("bare websockets", bare), ("Parley visitor sockets", ours)):
            print(
                f"{name:34} {r['before'] / 1024:8.1f} MiB {r['after'] / 1024:8.1f} MiB "
                f"{r['opened']:8} {r['per_socket']:11.1f}"
            )
        print(
            f"ratio to bare: ×{ours['per_socket'] / bare['per_socket']:.1f}; connecting took "
            f"{ours['connect_seconds']:.1f} s ({ours['opened'] / ours['connect_seconds']:.0f} sockets/s); "
            f"closed early: {ours['closed_early']}"
        )
    if "chat" in parts:
        print(
            f"\n{chatting} visitors chatting for {seconds:.0f} s (one message each per {INTERVAL:.0f} s), "
            f"{AGENTS} agents answering: {result['visitor_messages']} visitor messages, "
            f"{result['agent_replies']} agent replies, errors: {len(result['errors'])} "
            f"{sorted(set(result['errors']))[:3]}; Daphne CPU {cpu:.1f} s "
            f"({100 * cpu / result['seconds']:.0f} % of one core)"
        )
        print(f"  baseline ping → pong      {fmt(result['pings'])}")
        print(f"  visitor → agent           {fmt(result['to_agent'])}")
        print(f"  agent → visitor           {fmt(result['to_visitor'])}")
        if result["pings"] and result["to_agent"]:
            base_ms = statistics.median(result["pings"])
            print(
                f"  ratio of medians to the baseline: visitor → agent ×{statistics.median(result['to_agent']) / base_ms:.0f}, "
                f"agent → visitor ×{statistics.median(result['to_visitor'] or [0]) / base_ms:.0f}"
            )
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
