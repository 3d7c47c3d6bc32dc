"""Inbound endpoint of API inboxes: an integration posts its customers' messages here,
authenticated with the inbox's API key (not a user's token)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.actions import AttachmentInput, IdentityInput, InboxError, receive_inbound_message
from inbox.models import Conversation, Inbox, Message
from inbox.payloads import (
    CONVERSATION_PREFETCH,
    CONVERSATION_SELECT,
    MESSAGE_PREFETCH,
    MESSAGE_SELECT,
    conversation_payload,
    message_payload,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self) -> None:
        super().__init__(f"The request body is larger than {_megabytes(MAX_BODY_BYTES)}.")


class KeyUnreadable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This inbox's API key cannot be read at the moment; try again later."
    default_code = "key_unreadable"


# --- Authentication: the inbox's API key ----------------------------------------------------


class InboxKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <inbox API key>` for the inbox named in the URL. Sets
    `request.auth` to the inbox. Raises NotFound for an unknown, inactive or non-API inbox
    (before looking at the key) and AuthenticationFailed for a missing or wrong key."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Inbox]:
        kwargs = (request.parser_context or {}).get("kwargs") or {}
        inbox = _find_inbox(kwargs.get("public_id"))
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        if scheme.lower() != self.keyword.lower() or not given:
            raise exceptions.NotAuthenticated("Send the inbox's API key as a Bearer token.")
        try:
            expected = str(inbox.get_secrets().get("api_key") or "")
        except ValueError as exc:
            logger.error("secrets of inbox %s cannot be decrypted", inbox.pk)
            raise KeyUnreadable() from exc
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid API key for this inbox.")
        return AnonymousUser(), inbox

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="parley-inbox"'


class InboxKeyScheme(OpenApiAuthenticationExtension):
    target_class = InboxKeyAuthentication
    name = "inboxApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The API key of an API inbox (not a personal API token).",
        }


def _find_inbox(public_id: Any) -> Inbox:
    if not isinstance(public_id, UUID):
        raise exceptions.NotFound("No such inbox.")
    try:
        return Inbox.objects.get(public_id=public_id, kind=Inbox.Kind.API, is_active=True)
    except Inbox.DoesNotExist:
        raise exceptions.NotFound("No such inbox.") from None


class HasInboxKey(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Inbox)


# --- Input ----------------------------------------------------------------------------------

_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?$")


class ApiSourceContactSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["external", "email", "phone"])
    identifier = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        identifier = attrs["identifier"]
        if attrs["kind"] == "email":
            try:
                serializers.EmailField().run_validation(identifier)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"identifier": exc.detail}) from exc
        if attrs["kind"] == "phone":
            digits = sum(c.isdigit() for c in identifier)
            if not _PHONE.match(identifier) or not 3 <= digits <= 20:
                raise serializers.ValidationError(
                    {"identifier": ["Enter a phone number, e.g. +33612345678."]}
                )
        return attrs


class ApiSourceAttachmentSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    content_type = serializers.CharField(max_length=100)
    # The metaclass moves fields out of the class, so this does not shadow `.data`.
    data = serializers.CharField(  # type: ignore[assignment]
        trim_whitespace=False, help_text="The file's bytes, base64 (RFC 4648, standard alphabet)."
    )

    def validate_filename(self, value: str) -> str:
        # Keep the last path segment and no control characters: it becomes a download name.
        value = re.split(r"[\\/]", value)[-1]
        value = "".join(c for c in value if c.isprintable()).strip()
        if not value or value in (".", ".."):
            raise serializers.ValidationError("Give the file a name.")
        return value

    def validate_content_type(self, value: str) -> str:
        if not _CONTENT_TYPE.match(value):
            raise serializers.ValidationError("Use a MIME type such as image/png.")
        return value.lower()

    def validate_data(self, value: str) -> bytes:
        compact = "".join(value.split())
        if len(compact) // 4 * 3 > MAX_ATTACHMENT_BYTES + 2:
            raise self._too_big()
        try:
            content = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("This is not valid base64.") from exc
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise self._too_big()
        return content

    @staticmethod
    def _too_big() -> serializers.ValidationError:
        return serializers.ValidationError(
            f"An attachment may be at most {_megabytes(MAX_ATTACHMENT_BYTES)}."
        )


class ApiSourceInboundMessageSerializer(serializers.Serializer):
    contact = ApiSourceContactSerializer()
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    html = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        default="",
        help_text="Optional HTML version; it is sanitised before it is stored.",
    )
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your id for this message; a repeated id is a redelivery and stores nothing.",
    )
    attachments = ApiSourceAttachmentSerializer(  # type: ignore[call-arg]  # stubs lack it
        many=True, required=False, default=list, max_length=MAX_ATTACHMENTS
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["text"].strip() and not attrs["html"].strip() and not attrs["attachments"]:
            raise serializers.ValidationError({"text": ["Send some text or an attachment."]})
        return attrs


def read_limited_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing more than `limit` bytes whether or not Content-Length says
    so (chunked requests carry none). Bypasses DATA_UPLOAD_MAX_MEMORY_SIZE, which is far
    below what attachments need."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge()
    if hasattr(request, "_body"):
        body: bytes = request._body
    else:
        body = request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


def _parse(request: Request) -> dict[str, Any]:
    raw = read_limited_body(request._request)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from exc
    incoming = ApiSourceInboundMessageSerializer(data=data)
    incoming.is_valid(raise_exception=True)
    return incoming.validated_data


_ACTION_FIELDS = {"kind": "contact.kind", "value": "contact.identifier"}


# --- The view -------------------------------------------------------------------------------

_inbound_response = inline_serializer(
    name="ApiSourceInboundResponse",
    fields={
        "message": serializers.DictField(help_text="The stored message (REST API shape)."),
        "conversation": serializers.DictField(help_text="Its conversation (REST API shape)."),
    },
)


class InboundMessageView(APIView):
    """POST /sources/api/<inbox public id>/messages"""

    authentication_classes = [InboxKeyAuthentication]
    permission_classes = [HasInboxKey]
    throttle_classes: list[Any] = []
    # The body is read by `read_limited_body`, not DRF; this tells the schema it is JSON.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="api_source_receive_message",
        tags=["API source"],
        summary="Post a customer's message into an API inbox",
        description=(
            "Authenticate with the inbox's API key as a Bearer token. Idempotent on "
            "`external_id`: a redelivery answers 200 with the message stored the first time. "
            f"The body may be at most {_megabytes(MAX_BODY_BYTES)}; at most {MAX_ATTACHMENTS} "
            f"attachments of {_megabytes(MAX_ATTACHMENT_BYTES)} each."
        ),
        request=ApiSourceInboundMessageSerializer,
        responses={
            201: OpenApiResponse(_inbound_response, description="Stored a new message."),
            200: OpenApiResponse(_inbound_response, description="Already stored (redelivery)."),
            400: OpenApiResponse(description="Invalid body; the fields at fault are named."),
            401: OpenApiResponse(description="Missing or wrong API key."),
            404: OpenApiResponse(description="No active API inbox with this id."),
            413: OpenApiResponse(description="Body too large."),
        },
    )
    def post(self, request: Request, public_id: UUID) -> Response:
        inbox = request.auth
        assert isinstance(inbox, Inbox)
        data = _parse(request)
        contact = data["contact"]
        try:
            result = receive_inbound_message(
                inbox=inbox,
                identity=IdentityInput(
                    kind=contact["kind"],
                    value=contact["identifier"],
                    name=contact["name"],
                    email=contact["email"],
                    phone=contact["phone"],
                ),
                text=data["text"],
                html=data["html"],
                subject=data["subject"],
                external_id=data["external_id"],
                attachments=[
                    AttachmentInput(
                        filename=item["filename"],
                        content_type=item["content_type"],
                        content=item["data"],
                    )
                    for item in data["attachments"]
                ],
            )
        except InboxError as exc:
            field = _ACTION_FIELDS.get(exc.field or "", exc.field or "detail")
            raise exceptions.ValidationError({field: [exc.message]}) from exc
        if result.created:  # the objects in hand are complete and current
            message_data = message_payload(result.message, attachments=result.attachments)
            conversation_data = conversation_payload(result.conversation)
        else:
            message = (
                Message.objects.select_related(*MESSAGE_SELECT)
                .prefetch_related(*MESSAGE_PREFETCH)
                .get(pk=result.message.pk)
            )
            conversation = (
                Conversation.objects.select_related(*CONVERSATION_SELECT)
                .prefetch_related(*CONVERSATION_PREFETCH)
                .get(pk=result.conversation.pk)
            )
            message_data = message_payload(message)
            conversation_data = conversation_payload(conversation)
        return Response(
            {
                "message": message_data,
                "conversation": conversation_data,
            },
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
