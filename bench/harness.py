"""What every benchmark under bench/ shares: the services, a throwaway database, a Daphne
process, statistics and process accounting. Nothing here imports Django at module level, so
the load processes that import it (multiprocessing, spawn) stay light.

Databases are created on the test services' PostgreSQL (`.ci/services start`) under names
starting with `bench_`, and dropped afterwards; `parley` and `test_parley*` are never touched.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- statistics -----------------------------------------------------------------------------


def percentile(samples: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "max": max(samples) if samples else float("nan"),
        "mean": statistics.fmean(samples) if samples else float("nan"),
    }


def fmt_summary(s: dict[str, float], unit: str = "ms") -> str:
    return (
        f"p50 {s['p50']:.1f} {unit}  p95 {s['p95']:.1f}  p99 {s['p99']:.1f}  "
        f"max {s['max']:.1f}  (n={int(s['n'])})"
    )


# --- environment ----------------------------------------------------------------------------


def services_env() -> dict[str, str]:
    """DATABASE_URL and REDIS_URL as `make bench` sets them; asks `.ci/services env` when
    they are not in the environment (the services must be running: `.ci/services start`)."""
    found = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)}
    if len(found) < 2:
        out = subprocess.run(
            [str(ROOT / ".ci" / "services"), "env"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), value.strip())
    if not found.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("These benchmarks need PostgreSQL: run `.ci/services start` first.")
    return found


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_redis_url(url: str, db: int = 9) -> str:
    """A Redis database of its own, away from the tests and other running servers."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def raise_fd_limit(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> str:
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return (
        f"{os.cpu_count()} cores, {mem_kib / 1024 / 1024:.0f} GiB, Python "
        f"{platform.python_version()}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases ------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not name.startswith("bench_") or not name.replace("_", "").isalnum():
        raise ValueError(f"benchmark databases are named bench_*: {name!r}")


def _admin_connection(base_url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(with_database(base_url, "postgres"), autocommit=True)


def create_database(base_url: str, name: str) -> str:
    """(Re)create an empty database `name` on base_url's server; returns its URL."""
    _check_name(name)
    with _admin_connection(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base_url, name)


def database_exists(base_url: str, name: str) -> bool:
    _check_name(name)
    with _admin_connection(base_url) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def drop_database(base_url: str, name: str) -> None:
    _check_name(name)
    with _admin_connection(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_database(base_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    url = create_database(base_url, name)
    try:
        yield url
    finally:
        if not keep:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            drop_database(base_url, name)


def django_setup(database_url: str, redis_url: str | None, *, migrate: bool = True) -> None:
    """Point this process's Django at the bench database (and Redis layer), then migrate."""
    os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.update(server_env_overrides())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def server_env_overrides() -> dict[str, str]:
    """The scaled shape as it runs in production, minus what needs real secrets."""
    return {
        "INBOX_IN_PROCESS_WORKER": "false",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "CHANNELS_REDIS_PREFIX": f"bench{os.getpid()}",
    }


# --- servers --------------------------------------------------------------------------------


class Server:
    """A server subprocess on 127.0.0.1, its port and pid, stopped on exit."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_http(self, path: str = "/healthz", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"server did not start; see {self.log}:\n{self.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)

    def wait_port(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start; see {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def daphne(
    database_url: str,
    redis_url: str | None,
    *,
    log_name: str = "daphne",
    candidates: str = "",
    **extra_env: str,
) -> Server:
    """Daphne serving inbox.asgi on a free port, in the scaled shape; waits for /healthz.
    `candidates`: comma-separated changes from bench/candidate_asgi.py to try (not in the
    product yet), for before/after measurements."""
    env = dict(os.environ, DATABASE_URL=database_url, **server_env_overrides(), **extra_env)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    app = "inbox.asgi:application"
    if candidates:
        env["BENCH_CANDIDATES"] = candidates
        app = "bench.candidate_asgi:application"
    port = free_port()
    server = Server(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
        port,
        env,
        Path(f"/tmp/parley-{log_name}-{port}.log"),
    )
    server.wait_http()
    return server


# --- process accounting ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuWindow:
    """CPU used by given processes, and by the whole machine, over a window of wall time."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start_wall = time.monotonic()
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.start_machine = machine_busy()

    def report(self) -> dict[str, float]:
        """Share of one core per process, and of the whole machine (`machine`, 0-100 %)."""
        wall = time.monotonic() - self.start_wall
        out = {
            name: 100 * (cpu_seconds(pid) - self.start[name]) / wall
            for name, pid in self.pids.items()
        }
        busy, total = machine_busy()
        out["machine"] = (
            100 * (busy - self.start_machine[0]) / max(total - self.start_machine[1], 1)
        )
        return out


def background_load(seconds: float = 2.0) -> float:
    """How busy the machine is before a run starts (other processes), % of all cores."""
    busy0, total0 = machine_busy()
    time.sleep(seconds)
    busy1, total1 = machine_busy()
    return 100 * (busy1 - busy0) / max(total1 - total0, 1)


def run_stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
