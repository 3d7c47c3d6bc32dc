"""WhatsApp Cloud API as a source: the subscription handshake and signed webhooks, messages
stored once, media downloaded with caps, statuses in any order, reactions, coexistence
echoes, replies and files out, the 24-hour window refused on the server, templates synced,
previewed, sent and used to start a conversation. Payloads shaped as Meta documents them
(developers.facebook.com/docs/whatsapp/cloud-api/webhooks); the Graph API is a fake server
on loopback that records what we send."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions.templates import send_template, store_templates
from inbox.models import Contact, Conversation, Message, MessageTemplate, ProviderEvent
from inbox.sources.meta import signature
from tests.factories import AdminFactory, UserFactory
from tests.fake_provider import FakeProvider

pytestmark = pytest.mark.django_db
APP_SECRET = "meta-app-secret"
VERIFY = "verify-me-123"
NUMBER_ID = "106540352242922"
CUSTOMER = "447700900123"
JPEG = b"\xff\xd8\xff\xe0" + b"x" * 2000


@pytest.fixture
def graph(settings) -> Any:
    def default(request: Any) -> Any:
        if request.path.endswith("/messages"):
            return 200, {"messages": [{"id": f"wamid.OUT{len(fake.requests)}"}]}, {}
        if request.path.endswith("/media") and request.method == "POST":
            return 200, {"id": f"media-{len(fake.requests)}"}, {}
        return 404, {"error": {"message": "Unknown path", "code": 100}}, {}

    fake = FakeProvider(default=default)
    settings.META_GRAPH_URL = fake.url + "/v21.0"
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False  # the provider's own host is trusted
    yield fake
    fake.close()


@pytest.fixture
def inbox() -> Any:
    return actions.create_inbox(
        name="Shop WhatsApp",
        kind="whatsapp",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"phone_number_id": NUMBER_ID, "business_account_id": "WABA1"},
        secrets={"app_secret": APP_SECRET, "access_token": "EAAG-token", "verify_token": VERIFY},
    )


def change(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": field,
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": NUMBER_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def customer_message(kind: str = "text", wamid: str = "wamid.IN1", **body: Any) -> dict[str, Any]:
    message = {"from": CUSTOMER, "id": wamid, "timestamp": str(int(timezone.now().timestamp()))}
    message["type"] = kind
    message[kind] = body or {"body": "Hello, where is my parcel?"}
    return change(
        {
            "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": CUSTOMER}],
            "messages": [message],
        }
    )


def status(wamid: str, state: str, **extra: Any) -> dict[str, Any]:
    row = {"id": wamid, "status": state, "timestamp": "1763900000", "recipient_id": CUSTOMER}
    return change({"statuses": [{**row, **extra}]})


def post(inbox: Any, payload: Any, secret: str | None = APP_SECRET) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {} if secret is None else {"HTTP_X_HUB_SIGNATURE_256": signature(secret, body)}
    return Client().post(
        f"/sources/whatsapp/{inbox.public_id}/", body, content_type="application/json", **headers
    )


def run_all(run_tasks: Any) -> None:
    """Run queued tasks, including those scheduled for later (retries)."""
    for _ in range(10):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        if not run_tasks():
            return


# ---------------------------------------------------------------- webhook


def test_subscription_handshake(inbox) -> None:
    url = f"/sources/whatsapp/{inbox.public_id}/"
    ok = Client().get(
        url, {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"}
    )
    assert ok.status_code == 200 and ok.content == b"42"
    wrong = Client().get(
        url, {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403


def test_signature_checked_before_anything_is_stored(inbox) -> None:
    payload = customer_message()
    assert post(inbox, payload, secret="not-the-secret").status_code == 401
    assert post(inbox, payload, secret=None).status_code == 401
    assert ProviderEvent.objects.count() == 0
    assert post(inbox, b"{nope").status_code == 400
    assert post(inbox, {"object": "page", "entry": []}).status_code == 400
    assert ProviderEvent.objects.count() == 0
    assert post(inbox, payload).status_code == 200
    assert ProviderEvent.objects.count() == 1


def test_a_text_arrives_once_with_the_contact(inbox, run_tasks) -> None:
    post(inbox, customer_message())
    post(inbox, customer_message())  # Meta retries
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "Hello, where is my parcel?" and stored.external_id == "wamid.IN1"
    contact = stored.conversation.contact
    assert contact.name == "Kerry Fisher" and contact.phone == f"+{CUSTOMER}"
    assert contact.identities.get().value == CUSTOMER
    conversation = stored.conversation
    assert conversation.last_customer_message_at is not None
    payload = Client()  # noqa: F841 (the payload's window is checked below)
    from inbox.payloads import conversation_payload

    rules = conversation_payload(Conversation.objects.get())["reply_rules"]
    assert rules["templates"] is True and rules["window_closes_at"]


def test_a_phone_number_matching_another_contact_is_offered_never_merged(
    inbox, run_tasks, api, agent
) -> None:
    from inbox.actions import IdentityInput, receive_inbound_message

    other_inbox = actions.create_inbox(name="Mail", kind="api", actor=AdminFactory(), origin=SYSTEM)
    known = receive_inbound_message(
        inbox=other_inbox,
        identity=IdentityInput(kind="email", value="kerry@example.com", name="Kerry (email)"),
        text="hello",
    ).contact
    known.phone = f"+{CUSTOMER}"
    known.save()
    post(inbox, customer_message())
    run_tasks()
    new = Message.objects.get(inbox=inbox).conversation.contact
    assert new.pk != known.pk and Contact.objects.count() == 2
    inbox.members.add(agent)
    seen = api(agent).get(f"/api/v1/contacts/{new.pk}/").json()
    assert seen["same_phone"] == []  # the other contact is in an inbox this agent cannot see
    other_inbox.members.add(agent)
    seen = api(agent).get(f"/api/v1/contacts/{new.pk}/").json()
    assert seen["same_phone"] == [{"id": known.pk, "name": "Kerry (email)"}]


def test_media_is_downloaded_with_caps_and_type_checks(inbox, graph, run_tasks, settings) -> None:
    photo_url = graph.serve("/files/photo.jpg", JPEG, "image/jpeg")
    page_url = graph.serve("/files/login.html", b"<html>sign in</html>", "text/html")
    big_url = graph.serve("/files/big.jpg", JPEG * 10, "image/jpeg")
    graph.queue("/v21.0/M1", 200, {"url": photo_url, "mime_type": "image/jpeg", "id": "M1"})
    graph.queue("/v21.0/M2", 200, {"url": page_url, "mime_type": "image/jpeg", "id": "M2"})
    graph.queue("/v21.0/M3", 200, {"url": big_url, "mime_type": "image/jpeg", "id": "M3"})
    settings.MESSAGING_MEDIA_MAX_BYTES = 10_000
    post(
        inbox,
        customer_message("image", "wamid.A", id="M1", mime_type="image/jpeg", caption="Broken"),
    )
    post(inbox, customer_message("image", "wamid.B", id="M2", mime_type="image/jpeg"))
    post(inbox, customer_message("image", "wamid.C", id="M3", mime_type="image/jpeg"))
    run_tasks()
    good = Message.objects.get(external_id="wamid.A")
    assert good.text == "Broken"
    attachment = good.attachments.get()
    assert attachment.content_type == "image/jpeg" and attachment.size == len(JPEG)
    assert attachment.file.read() == JPEG
    lookups = graph.calls("/v21.0/M1")
    assert lookups[0].headers["authorization"] == "Bearer EAAG-token"
    wrong = Message.objects.get(external_id="wamid.B")
    assert wrong.text.startswith("[Photo not downloaded:") and "text/html" in wrong.text
    assert not wrong.attachments.exists() and wrong.data["whatsapp"]["raw"]["image"]["id"] == "M2"
    big = Message.objects.get(external_id="wamid.C")
    assert "limit" in big.text and not big.attachments.exists()


def test_a_media_url_on_a_private_address_outside_the_provider_is_refused(
    inbox, graph, run_tasks
) -> None:
    elsewhere = FakeProvider()  # loopback, but not the configured Graph API host
    try:
        url = elsewhere.serve("/secret.jpg", JPEG, "image/jpeg")
        graph.queue("/v21.0/M9", 200, {"url": url, "mime_type": "image/jpeg"})
        post(inbox, customer_message("image", "wamid.P", id="M9", mime_type="image/jpeg"))
        run_tasks()
    finally:
        elsewhere.close()
    stored = Message.objects.get()
    assert "loopback" in stored.text and not stored.attachments.exists()


def test_location_contacts_buttons_and_unknown_kinds(inbox, run_tasks) -> None:
    post(
        inbox, customer_message("location", "wamid.L", latitude=51.5, longitude=-0.12, name="Depot")
    )
    card = change(
        {
            "messages": [
                {
                    "from": CUSTOMER,
                    "id": "wamid.K",
                    "timestamp": "1763900000",
                    "type": "contacts",
                    "contacts": [
                        {
                            "name": {"formatted_name": "Sam Jones"},
                            "phones": [{"phone": "+44 20 7946 0000"}],
                        }
                    ],
                }
            ]
        }
    )
    post(inbox, card)
    post(
        inbox,
        customer_message(
            "interactive",
            "wamid.I",
            type="button_reply",
            button_reply={"id": "yes", "title": "Yes please"},
        ),
    )
    post(inbox, customer_message("order", "wamid.O", catalog_id="1", product_items=[]))
    run_tasks()
    texts = dict(Message.objects.values_list("external_id", "text"))
    assert texts["wamid.L"].startswith("📍 Depot") and "mlat=51.5" in texts["wamid.L"]
    assert texts["wamid.K"] == "👤 Sam Jones · +44 20 7946 0000"
    vcard = Message.objects.get(external_id="wamid.K").attachments.get()
    assert vcard.filename == "Sam Jones.vcf" and b"FN:Sam Jones" in vcard.file.read()
    assert texts["wamid.I"] == "Yes please"
    assert texts["wamid.O"] == "[Order: a kind of message Parley does not show yet]"


def test_what_cannot_be_used_is_kept_with_the_reason(inbox, run_tasks) -> None:
    other = customer_message()
    other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    post(inbox, other)
    post(inbox, change({"something": 1}, field="flows"))
    post(inbox, {"object": "whatsapp_business_account", "entry": [{"id": "x", "changes": []}]})
    run_tasks()
    rows = list(ProviderEvent.objects.order_by("id").values_list("status", "error"))
    assert [s for s, _ in rows] == ["unprocessable"] * 3
    assert "names phone number id 999" in rows[0][1]
    assert "flows" in rows[1][1]
    assert Message.objects.count() == 0


def test_another_number_on_the_same_app_goes_to_its_own_inbox(inbox, run_tasks) -> None:
    second = actions.create_inbox(
        name="Shop WhatsApp (US)",
        kind="whatsapp",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"phone_number_id": "222", "business_account_id": "WABA1"},
        secrets={"app_secret": APP_SECRET, "access_token": "t", "verify_token": "v2"},
    )
    actions.create_inbox(  # same number id, but another Meta app: never chosen
        name="Impostor",
        kind="whatsapp",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"phone_number_id": "333"},
        secrets={"app_secret": "another-app", "access_token": "t", "verify_token": "v3"},
    )
    for number, wamid in (("222", "wamid.US"), ("333", "wamid.X")):
        payload = customer_message(wamid=wamid)
        payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = number
        post(inbox, payload)  # all of the app's numbers arrive at one URL
    run_tasks()
    stored = Message.objects.get()
    assert stored.external_id == "wamid.US" and stored.inbox == second
    refused = ProviderEvent.objects.get(status="unprocessable")
    assert "names phone number id 333" in refused.error


# ---------------------------------------------------------------- replies


def conversation_with_customer(inbox: Any, run_tasks: Any) -> Conversation:
    post(inbox, customer_message())
    run_tasks()
    return Conversation.objects.get()


def reply(
    conversation: Conversation, text: str, run_tasks: Any, capture: Any, **kw: Any
) -> Message:
    with capture(execute=True):
        sent = actions.send_reply(
            conversation=conversation, author=UserFactory(name="Ben"), text=text, **kw
        )
    run_all(run_tasks)
    sent.refresh_from_db()
    return sent


def test_a_reply_is_sent_and_its_statuses_come_in_any_order(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = reply(
        conversation, "It left our depot today.", run_tasks, django_capture_on_commit_callbacks
    )
    call = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[0]
    assert call.headers["authorization"] == "Bearer EAAG-token"
    assert call.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "It left our depot today.", "preview_url": False},
    }
    assert sent.delivery_status == "sent" and sent.external_id.startswith("wamid.OUT")
    post(inbox, status(sent.external_id, "read"))
    post(inbox, status(sent.external_id, "delivered"))  # late
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "read"


def test_a_status_for_a_message_not_recorded_yet_is_retried_then_kept(inbox, run_tasks) -> None:
    post(inbox, status("wamid.UNKNOWN", "delivered"))
    run_all(run_tasks)
    event = ProviderEvent.objects.get()
    assert event.status == "unprocessable" and "not recorded" in event.error
    assert event.attempts == 5


def test_a_failed_status_shows_whatsapps_reason(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = reply(conversation, "Hello?", run_tasks, django_capture_on_commit_callbacks)
    error = {
        "code": 131026,
        "title": "Message undeliverable",
        "error_data": {"details": "The recipient's phone number is not on WhatsApp."},
    }
    post(inbox, status(sent.external_id, "failed", errors=[error]))
    run_tasks()
    sent.refresh_from_db()
    assert sent.delivery_status == "failed"
    assert sent.delivery_error == (
        "WhatsApp could not deliver it: (#131026) Message undeliverable: "
        "The recipient's phone number is not on WhatsApp."
    )


def test_rate_limits_and_outages_are_retried_and_refusals_shown(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    path = f"/v21.0/{NUMBER_ID}/messages"
    graph.queue(path, 400, {"error": {"message": "Rate limit hit", "code": 130429}})
    graph.queue(path, 503, {"error": {"message": "Service unavailable", "code": 2}})
    sent = reply(conversation, "Try again", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "sent" and len(graph.calls(path)) == 3
    assert sent.data["delivery_attempts"] == 3
    graph.queue(
        path,
        400,
        {
            "error": {
                "message": "(#131047) Re-engagement message",
                "code": 131047,
                "error_data": {
                    "details": "More than 24 hours have passed since the customer last replied."
                },
            }
        },
    )
    refused = reply(conversation, "Late", run_tasks, django_capture_on_commit_callbacks)
    assert refused.delivery_status == "failed"
    assert refused.delivery_error.startswith("WhatsApp refused it: (#131047)")
    assert "More than 24 hours" in refused.delivery_error


def test_files_are_uploaded_then_sent_with_the_text_as_caption(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    photo = actions.AttachmentInput("label.jpg", "image/jpeg", JPEG)
    sent = reply(
        conversation,
        "Your label",
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=[photo],
    )
    upload = graph.calls(f"/v21.0/{NUMBER_ID}/media")[0]
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert JPEG in upload.body and b'name="messaging_product"' in upload.body
    message = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[0].json
    assert message["type"] == "image"
    assert message["image"]["caption"] == "Your label" and message["image"]["id"].startswith(
        "media-"
    )
    assert sent.delivery_status == "sent"


def test_reactions_and_business_app_echoes(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = reply(conversation, "Sorted!", run_tasks, django_capture_on_commit_callbacks)
    reaction = customer_message("reaction", "wamid.R", message_id=sent.external_id, emoji="👍")
    post(inbox, reaction)
    echo = change(
        {
            "message_echoes": [
                {
                    "from": "15550001111",
                    "to": CUSTOMER,
                    "id": "wamid.ECHO1",
                    "timestamp": "1763900500",
                    "type": "text",
                    "text": {"body": "Sent from the phone app"},
                }
            ]
        },
        field="smb_message_echoes",
    )
    post(inbox, echo)
    post(inbox, echo)
    run_tasks()
    sent.refresh_from_db()
    assert sent.data["reactions"] == {"customer": "👍"}
    echoed = Message.objects.get(external_id="wamid.ECHO1")
    assert echoed.direction == "outgoing" and echoed.sender_user is None
    assert echoed.data["echo"] is True and echoed.conversation == conversation
    assert Message.objects.filter(direction="incoming").count() == 1


# ---------------------------------------------------------------- window and templates

TEMPLATES = [
    {
        "id": "T1",
        "name": "order_update",
        "language": "en_GB",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, your order is {{2}}."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "Track", "url": "https://t.example/{{1}}"}],
            },
        ],
    },
    {
        "id": "T2",
        "name": "promo",
        "language": "en_GB",
        "status": "REJECTED",
        "components": [{"type": "BODY", "text": "Sale"}],
    },
]


def close_window(conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=25)
    )


def test_outside_the_window_only_templates_go_and_the_server_says_why(
    inbox, graph, run_tasks, api, agent, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    inbox.members.add(agent)
    close_window(conversation)
    with pytest.raises(actions.InboxError, match="24-hour window closed"):
        actions.send_reply(conversation=conversation, author=agent, text="Free text")
    client = api(agent)
    refused = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "Free text"}, format="json"
    )
    assert refused.status_code == 400 and "approved templates" in json.dumps(refused.json())
    assert Message.objects.filter(direction="outgoing").count() == 0

    graph.queue("/v21.0/WABA1/message_templates", 200, {"data": TEMPLATES})
    synced = client.post(f"/api/v1/inboxes/{inbox.pk}/templates/sync/")
    assert synced.status_code == 200, synced.content
    listed = {t["name"]: t for t in synced.json()["results"]}
    assert listed["order_update"]["sendable"] and not listed["promo"]["sendable"]
    assert listed["order_update"]["body"]["params"] == ["1", "2"]
    template = MessageTemplate.objects.get(name="order_update")
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {
                "text": "",
                "template_id": template.pk,
                "template_params": {
                    "header": ["#1042"],
                    "body": ["Kerry", "on its way"],
                    "buttons": {"0": ["1042"]},
                },
            },
            format="json",
        )
    assert created.status_code == 201, created.content
    assert created.json()["text"].startswith("Order #1042\n\nHi Kerry, your order is on its way.")
    run_all(run_tasks)
    sent = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json
    assert sent["type"] == "template" and sent["to"] == CUSTOMER
    assert sent["template"] == {
        "name": "order_update",
        "language": {"code": "en_GB"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "#1042"}]},
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Kerry"},
                    {"type": "text", "text": "on its way"},
                ],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "1042"}],
            },
        ],
    }
    missing = client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"text": "", "template_id": template.pk, "template_params": {"body": ["Kerry"]}},
        format="json",
    )
    assert missing.status_code == 400 and "{{1}}" in json.dumps(missing.json())


def test_a_template_starts_a_conversation_with_a_new_number(
    inbox, graph, run_tasks, api, agent, django_capture_on_commit_callbacks
) -> None:
    inbox.members.add(agent)
    store_templates(inbox=inbox, rows=TEMPLATES)
    template = MessageTemplate.objects.get(name="order_update")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(agent).post(
            "/api/v1/conversations/",
            {
                "inbox": inbox.pk,
                "to_phone": "+44 7700 900456",
                "to_name": "Alex",
                "template_id": template.pk,
                "template_params": {
                    "header": ["#7"],
                    "body": ["Alex", "ready"],
                    "buttons": {"0": ["7"]},
                },
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    run_all(run_tasks)
    assert graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json["to"] == "447700900456"
    conversation = Conversation.objects.get(pk=response.json()["id"])
    assert conversation.contact.name == "Alex" and conversation.assignee == agent
    assert conversation.messages.get().delivery_status == "sent"
    rejected = MessageTemplate.objects.get(name="promo")
    with pytest.raises(actions.InboxError, match="Not approved"):
        send_template(conversation=conversation, author=agent, template=rejected, params={})


MEDIA_TEMPLATES = [
    {
        "id": "T3",
        "name": "receipt",
        "language": "en_GB",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, here is your receipt."},
        ],
    },
    {
        "id": "T4",
        "name": "invoice",
        "language": "en_GB",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [
            {"type": "HEADER", "format": "DOCUMENT"},
            {"type": "BODY", "text": "Your invoice is attached."},
        ],
    },
]


def test_a_template_with_an_image_header_goes_with_the_attached_file(
    inbox, graph, run_tasks, api, agent, django_capture_on_commit_callbacks
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    conversation = conversation_with_customer(inbox, run_tasks)
    inbox.members.add(agent)
    close_window(conversation)  # templates go whatever the window
    store_templates(inbox=inbox, rows=MEDIA_TEMPLATES)
    client = api(agent)
    rows = client.get(f"/api/v1/inboxes/{inbox.pk}/templates/").json()["results"]
    listed = {t["name"]: t for t in rows}
    assert listed["receipt"]["sendable"]
    assert listed["receipt"]["header"]["media"] == "image"
    assert listed["receipt"]["header"]["accept"] == "image/jpeg,image/png"
    receipt = MessageTemplate.objects.get(name="receipt")
    url = f"/api/v1/conversations/{conversation.pk}/messages/"

    def post(**files: Any) -> Any:
        form = {"text": "", "template_id": receipt.pk, "template_params": '{"body": ["Kerry"]}'}
        return client.post(url, {**form, **files}, format="multipart")

    without = post()
    assert without.status_code == 400 and "Attach the header's image" in json.dumps(without.json())
    wrong = post(attachments=SimpleUploadedFile("notes.txt", b"hello", "text/plain"))
    assert wrong.status_code == 400 and "notes.txt is text/plain" in json.dumps(wrong.json())
    assert not Message.objects.filter(direction="outgoing").exists()
    with django_capture_on_commit_callbacks(execute=True):
        sent = post(attachments=SimpleUploadedFile("receipt.jpg", JPEG, "image/jpeg"))
    assert sent.status_code == 201, sent.content
    assert sent.json()["text"] == "Hi Kerry, here is your receipt."
    assert [a["filename"] for a in sent.json()["attachments"]] == ["receipt.jpg"]
    run_all(run_tasks)
    [upload] = graph.calls(f"/v21.0/{NUMBER_ID}/media")
    assert JPEG in upload.body
    message = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json
    assert message["type"] == "template"
    assert message["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "image", "image": {"id": "media-1"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Kerry"}]},
    ]
    assert Message.objects.get(direction="outgoing").delivery_status == "sent"


def test_writing_first_with_a_document_header(
    inbox, graph, run_tasks, api, agent, django_capture_on_commit_callbacks
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    inbox.members.add(agent)
    store_templates(inbox=inbox, rows=MEDIA_TEMPLATES)
    invoice = MessageTemplate.objects.get(name="invoice")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(agent).post(
            "/api/v1/conversations/",
            {
                "inbox": inbox.pk,
                "to_phone": "+44 7700 900456",
                "template_id": invoice.pk,
                "template_params": "{}",
                "attachments": SimpleUploadedFile("INV-7.pdf", b"%PDF-1.4 x", "application/pdf"),
            },
            format="multipart",
        )
    assert response.status_code == 201, response.content
    run_all(run_tasks)
    header = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json["template"]["components"][0]
    assert header["parameters"][0]["type"] == "document"
    assert header["parameters"][0]["document"]["filename"] == "INV-7.pdf"
    assert header["parameters"][0]["document"]["id"].startswith("media-")
    # A template whose header is text takes no file.
    store_templates(inbox=inbox, rows=TEMPLATES)
    order = MessageTemplate.objects.get(name="order_update")
    conversation = Conversation.objects.get(pk=response.json()["id"])
    with pytest.raises(actions.InboxError, match="takes no file"):
        send_template(
            conversation=conversation,
            author=agent,
            template=order,
            params={"header": ["#1"], "body": ["A", "B"], "buttons": {"0": ["1"]}},
            attachments=[actions.AttachmentInput("x.pdf", "application/pdf", b"%PDF")],
        )


def test_template_status_webhook_and_test_connection(inbox, graph, run_tasks) -> None:
    from inbox.sources.whatsapp.setup import test_connection

    graph.queue(
        f"/v21.0/{NUMBER_ID}",
        200,
        {"display_phone_number": "+1 555 000 1111", "verified_name": "Shop"},
    )
    graph.queue("/v21.0/WABA1/message_templates", 200, {"data": TEMPLATES})
    assert test_connection(inbox, "https://x") == (
        "Connected to “Shop” (+1 555 000 1111); 2 message templates synced."
    )
    update = change(
        {
            "event": "PAUSED",
            "message_template_id": "T1",
            "message_template_name": "order_update",
            "message_template_language": "en_GB",
        },
        field="message_template_status_update",
    )
    del update["entry"][0]["changes"][0]["value"]["metadata"]
    post(inbox, update)
    run_tasks()
    assert MessageTemplate.objects.get(name="order_update").status == "PAUSED"


def test_admins_set_it_up_copy_the_webhook_and_test_the_connection(
    graph, admin_web, agent_web
) -> None:
    from inbox.models import Inbox

    assert agent_web.get("/settings/inboxes/new/whatsapp/").status_code in (302, 403)
    page = admin_web.get("/settings/inboxes/new/whatsapp/")
    assert page.status_code == 200 and b"Phone number id" in page.content
    created = admin_web.post(
        "/settings/inboxes/new/whatsapp/",
        {
            "name": "Support WhatsApp",
            "phone_number_id": NUMBER_ID,
            "business_account_id": "WABA1",
            "access_token": "EAAG-token",
            "app_secret": APP_SECRET,
        },
    )
    inbox = Inbox.objects.get(kind="whatsapp")
    assert created.status_code == 302 and created["Location"].endswith(f"/{inbox.pk}/messaging/")
    stored = inbox.get_secrets()
    assert stored["access_token"] == "EAAG-token" and len(stored["verify_token"]) > 20
    page = admin_web.get(f"/settings/inboxes/{inbox.pk}/", follow=True)
    html = page.content.decode()
    assert f"/sources/whatsapp/{inbox.public_id}/" in html and stored["verify_token"] in html
    assert "EAAG-token" not in html and APP_SECRET not in html  # secrets never shown back
    # Saving with the secret fields blank keeps them.
    admin_web.post(
        f"/settings/inboxes/{inbox.pk}/messaging/",
        {"name": "Support WA", "phone_number_id": NUMBER_ID, "business_account_id": "WABA1"},
    )
    inbox.refresh_from_db()
    assert inbox.name == "Support WA" and inbox.get_secrets()["access_token"] == "EAAG-token"

    graph.queue(
        f"/v21.0/{NUMBER_ID}",
        401,
        {"error": {"message": "Invalid OAuth access token", "code": 190}},
    )
    failed = admin_web.post(f"/settings/inboxes/{inbox.pk}/messaging/test/", follow=True)
    assert (
        "Test connection failed: WhatsApp answered: (#190) Invalid OAuth access token"
        in failed.content.decode()
    )
    graph.queue(
        f"/v21.0/{NUMBER_ID}",
        200,
        {"display_phone_number": "+1 555 000 1111", "verified_name": "Shop"},
    )
    graph.queue("/v21.0/WABA1/message_templates", 200, {"data": TEMPLATES})
    passed = admin_web.post(f"/settings/inboxes/{inbox.pk}/messaging/test/", follow=True)
    html = passed.content.decode()
    assert "Connected to “Shop”" in html and "order_update" in html and "Rejected" in html


# ---------------------------------------------------------------- quick replies


def queued_with_quick_replies(
    conversation: Conversation,
    titles: list[str],
    run_tasks: Any,
    capture: Any,
    text: str = "Pick one",
) -> Message:
    """A reply whose `data["quick_replies"]` is set as is (beyond what `send_reply` takes),
    then delivered."""
    with capture(execute=False) as callbacks:
        sent = actions.send_reply(conversation=conversation, author=UserFactory(), text=text)
    sent.data = {**sent.data, "quick_replies": titles}
    sent.save(update_fields=["data"])
    for callback in callbacks:
        callback()
    run_all(run_tasks)
    sent.refresh_from_db()
    return sent


def test_up_to_three_quick_replies_go_as_reply_buttons(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = reply(
        conversation,
        "Did the parcel arrive?",
        run_tasks,
        django_capture_on_commit_callbacks,
        quick_replies=["Yes", "No", "Not sure yet"],
    )
    (call,) = graph.calls(f"/v21.0/{NUMBER_ID}/messages")
    assert call.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Did the parcel arrive?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "quick_reply_1", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "quick_reply_2", "title": "No"}},
                    {"type": "reply", "reply": {"id": "quick_reply_3", "title": "Not sure yet"}},
                ]
            },
        },
    }
    assert sent.delivery_status == "sent" and sent.external_id == "wamid.OUT1"
    assert sent.data["whatsapp_sent"] == ["wamid.OUT1"]


def test_four_to_ten_quick_replies_go_as_a_list(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    titles = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    sent = reply(
        conversation,
        "Which day suits you?",
        run_tasks,
        django_capture_on_commit_callbacks,
        quick_replies=titles,
    )
    (call,) = graph.calls(f"/v21.0/{NUMBER_ID}/messages")
    assert call.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Which day suits you?"},
            "action": {
                "button": "Choose",
                "sections": [
                    {
                        "rows": [
                            {"id": f"quick_reply_{n}", "title": title}
                            for n, title in enumerate(titles, 1)
                        ],
                    }
                ],
            },
        },
    }
    assert sent.delivery_status == "sent"
    # In the customers' language, as the admin set it up.
    actions.update_inbox(
        inbox=inbox,
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"list_button_label": "Choisir un jour"},
    )
    conversation.inbox.refresh_from_db()
    reply(
        conversation,
        "Quel jour vous convient ?",
        run_tasks,
        django_capture_on_commit_callbacks,
        quick_replies=["Lundi", "Mardi", "Mercredi", "Jeudi"],
    )
    action = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json["interactive"]["action"]
    assert action["button"] == "Choisir un jour"


def test_quick_replies_follow_the_files_and_a_retry_does_not_send_a_part_twice(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    path = f"/v21.0/{NUMBER_ID}/messages"
    graph.queue(path, 200, {"messages": [{"id": "wamid.PHOTO"}]})
    graph.queue(path, 503, {"error": {"message": "Service unavailable", "code": 2}})
    sent = reply(
        conversation,
        "Is this the right label?",
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=[actions.AttachmentInput("label.jpg", "image/jpeg", JPEG)],
        quick_replies=["Yes", "No"],
    )
    photo, refused, buttons = (call.json for call in graph.calls(path))
    assert photo["type"] == "image" and "caption" not in photo["image"]  # the text has buttons
    assert refused == buttons and buttons["type"] == "interactive"
    assert buttons["interactive"]["body"] == {"text": "Is this the right label?"}
    assert sent.delivery_status == "sent" and sent.external_id == "wamid.PHOTO"
    assert sent.data["whatsapp_sent"][0] == "wamid.PHOTO" and len(sent.data["whatsapp_sent"]) == 2
    assert sent.data["delivery_attempts"] == 2


@pytest.mark.parametrize(
    ("titles", "text", "error"),
    [
        (
            [f"Option {n}" for n in range(11)],
            "Pick one",
            "WhatsApp takes at most 10 quick replies; this message has 11",
        ),
        (
            ["Yes", "A title of twenty-one"],
            "Pick one",
            "WhatsApp quick replies as buttons are limited to 20 characters: "
            "'A title of twenty-one'",
        ),
        (
            ["A", "B", "C", "A title of twenty-five ch"],
            "Pick one",
            "WhatsApp quick replies in a list are limited to 24 characters: "
            "'A title of twenty-five ch'",
        ),
        (
            ["Yes", "No"],
            "x" * 1025,
            "A WhatsApp message with quick reply buttons is limited to 1024 characters; "
            "this one has 1025",
        ),
        (["Yes", 3], "Pick one", "The quick replies must be a list of titles"),
    ],
)
def test_quick_replies_whatsapp_cannot_show_fail_the_message_before_any_call(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks, titles, text, error
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    sent = queued_with_quick_replies(
        conversation, titles, run_tasks, django_capture_on_commit_callbacks, text=text
    )
    assert sent.delivery_status == "failed" and sent.delivery_error == error
    assert graph.calls(f"/v21.0/{NUMBER_ID}/messages") == []
    assert graph.calls(f"/v21.0/{NUMBER_ID}/media") == []


def test_quick_replies_without_text_fail_the_message(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    with pytest.raises(actions.InboxError, match="Quick replies need a message"):
        reply(
            conversation,
            "",
            run_tasks,
            django_capture_on_commit_callbacks,
            attachments=[actions.AttachmentInput("label.jpg", "image/jpeg", JPEG)],
            quick_replies=["Yes", "No"],
        )
    assert graph.calls(f"/v21.0/{NUMBER_ID}/messages") == []
    assert not Message.objects.filter(direction="outgoing").exists()


def test_a_template_send_ignores_quick_replies(
    inbox, graph, run_tasks, django_capture_on_commit_callbacks
) -> None:
    conversation = conversation_with_customer(inbox, run_tasks)
    store_templates(inbox=inbox, rows=TEMPLATES)
    template = MessageTemplate.objects.get(name="order_update")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = send_template(
            conversation=conversation,
            author=UserFactory(),
            template=template,
            params={"header": ["#9"], "body": ["Kerry", "packed"], "buttons": {"0": ["9"]}},
        )
    sent.data = {**sent.data, "quick_replies": ["Yes", "No"]}
    sent.save(update_fields=["data"])
    for callback in callbacks:
        callback()
    run_all(run_tasks)
    sent.refresh_from_db()
    (call,) = graph.calls(f"/v21.0/{NUMBER_ID}/messages")
    assert call.json["type"] == "template" and "interactive" not in call.json
    assert sent.delivery_status == "sent"
