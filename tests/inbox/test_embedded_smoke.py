"""Smoke test of the embedded default, the shape `make run` serves: SQLite under var/, the
in-memory channel layer and the in-process task worker, all in one Daphne process."""

from __future__ import annotations

import asyncio
import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.servers import daphne

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.embedded


class Browser:
    """Just enough of a browser: cookies and CSRF tokens."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.status, response.read().decode()

    def post_form(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        _, page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token.group(1)}).encode()
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory: pytest.TempPathFactory):
    var = tmp_path_factory.mktemp("embedded-var")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        INBOX_VAR_DIR=str(var),
        SITE_URL="http://127.0.0.1",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(var / "mail"),
    )
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput"], ["seed_demo"], ["seed_demo"]):
        subprocess.run(
            [*manage, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=180
        )
    with daphne(env, log=var / "daphne.log") as base:
        yield base, var, env


def test_embedded_default_end_to_end(embedded_server) -> None:
    base, var, env = embedded_server
    assert (var / "inbox.sqlite3").exists()

    # Seeding twice made the demo accounts once.
    count = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "from accounts.models import User; print(User.objects.count())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert count.stdout.strip() == "3"

    browser = Browser(base)
    # The seeded website chat, on the stand-in customer page `make run` points to.
    status, page = browser.get("/widget/demo/")
    assert status == 200 and "/static/widget/loader.js" in page and 'data-inbox="' in page
    status, page = browser.post_form(
        "/accounts/signin/", {"username": "admin@example.com", "password": "demo-password-1"}
    )
    assert status == 200 and "Ada Admin" in page and "<title>Inbox" in page

    # The in-process worker sends the invitation email without a second process.
    status, page = browser.post_form(
        "/accounts/admin/users/invite/", {"email": "newcomer@example.com", "role": "agent"}
    )
    assert "Invitation sent to newcomer@example.com" in page
    deadline = time.monotonic() + 15
    while not list((var / "mail").glob("*.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = "".join(p.read_text() for p in (var / "mail").glob("*.log"))
    assert "To: newcomer@example.com" in sent
    assert "/accounts/invitation/" in sent

    # The agent websocket works on the in-memory layer; a message stored by another process
    # (a manage.py command, as an MTA pipe would run) reaches it; it closes at sign-out.
    async def socket_session() -> tuple[dict, dict, int | None]:
        import json

        uri = base.replace("http", "ws") + "/ws/agent/"
        headers = {"Cookie": f"sessionid={browser.cookie('sessionid')}", "Origin": base}
        async with websockets.connect(uri, additional_headers=headers) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await asyncio.to_thread(customer_writes_from_another_process)
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("kind") == "message.created":
                    break
            await asyncio.to_thread(sign_out)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as closed:
                return hello, frame, closed.rcvd.code if closed.rcvd else None

    def customer_writes_from_another_process() -> None:
        code = (
            "from inbox import actions; from inbox.models import Inbox; "
            "actions.receive_inbound_message(inbox=Inbox.objects.get(name='Support'), "
            "identity=actions.IdentityInput(kind='email', value='new@example.com'), "
            "text='Written by another process')"
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def sign_out() -> None:
        token = browser.cookie("csrftoken")
        request = urllib.request.Request(
            base + "/accounts/signout/",
            data=urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
            headers={"Referer": base + "/inbox/"},
        )
        browser.opener.open(request, timeout=10).read()

    hello, frame, close_code = asyncio.run(socket_session())
    assert (
        hello["type"] == "hello" and len(hello["inbox_ids"]) == 3
    )  # Support, Billing, Website chat
    assert frame["payload"]["message"]["text"] == "Written by another process"
    assert close_code == 4003
