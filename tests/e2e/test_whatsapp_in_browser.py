"""WhatsApp in the agent app, in a real browser: a customer's message comes through the signed
webhook of the running server and appears live with the 24-hour window banner; with the
browser's clock moved past 24 hours the composer offers templates only, and the template the
agent fills in reaches the (fake) WhatsApp Cloud API with its parameters; a template whose
header is an image goes with the file the agent attaches."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions.templates import store_templates
from inbox.models import Message
from inbox.sources.meta import signature
from tests.e2e.conftest import ARTIFACTS, in_thread
from tests.e2e.test_inbox_live import open_inbox, row
from tests.factories import AdminFactory, UserFactory
from tests.fake_provider import FakeProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NUMBER_ID = "106540352242922"
APP_SECRET = "browser-app-secret"


@pytest.fixture
def graph(settings) -> Any:
    def answer(request: Any) -> Any:  # a message id for sends, a media id for uploads
        n = len(fake.requests)
        return 200, {"id": f"media-{n}", "messages": [{"id": f"wamid.OUT{n}"}]}, {}

    fake = FakeProvider(default=answer)
    settings.META_GRAPH_URL = fake.url + "/v21.0"  # the deliveries run in this process
    yield fake
    fake.close()


def webhook(server: str, inbox: Any, text: str) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001111",
                                "phone_number_id": NUMBER_ID,
                            },
                            "contacts": [
                                {"profile": {"name": "Kerry Fisher"}, "wa_id": "447700900123"}
                            ],
                            "messages": [
                                {
                                    "from": "447700900123",
                                    "id": "wamid.BROWSER1",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{server}/sources/whatsapp/{inbox.public_id}/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(APP_SECRET, body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def shop_whatsapp(member: Any, admin: Any) -> Any:
    """The WhatsApp inbox of these tests, seen by `member`."""
    return in_thread(
        actions.create_inbox,
        name="Shop WhatsApp",
        kind="whatsapp",
        actor=admin,
        origin=SYSTEM,
        settings={"phone_number_id": NUMBER_ID, "business_account_id": "WABA1"},
        secrets={"app_secret": APP_SECRET, "access_token": "EAAG-token", "verify_token": "v"},
        members=[member],
    )


def test_window_banner_then_templates_only_after_24_hours(
    asgi_page, asgi_server, graph, run_tasks
) -> None:
    ben = UserFactory(name="Ben Okafor", email="ben@example.com")
    inbox = shop_whatsapp(ben, AdminFactory())
    in_thread(
        store_templates,
        inbox=inbox,
        rows=[
            {
                "id": "T1",
                "name": "order_update",
                "language": "en_GB",
                "category": "UTILITY",
                "status": "APPROVED",
                "components": [
                    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."},
                    {"type": "FOOTER", "text": "Shop Ltd"},
                ],
            }
        ],
    )
    page = asgi_page(ben)
    page.clock.install()
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()

    webhook(asgi_server, inbox, "Hi, is my parcel coming today?")
    assert in_thread(run_tasks) >= 1  # the worker's job: parse the stored delivery
    row(page, "Kerry Fisher").click()
    expect(page.locator("#messages")).to_contain_text("Hi, is my parcel coming today?")
    banner = page.locator("#reply-window")
    expect(banner).to_contain_text("24-hour window open")
    expect(page.locator("#composer-text")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "whatsapp-window-open.png"))

    page.clock.fast_forward("25:00:00")
    expect(banner).to_contain_text("The 24-hour window closed")
    expect(banner).to_contain_text("only takes approved templates")
    expect(page.locator("#composer-text")).to_be_hidden()
    panel = page.get_by_role("region", name="WhatsApp template")
    expect(panel).to_be_visible()
    panel.get_by_label("Template").select_option(label="order_update · en_GB")
    panel.get_by_label("Message {{1}}").fill("Kerry")
    panel.get_by_label("Message {{2}}").fill("#1042")
    expect(page.locator("#template-preview")).to_contain_text(
        "Hi Kerry, your order #1042 is on its way."
    )
    page.screenshot(path=str(ARTIFACTS / "whatsapp-templates-only.png"))
    panel.get_by_role("button", name="Send template").click()
    expect(page.locator("#messages")).to_contain_text("Hi Kerry, your order #1042 is on its way.")
    expect(page.locator("#messages")).to_contain_text("Template order_update")

    in_thread(run_tasks)  # the worker's job: deliver it
    sent = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json
    assert sent["to"] == "447700900123" and sent["type"] == "template"
    assert sent["template"]["components"] == [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Kerry"}, {"type": "text", "text": "#1042"}],
        }
    ]
    expect(page.locator("#messages .msg-out").last).to_contain_text("Sent")
    assert in_thread(lambda: Message.objects.filter(direction="outgoing").count()) == 1


def test_an_agent_writes_first_to_a_number_with_a_template(asgi_page, graph, run_tasks) -> None:
    ben = UserFactory(name="Ben Okafor", email="ben@example.com")
    admin = AdminFactory()
    in_thread(
        actions.create_inbox,
        name="Support mail",
        kind="email",
        actor=admin,
        origin=SYSTEM,
        settings={"address": "support@shop.example"},
        members=[ben],
    )
    inbox = shop_whatsapp(ben, admin)
    in_thread(
        store_templates,
        inbox=inbox,
        rows=[
            {
                "id": "T1",
                "name": "delivery_slot",
                "language": "en_GB",
                "status": "APPROVED",
                "components": [
                    {"type": "BODY", "text": "Hi {{1}}, pick a delivery slot for order {{2}}."}
                ],
            }
        ],
    )
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name="New conversation").click()
    origin = page.locator("#new-conv").get_by_label("From inbox")
    origin.select_option(label="Support mail (Email)")
    expect(page.get_by_role("dialog", name="New email")).to_be_visible()
    origin.select_option(label="Shop WhatsApp (WhatsApp)")
    dialog = page.get_by_role("dialog", name="New WhatsApp conversation")
    dialog.get_by_label("To (phone number with country code)").fill("+44 7700 900456")
    dialog.get_by_label("Their name (optional)").fill("Alex Moreau")
    expect(dialog.get_by_label("Template")).to_have_value(
        re.compile(r"\d+")
    )  # the only one, chosen
    dialog.get_by_label("Message {{1}}").fill("Alex")
    dialog.get_by_label("Message {{2}}").fill("#2077")
    expect(dialog.locator("#nc-preview")).to_contain_text(
        "Hi Alex, pick a delivery slot for order #2077."
    )
    page.screenshot(path=str(ARTIFACTS / "whatsapp-new-conversation.png"))
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#thread-contact")).to_have_text("Alex Moreau")
    expect(page.locator("#messages")).to_contain_text(
        "Hi Alex, pick a delivery slot for order #2077."
    )
    in_thread(run_tasks)
    sent = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json
    assert sent["to"] == "447700900456" and sent["template"]["name"] == "delivery_slot"


def test_an_image_header_template_goes_with_the_attached_file(
    asgi_page, asgi_server, asgi_media, settings, graph, run_tasks
) -> None:
    settings.MEDIA_ROOT = asgi_media  # the worker (this process) uploads what the server stored
    ben = UserFactory(name="Ben Okafor", email="ben@example.com")
    inbox = shop_whatsapp(ben, AdminFactory())
    receipt = {
        "id": "T9",
        "name": "receipt",
        "language": "en_GB",
        "status": "APPROVED",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, here is your receipt."},
        ],
    }
    in_thread(store_templates, inbox=inbox, rows=[receipt])
    webhook(asgi_server, inbox, "Can I have a receipt?")
    in_thread(run_tasks)
    page = asgi_page(ben)
    open_inbox(page)
    page.get_by_role("button", name=re.compile("^Unassigned")).click()
    row(page, "Kerry Fisher").click()
    page.get_by_role("button", name="Use a template").click()
    panel = page.get_by_role("region", name="WhatsApp template")
    panel.get_by_label("Template").select_option(label="receipt · en_GB")
    panel.get_by_label("Message {{1}}").fill("Kerry")
    expect(page.locator("#template-preview")).to_contain_text("[Image: the file you attach]")
    panel.get_by_role("button", name="Send template").click()
    expect(page.locator("#template-error")).to_have_text("Attach the header's image.")
    jpeg = b"\xff\xd8\xff\xe0" + b"x" * 2000
    panel.get_by_label("Header image (JPEG or PNG)").set_input_files(
        files=[{"name": "receipt.jpg", "mimeType": "image/jpeg", "buffer": jpeg}]
    )
    page.screenshot(path=str(ARTIFACTS / "whatsapp-image-template.png"))
    panel.get_by_role("button", name="Send template").click()
    expect(page.locator("#messages")).to_contain_text("Hi Kerry, here is your receipt.")
    expect(page.locator("#messages .msg-out").last).to_contain_text("receipt.jpg")
    in_thread(run_tasks)
    [upload] = graph.calls(f"/v21.0/{NUMBER_ID}/media")
    assert jpeg in upload.body
    sent = graph.calls(f"/v21.0/{NUMBER_ID}/messages")[-1].json
    header = sent["template"]["components"][0]
    assert header["type"] == "header" and header["parameters"][0]["type"] == "image"
    assert header["parameters"][0]["image"]["id"].startswith("media-")
