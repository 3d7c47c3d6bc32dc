"""The API source: an integration posts customer messages with the inbox's key and receives
agents' replies, signed, at its callback URL (a real HTTP server on 127.0.0.1 here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from accounts.models import User
from accounts.origin import SYSTEM
from inbox.actions import IdentityInput, create_inbox, receive_inbound_message, send_reply
from inbox.models import Attachment, Contact, Conversation, Event, Inbox, Message
from inbox.sources import http
from inbox.sources.api import outbound, views

pytestmark = pytest.mark.django_db

API_KEY = "key-" + "k" * 40
SIGNING_SECRET = "whsec-" + "s" * 40


# --- A customer's callback endpoint ---------------------------------------------------------


class CallbackServer:
    """Records each request; answers with the queued (status, headers, body) replies,
    then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, str], bytes]] = []
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                owner.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                if owner.delay:
                    time.sleep(owner.delay)
                status, headers, reply = owner.replies.pop(0) if owner.replies else (200, {}, b"")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/parley/hook?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.replies.append((status, headers, body))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _private_networks_allowed(settings: Any) -> None:
    # The callback server lives on 127.0.0.1; the guard itself is tested with this off.
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True


def make_inbox(admin: User, *, callback_url: str = "", kind: str = "api", **secrets: str) -> Inbox:
    return create_inbox(
        name="Shop app",
        kind=kind,
        actor=admin,
        origin=SYSTEM,
        settings={"callback_url": callback_url} if callback_url else {},
        secrets=secrets or {"api_key": API_KEY, "signing_secret": SIGNING_SECRET},
    )


@pytest.fixture
def inbox(admin: User, callback: CallbackServer) -> Inbox:
    return make_inbox(admin, callback_url=callback.url)


def url(inbox_or_id: Inbox | uuid.UUID) -> str:
    public_id = inbox_or_id.public_id if isinstance(inbox_or_id, Inbox) else inbox_or_id
    return f"/sources/api/{public_id}/messages"


def client(key: str | None = API_KEY) -> APIClient:
    c = APIClient()
    if key is not None:
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return c


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "contact": {"kind": "external", "identifier": "user-42", "name": "Chloé Customer"},
        "text": "Where is my order?",
        "external_id": "shop-msg-1",
        **overrides,
    }


def post(data: Any, *, key: str | None = API_KEY, inbox: Inbox | None = None, **extra: Any):
    assert inbox is not None
    return client(key).post(url(inbox), data, format="json", **extra)


# --- Inbound --------------------------------------------------------------------------------


def test_new_message_creates_contact_conversation_and_events(inbox: Inbox) -> None:
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = post(body(subject="Order #1001"), inbox=inbox)

    assert response.status_code == 201, response.content
    payload = response.json()
    message, conversation = payload["message"], payload["conversation"]
    assert message["text"] == "Where is my order?"
    assert message["direction"] == "incoming"
    assert message["external_id"] == "shop-msg-1"
    assert message["sender"]["type"] == "contact"
    assert message["sender"]["name"] == "Chloé Customer"
    assert conversation["inbox"] == {"id": inbox.pk, "name": "Shop app", "kind": "api"}
    assert conversation["contact"]["name"] == "Chloé Customer"
    assert conversation["subject"] == "Order #1001"
    assert conversation["number"] == 1 and conversation["status"] == "open"
    assert message["conversation_id"] == conversation["id"]

    stored = Conversation.objects.get()
    assert stored.pk == conversation["id"] and stored.inbox_id == inbox.pk
    contact = Contact.objects.get()
    assert list(contact.identities.values_list("kind", "value", "inbox_id")) == [
        ("external", "user-42", inbox.pk)
    ]
    kinds = list(
        Event.objects.filter(id__gt=last_event).order_by("id").values_list("stream", "kind")
    )
    assert (f"inbox:{inbox.pk}", "conversation.created") in kinds
    assert (f"inbox:{inbox.pk}", "message.created") in kinds


def test_event_payloads_match_what_the_rest_api_shows(inbox: Inbox, admin: User, api) -> None:
    # Inbound events are built from the objects in hand (not read back); they must still be
    # exactly what a client reading the REST API afterwards sees.
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    post(body(subject="Order #7"), inbox=inbox)
    attachment = {
        "filename": "photo.png",
        "content_type": "image/png",
        "data": base64.b64encode(b"png bytes").decode(),
    }
    second = post(body(external_id="shop-msg-2", attachments=[attachment]), inbox=inbox).json()
    events = list(Event.objects.filter(id__gt=last_event).order_by("id"))
    conversation_id = second["conversation"]["id"]
    rest = api(admin)
    shown = rest.get(f"/api/v1/conversations/{conversation_id}/").json()
    thread = rest.get(f"/api/v1/conversations/{conversation_id}/messages/").json()["results"]

    created = [e.payload["message"] for e in events if e.kind == "message.created"]
    assert created == thread  # both messages, attachments and all
    latest = [e.payload["conversation"] for e in events if "conversation" in e.payload][-1]
    assert latest == {key: shown[key] for key in latest}
    assert second["message"] == thread[-1]
    assert second["conversation"] == latest


def test_an_inbound_message_costs_a_fixed_number_of_queries(
    inbox: Inbox, django_assert_max_num_queries: Any
) -> None:
    post(body(), inbox=inbox)
    # Existing contact and conversation: inbox, identity, conversation (locked) and its
    # labels, message insert, conversation update, event counter, event stream, events.
    with django_assert_max_num_queries(12):
        response = post(body(external_id="shop-msg-2"), inbox=inbox)
    assert response.status_code == 201


def test_redelivery_with_same_external_id_answers_200_and_stores_once(inbox: Inbox) -> None:
    first = post(body(), inbox=inbox)
    again = post(body(text="Where is my order? (retry)"), inbox=inbox)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert again.json()["message"]["text"] == "Where is my order?"
    assert again.json()["conversation"]["id"] == first.json()["conversation"]["id"]
    assert Message.objects.count() == 1


def test_second_message_from_same_contact_threads_into_same_conversation(inbox: Inbox) -> None:
    first = post(body(), inbox=inbox).json()
    second = post(body(external_id="shop-msg-2", text="Any news?"), inbox=inbox)

    assert second.status_code == 201
    assert second.json()["conversation"]["id"] == first["conversation"]["id"]
    assert second.json()["conversation"]["last_message_preview"] == "Any news?"
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(conversation_id=first["conversation"]["id"]).count() == 2
    assert Contact.objects.count() == 1


def test_email_and_phone_contacts(inbox: Inbox) -> None:
    by_email = post(
        body(contact={"kind": "email", "identifier": "Chloe@Example.COM"}, external_id="e1"),
        inbox=inbox,
    )
    by_phone = post(
        body(contact={"kind": "phone", "identifier": "+33 6 12 34 56 78"}, external_id="p1"),
        inbox=inbox,
    )
    assert by_email.status_code == by_phone.status_code == 201
    assert by_email.json()["conversation"]["contact"]["email"] == "chloe@example.com"
    assert by_phone.json()["conversation"]["contact"]["phone"] == "+33612345678"
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize(
    "key", [None, "", "wrong-key", API_KEY + "x", API_KEY[:-1], SIGNING_SECRET], ids=repr
)
def test_missing_or_wrong_key_is_401_and_stores_nothing(inbox: Inbox, key: str | None) -> None:
    response = post(body(), key=key, inbox=inbox)

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Message.objects.exists()
    assert not Contact.objects.exists()
    assert not Conversation.objects.exists()


def test_key_must_be_sent_as_bearer(inbox: Inbox) -> None:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {API_KEY}")
    assert c.post(url(inbox), body(), format="json").status_code == 401
    assert not Message.objects.exists()


def test_a_personal_api_token_is_not_an_inbox_key(inbox: Inbox, admin: User, api) -> None:
    response = api(admin).post(url(inbox), body(), format="json")
    assert response.status_code == 401
    assert not Message.objects.exists()


def test_inbox_without_a_key_refuses_everything(admin: User) -> None:
    keyless = make_inbox(admin, signing_secret=SIGNING_SECRET)
    assert post(body(), key="", inbox=keyless).status_code == 401
    assert post(body(), key="None", inbox=keyless).status_code == 401


def test_unknown_inactive_or_non_api_inbox_is_404(inbox: Inbox, admin: User) -> None:
    assert client().post(url(uuid.uuid4()), body(), format="json").status_code == 404

    email_inbox = create_inbox(
        name="Mail",
        kind="email",
        actor=admin,
        origin=SYSTEM,
        settings={"address": "mail@example.com"},
        secrets={"api_key": API_KEY},
    )
    assert post(body(), inbox=email_inbox).status_code == 404

    Inbox.objects.filter(pk=inbox.pk).update(is_active=False)
    assert post(body(), inbox=inbox).status_code == 404
    not_a_uuid = client().post("/sources/api/not-a-uuid/messages", body(), format="json")
    assert not_a_uuid.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"text": "hi"}, ["contact"]),
        (body(contact={"kind": "external"}), ["contact", "identifier"]),
        (body(contact={"kind": "pigeon", "identifier": "x"}), ["contact", "kind"]),
        (body(contact={"kind": "email", "identifier": "not-an-email"}), ["contact", "identifier"]),
        (body(contact={"kind": "phone", "identifier": "call me"}), ["contact", "identifier"]),
        (
            body(contact={"kind": "external", "identifier": "u", "email": "nope"}),
            ["contact", "email"],
        ),
        ({"contact": body()["contact"]}, ["text"]),
        (body(text="   "), ["text"]),
        (body(text=None), ["text"]),
        (body(text="nul \x00 byte"), ["text"]),
        (body(external_id="x" * 256), ["external_id"]),
        (body(subject="s" * 301), ["subject"]),
        (body(attachments="not a list"), ["attachments"]),
        (
            body(attachments=[{"filename": "a.txt", "content_type": "text/plain", "data": "%%"}]),
            ["attachments", "0", "data"],
        ),
        (
            body(attachments=[{"filename": "a.txt", "content_type": "nonsense", "data": "aGk="}]),
            ["attachments", "0", "content_type"],
        ),
        (
            body(
                attachments=[{"filename": "a", "content_type": "text/plain", "data": "aA=="}] * 11
            ),
            ["attachments"],
        ),
    ],
)
def test_invalid_body_is_400_naming_the_field(
    inbox: Inbox, data: dict[str, Any], path: list[str]
) -> None:
    response = post(data, inbox=inbox)

    assert response.status_code == 400, response.content
    errors: Any = response.json()
    for step in path:
        errors = errors[step]
    assert errors, response.json()
    assert not Message.objects.exists()


def test_body_that_is_not_json_or_not_an_object_is_400(inbox: Inbox) -> None:
    c = client()
    response = c.post(url(inbox), b"{nope", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["detail"]
    response = c.post(url(inbox), b"[1, 2]", content_type="application/json")
    assert response.status_code == 400
    response = c.post(url(inbox), "x".encode("utf-16"), content_type="application/json")
    assert response.status_code == 400


def test_body_over_10_mb_is_413_and_stores_nothing(inbox: Inbox) -> None:
    big = json.dumps(body(text="x" * (10 * 1024 * 1024))).encode()
    response = client().post(url(inbox), big, content_type="application/json")

    assert response.status_code == 413
    assert "10 MB" in response.json()["detail"]
    assert not Message.objects.exists()


def test_body_larger_than_its_content_length_is_413(inbox: Inbox) -> None:
    # A chunked request carries no Content-Length; the size actually read counts.
    big = json.dumps(body(text="x" * (10 * 1024 * 1024))).encode()
    request = RequestFactory().post(
        url(inbox),
        b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {API_KEY}",
    )
    request._stream = io.BytesIO(big)  # type: ignore[attr-defined]
    del request.META["CONTENT_LENGTH"]
    response = views.InboundMessageView.as_view()(request, public_id=inbox.public_id)

    assert response.status_code == 413
    assert not Message.objects.exists()


def test_body_between_django_default_limit_and_10_mb_is_accepted(inbox: Inbox) -> None:
    # Django refuses request.body over 2.5 MB by default; this endpoint allows 10 MB.
    content = b"\x89PNG" + bytes(range(256)) * 12_000  # ~3 MB
    attachment = {
        "filename": "big.png",
        "content_type": "image/png",
        "data": base64.b64encode(content).decode(),
    }
    response = post(body(attachments=[attachment]), inbox=inbox)
    assert response.status_code == 201, response.content[:300]
    assert Attachment.objects.get().size == len(content)


def test_attachments_are_stored_with_sha256_and_size(inbox: Inbox) -> None:
    pdf = b"%PDF-1.4 invoice " + bytes(range(256))
    text = b"hello, world\n"
    attachments = [
        {
            "filename": "../../etc/invoice.pdf",
            "content_type": "application/pdf",
            # Wrapped like MIME base64: the line breaks are ignored.
            "data": base64.encodebytes(pdf).decode(),
        },
        {
            "filename": "note.txt",
            "content_type": "Text/Plain",
            "data": base64.b64encode(text).decode(),
        },
    ]
    response = post(body(text="", attachments=attachments), inbox=inbox)

    assert response.status_code == 201, response.content
    listed = response.json()["message"]["attachments"]
    assert [(a["filename"], a["content_type"], a["size"], a["sha256"]) for a in listed] == [
        ("invoice.pdf", "application/pdf", len(pdf), hashlib.sha256(pdf).hexdigest()),
        ("note.txt", "text/plain", len(text), hashlib.sha256(text).hexdigest()),
    ]
    stored = Attachment.objects.order_by("id")
    assert [a.file.read() for a in stored] == [pdf, text]
    assert response.json()["conversation"]["last_message_preview"] == "(attachment)"


def test_one_attachment_over_the_limit_is_400(inbox: Inbox, monkeypatch: Any) -> None:
    monkeypatch.setattr(views, "MAX_ATTACHMENT_BYTES", 1000)
    attachment = {
        "filename": "big.bin",
        "content_type": "application/octet-stream",
        "data": base64.b64encode(b"x" * 1001).decode(),
    }
    response = post(body(attachments=[attachment]), inbox=inbox)
    assert response.status_code == 400
    assert "at most" in response.json()["attachments"]["0"]["data"][0]
    assert not Message.objects.exists()


def test_html_is_sanitised(inbox: Inbox) -> None:
    html = '<p onclick="steal()">Hi<script>alert(1)</script> <img src="x" onerror="y"></p>'
    response = post(body(html=html), inbox=inbox)
    stored = response.json()["message"]["html"]
    assert "Hi" in stored
    assert "script" not in stored and "onclick" not in stored and "onerror" not in stored


def test_endpoint_is_in_the_openapi_schema(db: None) -> None:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/sources/api/{public_id}/messages"]["post"]
    assert operation["security"] == [{"inboxApiKey": []}]
    assert {"201", "200", "400", "401", "404", "413"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["inboxApiKey"]["scheme"] == "bearer"


# --- Outbound -------------------------------------------------------------------------------


@pytest.fixture
def conversation(inbox: Inbox, settings: Any) -> Conversation:
    # Delivery tests count the tasks they run: no drafts task for the customer's message.
    settings.DRAFTS_ENABLED = False
    return receive_inbound_message(
        inbox=inbox,
        identity=IdentityInput(kind="external", value="user-42", name="Chloé Customer"),
        text="Where is my order?",
        external_id="shop-msg-1",
    ).conversation


def reply(conversation: Conversation, agent: User, django_capture_on_commit_callbacks) -> Message:
    with django_capture_on_commit_callbacks(execute=True):
        message = send_reply(conversation=conversation, author=agent, text="It ships today.")
    return message


def scheduled_deliveries() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path="inbox.tasks.deliver_message", status="READY")
    )


def make_retries_due() -> None:
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def verify_like_a_customer(request: dict[str, Any], secret: str = SIGNING_SECRET) -> dict:
    """What docs/sources/api.md tells integrators to do."""
    timestamp = request["headers"]["X-Parley-Timestamp"]
    signed = timestamp.encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request["headers"]["X-Parley-Signature"])
    assert abs(time.time() - int(timestamp)) < 60
    return json.loads(request["body"])


def test_reply_is_posted_signed_and_marked_sent(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    assert run_tasks() == 1

    [request] = callback.requests
    assert request["path"] == "/parley/hook?x=1"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = verify_like_a_customer(request)
    assert payload["event"] == "message.created"
    assert payload["message"]["id"] == message.pk
    assert payload["message"]["text"] == "It ships today."
    assert payload["message"]["sender"]["type"] == "agent"
    assert payload["conversation"] == {
        "id": conversation.pk,
        "number": conversation.number,
        "inbox_id": conversation.inbox_id,
    }
    assert payload["contact"]["id"] == conversation.contact_id
    assert payload["contact"]["name"] == "Chloé Customer"
    assert {"kind": "external", "value": "user-42"} in payload["contact"]["identities"]

    message.refresh_from_db()
    assert message.delivery_status == "sent"
    assert message.data["delivery_attempts"] == 1
    assert Event.objects.filter(kind="message.updated", payload__message__id=message.pk).exists()


def test_tampered_body_fails_verification(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()
    [request] = callback.requests
    with pytest.raises(AssertionError):
        verify_like_a_customer({**request, "body": request["body"].replace(b"ships", b"sinks")})
    with pytest.raises(AssertionError):
        verify_like_a_customer(request, secret="another secret")


def test_server_error_schedules_a_retry_with_backoff_then_sends(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    callback.reply(500, b"upstream down")
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    before = timezone.now()
    assert run_tasks() == 1  # the retry is not ready yet

    message.refresh_from_db()
    assert message.delivery_status == "queued"
    assert message.data["delivery_attempts"] == 1
    assert message.data["delivery_last_error"] == "HTTP 500: upstream down"
    [retry] = scheduled_deliveries()
    assert retry.args_kwargs["args"] == [message.pk]
    assert before + timedelta(seconds=9) < retry.run_after < before + timedelta(seconds=30)

    make_retries_due()
    assert run_tasks() == 1
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    assert message.data["delivery_attempts"] == 2
    assert len(callback.requests) == 2
    assert callback.requests[1]["headers"]["X-Parley-Attempt"] == "2"
    verify_like_a_customer(callback.requests[1])


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    status: int,
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    callback.reply(status, b"slow down", **{"Retry-After": "600"})
    reply(conversation, agent, django_capture_on_commit_callbacks)
    before = timezone.now()
    run_tasks()

    [retry] = scheduled_deliveries()
    assert before + timedelta(seconds=599) < retry.run_after < before + timedelta(seconds=620)


def test_gives_up_after_the_last_attempt(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    for _ in range(outbound.MAX_ATTEMPTS):
        callback.reply(502, b"bad gateway")
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    delays = []
    for _ in range(outbound.MAX_ATTEMPTS):
        started = timezone.now()
        run_tasks()
        for task in scheduled_deliveries():
            delays.append(round((task.run_after - started).total_seconds(), -1))
        make_retries_due()

    assert delays == [10, 60, 300, 1800, 7200]
    assert len(callback.requests) == outbound.MAX_ATTEMPTS
    assert not scheduled_deliveries()
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("HTTP 502: bad gateway")
    assert "after 6 attempts" in message.delivery_error
    assert message.data["delivery_attempts"] == 6


def test_client_error_fails_at_once_with_the_response_text(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    callback.reply(400, b'{"error": "unknown recipient user-42"}' + b" " * 10 + b"z" * 300)
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()

    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith('HTTP 400: {"error": "unknown recipient user-42"}')
    assert len(message.delivery_error) == len("HTTP 400: ") + 200
    assert not scheduled_deliveries()
    assert len(callback.requests) == 1


def test_redirect_is_not_followed(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
) -> None:
    callback.reply(302, Location="http://169.254.169.254/latest/meta-data/")
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert "redirects are not followed" in message.delivery_error
    assert len(callback.requests) == 1


def test_connection_refused_and_timeout_are_retried(
    admin: User,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    django_capture_on_commit_callbacks,
    monkeypatch: Any,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    for callback_url, error in [
        (f"http://127.0.0.1:{closed_port}/hook", "Connection failed"),
        (callback.url, "Timed out"),
    ]:
        inbox = make_inbox(admin, callback_url=callback_url)
        conversation = receive_inbound_message(
            inbox=inbox, identity=IdentityInput(kind="external", value="u"), text="hi"
        ).conversation
        monkeypatch.setattr(http, "TIMEOUT_SECONDS", 0.3)
        callback.delay = 1.0
        message = reply(conversation, agent, django_capture_on_commit_callbacks)
        run_tasks()

        message.refresh_from_db()
        assert message.delivery_status == "queued"
        assert message.data["delivery_last_error"].startswith(error), message.data
        assert [t.args_kwargs["args"] for t in scheduled_deliveries()] == [[message.pk]]
        DBTaskResult.objects.all().delete()


def test_no_callback_url_fails(
    admin: User, agent: User, run_tasks, django_capture_on_commit_callbacks
) -> None:
    inbox = make_inbox(admin)
    conversation = receive_inbound_message(
        inbox=inbox, identity=IdentityInput(kind="external", value="u"), text="hi"
    ).conversation
    message = reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == "This inbox has no callback URL"


def test_private_address_refused_unless_allowed(
    conversation: Conversation,
    agent: User,
    callback: CallbackServer,
    run_tasks,
    settings: Any,
    django_capture_on_commit_callbacks,
) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    refused = reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()
    refused.refresh_from_db()
    assert refused.delivery_status == "failed"
    assert "127.0.0.1 is a loopback address" in refused.delivery_error
    assert "OUTBOUND_ALLOW_PRIVATE_NETWORKS" in refused.delivery_error
    assert callback.requests == []
    assert not scheduled_deliveries()

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    allowed = reply(conversation, agent, django_capture_on_commit_callbacks)
    run_tasks()
    allowed.refresh_from_db()
    assert allowed.delivery_status == "sent"
    assert len(callback.requests) == 1


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("ff02::1", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_address_guard(address: str, refused: bool) -> None:
    assert (http.address_refusal(address) is not None) is refused


@pytest.mark.parametrize(
    ("callback_url", "error"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http:///no-host", "no host"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://0x7f000001/hook", "loopback"),
    ],
)
def test_bad_callback_urls_are_refused(settings: Any, callback_url: str, error: str) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(http.DeliveryRefused, match=error):
        http.resolve_target(callback_url)


def test_notes_and_incoming_messages_are_not_delivered(
    conversation: Conversation, agent: User, callback: CallbackServer
) -> None:
    from inbox.actions import add_note

    note = add_note(conversation=conversation, author=agent, text="internal")
    incoming = Message.objects.get(direction="incoming")
    assert outbound.deliver_api_message(note) == "not an outgoing message"
    assert outbound.deliver_api_message(incoming) == "not an outgoing message"
    assert callback.requests == []
