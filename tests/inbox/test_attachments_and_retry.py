"""Attachments (upload, scoped download served safely, size limit) and retrying a failed send."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inbox import actions
from inbox.models import Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_reply_with_attachment_and_scoped_download(
    agent, api, make_inbox, inbound, django_capture_on_commit_callbacks
) -> None:
    inbox = make_inbox(members=[agent])
    conversation = inbound(
        inbox,
        "see attached",
        attachments=[
            actions.AttachmentInput(
                filename="evil.svg",
                content_type="image/svg+xml",
                content=b"<svg onload=alert(1)></svg>",
            )
        ],
    ).conversation
    client = api(agent)
    thread = client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    attachment = thread["results"][0]["attachments"][0]
    assert attachment["filename"] == "evil.svg" and attachment["size"] == 27
    download = client.get(attachment["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"  # never rendered as SVG
    assert download["Content-Disposition"].startswith('attachment; filename="evil.svg"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"<svg onload=alert(1)></svg>"
    assert api(UserFactory()).get(attachment["url"]).status_code == 404  # not a member

    upload = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 hello", content_type="application/pdf")
    with django_capture_on_commit_callbacks():
        response = client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"text": "Here is your invoice", "attachments": [upload]},
            format="multipart",
        )
    assert response.status_code == 201
    sent = response.json()["attachments"][0]
    assert (sent["filename"], sent["content_type"], sent["size"]) == (
        "invoice.pdf",
        "application/pdf",
        14,
    )
    assert client.get(sent["url"])["Content-Type"] == "application/pdf"


def test_oversized_attachment_is_413_with_the_limit(
    agent, api, make_inbox, inbound, settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    conversation = inbound(make_inbox(members=[agent])).conversation
    big = SimpleUploadedFile("big.bin", b"x" * 2048, content_type="application/octet-stream")
    response = api(agent).post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"text": "big", "attachments": [big]},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 1024
    assert not Message.objects.filter(direction="outgoing").exists()


def test_a_failed_message_can_be_retried(
    agent, api, make_inbox, inbound, django_capture_on_commit_callbacks
) -> None:
    conversation = inbound(make_inbox(members=[agent])).conversation
    with django_capture_on_commit_callbacks():
        message = actions.send_reply(conversation=conversation, author=agent, text="Hi")
    client = api(agent)
    refused = client.post(f"/api/v1/messages/{message.pk}/retry/")
    assert refused.status_code == 400  # only failed messages
    actions.set_delivery_status(message=message, status="failed", error="HTTP 500: down")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/api/v1/messages/{message.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["delivery_status"] == "queued"
    assert response.json()["delivery_error"] == ""
    # The delivery task is enqueued after commit (besides publishing the event).
    assert any("retry_delivery" in c.__qualname__ for c in callbacks)
    assert api(UserFactory()).post(f"/api/v1/messages/{message.pk}/retry/").status_code == 404


def test_oversized_request_body_is_413(agent, api, settings) -> None:
    settings.REQUEST_MAX_BYTES = 1000
    response = api(agent).patch("/api/v1/me/", {"name": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 1000
