"""The agent app at /inbox/ in real browsers, live over the websocket: two agents side by
side on Daphne (tests/e2e/conftest.py `asgi_server`), customers writing from this process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Conversation, Inbox, Label, Message, ReadPosition
from tests.e2e.conftest import ARTIFACTS, in_thread
from tests.factories import AdminFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE = 2_000  # ms: what "at once" may take on a busy CI machine


def customer_writes(
    inbox: Inbox, text: str, *, sender: str = "casey", name: str = "Casey Customer", **kwargs: Any
) -> actions.InboundResult:
    return in_thread(
        actions.receive_inbound_message,
        inbox=inbox,
        identity=actions.IdentityInput(kind="external", value=sender, name=name),
        text=text,
        **kwargs,
    )


@pytest.fixture
def team_setup() -> dict[str, Any]:
    admin = AdminFactory(name="Ada Admin", email="ada@example.com")
    ana = UserFactory(name="Ana Lima", email="ana@example.com")
    ben = UserFactory(name="Ben Okafor", email="ben@example.com")
    inbox = in_thread(  # its membership.changed goes out through the channel layer
        actions.create_inbox,
        name="Support",
        kind="api",
        actor=admin,
        origin=SYSTEM,
        members=[ana, ben],
    )
    return {"admin": admin, "ana": ana, "ben": ben, "inbox": inbox}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def read_positions(conversation: Conversation) -> dict[int, int]:
    rows = ReadPosition.objects.filter(conversation=conversation)
    return {row.user_id: row.last_read_message_id for row in rows}


def open_inbox(page: Page) -> None:
    page.goto("/inbox/")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "live")


def row(page: Page, name: str):
    return page.locator("#conv-list .conv").filter(has_text=name)


def test_two_agents_work_one_conversation_live(asgi_page, team_setup) -> None:
    ana, ben, inbox = team_setup["ana"], team_setup["ben"], team_setup["inbox"]
    first = customer_writes(inbox, "Hello, my order #1234 has not arrived yet.", subject="Order")
    in_thread(actions.assign, conversation=first.conversation, assignee=ana, actor=ana)
    urgent = Label.objects.create(name="delivery", color="#0ea5e9")
    in_thread(actions.set_priority, conversation=first.conversation, priority=3, actor=ana)
    in_thread(actions.set_labels, conversation=first.conversation, add=[urgent], actor=ana)
    contact = first.conversation.contact
    in_thread(actions.update_contact, contact=contact, actor=ana, email="casey@example.com")

    a = asgi_page(ana)
    b = asgi_page(ben)
    open_inbox(a)
    open_inbox(b)
    expect(a.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(row(a, "Casey Customer")).to_contain_text("order #1234")
    b.get_by_role("button", name=re.compile("^All")).click()
    expect(row(b, "Casey Customer").get_by_role("img", name="Assigned to Ana Lima")).to_be_visible()

    row(a, "Casey Customer").click()
    row(b, "Casey Customer").click()
    expect(a.locator("#thread-contact")).to_have_text("Casey Customer")
    expect(a.locator("#messages")).to_contain_text("Hello, my order #1234")
    expect(b.locator("#presence")).to_contain_text("Ana Lima is also viewing")
    expect(a.locator("#presence")).to_contain_text("Ben Okafor is also viewing")

    # The customer writes again: both lists and both open threads show it without a reload,
    # and both agents, who have it open in a visible tab, have read it.
    news = customer_writes(inbox, "Any news about my parcel?")
    for page in (a, b):
        expect(page.locator("#messages")).to_contain_text("Any news about my parcel?", timeout=LIVE)
        expect(row(page, "Casey Customer")).to_contain_text("Any news", timeout=LIVE)
    read_up_to = {ana.pk: news.message.pk, ben.pk: news.message.pk}
    eventually(lambda: read_positions(first.conversation) == read_up_to)

    # A new customer: Ben's "All" list and Ana's unassigned count follow.
    customer_writes(inbox, "Do you ship to Norway?", sender="dana", name="Dana Berg")
    expect(row(b, "Dana Berg")).to_contain_text("Do you ship to Norway?", timeout=LIVE)
    expect(b.locator("#conv-list .conv").first).to_contain_text("Dana Berg")
    expect(row(b, "Dana Berg").locator(".unread-count")).to_contain_text("1")
    expect(a.locator("[data-count-view='unassigned']")).to_have_text("1", timeout=LIVE)
    expect(row(a, "Dana Berg")).to_have_count(0)  # not Ana's

    # Ben starts a reply; then Ana types and sends hers first.
    b.locator("#composer-text").fill("Let me check with the warehouse")
    a.locator("#composer-text").press_sequentially("Your parcel ", delay=20)
    expect(b.locator("#presence")).to_contain_text("Ana Lima is typing…", timeout=LIVE)
    a.locator("#composer-text").press_sequentially("ships today.", delay=20)
    a.locator("#composer-text").press("Control+Enter")
    expect(a.locator("#composer-text")).to_have_value("")
    expect(b.locator("#messages")).to_contain_text("Your parcel ships today.", timeout=LIVE)
    expect(b.locator("#presence")).not_to_contain_text("typing", timeout=LIVE)
    expect(a.locator("#messages .msg-out").last).to_contain_text("Sending…")

    # Ben's draft was written before Ana's reply: he is warned before it goes out.
    b.locator("#composer-text").press("Control+Enter")
    stale = b.get_by_role("alert").filter(has_text="New message since you started")
    expect(stale).to_be_visible()
    expect(stale.get_by_role("button", name="Send anyway")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    b.screenshot(path=ARTIFACTS / "inbox-stale-warning-desktop.png")
    assert not Message.objects.filter(text="Let me check with the warehouse").exists()
    stale.get_by_role("button", name="Review").click()
    expect(stale).to_be_hidden()
    expect(b.locator("#composer-text")).to_be_focused()
    b.locator("#composer-text").fill("Ana is right, it ships today. Anything else?")
    b.locator("#composer-text").press("Control+Enter")
    expect(a.locator("#messages")).to_contain_text("Anything else?", timeout=LIVE)

    # A private note is yellow and stays internal.
    a.get_by_role("button", name="Private note").click()
    a.locator("#composer-text").fill("VIP? Check the order history first.")
    a.get_by_role("button", name="Add note").click()
    expect(b.locator("#messages .msg-note")).to_contain_text(
        "Check the order history", timeout=LIVE
    )
    note = Message.objects.get(text__startswith="VIP? Check")
    assert note.kind == "note" and note.sender_user_id == ana.pk

    a.screenshot(path=ARTIFACTS / "inbox-desktop.png")
    replies = Message.objects.filter(kind="message", direction="outgoing").order_by("id")
    assert [m.sender_user_id for m in replies] == [ana.pk, ben.pk]

    # The same app on a phone: one pane at a time, with a way back.
    b.set_viewport_size({"width": 390, "height": 844})
    expect(b.locator("#pane-thread")).to_be_visible()
    expect(b.locator(".pane-list")).to_be_hidden()
    b.screenshot(path=ARTIFACTS / "inbox-phone-thread.png")
    b.get_by_role("button", name="Actions").click()
    expect(b.get_by_role("button", name="Resolve")).to_be_visible()
    b.screenshot(path=ARTIFACTS / "inbox-phone-actions.png")
    b.get_by_role("button", name="Actions").click()
    expect(b.get_by_role("button", name="Resolve")).to_be_hidden()
    b.get_by_role("button", name="Contact details").click()
    expect(b.locator("#contact-name")).to_have_text("Casey Customer")
    b.screenshot(path=ARTIFACTS / "inbox-phone-contact.png")
    b.get_by_role("button", name="Back to conversation", exact=True).click()
    b.get_by_role("button", name="Back to conversations", exact=True).click()
    expect(row(b, "Dana Berg")).to_be_visible()
    b.screenshot(path=ARTIFACTS / "inbox-phone-list.png")


def test_an_agent_triages_with_the_header_and_the_keyboard(asgi_page, team_setup) -> None:
    ana, inbox = team_setup["ana"], team_setup["inbox"]
    Label.objects.create(name="delivery", color="#0ea5e9")
    customer_writes(inbox, "First question", sender="erin", name="Erin Vale")
    second = customer_writes(
        inbox,
        "The app crashes on login, screenshot attached.",
        sender="finn",
        name="Finn Moss",
        attachments=[actions.AttachmentInput("crash.png", "image/png", b"\x89PNG fake")],
    )
    page = asgi_page(ana)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    expect(page.locator("#conv-list .conv")).to_have_count(2)
    expect(page.locator("[data-count-status='open']")).to_have_text("2")

    page.screenshot(path=ARTIFACTS / "inbox-nothing-open-desktop.png")
    page.keyboard.press("j")  # the newest first
    expect(page.locator("#thread-contact")).to_have_text("Finn Moss")
    expect(page.locator("#conv-list .conv[aria-current='true']")).to_contain_text("Finn Moss")
    attachment = page.get_by_role("link", name=re.compile("crash.png"))
    expect(attachment).to_have_attribute("href", re.compile(r"^/api/v1/attachments/\d+/download$"))
    page.keyboard.press("j")
    expect(page.locator("#thread-contact")).to_have_text("Erin Vale")
    page.keyboard.press("k")
    expect(page.locator("#thread-contact")).to_have_text("Finn Moss")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    page.keyboard.press("a")  # assign to me: leaves the Unassigned view, stays open
    expect(page.locator("#messages")).to_contain_text("Ana Lima self-assigned", timeout=LIVE)
    expect(row(page, "Finn Moss")).to_have_count(0)
    expect(page.locator("[data-count-view='mine']")).to_have_text("1", timeout=LIVE)

    page.locator("#priority-select").select_option(label="Urgent")
    expect(page.locator("#messages")).to_contain_text("set the priority to urgent")
    page.get_by_text("Edit labels").click()
    page.get_by_role("checkbox", name="delivery").check()
    expect(page.locator("#thread-labels")).to_contain_text("delivery")

    page.keyboard.press("n")
    expect(page.locator("#composer-text")).to_be_focused()
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    page.keyboard.type("Reproduced on Android 14.")
    page.keyboard.press("Escape")
    page.keyboard.press("e")  # resolve; the note draft is kept
    expect(page.locator("#thread-status")).to_have_text("Resolved", timeout=LIVE)
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    conversation = Conversation.objects.get(pk=second.conversation.pk)
    assert (conversation.status, conversation.priority, conversation.assignee_id) == (
        "resolved",
        4,
        ana.pk,
    )
    assert [label.name for label in conversation.labels.all()] == ["delivery"]
    expect(page.locator("#composer-text")).to_have_value("Reproduced on Android 14.")

    page.get_by_role("button", name="Reopen").click()
    page.locator("#snooze-menu > summary").click()
    page.get_by_role("button", name="Until tomorrow 9:00").click()
    expect(page.locator("#thread-status")).to_contain_text("Snoozed until")
    conversation.refresh_from_db()
    assert conversation.status == "snoozed" and conversation.snoozed_until is not None

    # Delivery status and failures show on the reply, live.
    reply = in_thread(actions.send_reply, conversation=conversation, author=ana, text="On it!")
    expect(page.locator("#messages .msg-out").filter(has_text="On it!")).to_contain_text(
        "Sending…", timeout=LIVE
    )
    in_thread(actions.set_delivery_status, message=reply, status="failed", error="Number blocked")
    expect(page.locator("#messages .msg-out").filter(has_text="On it!")).to_contain_text(
        "Not delivered: Number blocked", timeout=LIVE
    )
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#messages .msg-out").filter(has_text="On it!")).to_contain_text(
        "Sending…", timeout=LIVE
    )

    # A reply with a file, sent from the composer.
    page.get_by_role("button", name="Reply", exact=True).click()
    page.set_input_files(
        "#composer-file-input",
        files=[{"name": "label.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}],
    )
    expect(page.get_by_role("button", name="Remove label.pdf")).to_be_visible()
    page.locator("#composer-text").fill("Here is your return label.")
    page.keyboard.press("Control+Enter")
    sent = page.locator("#messages .msg-out").filter(has_text="Here is your return label.")
    expect(sent.get_by_role("link", name=re.compile("label.pdf"))).to_be_visible()
    assert Message.objects.get(text="Here is your return label.").attachments.count() == 1
    page.screenshot(path=ARTIFACTS / "inbox-triage-desktop.png")

    # A small laptop or tablet: the contact opens as a drawer.
    page.set_viewport_size({"width": 1024, "height": 768})
    expect(page.locator("#pane-contact")).to_be_hidden()
    page.get_by_role("button", name="Contact details").click()
    expect(page.locator("#contact-name")).to_have_text("Finn Moss")
    page.screenshot(path=ARTIFACTS / "inbox-tablet-contact.png")
    page.keyboard.press("Escape")
    expect(page.locator("#pane-contact")).to_be_hidden()


def test_a_dropped_event_is_fetched_from_the_log_and_a_new_socket_resumes(
    asgi_page, team_setup, monkeypatch
) -> None:
    """The channel layer may drop a frame: the client sees the gap in `seq`, resumes from
    the log, and after a reconnect gets what it missed while it was away."""
    from inbox import events

    ana, inbox = team_setup["ana"], team_setup["inbox"]
    first = customer_writes(inbox, "Hi there", sender="gus", name="Gus Grant")
    in_thread(actions.assign, conversation=first.conversation, assignee=ana, actor=ana)

    publish = events._publish
    dropped: list[int] = []

    def lossy_publish(frames: list[tuple[str, int, str]]) -> None:
        # Lose the first message.created that mentions "dropped", as Redis might.
        kept = []
        for group, event_id, text in frames:
            if not dropped and '"message.created"' in text and "dropped" in text:
                dropped.append(event_id)
                continue
            kept.append((group, event_id, text))
        publish(kept)

    monkeypatch.setattr(events, "_publish", lossy_publish)
    page = asgi_page(ana)
    sockets: list[WebSocketRoute] = []
    sent: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def to_server(message: str | bytes) -> None:
            sent.append(json.loads(message))
            server.send(message)

        server.on_message(lambda message: ws.send(message))
        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/agent/$"), route)
    open_inbox(page)
    row(page, "Gus Grant").click()
    expect(page.locator("#messages")).to_contain_text("Hi there")

    there = customer_writes(inbox, "Are you there?", sender="gus")
    expect(page.locator("#messages")).to_contain_text("Are you there?", timeout=LIVE)
    eventually(lambda: read_positions(first.conversation) == {ana.pk: there.message.pk})
    customer_writes(inbox, "This one is dropped by the channel layer", sender="gus")
    assert dropped
    customer_writes(inbox, "And this one arrives", sender="gus")
    expect(page.locator("#messages")).to_contain_text("dropped by the channel layer", timeout=LIVE)
    expect(page.locator("#messages")).to_contain_text("And this one arrives")
    assert any("resume_from" in frame for frame in sent)
    texts = page.locator("#messages .msg-in .bubble").all_inner_texts()
    assert texts[-2:] == ["This one is dropped by the channel layer", "And this one arrives"]

    # The socket dies; a message arrives meanwhile; the new socket resumes and shows it.
    sent.clear()
    sockets[-1].close(code=4000, reason="network")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "offline")
    customer_writes(inbox, "Written while you were offline", sender="gus")
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "live", timeout=5_000)
    expect(page.locator("#messages")).to_contain_text("Written while you were offline")
    assert any("resume_from" in frame for frame in sent)
    assert len(sockets) == 2


def test_the_list_pages_with_a_cursor_and_reorders_live(asgi_page, team_setup) -> None:
    ben, inbox = team_setup["ben"], team_setup["inbox"]

    def many() -> None:
        for n in range(27):
            actions.receive_inbound_message(
                inbox=inbox,
                identity=actions.IdentityInput(
                    kind="external", value=f"c{n}", name=f"Customer {n:02}"
                ),
                text=f"Question number {n}",
            )

    in_thread(many)
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    conversations = page.locator("#conv-list .conv")
    expect(conversations).to_have_count(25)
    expect(conversations.first).to_contain_text("Customer 26")
    expect(page.locator("[data-count-view='unassigned']")).to_have_text("27")
    page.get_by_role("button", name="Load more").click()
    expect(conversations).to_have_count(27)
    expect(conversations.last).to_contain_text("Customer 00")
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    # The oldest customer writes again: their conversation jumps to the top, unread.
    customer_writes(inbox, "Hello again?", sender="c0", name="Customer 00")
    expect(conversations.first).to_contain_text("Customer 00", timeout=LIVE)
    expect(conversations.first).to_contain_text("Hello again?")
    expect(conversations.first.locator(".unread-count")).to_have_text(re.compile("^2"))
    expect(conversations).to_have_count(27)

    # Waiting longest first: the same customer has waited longest.
    page.get_by_label("Sort").select_option("waiting")
    expect(conversations.first).to_contain_text("Customer 00")
    page.screenshot(path=ARTIFACTS / "inbox-long-list-desktop.png")


def test_search_edit_a_contact_and_merge_a_duplicate(asgi_page, team_setup) -> None:
    admin, inbox = team_setup["admin"], team_setup["inbox"]
    customer_writes(inbox, "My parcel never arrived", sender="ann-web", name="Ann Archer")
    customer_writes(inbox, "Invoice for March please", sender="bo", name="Bo Brown")
    customer_writes(inbox, "Same parcel, writing from my phone", sender="ann-app", name="A. Archer")
    page = asgi_page(admin)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^All")).click()
    conversations = page.locator("#conv-list .conv")
    expect(conversations).to_have_count(3)

    # Search from the keyboard; the results replace the view until cleared.
    page.locator("body").press("/")
    expect(page.get_by_role("searchbox", name="Search conversations")).to_be_focused()
    page.keyboard.type("parcel")
    page.keyboard.press("Enter")
    expect(page.locator("#search-banner")).to_contain_text("Results for “parcel”")
    expect(conversations).to_have_count(2)
    expect(page.get_by_role("button", name=re.compile("^Unassigned"))).to_be_hidden()
    page.get_by_role("searchbox", name="Search conversations").fill("nothing-like-this")
    page.keyboard.press("Enter")
    expect(page.locator("#list-empty")).to_contain_text("No conversation matches")
    page.get_by_role("button", name="Clear search").click()
    expect(conversations).to_have_count(3)

    # Edit the contact from the sidebar.
    row(page, "Ann Archer").click()
    page.get_by_role("button", name="Edit contact").click()
    form = page.locator("#contact-form")
    form.get_by_label("Email").fill("ann@example.com")
    form.get_by_label("Notes").fill("Prefers email.\nOrdered twice in March.")
    form.get_by_label("VIP").check()
    form.get_by_role("button", name="Save contact").click()
    expect(form).to_be_hidden()
    expect(page.locator("#contact-notes")).to_have_text("Prefers email.\nOrdered twice in March.")
    expect(page.locator("#contact-email")).to_have_text("ann@example.com")
    expect(page.locator("#contact-vip")).to_be_visible()
    expect(row(page, "Ann Archer")).to_contain_text("VIP", timeout=LIVE)  # the list follows live

    # A bad email is refused with the reason, nothing saved.
    page.get_by_role("button", name="Edit contact").click()
    form.get_by_label("Email").fill("not an email")
    form.get_by_role("button", name="Save contact").click()
    expect(page.locator("#cf-error")).to_contain_text("email")
    form.get_by_role("button", name="Cancel").click()

    # The admin merges the duplicate (the same person on another channel) into Ann.
    page.get_by_role("button", name="Merge…").click()
    page.get_by_label("Find the duplicate").fill("archer")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Merge A. Archer into Ann Archer").click()
    expect(page.locator("#merge-panel")).to_be_hidden()
    expect(page.locator("#other-convs")).to_contain_text("Same parcel", timeout=LIVE)
    page.screenshot(path=ARTIFACTS / "inbox-contact-merged-desktop.png")
    duplicate_conversation = Conversation.objects.get(
        subject="", contact__name="Ann Archer", last_message_preview__startswith="Same"
    )
    assert duplicate_conversation.contact.email == "ann@example.com"


# The browser's side of desktop notifications and tab visibility, recorded: the operating
# system shows neither to a headless browser.
NOTIFICATION_RECORDER = """
window.__notes = [];
window.__hidden = false;
class RecordedNotification {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) {
    this.title = title;
    this.body = options.body;
    window.__notes.push(this);
  }
  close() {}
}
window.Notification = RecordedNotification;
Object.defineProperty(document, "visibilityState", {
  get: () => (window.__hidden ? "hidden" : "visible"),
});
"""


def test_desktop_notifications_for_my_conversations_when_the_tab_is_hidden(
    asgi_page, team_setup
) -> None:
    admin, ben, inbox = team_setup["admin"], team_setup["ben"], team_setup["inbox"]
    first = customer_writes(inbox, "Where is my order?").conversation
    page = asgi_page(ben)
    page.add_init_script(NOTIFICATION_RECORDER)
    open_inbox(page)
    page.evaluate("window.__hidden = true")

    def titles() -> list[str]:
        return page.evaluate("window.__notes.map((n) => n.title)")

    in_thread(actions.assign, conversation=first, assignee=ben, actor=admin)
    eventually(lambda: titles() == ["Assigned to you: Casey Customer"])
    customer_writes(inbox, "Any news?")
    eventually(lambda: titles()[-1:] == ["New message from Casey Customer"])
    assert page.evaluate("window.__notes[1].body") == "Any news?"
    customer_writes(inbox, "Not Ben's customer", sender="dora", name="Dora")  # unassigned
    page.wait_for_timeout(500)
    assert len(titles()) == 2

    # Visible tab: nothing pops up; clicking a notification opens its conversation.
    page.evaluate("window.__hidden = false")
    customer_writes(inbox, "Hello?")
    page.wait_for_timeout(500)
    assert len(titles()) == 2
    page.evaluate("window.__notes[1].onclick()")
    expect(page.locator("#thread-contact")).to_have_text("Casey Customer")
    expect(page).to_have_url(re.compile(f"#conversation-{first.pk}$"))


def test_a_canned_reply_is_found_with_slash_and_filled_in(asgi_page, team_setup) -> None:
    ben, inbox = team_setup["ben"], team_setup["inbox"]
    in_thread(
        actions.create_canned_reply,
        actor=team_setup["admin"],
        title="Return label",
        shortcode="return-label",
        body="Hi {{contact.first_name|there}}, here is your return label.\n{{agent.first_name}}",
    )
    customer_writes(inbox, "How do I send it back?", name="Casey Customer")
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(page, "Casey Customer").click()
    composer = page.locator("#composer-text")
    composer.click()
    composer.type("Sure! /rtl")
    menu = page.get_by_role("listbox", name="Canned replies")
    expect(menu.get_by_role("option")).to_have_count(1)
    expect(menu.get_by_role("option").first).to_contain_text("/return-label")
    page.keyboard.press("Enter")
    expect(composer).to_have_value("Sure! Hi Casey, here is your return label.\nBen")
    expect(menu).to_be_hidden()
