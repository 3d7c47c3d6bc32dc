"""An email in the agent app: it arrives live, reads as its new part with the quoted history
on demand, its HTML is shown in a sandboxed frame that loads no remote image until asked,
inline images show, and the original .eml is one click away."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from accounts.models import User
from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import InboundEmail, Inbox, Message
from inbox.sources.email.inbound import process_inbound_email, store_inbound_email
from tests.e2e.conftest import ARTIFACTS, in_thread
from tests.factories import AdminFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def tracker() -> Iterator[tuple[str, list[str]]]:
    """A 'remote' image server (on loopback) that records every fetch."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PIXEL)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()


def email_inbox_with_agent() -> tuple[Inbox, User]:
    agent = UserFactory(name="Ana Lima")
    inbox = in_thread(
        actions.create_inbox,
        name="Support mail",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"address": "support@example.com"},
        members=[agent],
    )
    return inbox, agent


def email_with_html(tracker_url: str) -> bytes:
    photo = base64.b64encode(PIXEL).decode()
    return f"""Message-ID: <browser-1@example.net>
From: Ann Archer <ann@example.net>
To: support@example.com
Subject: The parcel again
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<div>It still has not arrived.<img alt="inline photo" src="cid:photo@example.net">
<img alt="tracker" src="{tracker_url}/open.png"><script>document.title='pwned'</script></div>
<div class="gmail_quote"><div class="gmail_attr">On Monday, Support wrote:</div>
<blockquote class="gmail_quote">Old quoted answer</blockquote></div>
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <photo@example.net>
Content-Disposition: inline; filename="photo.png"

{photo}
--rel--
""".encode()


def test_an_email_reads_safely_in_the_thread(asgi_page, asgi_media, settings, tracker) -> None:
    settings.MEDIA_ROOT = asgi_media  # the server serves the attachments stored here
    tracker_url, hits = tracker
    _, agent = email_inbox_with_agent()
    page = asgi_page(agent)
    page.goto("/inbox/")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "live")
    page.get_by_role("button", name=re.compile("^Unassigned")).click()

    def deliver() -> InboundEmail:
        row = store_inbound_email(
            email_with_html(tracker_url), via="smtp", envelope_from="ann@example.net"
        )
        return process_inbound_email(InboundEmail.objects.get(pk=row.pk))

    row = in_thread(deliver)
    assert row.status == "processed"
    conversation = page.locator("#conv-list .conv").filter(has_text="Ann Archer")
    expect(conversation).to_be_visible(timeout=2_000)  # live, no reload
    expect(conversation).to_contain_text("It still has not arrived.")
    expect(conversation).not_to_contain_text("Old quoted answer")  # the preview too
    conversation.click()

    frame_element = page.locator("iframe.email-frame")
    expect(frame_element).to_have_attribute(
        "sandbox", "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    )
    expect(page.locator(".email-flag")).to_have_count(0)  # a person wrote this
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.locator("body")).to_contain_text("It still has not arrived.")
    expect(frame.locator("body")).not_to_contain_text("Old quoted answer")
    expect(frame.locator("script")).to_have_count(0)
    inline = frame.locator("img[alt='inline photo']")
    expect(inline).to_have_attribute("src", re.compile(r"^/api/v1/attachments/\d+/download$"))
    page.wait_for_function(
        "() => document.querySelector('iframe.email-frame').contentDocument"
        ".querySelector(\"img[alt='inline photo']\").naturalWidth === 1"
    )
    assert hits == []  # the tracker was not fetched
    assert page.title() != "pwned"
    frame_title = page.evaluate(
        "document.querySelector('iframe.email-frame').contentDocument.title"
    )
    assert frame_title != "pwned"  # no script ran inside the frame either

    page.get_by_role("button", name="Show quoted text").click()
    expect(page.frame_locator("iframe.email-frame").locator("body")).to_contain_text(
        "Old quoted answer"
    )
    page.screenshot(path=ARTIFACTS / "inbox-email-desktop.png")
    page.get_by_role("button", name="Load remote images").click()
    page.wait_for_function("() => true")
    expect(page.get_by_role("button", name="Load remote images")).to_be_hidden()
    page.wait_for_timeout(500)
    assert hits == ["/open.png"]

    original = page.get_by_role("link", name="Original email")
    with page.expect_download() as download:
        original.click()
    saved = download.value.path()
    with open(saved, "rb") as handle:
        assert handle.read() == email_with_html(tracker_url)
    assert download.value.suggested_filename == f"message-{row.message_id}.eml"


def test_an_agent_starts_an_email_conversation(asgi_page, asgi_media, settings) -> None:
    settings.MEDIA_ROOT = asgi_media
    inbox, agent = email_inbox_with_agent()
    page = asgi_page(agent)
    page.goto("/inbox/")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "live")
    page.get_by_role("button", name="New email").click()
    dialog = page.get_by_role("dialog", name="New email")
    dialog.get_by_label("To (email address)").fill("not-an-address")
    dialog.get_by_label("Subject").fill("Your refund")
    dialog.get_by_label("Message").fill("Hello Dora,\n\nYour refund was sent today.")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.locator("#nc-error")).to_contain_text("valid email")
    dialog.get_by_label("To (email address)").fill("dora@example.org")
    dialog.get_by_label("Their name (optional)").fill("Dora Diaz")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#thread-contact")).to_have_text("Dora Diaz")
    expect(page.locator("#messages")).to_contain_text("Your refund was sent today.")
    page.get_by_role("button", name=re.compile("^Mine")).click()
    expect(page.locator("#conv-list .conv").filter(has_text="Dora Diaz")).to_be_visible()
    message = Message.objects.get(conversation__inbox=inbox, direction="outgoing")
    assert message.conversation.assignee == agent
    assert message.conversation.subject == "Your refund"


def test_the_composer_offers_the_thread_cc(asgi_page, asgi_media, settings) -> None:
    settings.MEDIA_ROOT = asgi_media
    _, agent = email_inbox_with_agent()
    raw = (
        b"From: Ann <ann@example.net>\r\nTo: support@example.com\r\nCc: Bo <bo@example.org>\r\n"
        b"Subject: Team question\r\nMessage-ID: <cc-1@example.net>\r\n\r\nHello all\r\n"
    )
    in_thread(
        lambda: process_inbound_email(
            store_inbound_email(raw, via="smtp", envelope_from="ann@example.net")
        )
    )
    page = asgi_page(agent)
    page.goto("/inbox/")
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    page.locator("#conv-list .conv").filter(has_text="Ann").click()
    cc = page.get_by_role("group", name="Cc")
    expect(cc.get_by_label("Bo <bo@example.org>")).not_to_be_checked()  # offered, not chosen
    page.get_by_role("button", name="Private note").click()
    expect(cc).to_be_hidden()  # notes are not emailed
    page.get_by_role("button", name="Reply").click()
    cc.get_by_label("Bo <bo@example.org>").check()
    page.locator("#composer-text").fill("Answering Ann and Bo")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#messages")).to_contain_text("Answering Ann and Bo")
    reply = Message.objects.get(direction="outgoing", kind="message")
    assert reply.data["cc"] == ["Bo <bo@example.org>"]
