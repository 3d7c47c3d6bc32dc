"""Real servers for tests: a Daphne process serving the project, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scaled_env(**overrides: str) -> dict[str, str]:
    """The environment of a Daphne process in the scaled shape on the test database (skips
    the test without PostgreSQL and Redis)."""
    import pytest
    from django.conf import settings

    db = settings.DATABASES["default"]
    if not os.environ.get("REDIS_URL") or db["ENGINE"].endswith("sqlite3"):
        pytest.skip("needs PostgreSQL and Redis (make test)")
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return dict(os.environ, INBOX_IN_PROCESS_WORKER="false", DATABASE_URL=url, **overrides)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def daphne(env: dict[str, str], *, log: Path | None = None, timeout: float = 60) -> Iterator[str]:
    """Run `daphne inbox.asgi:application` with `env` until the block ends; yields its base
    URL once /healthz answers. Output goes to `log` (or nowhere)."""
    port = free_port()
    out = log.open("w") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "inbox.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError as exc:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = log.read_text() if log is not None else ""
                    raise RuntimeError(f"daphne did not start:\n{output}") from exc
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log is not None:
            out.close()  # type: ignore[union-attr]
