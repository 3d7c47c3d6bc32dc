"""Simulated agents: processes that each hold many websocket connections.

Each process (started with multiprocessing, spawn) opens its sockets, waits for the
server's `hello`, reports ready, then stamps the arrival (time.monotonic_ns, one clock for
every process on the machine) of each `message.created` frame carrying a bench token. It
also measures what it costs itself: CPU seconds and event-loop lag, so a slow load process
is not mistaken for a slow server.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import re
import resource
import time
from typing import Any

TOKEN = re.compile(r"bench-token-(\d+)-")
MARK = '"kind":"message.created"'


def token_text(seq: int) -> str:
    return f"bench-token-{seq}-x"


def agent_process(
    index: int,
    url: str,
    secrets: list[str | None],
    ready: Any,
    stop: Any,
    results: Any,
    progress: Any,
    measure_from: int,
    connect_concurrency: int = 32,
) -> None:
    """Entry point of one load process. `secrets`: one per socket (None: no auth header).
    `progress` (a shared counter) counts arrivals of seq >= measure_from."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(
        _run(index, url, secrets, ready, stop, results, progress, measure_from, connect_concurrency)
    )


async def _run(
    index: int,
    url: str,
    secrets: list[str | None],
    ready: Any,
    stop: Any,
    results: Any,
    progress: Any,
    measure_from: int,
    connect_concurrency: int,
) -> None:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(connect_concurrency)
    failures: list[str] = []

    async def open_one(secret: str | None) -> Any:
        headers = {"Authorization": f"Bearer {secret}"} if secret else None
        async with gate:
            for attempt in range(3):
                try:
                    ws = await connect(
                        url,
                        additional_headers=headers,
                        compression=None,
                        max_size=None,
                        open_timeout=60,
                        ping_interval=None,
                        close_timeout=2,
                    )
                    hello = await asyncio.wait_for(ws.recv(), 30)
                    if '"hello"' not in hello:
                        raise RuntimeError(f"unexpected first frame {hello[:80]!r}")
                    return ws
                except Exception as exc:
                    if attempt == 2:
                        failures.append(repr(exc)[:200])
                        return None
                    await asyncio.sleep(0.5)
        return None

    started = time.monotonic()
    sockets = [ws for ws in await asyncio.gather(*(open_one(s) for s in secrets)) if ws]
    connect_seconds = time.monotonic() - started
    ready.put((index, len(sockets), failures[:3], len(failures)))

    arrivals = [array.array("q") for _ in sockets]  # pairs: seq, ns
    counters = {"frames": 0, "bytes": 0, "closed": 0}

    async def reader(i: int, ws: Any) -> None:
        out = arrivals[i]
        try:
            async for text in ws:
                now = time.monotonic_ns()
                counters["frames"] += 1
                counters["bytes"] += len(text)
                if MARK in text:
                    m = TOKEN.search(text)
                    if m:
                        seq = int(m.group(1))
                        out.append(seq)
                        out.append(now)
                        if seq >= measure_from:
                            progress.value += 1
        except Exception:
            counters["closed"] += 1

    lags: list[float] = []

    async def lag_probe() -> None:
        # How late the loop wakes a 10 ms sleeper: the client's own queueing delay.
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append((time.monotonic() - t - 0.01) * 1000)

    cpu_start = time.process_time()
    wall_start = time.monotonic()
    tasks = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
    probe = asyncio.create_task(lag_probe())
    while not stop.is_set():
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu_start
    wall = time.monotonic() - wall_start
    probe.cancel()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 20
        )
    results.put(
        {
            "index": index,
            "sockets": len(sockets),
            "connect_seconds": connect_seconds,
            "arrivals": [a.tobytes() for a in arrivals],
            "cpu_percent": 100 * cpu / wall if wall else 0.0,
            "lags": lags,
            **counters,
        }
    )


def decode_arrivals(blob: bytes) -> list[tuple[int, int]]:
    values = array.array("q")
    values.frombytes(blob)
    return list(zip(values[0::2], values[1::2], strict=True))


class AgentFleet:
    """Start `processes` load processes sharing `secrets` between them (process i connects
    to `url`, or to urls[i % len(urls)] given several servers); `wait_ready()`, later
    `stop()` returns their reports."""

    def __init__(
        self,
        url: str | list[str],
        secrets: list[str | None],
        processes: int,
        measure_from: int = 0,
        connect_concurrency: int = 32,
    ) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.ready = ctx.Queue()
        self.results = ctx.Queue()
        self.stop_event = ctx.Event()
        self.counters = [ctx.RawValue("q", 0) for _ in range(processes)]
        urls = [url] if isinstance(url, str) else url
        self.procs = [
            ctx.Process(
                target=agent_process,
                args=(
                    i,
                    urls[i % len(urls)],
                    secrets[i::processes],
                    self.ready,
                    self.stop_event,
                    self.results,
                    self.counters[i],
                    measure_from,
                    connect_concurrency,
                ),
                daemon=True,
            )
            for i in range(processes)
        ]
        for p in self.procs:
            p.start()

    @property
    def pids(self) -> dict[str, int]:
        return {f"load{i}": p.pid for i, p in enumerate(self.procs) if p.pid is not None}

    def wait_ready(self, timeout: float = 300) -> int:
        """Number of sockets open; raises if any failed to connect."""
        opened, problems = 0, []
        for _ in self.procs:
            _, n, sample, failed = self.ready.get(timeout=timeout)
            opened += n
            if failed:
                problems.append(f"{failed} failed, e.g. {sample}")
        if problems:
            print("  connection failures:", "; ".join(problems))
        return opened

    def progress(self) -> int:
        return sum(c.value for c in self.counters)

    def stop(self, timeout: float = 120) -> list[dict[str, Any]]:
        self.stop_event.set()
        reports = [self.results.get(timeout=timeout) for _ in self.procs]
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        return sorted(reports, key=lambda r: r["index"])
