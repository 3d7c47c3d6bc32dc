# ruff: noqa: E501  (report lines read better unwrapped)
"""The website chat's loader: its size, and how soon the launcher is usable on a blank page.

    python bench/widget_loader.py            # 30 cold page loads
    python bench/widget_loader.py --quick    # 10

Sizes: static/widget/loader.js (what every page of the customer's site loads; issue: at most
15 KB gzipped), chat.js and widget.css (loaded on first open), raw and `gzip -9`.

Time: headless Chromium (Debian's, with the flags the tests use), a fresh browser context per
load (cold cache), a blank host page on one loopback port embedding the snippet of Daphne on
another (the embedded shape). Measured in the page: `performance.now()` when `parley:ready`
fires (config fetched, launcher shown and clickable). Baseline, same run: the same page's
`load` event without the snippet.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sizes() -> list[tuple[str, int, int]]:
    out = []
    for name in ("loader.js", "chat.js", "widget.css"):
        raw = (ROOT / "static" / "widget" / name).read_bytes()
        out.append((name, len(raw), len(gzip.compress(raw, compresslevel=9))))
    return out


def host_site(app: str, inbox: dict[str, str]) -> ThreadingHTTPServer:
    """A blank page (`/blank`), and the same with the snippet (`/with`) of inbox["id"]."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            snippet = (
                f"<script src='{app}/static/widget/loader.js' data-inbox='{inbox['id']}' async></script>"
                if self.path.startswith("/with")
                else ""
            )
            body = (
                "<!doctype html><html><head><meta charset='utf-8'><title>blank</title></head>"
                f"<body>{snippet}</body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--loads", type=int)
    args = parser.parse_args()
    loads = args.loads or (10 if args.quick else 30)
    print(
        f"widget loader — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    print(f"\n{'file':12} {'raw':>9} {'gzip -9':>9}")
    for name, raw, packed in sizes():
        print(f"{name:12} {raw:>7,} B {packed:>7,} B")

    var = Path(tempfile.mkdtemp(prefix="parley-loader-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(INBOX_VAR_DIR=str(var), DEBUG="true", LOG_LEVEL="WARNING", DRAFT_SEMANTIC="off")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = harness.free_port()
    create = (
        "from accounts.models import User; from accounts.origin import SYSTEM; "
        "from inbox.actions import create_inbox; "
        "admin = User.objects.create_user('a@example.com', 'x', name='A', role='admin'); "
        "print(create_inbox(name='Chat', kind='widget', actor=admin, origin=SYSTEM, "
        "settings={'widget': {'allowed_origins': ['ORIGIN']}}).public_id)"
    )
    inbox: dict[str, str] = {"id": ""}
    site = host_site(f"http://127.0.0.1:{port}", inbox)
    site_url = f"http://127.0.0.1:{site.server_address[1]}"
    inbox["id"] = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", create.replace("ORIGIN", site_url)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    argv = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "inbox.asgi:application",
    ]
    from playwright.sync_api import sync_playwright

    with harness.Server(argv, port, env, var / "daphne.log") as server, sync_playwright() as pw:
        server.wait_http()
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def one(path: str, script: str) -> float:
            context = browser.new_context()
            page = context.new_page()
            page.add_init_script(script)
            page.goto(site_url + path)
            value = page.wait_for_function("window.__measured", timeout=15000).json_value()
            context.close()
            return float(value)

        ready_script = "window.addEventListener('parley:ready', () => { window.__measured = performance.now(); });"
        load_script = (
            "window.addEventListener('load', () => { window.__measured = performance.now(); });"
        )
        one("/with", ready_script)  # the server's first requests (imports, connections)
        base, ready = [], []
        for _ in range(loads):
            base.append(one("/blank", load_script))
            ready.append(one("/with", ready_script))
        browser.close()
    site.shutdown()

    print(f"\n{loads} cold loads (fresh browser context each), ms from navigation start:")
    for name, samples in (
        ("baseline: blank page 'load'", base),
        ("launcher usable (parley:ready)", ready),
    ):
        print(
            f"  {name:32} p50 {statistics.median(samples):7.1f}  p95 {harness.percentile(samples, 95):7.1f}"
        )
    print(f"  ratio of medians: ×{statistics.median(ready) / statistics.median(base):.1f}")


if __name__ == "__main__":
    main()
