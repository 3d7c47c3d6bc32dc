"""The website chat widget's visitor API (/widget/v1/<inbox>/…): origins, visitor tokens,
messages in and out, identity (signed, unsigned, replayed, impersonation attempts), files,
throttling, rating and reset, as a visitor's browser and an agent see them."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import Attachment, Contact, Conversation, Message, WidgetVisitor
from inbox.sources.widget import identity
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"
SECRET = "site-signing-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    cache.clear()


def make_widget(agent_email: str = "ben.private@example.com", **widget: Any) -> Any:
    admin = AdminFactory()
    agent = UserFactory(name="Ben Agent", email=agent_email)
    settings = {"allowed_origins": [SITE], **widget}
    inbox = actions.create_inbox(
        name="Shop chat",
        kind="widget",
        actor=admin,
        origin=SYSTEM,
        members=[agent],
        settings={"widget": settings},
        secrets={"identity_secret": SECRET},
    )
    inbox.agent = agent
    return inbox


@pytest.fixture
def widget() -> Any:
    return make_widget()


class Visitor:
    """A visitor's browser on the customer's site: its origin, its stored token."""

    def __init__(self, inbox: Any, origin: str = SITE) -> None:
        self.client, self.inbox, self.origin, self.token = Client(), inbox, origin, ""

    def url(self, path: str) -> str:
        return f"/widget/v1/{self.inbox.public_id}/{path}"

    def _headers(self) -> dict[str, str]:
        headers = {"HTTP_ORIGIN": self.origin}
        if self.token:
            headers["HTTP_X_PARLEY_VISITOR"] = self.token
        return headers

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(self.url(path), params, **self._headers())

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            self.url(path), data or {}, content_type="application/json", **self._headers()
        )

    def upload(self, filename: str, content: bytes, text: str = "") -> Any:
        upload = io.BytesIO(content)
        upload.name = filename
        return self.client.post(
            self.url("messages"), {"text": text, "file": upload}, **self._headers()
        )

    def start(self) -> dict[str, Any]:
        response = self.post("session", {"token": self.token} if self.token else {})
        assert response.status_code == 200, response.content
        data = response.json()
        self.token = data["token"]
        return data

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        response = self.post("messages", {"text": text, **extra})
        assert response.status_code == 201, response.content
        return response.json()

    def thread(self) -> list[dict[str, Any]]:
        response = self.get("messages")
        assert response.status_code == 200, response.content
        return response.json()["results"]


# ---------------------------------------------------------------- inbox and origin


def test_config_is_served_to_allowed_websites_only(widget) -> None:
    visitor = Visitor(widget)
    response = visitor.get("config")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SITE
    data = response.json()
    assert data["inbox"] == {"name": "Shop chat"}
    assert data["look"]["position"] == "right" and data["prechat"]["email"] == "optional"
    assert data["agents"] == [{"name": "Ben Agent", "avatar_url": None}]  # no email address
    assert data["available"] is False  # nobody online
    preflight = visitor.client.options(
        visitor.url("messages"), HTTP_ORIGIN=SITE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert "X-Parley-Visitor" in preflight["Access-Control-Allow-Headers"]

    elsewhere = Visitor(widget, origin="https://evil.example.net").get("config")
    assert elsewhere.status_code == 403 and "Access-Control-Allow-Origin" not in elsewhere
    assert Visitor(widget, origin="").get("config").status_code == 403


def test_an_unknown_disabled_or_other_kind_of_inbox_is_404(widget) -> None:
    from uuid import uuid4

    client = Client()
    assert client.get(f"/widget/v1/{uuid4()}/config", HTTP_ORIGIN=SITE).status_code == 404
    api_inbox = actions.create_inbox(name="API", kind="api", actor=AdminFactory(), origin=SYSTEM)
    assert client.get(f"/widget/v1/{api_inbox.public_id}/config").status_code == 404
    widget.is_active = False
    widget.save()
    assert Visitor(widget).get("config").status_code == 404


def test_widget_settings_are_validated(widget) -> None:
    for bad in (
        {"color": "red"},
        {"allowed_origins": ["not a site"]},
        {"prechat_email": "maybe"},
        {"surprise": 1},
    ):
        with pytest.raises(actions.InboxError, match="Website chat"):
            actions.update_inbox(
                inbox=widget, actor=AdminFactory(), origin=SYSTEM, settings={"widget": bad}
            )
    actions.update_inbox(
        inbox=widget,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"widget": {"allowed_origins": ["HTTPS://Shop.Example.com:443/path"]}},
    )
    widget.refresh_from_db()
    assert widget.settings["widget"]["allowed_origins"] == [SITE]


# ---------------------------------------------------------------- visitors and messages


def test_a_visitor_chats_and_the_agent_sees_it(widget) -> None:
    visitor = Visitor(widget)
    session = visitor.start()
    assert session["conversation"] is None and len(session["token"]) >= 40
    # Only a hash of the token is stored.
    stored = WidgetVisitor.objects.get()
    assert stored.token_hash == identity.token_hash(visitor.token)
    assert visitor.token not in str(WidgetVisitor.objects.values().get())

    sent = visitor.say("Hello, is my order shipped?", name="Ann <b>Archer</b>", email="ann@x.org")
    assert sent["from"] == "visitor" and sent["text"] == "Hello, is my order shipped?"
    conversation = Conversation.objects.get()
    assert conversation.inbox == widget and conversation.waiting_since is not None
    assert conversation.contact.name == "Ann <b>Archer</b>"  # kept as text, escaped when shown
    assert conversation.contact.identities.get().value == f"visitor:{stored.public_id}"

    agent = widget.agent
    actions.add_note(conversation=conversation, author=agent, text="VIP? check CRM")
    actions.set_priority(conversation=conversation, priority=2, actor=agent)  # activity line
    actions.send_reply(conversation=conversation, author=agent, text="Yes, it left today.")
    thread = visitor.thread()
    assert [m["text"] for m in thread] == ["Hello, is my order shipped?", "Yes, it left today."]
    reply = thread[1]
    assert reply["from"] == "agent" and reply["author"] == {"name": "Ben Agent", "avatar_url": None}
    assert "ben.private@example.com" not in str(thread) and "VIP?" not in str(thread)

    again = Visitor(widget)
    again.token = visitor.token  # a reload, or another page of the site
    assert again.start()["conversation"]["id"] == conversation.pk
    assert again.token == visitor.token


def test_a_token_is_the_only_key(widget) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("my secret order 123")
    stranger = Visitor(widget)
    assert stranger.get("messages").status_code == 401  # no token
    stranger.token = "x" * 43
    assert stranger.get("messages").status_code == 401
    assert stranger.post("session", {"token": "x" * 43}).json()["token"] != "x" * 43
    other = make_widget(agent_email="cleo@example.com")
    elsewhere = Visitor(other)
    elsewhere.token = visitor.token  # a token of another inbox
    assert elsewhere.get("messages").status_code == 401


def test_a_resolved_chat_is_followed_by_a_new_one(widget) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("first question")
    first = Conversation.objects.get()
    actions.set_status(conversation=first, status="resolved", actor=widget.agent)
    visitor.say("another question")
    assert Conversation.objects.count() == 2
    assert [m["text"] for m in visitor.thread()] == ["another question"]


def test_reset_forgets_the_visitor_on_this_browser(widget) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("private things")
    assert visitor.post("reset").status_code == 204
    assert visitor.get("messages").status_code == 401
    fresh = visitor.post("session", {"token": visitor.token}).json()
    assert fresh["token"] != visitor.token and fresh["conversation"] is None


def test_read_receipts_reach_the_agent(widget) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("hi")
    conversation = Conversation.objects.get()
    reply = actions.send_reply(conversation=conversation, author=widget.agent, text="Hello!")
    assert visitor.post("read", {"message_id": reply.pk}).status_code == 204
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    assert visitor.thread()[-1]["status"] == "read"
    assert visitor.post("read", {"message_id": "all"}).status_code == 400


def test_satisfaction_is_asked_after_resolution_and_shown_to_agents(widget, api) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("help")
    conversation = Conversation.objects.get()
    refused = visitor.post("rating", {"score": 5})
    assert refused.status_code == 400  # not finished yet
    actions.set_status(conversation=conversation, status="resolved", actor=widget.agent)
    assert visitor.post("rating", {"score": 9}).status_code == 400
    rated = visitor.post("rating", {"score": 4, "comment": "Quick, thanks"})
    assert rated.status_code == 200
    assert rated.json()["conversation"]["rating"] == {"score": 4, "comment": "Quick, thanks"}
    seen = api(widget.agent).get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert seen["rating"]["score"] == 4 and seen["rating"]["comment"] == "Quick, thanks"


def test_a_flood_is_throttled_with_a_message_and_nothing_is_lost_silently(widget, settings) -> None:
    # 20 a day rather than a minute: a fixed window must not roll over mid-test.
    settings.WIDGET_RATES = {**settings.WIDGET_RATES, "visitor_messages": "20/day"}
    visitor = Visitor(widget)
    visitor.start()
    for n in range(20):
        visitor.say(f"message {n}")
    refused = visitor.post("messages", {"text": "one too many"})
    assert refused.status_code == 429
    body = refused.json()
    assert 1 <= body["retry_after"] <= 86400 and "too quickly" in body["detail"]
    assert refused["Retry-After"] == str(body["retry_after"])
    assert Message.objects.filter(text="one too many").count() == 0
    assert Message.objects.filter(direction="incoming").count() == 20


# ---------------------------------------------------------------- files


def test_files_are_checked_by_size_and_content(widget) -> None:
    actions.update_inbox(
        inbox=widget,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"widget": {"allowed_origins": [SITE], "max_attachment_bytes": 2048}},
    )
    visitor = Visitor(widget)
    visitor.start()
    big = visitor.upload("photo.png", PNG + b"\x00" * 4096)
    assert big.status_code == 413 and "at most" in big.json()["detail"]
    fake = visitor.upload("photo.png", b"<script>alert(1)</script>")
    assert fake.status_code == 415 and "PDF" in fake.json()["detail"]
    assert Attachment.objects.count() == 0 and Message.objects.count() == 0

    good = visitor.upload("receipt.png", PNG, text="here is the receipt")
    assert good.status_code == 201
    [file] = good.json()["attachments"]
    assert file["content_type"] == "image/png" and file["filename"] == "receipt.png"
    # The link works in an <img> (no Origin, no token): the signature is the key.
    image = Client().get(file["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert Client().get(file["url"][:-3] + "abc").status_code == 404


def test_an_agents_html_file_is_a_download_for_the_visitor(widget) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("hi")
    conversation = Conversation.objects.get()
    actions.send_reply(
        conversation=conversation,
        author=widget.agent,
        text="See attached",
        attachments=[actions.AttachmentInput("page.html", "text/html", b"<script>x</script>")],
    )
    [file] = visitor.thread()[-1]["attachments"]
    response = Client().get(file["url"])
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


# ---------------------------------------------------------------- identity


def signed(user_id: str, ts: int | None = None, secret: str = SECRET) -> str:
    return identity.sign(secret, user_id, ts)


def test_a_signed_identity_gets_its_history_on_every_device(widget) -> None:
    laptop = Visitor(widget)
    laptop.start()
    laptop.say("question from before signing in")
    answer = laptop.post(
        "identify",
        {"id": "u-42", "name": "Ann Archer", "email": "ann@example.com", "hash": signed("u-42")},
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["visitor"] == {
        "name": "Ann Archer",
        "email": "ann@example.com",
        "verified": True,
    }
    contact = Contact.objects.get(identities__value="user:u-42")
    # The anonymous conversation followed the signed-in user.
    assert Conversation.objects.get().contact == contact

    phone = Visitor(widget)
    phone.start()
    assert phone.thread() == []
    phone.post("identify", {"id": "u-42", "hash": signed("u-42")})
    assert [m["text"] for m in phone.thread()] == ["question from before signing in"]


def test_wrong_missing_and_replayed_signatures_are_refused(widget) -> None:
    owner = Visitor(widget)
    owner.start()
    owner.post("identify", {"id": "u-1", "hash": signed("u-1")})
    owner.say("my account details")

    attacker = Visitor(widget)
    attacker.start()
    wrong = attacker.post("identify", {"id": "u-1", "hash": signed("u-1", secret="guess")})
    assert wrong.status_code == 403 and "does not match" in wrong.json()["detail"]
    assert attacker.thread() == []

    actions.update_inbox(
        inbox=widget,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={
            "widget": {
                "allowed_origins": [SITE],
                "identity_required": True,
                "identity_max_age": 3600,
            }
        },
    )
    missing = attacker.post("identify", {"id": "u-1", "email": "owner@example.com"})
    assert missing.status_code == 403
    old = int(time.time()) - 7200
    replayed = attacker.post("identify", {"id": "u-1", "ts": old, "hash": signed("u-1", old)})
    assert replayed.status_code == 403 and "expired" in replayed.json()["detail"]
    untimed = attacker.post("identify", {"id": "u-1", "hash": signed("u-1")})
    assert untimed.status_code == 403 and "timestamp" in untimed.json()["detail"]
    assert attacker.thread() == []
    now = int(time.time())
    fresh = attacker.post("identify", {"id": "u-9", "ts": now, "hash": signed("u-9", now)})
    assert fresh.status_code == 200 and fresh.json()["visitor"]["verified"] is True


def test_an_unverified_visitor_cannot_take_over_a_contact_by_email(widget) -> None:
    owner = Visitor(widget)
    owner.start()
    owner.post(
        "identify",
        {"id": "u-7", "name": "Real Owner", "email": "owner@example.com", "hash": signed("u-7")},
    )
    owner.say("my address is 1 Main St")
    real = Contact.objects.get(identities__value="user:u-7")

    impostor = Visitor(widget)
    impostor.start()
    claimed = impostor.post(
        "identify", {"id": "u-7", "name": "Hacker", "email": "owner@example.com"}
    )
    assert claimed.status_code == 200
    assert claimed.json()["visitor"]["verified"] is False
    assert impostor.thread() == []
    impostor.say("hello", name="Real Owner", email="owner@example.com")
    assert [m["text"] for m in impostor.thread()] == ["hello"]
    real.refresh_from_db()
    assert real.name == "Real Owner" and real.email == "owner@example.com"
    mine = Contact.objects.exclude(pk=real.pk).get(identities__value__startswith="visitor:")
    assert mine.email == "owner@example.com"  # their own, unverified contact
    assert Conversation.objects.filter(contact=real).count() == 1
    # A signed-in browser cannot be switched by an unsigned call either.
    switched = owner.post("identify", {"id": "u-8", "name": "Someone else"})
    assert switched.status_code == 403


def test_signing_in_as_someone_else_starts_afresh(widget) -> None:
    """The site forgot reset() when Ann signed out; Bob signs in on the same browser."""
    browser = Visitor(widget)
    browser.start()
    browser.post("identify", {"id": "ann", "hash": signed("ann")})
    browser.say("Ann's private question")
    ann_token = browser.token
    bob = browser.post("identify", {"id": "bob", "name": "Bob", "hash": signed("bob")})
    assert bob.status_code == 200
    data = bob.json()
    assert data["token"] != ann_token and data["conversation"] is None
    assert data["visitor"] == {"name": "Bob", "email": "", "verified": True}
    assert browser.get("messages").status_code == 401  # Ann's token is dead
    browser.token = data["token"]
    assert browser.thread() == []


def test_a_partial_settings_update_keeps_the_rest(widget, admin, api) -> None:
    actions.update_inbox(
        inbox=widget,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"widget": {"identity_required": True, "identity_max_age": 600}},
    )
    response = api(admin).patch(
        f"/api/v1/inboxes/{widget.pk}/",
        {"settings": {"widget": {"color": "#000000"}}},
        format="json",
    )
    assert response.status_code == 200, response.content
    widget.refresh_from_db()
    kept = widget.settings["widget"]
    assert kept["color"] == "#000000" and kept["allowed_origins"] == [SITE]
    assert kept["identity_required"] is True and kept["identity_max_age"] == 600


# ---------------------------------------------------------------- admin pages


def widget_form(**values: Any) -> dict[str, Any]:
    return {
        "name": "Shop chat",
        "allowed_origins": f"{SITE}\nhttps://www.example.com",
        "color": "#0a7d4f",
        "position": "left",
        "greeting": "Hello <there>",
        "launcher_text": "",
        "prechat_name": "required",
        "prechat_email": "optional",
        "privacy_url": "https://shop.example.com/privacy",
        "identity_max_age": "600",
        "satisfaction": "on",
        **values,
    }


def test_an_admin_sets_up_a_website_chat(admin_web, agent_web) -> None:
    from inbox.models import Inbox

    created = admin_web.post("/settings/inboxes/new-chat/", widget_form())
    assert created.status_code == 302
    inbox = Inbox.objects.get(kind="widget")
    page = admin_web.get(created["Location"]).content.decode()
    secret = inbox.get_secrets()["identity_secret"]
    assert secret in page and "Copy the identity secret now" in page  # shown once
    assert f'data-inbox="{inbox.public_id}"' in page.replace("&quot;", '"')
    assert "Hello &lt;there&gt;" in page
    assert secret not in admin_web.get(created["Location"]).content.decode()
    config = inbox.settings["widget"]
    assert config["allowed_origins"] == [SITE, "https://www.example.com"]
    assert (config["position"], config["prechat_name"], config["identity_max_age"]) == (
        "left",
        "required",
        600,
    )
    assert Visitor(inbox).get("config").json()["look"]["color"] == "#0a7d4f"

    refused = admin_web.post(
        f"/settings/inboxes/{inbox.pk}/chat/", widget_form(allowed_origins="ftp://files")
    )
    assert refused.status_code == 200
    assert "is not a website address" in refused.content.decode()
    rotated = admin_web.post(f"/settings/inboxes/{inbox.pk}/chat/rotate-secret/")
    assert rotated.status_code == 302
    inbox.refresh_from_db()
    assert inbox.get_secrets()["identity_secret"] != secret
    assert agent_web.get(f"/settings/inboxes/{inbox.pk}/chat/").status_code in (302, 403)
    assert "Shop chat" in admin_web.get("/settings/inboxes/").content.decode()


def test_agents_see_who_the_visitor_is_and_where(widget, api) -> None:
    visitor = Visitor(widget)
    visitor.start()
    visitor.say("hi there", name="Ann", email="ann@example.org")
    conversation = Conversation.objects.get()
    WidgetVisitor.objects.update(
        sockets=1, page_url=SITE + "/pricing", page_title="Pricing", referrer="https://g.co/"
    )
    data = api(widget.agent).get(f"/api/v1/conversations/{conversation.pk}/visitor/").json()
    assert data["verified"] is False and data["online"] is True
    assert (data["page_title"], data["referrer"], data["email"]) == (
        "Pricing",
        "https://g.co/",
        "ann@example.org",
    )
    outsider = api(UserFactory(email="out@example.com"))
    assert outsider.get(f"/api/v1/conversations/{conversation.pk}/visitor/").status_code == 404
    email_inbox = actions.create_inbox(
        name="Mail", kind="api", actor=AdminFactory(), origin=SYSTEM, members=[widget.agent]
    )
    other = actions.receive_inbound_message(
        inbox=email_inbox, identity=actions.IdentityInput(kind="external", value="x"), text="yo"
    ).conversation
    assert api(widget.agent).get(f"/api/v1/conversations/{other.pk}/visitor/").status_code == 404


def test_parallel_requests_cannot_all_slip_under_a_limit() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from inbox.sources.widget.views import _Throttle

    throttle = _Throttle("20/day", "test")  # a day: the window cannot roll over mid-test
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: throttle.hit("visitor-1"), range(30)))
    assert sum(wait is None for wait in waits) == 20
    assert all(0 < wait <= 86400 for wait in waits if wait is not None)
