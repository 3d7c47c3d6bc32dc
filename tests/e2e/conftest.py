"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server,
or against Daphne in a subprocess (`asgi_server`) where the page needs its websocket."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from tests.servers import daphne

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# the ORM calls the tests make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, which would break the asyncio tests of other modules.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest, live_server, settings):
    """new_page() → a page in a fresh browser profile (its own cookies). Pages are saved as
    screenshots under test-artifacts/ when the test fails."""
    settings.SITE_URL = live_server.url
    contexts = []

    def make(width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server.url
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(f"{error.name}: {error.message}"))
        return page

    script_errors: list[str] = []
    yield make
    _close_contexts(request, contexts, script_errors)


def _close_contexts(
    request: pytest.FixtureRequest, contexts: list[Any], script_errors: list[str]
) -> None:
    """Screenshot every page of a failed test into test-artifacts/, close the contexts, and
    fail the test if a page threw an uncaught error."""
    failed = getattr(request.node, "rep_call", None)
    for index, context in enumerate(contexts):
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for page in context.pages:
                page.screenshot(path=ARTIFACTS / f"{request.node.name}-{index}.png", full_page=True)
        context.close()
    _wait_for_server_writes()
    assert not script_errors, f"uncaught errors in the page: {script_errors}"


def _wait_for_server_writes(timeout: float = 10.0) -> None:
    """Closing a page does not stop a request the server already took (a read receipt, a
    "draft shown"). The test database is flushed next (TRUNCATE of every table): a server
    transaction still writing two tables would deadlock with it. Wait until the server's
    connections are idle."""
    if connections["default"].vendor != "postgresql":
        return

    def busy() -> int:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            return int(cursor.fetchone()[0])

    deadline = time.monotonic() + timeout
    while in_thread(busy) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/signin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` in a fresh thread and return its result. Playwright's sync API keeps an
    event loop in the test thread, where `async_to_sync` (which publishes events to the
    channel layer after commit) refuses to run; a domain write whose events must reach
    the browsers goes through here."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _database_url(db: dict[str, Any]) -> str:
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


@pytest.fixture(scope="module")
def asgi_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's MEDIA_ROOT: a test that stores files the server must serve sets its own
    settings.MEDIA_ROOT to this."""
    return tmp_path_factory.mktemp("asgi-media")


@pytest.fixture(scope="module")
def asgi_server(django_db_setup: None, asgi_media: Path) -> Iterator[str]:
    """Daphne serving the whole app (HTTP and websockets) from a subprocess, on the test
    database and the same Redis channel layer as the tests, so events published by the
    test process reach the browsers. pytest-django's live_server is WSGI: no websockets."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql" or not django_settings.REDIS_URL:
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL: run .ci/services start")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(dict(db)),  # pytest-django switched NAME to test_…
        "REDIS_URL": django_settings.REDIS_URL,
        "INBOX_IN_PROCESS_WORKER": "false",
        "SECRET_KEY": django_settings.SECRET_KEY,  # sessions made by the tests stay valid
        "DJANGO_SETTINGS_MODULE": "inbox.settings",
        "DEBUG": "true",  # WhiteNoise serves static/ straight from the source tree
        "MEDIA_ROOT": str(asgi_media),  # uploads stay out of var/
        "DRAFT_SEMANTIC": "off",  # as in the test process (tests/conftest.py)
    }
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with daphne(env, log=ARTIFACTS / "asgi-server.log") as base:
            yield base
    finally:
        connections.close_all()


@pytest.fixture
def asgi_page(browser: Browser, request: pytest.FixtureRequest, asgi_server: str):
    """asgi_page(user, width=1440, height=900) → a page on the Daphne server in a fresh
    browser profile, already signed in as `user` (a session made server-side, since the
    tests' fast password hasher is not the server's). Screenshots on failure."""
    from django.test import Client

    contexts = []

    def make(user: Any = None, width: int = 1440, height: int = 900) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=asgi_server
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:

            def login() -> str:
                client = Client()
                client.force_login(user)
                return client.cookies[django_settings.SESSION_COOKIE_NAME].value

            context.add_cookies(
                [
                    {
                        "name": django_settings.SESSION_COOKIE_NAME,
                        "value": in_thread(login),
                        "url": asgi_server,
                    }
                ]
            )
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(f"{error.name}: {error.message}"))
        return page

    script_errors: list[str] = []
    yield make
    _close_contexts(request, contexts, script_errors)
