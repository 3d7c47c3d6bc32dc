"""The website chat in a real browser: a customer's site on another origin (a second
loopback port) embeds the snippet; a visitor chats with an agent working in the inbox, live
both ways (typing included); a reload keeps the history, reset() clears it; a site not on
the allowlist gets nothing; hostile CSS on the host page does not break the widget.
Screenshots for docs/sources/widget.md."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.origin import SYSTEM
from inbox import actions
from tests.e2e.conftest import ARTIFACTS, in_thread
from tests.e2e.test_inbox_live import LIVE, open_inbox, row
from tests.factories import AdminFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE_CSS = """
* { display: none !important; font-size: 40px !important; letter-spacing: 8px !important; }
html, body { display: block !important; }
div { all: unset; }
"""


class HostSites:
    """Two stand-in customer websites on loopback ports: `allowed` and `other`."""

    def __init__(self, app: str) -> None:
        self.app, self.inbox_id = app, ""
        self.servers = [self._serve(), self._serve()]
        self.allowed, self.other = (f"http://127.0.0.1:{s.server_address[1]}" for s in self.servers)

    def _serve(self) -> ThreadingHTTPServer:
        sites = self

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                style = f"<style>{HOSTILE_CSS}</style>" if self.path.startswith("/hostile") else ""
                body = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                    f"<title>Ceramics shop</title>{style}</head><body>"
                    "<h1>Handmade ceramics</h1><p>Bowls, cups and plates, made to order.</p>"
                    f"<script src='{sites.app}/static/widget/loader.js' "
                    f"data-inbox='{sites.inbox_id}' async></script></body></html>"
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

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def sites(asgi_server: str) -> Iterator[HostSites]:
    hosts = HostSites(asgi_server)
    yield hosts
    hosts.close()


@pytest.fixture
def chat(sites: HostSites) -> dict[str, Any]:
    return in_thread(_make_chat, sites)  # its events are published (not from Playwright's loop)


def _make_chat(sites: HostSites) -> dict[str, Any]:
    ben = UserFactory(name="Ben Agent", email="ben@example.com")
    inbox = actions.create_inbox(
        name="Ceramics chat",
        kind="widget",
        actor=AdminFactory(),
        origin=SYSTEM,
        members=[ben],
        settings={
            "widget": {
                "allowed_origins": [sites.allowed],
                "greeting": "Hello! Questions about an order? Ask away.",
                "prechat_name": "optional",
                "prechat_email": "optional",
                "privacy_url": "https://shop.example/privacy",
            }
        },
    )
    sites.inbox_id = str(inbox.public_id)
    return {"ben": ben, "inbox": inbox}


def visitor_page(browser: Browser, url: str, *, responses: list | None = None, **size: int) -> Page:
    """A visitor's browser on the customer's site; `responses`: collects (url, status), 0
    for a request the browser refused (the server's 403 without CORS headers)."""
    context = browser.new_context(
        viewport={"width": size.get("width", 1280), "height": size.get("height", 800)},
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    if responses is not None:
        page.on("response", lambda r: responses.append((r.url, r.status)))
        page.on("requestfailed", lambda r: responses.append((r.url, 0)))
    page.goto(url)
    return page


def widget(page: Page, selector: str):
    """Inside the widget's shadow root (Playwright's CSS pierces open shadow roots)."""
    return page.locator("parley-widget " + selector)


def test_a_visitor_and_an_agent_chat_live(browser, asgi_page, sites, chat) -> None:
    visitor = visitor_page(browser, sites.allowed + "/")
    launcher = widget(visitor, ".pw-launcher")
    expect(launcher).to_be_visible()
    visitor.screenshot(path=str(ARTIFACTS / "widget-closed.png"))
    launcher.click()
    expect(widget(visitor, ".pw-window")).to_be_visible()
    expect(widget(visitor, ".pw-window")).to_contain_text("Questions about an order?")
    widget(visitor, "#pw-f-name").fill("Vera <b>Visitor</b>")
    box = widget(visitor, ".pw-textarea")
    box.fill("Hello, can I order a blue bowl?")
    box.press("Enter")
    expect(widget(visitor, ".pw-visitor .pw-bubble").first).to_have_text(
        "Hello, can I order a blue bowl?"
    )

    agent = asgi_page(chat["ben"])
    open_inbox(agent)
    agent.get_by_role("button", name=re.compile("^Unassigned")).click()
    conversation_row = row(agent, "Vera <b>Visitor</b>")  # the name as text, not markup
    expect(conversation_row).to_be_visible(timeout=LIVE)
    conversation_row.click()
    expect(agent.locator("#messages")).to_contain_text("Hello, can I order a blue bowl?")
    expect(agent.locator("#visitor-section")).to_contain_text("Unverified details")
    expect(agent.locator("#visitor-section")).to_contain_text("Online now")
    # The agent opened it: the visitor's message shows as read to the visitor.
    expect(widget(visitor, ".pw-visitor .pw-ticks")).to_have_class(
        re.compile("pw-st-read"), timeout=LIVE
    )

    # Typing shows both ways.
    agent.locator("#composer-text").press_sequentially("Yes, in", delay=30)
    expect(widget(visitor, ".pw-typing")).to_contain_text("Ben Agent", timeout=LIVE)
    box.press_sequentially("And a cup", delay=30)
    expect(agent.locator("#presence")).to_contain_text("is typing", timeout=LIVE)

    agent.locator("#composer-text").press_sequentially(" any colour you like.", delay=10)
    agent.locator("#composer-text").press("Control+Enter")
    reply = widget(visitor, ".pw-agent .pw-bubble").last
    expect(reply).to_have_text("Yes, in any colour you like.", timeout=LIVE)
    visitor.screenshot(path=str(ARTIFACTS / "widget-open.png"))
    # The visitor read it: the agent's message shows as read.
    expect(agent.locator("#messages .msg-out").last).to_contain_text("Read", timeout=LIVE)

    # A reload (or another page of the site) keeps the conversation.
    visitor.reload()
    widget(visitor, ".pw-launcher").click()
    expect(widget(visitor, ".pw-agent .pw-bubble").last).to_have_text(
        "Yes, in any colour you like."
    )
    expect(widget(visitor, ".pw-visitor .pw-bubble").first).to_have_text(
        "Hello, can I order a blue bowl?"
    )

    # Signing out on a shared computer: the next person sees nothing of Vera's chat.
    token_before = visitor.evaluate(f"localStorage.getItem('parley:{sites.inbox_id}')")
    visitor.evaluate("Parley.reset()")
    expect(widget(visitor, ".pw-list .pw-msg")).to_have_count(0)
    visitor.reload()
    widget(visitor, ".pw-launcher").click()
    expect(widget(visitor, ".pw-window")).to_be_visible()
    expect(widget(visitor, ".pw-list .pw-msg")).to_have_count(0)
    assert visitor.evaluate(f"localStorage.getItem('parley:{sites.inbox_id}')") != token_before
    visitor.context.close()


def test_on_a_phone_the_chat_fills_the_screen(browser, sites, chat) -> None:
    visitor = visitor_page(browser, sites.allowed + "/", width=390, height=844)
    widget(visitor, ".pw-launcher").click()
    window = widget(visitor, ".pw-window")
    expect(window).to_be_visible()
    size = window.bounding_box()
    assert size is not None and size["width"] >= 385 and size["height"] >= 800
    widget(visitor, ".pw-textarea").fill("Do you ship to Norway?")
    widget(visitor, ".pw-textarea").press("Enter")
    expect(widget(visitor, ".pw-visitor .pw-bubble")).to_have_count(1)
    visitor.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
    # Keyboard: Escape closes and gives focus back to the launcher.
    visitor.keyboard.press("Escape")
    expect(window).to_be_hidden()
    assert visitor.evaluate(
        "document.querySelector('parley-widget').shadowRoot.activeElement.className"
    ).startswith("pw-launcher")
    visitor.context.close()


def test_hostile_css_on_the_host_page_does_not_break_it(browser, sites, chat) -> None:
    visitor = visitor_page(browser, sites.allowed + "/hostile")
    launcher = widget(visitor, ".pw-launcher")
    expect(launcher).to_be_visible()
    launcher.click()
    box = widget(visitor, ".pw-textarea")
    expect(box).to_be_visible()
    box.fill("Still works?")
    box.press("Enter")
    bubble = widget(visitor, ".pw-visitor .pw-bubble")
    expect(bubble).to_have_text("Still works?")
    # Settled (the server's copy replaced the one shown while sending), then measured.
    expect(widget(visitor, ".pw-visitor .pw-ticks")).to_have_class(re.compile("pw-st-sent"))
    for text in (bubble, widget(visitor, ".pw-greeting .pw-bubble")):
        size = text.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert 10 < size < 20  # the page's 40px did not leak into the widget
    visitor.screenshot(path=str(ARTIFACTS / "widget-hostile-css.png"))
    visitor.context.close()


def test_a_site_not_on_the_allowlist_gets_no_chat(browser, sites, chat) -> None:
    responses: list[tuple[str, int]] = []
    visitor = visitor_page(browser, sites.other + "/", responses=responses)
    visitor.wait_for_timeout(1500)
    expect(widget(visitor, ".pw-launcher")).to_have_count(0)
    # The server refused it without CORS headers: the browser blocks the answer.
    assert [status for url, status in responses if url.endswith("/config")] == [0], responses
    posted = in_thread(
        lambda: __import__("inbox.models", fromlist=["WidgetVisitor"]).WidgetVisitor.objects.count()
    )
    assert posted == 0
    visitor.context.close()


def test_markup_from_a_visitor_is_text_for_the_agent(asgi_page, browser, sites, chat) -> None:
    visitor = visitor_page(browser, sites.allowed + "/")
    widget(visitor, ".pw-launcher").click()
    widget(visitor, ".pw-textarea").fill("<img src=x onerror=alert(1)> hi")
    widget(visitor, ".pw-textarea").press("Enter")
    expect(widget(visitor, ".pw-visitor .pw-bubble")).to_have_text(
        re.compile(r"<img src=x onerror=alert\(1\)> hi")
    )
    agent = asgi_page(chat["ben"])
    open_inbox(agent)
    agent.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(agent, "hi").first.click()
    expect(agent.locator("#messages")).to_contain_text("<img src=x onerror=alert(1)> hi")
    assert agent.locator("#messages img[src='x']").count() == 0
    visitor.context.close()


def test_a_signed_in_user_is_verified_for_the_agent(browser, asgi_page, sites, chat) -> None:
    from inbox.sources.widget import identity

    def set_secret() -> None:
        actions.update_inbox(
            inbox=chat["inbox"],
            actor=AdminFactory(),
            origin=SYSTEM,
            secrets={"identity_secret": "site-secret"},
        )

    in_thread(set_secret)
    visitor = visitor_page(browser, sites.allowed + "/")
    expect(widget(visitor, ".pw-launcher")).to_be_visible()
    proof = identity.sign("site-secret", "cust-77")
    visitor.evaluate(
        "(hash) => Parley.identify({id: 'cust-77', name: 'Olga Owner', "
        "email: 'olga@example.com', hash})",
        proof,
    )
    widget(visitor, ".pw-launcher").click()
    widget(visitor, ".pw-textarea").fill("Where is my order 77?")
    widget(visitor, ".pw-textarea").press("Enter")
    expect(widget(visitor, ".pw-visitor .pw-bubble")).to_have_count(1)
    # A wrong hash is refused, and the page learns it from the promise.
    refused = visitor.evaluate(
        "() => Parley.identify({id: 'cust-1', hash: 'f00'}).then(() => 'accepted', "
        "(e) => e.message)"
    )
    assert "does not match" in refused

    agent = asgi_page(chat["ben"])
    open_inbox(agent)
    agent.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(agent, "Olga Owner").click()
    expect(agent.locator("#visitor-section")).to_contain_text("Verified · user cust-77")
    expect(agent.locator("#contact-email")).to_contain_text("olga@example.com")
    visitor.context.close()
