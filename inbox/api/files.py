"""Attachment downloads and uploads: scoped to the caller's inboxes, always served as a
download that the browser will not render or sniff (a customer's HTML or SVG must never run
on our origin)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User
from inbox.actions import AttachmentInput
from inbox.models import Attachment
from inbox.queries.access import visible_inbox_ids

# Types a browser could execute or render as a document: always sent as bytes.
ACTIVE_TYPES = (
    "text/html",
    "image/svg",
    "text/xml",
    "application/xml",
    "application/xhtml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
)


class PayloadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Each file may be at most {limit // (1024 * 1024)} MB.")
        self.limit = limit


def uploaded_attachments(request: Request) -> list[AttachmentInput]:
    """Files posted as multipart `attachments`. Raises PayloadTooLarge (→ 413)."""
    limit = settings.ATTACHMENT_MAX_BYTES
    result = []
    for upload in request.FILES.getlist("attachments"):
        if upload.size is None or upload.size > limit:
            raise PayloadTooLarge(limit)
        result.append(
            AttachmentInput(
                filename=upload.name or "attachment",
                content_type=upload.content_type or "",
                content=upload.read(),
            )
        )
    return result


class AttachmentDownloadView(APIView):
    """Download an attachment of a conversation in one of your inboxes."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, attachment_id: int) -> Any:
        user = request.user
        assert isinstance(user, User)
        attachments = Attachment.objects.filter(pk=attachment_id)
        if not user.is_admin:
            attachments = attachments.filter(message__inbox_id__in=visible_inbox_ids(user))
        attachment = attachments.first()
        if attachment is None:
            raise NotFound()
        content_type = attachment.content_type.lower()
        if content_type.startswith(ACTIVE_TYPES) or "/" not in content_type:
            content_type = "application/octet-stream"
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response


class RawEmailView(APIView):
    """Download the original email (.eml, byte for byte) a message was made from."""

    @extend_schema(responses={(200, "message/rfc822"): OpenApiTypes.BINARY})
    def get(self, request: Request, message_id: int) -> Any:
        from inbox.models import InboundEmail, Message

        user = request.user
        assert isinstance(user, User)
        messages = Message.objects.filter(pk=message_id)
        if not user.is_admin:
            messages = messages.filter(inbox_id__in=visible_inbox_ids(user))
        message = messages.first()
        if message is None:
            raise NotFound()
        raw_id = ((message.data or {}).get("email") or {}).get("inbound_email_id")
        if not isinstance(raw_id, int):
            raise NotFound()
        row = InboundEmail.objects.filter(pk=raw_id, inbox_id=message.inbox_id).first()
        if row is None:
            raise NotFound()
        return raw_email_response(row, f"message-{message.pk}.eml")


def raw_email_response(row: Any, filename: str) -> FileResponse:
    """A stored email as received, as a download the browser will not render."""
    response = FileResponse(
        row.raw.open("rb"), as_attachment=True, filename=filename, content_type="message/rfc822"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
