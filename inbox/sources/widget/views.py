"""The visitor's HTTP API of the website chat widget: `/widget/v1/<inbox public id>/…`
(reference: docs/sources/widget.md).

Called cross-origin from the customer's website: every answer carries CORS headers for the
inbox's allowed origins only, and a request from any other origin is refused (403). An
unknown or disabled inbox is a 404. The visitor is known by the `X-Parley-Visitor` token
(never a cookie). Throttled per visitor and per address (429 with a message the widget
shows). Answers never hold notes, activity lines, other visitors' data or agents' email
addresses."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from accounts.lockout import client_ip_from_request
from accounts.models import User
from inbox import actions, hours, presence
from inbox.actions import widget as visitor_actions
from inbox.actions.messages import AttachmentInput
from inbox.models import Attachment, Conversation, Inbox, Message, ReplyMetric, WidgetVisitor
from inbox.payloads import visitor_conversation_payload, visitor_message_payload
from inbox.sources.widget.config import ATTACHMENT_TYPES, WidgetConfig, config_for, normalize_origin
from inbox.sources.widget.consumer import tell_contact_visitors, tell_visitor

TOKEN_HEADER = "X-Parley-Visitor"
PAGE = 50
FILE_LINK_SECONDS = 24 * 3600
SAFE_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp"}
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class _Throttle:
    """A fixed-window counter in the Django cache (Redis at scale): `cache.incr` is atomic,
    so parallel requests cannot all slip under the limit. Rates read like DRF's: "20/min"."""

    def __init__(self, rate: str, scope: str) -> None:
        number, _, unit = rate.partition("/")
        self.allowed = int(number)
        self.duration = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[:1]]
        self.scope = scope

    def hit(self, key: str) -> float | None:
        """Count one; None when allowed, else the seconds until the window ends."""
        now = time.time()
        window = int(now // self.duration)
        name = f"widget-throttle:{self.scope}:{key}:{window}"
        cache.add(name, 0, self.duration + 1)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.add(name, 1, self.duration + 1)
            count = 1
        if count > self.allowed:
            return (window + 1) * self.duration - now
        return None


def limit(name: str) -> _Throttle:
    """A throttle of settings.WIDGET_RATES: what one visitor may send, and what one address
    may do in all (an office behind one address has many visitors; a flood from one
    address has many tokens)."""
    return _Throttle(settings.WIDGET_RATES[name], name)


def client_ip(request: HttpRequest) -> str:
    """The visitor's address, behind TRUSTED_PROXY_COUNT proxies (as for sign-in)."""
    return client_ip_from_request(request) or ""


def _json(request: HttpRequest) -> dict[str, Any]:
    import json

    if request.content_type and request.content_type.startswith("multipart/"):
        return {key: request.POST.get(key) for key in request.POST}
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def median_reply_seconds(inbox: Inbox) -> int | None:
    """The inbox's median first-response time over 30 days (people only), cached."""
    key = f"widget-reply-seconds:{inbox.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    values = list(
        ReplyMetric.objects.filter(
            inbox=inbox,
            first_response=True,
            created_at__gte=timezone.now() - timedelta(days=30),
        )
        .exclude(origin="automated")
        .exclude(response_seconds=None)
        .order_by("-created_at")
        .values_list("response_seconds", flat=True)[:500]
    )
    known = [v for v in values if v is not None]
    seconds = int(statistics.median(known)) if known else 0
    cache.set(key, seconds, 600)
    return seconds or None


def answering_agents(inbox: Inbox) -> tuple[list[dict[str, Any]], bool]:
    """Who answers this inbox (members, directly or through a team), online ones first,
    as the visitor sees them: name and picture only. And whether any is online."""
    members = list(
        User.objects.filter(is_active=True)
        .filter(Q(inboxes=inbox) | Q(teams__inboxes=inbox))
        .distinct()
        .order_by("name")[:50]
    )
    online = presence.online_user_ids([m.pk for m in members])
    members.sort(key=lambda m: (m.pk not in online, m.name))
    shown = [
        {"name": m.name, "avatar_url": m.avatar.url if m.avatar else None}
        for m in members
        if m.pk in online or not online
    ][:3]
    return shown, bool(online)


@method_decorator(csrf_exempt, name="dispatch")
class WidgetView(View):
    """Inbox, origin and (unless `anonymous`) visitor checks; CORS on every answer."""

    anonymous = False
    check_origin = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        inbox = (
            Inbox.objects.filter(
                public_id=kwargs.pop("inbox_id"), kind=Inbox.Kind.WIDGET, is_active=True
            ).first()
            if kwargs.get("inbox_id")
            else None
        )
        if inbox is None:
            return JsonResponse({"detail": "No such chat."}, status=404)
        self.inbox, self.config = inbox, config_for(inbox)
        origin = request.headers.get("Origin") or ""
        if not origin and request.headers.get("Sec-Fetch-Site") == "same-origin":
            origin = f"{request.scheme}://{request.get_host()}"
        if self.check_origin and not self.config.allows(origin):
            return JsonResponse({"detail": "This website may not use this chat."}, status=403)
        self.origin = normalize_origin(origin) if self.config.allows(origin) else ""
        if request.method == "OPTIONS":
            return self._cors(HttpResponse(status=204), preflight=True)
        wait = limit("address_requests").hit(client_ip(request))
        if wait is not None:
            return self._cors(self.throttled(wait))
        self.visitor: WidgetVisitor | None = None
        if not self.anonymous:
            self.visitor = visitor_actions.visitor_for_token(
                inbox=inbox, token=request.headers.get(TOKEN_HEADER, "")
            )
            if self.visitor is None:
                return self._cors(JsonResponse({"detail": "Unknown visitor."}, status=401))
        try:
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        except actions.InboxError as exc:
            response = JsonResponse({"detail": exc.message, "field": exc.field}, status=400)
        except PermissionError as exc:
            response = JsonResponse({"detail": str(exc)}, status=403)
        return self._cors(response)

    def _cors(self, response: HttpResponseBase, *, preflight: bool = False) -> HttpResponseBase:
        if not self.origin:
            return response
        response["Access-Control-Allow-Origin"] = self.origin
        response["Vary"] = "Origin"
        if preflight:
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = f"Content-Type, {TOKEN_HEADER}"
            response["Access-Control-Max-Age"] = "600"
        return response

    @staticmethod
    def throttled(wait: float) -> JsonResponse:
        seconds = max(1, int(wait + 0.999))
        response = JsonResponse(
            {
                "detail": f"You are sending messages too quickly. Try again in {seconds} s.",
                "retry_after": seconds,
            },
            status=429,
        )
        response["Retry-After"] = str(seconds)
        return response

    def session_payload(self, visitor: WidgetVisitor, token: str | None = None) -> dict[str, Any]:
        from inbox.models import EventCounter

        conversation = visitor_actions.current_conversation(visitor)
        unread = 0
        if conversation is not None:
            unread = (
                Message.objects.filter(
                    conversation=conversation,
                    direction=Message.Direction.OUTGOING,
                    kind=Message.Kind.MESSAGE,
                )
                .exclude(delivery_status__in=["read", "failed"])
                .count()
            )
        data: dict[str, Any] = {
            "visitor": {"name": visitor.name, "email": visitor.email, "verified": visitor.verified},
            "conversation": (
                visitor_conversation_payload(conversation) if conversation is not None else None
            ),
            "last_event_id": EventCounter.objects.filter(pk=1)
            .values_list("last_id", flat=True)
            .first()
            or 0,
            "unread": unread,
        }
        if token is not None:
            data["token"] = token
        return data


def available(inbox: Inbox) -> bool:
    """Open now (business hours) and someone who answers this inbox is online."""
    _, online = answering_agents(inbox)
    return online and hours.is_open(inbox.business_hours, timezone.now())


class ConfigView(WidgetView):
    anonymous = True

    def get(self, request: HttpRequest) -> HttpResponse:
        config: WidgetConfig = self.config
        agents, online = answering_agents(self.inbox)
        now = timezone.now()
        open_now = hours.is_open(self.inbox.business_hours, now)
        opening = None if open_now else hours.next_opening(self.inbox.business_hours, now)
        return JsonResponse(
            {
                "inbox": {"name": self.inbox.name},
                "look": {
                    "color": config.color,
                    "position": config.position,
                    "greeting": config.greeting,
                    "launcher_text": config.launcher_text,
                },
                "prechat": {"name": config.prechat_name, "email": config.prechat_email},
                "privacy_url": config.privacy_url,
                "available": open_now and online,
                "reply_seconds": median_reply_seconds(self.inbox),
                "next_open": opening.isoformat() if opening else None,
                "agents": agents,
                "identity_required": config.identity_required,
                "attachments": {
                    "max_bytes": config.max_attachment_bytes,
                    "types": list(ATTACHMENT_TYPES),
                },
                "satisfaction": config.satisfaction,
            }
        )


class SessionView(WidgetView):
    anonymous = True

    def post(self, request: HttpRequest) -> HttpResponse:
        token = str(_json(request).get("token") or "")
        if not token or visitor_actions.visitor_for_token(inbox=self.inbox, token=token) is None:
            wait = limit("address_sessions").hit(client_ip(request))
            if wait is not None:
                return self.throttled(wait)
        visitor, token = visitor_actions.start_session(
            inbox=self.inbox,
            token=token,
            client={"user_agent": request.headers.get("User-Agent", ""), "ip": client_ip(request)},
        )
        return JsonResponse(self.session_payload(visitor, token))


class IdentifyView(WidgetView):
    def post(self, request: HttpRequest) -> HttpResponse:
        data = _json(request)
        ts = data.get("ts")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int)):
            raise actions.InboxError("ts must be a Unix time in seconds.", field="ts")
        assert self.visitor is not None
        before = self.visitor.contact_id
        visitor, new_token = visitor_actions.identify(
            visitor=self.visitor,
            data=visitor_actions.Identify(
                user_id=str(data.get("id") or ""),
                name=str(data.get("name") or ""),
                email=str(data.get("email") or ""),
                hash=str(data.get("hash") or ""),
                ts=ts,
                attributes=data.get("attributes")
                if isinstance(data.get("attributes"), dict)
                else None,
            ),
        )
        if new_token is not None:
            tell_visitor(self.visitor.pk, "visitor.reset")  # the previous user's sockets close
        elif visitor.contact_id != before:
            # The signed-in user's conversations, on this browser's open sockets.
            tell_visitor(visitor.pk, "visitor.follow")
        token = new_token or request.headers.get(TOKEN_HEADER, "")
        return JsonResponse(self.session_payload(visitor, token))


class ResetView(WidgetView):
    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        visitor_actions.reset_visitor(visitor=self.visitor)
        tell_visitor(self.visitor.pk, "visitor.reset")
        return HttpResponse(status=204)


def _sniffed_type(content: bytes) -> str | None:
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    for kind, prefixes in MAGIC.items():
        if any(content.startswith(p) for p in prefixes):
            return kind
    return None


class MessagesView(WidgetView):
    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        conversation = visitor_actions.current_conversation(self.visitor)
        if conversation is None:
            return JsonResponse({"results": [], "has_more": False})
        rows = (
            Message.objects.filter(conversation=conversation, kind=Message.Kind.MESSAGE)
            .select_related("sender_user")
            .prefetch_related("attachments")
            .order_by("-id")
        )
        before = request.GET.get("before")
        if before and before.isdigit():
            rows = rows.filter(id__lt=int(before))
        page = list(rows[: PAGE + 1])
        has_more = len(page) > PAGE
        page = page[:PAGE][::-1]
        return JsonResponse(
            {
                "results": [visitor_message_payload(m, self.inbox) for m in page],
                "has_more": has_more,
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        for name, key in (
            ("visitor_messages", str(self.visitor.pk)),
            ("address_messages", client_ip(request)),
        ):
            wait = limit(name).hit(key)
            if wait is not None:
                return self.throttled(wait)
        data = _json(request)
        files = []
        upload = request.FILES.get("file")
        if upload is not None:
            if upload.size is None or upload.size > self.config.max_attachment_bytes:
                limit_mb = self.config.max_attachment_bytes / (1024 * 1024)
                return JsonResponse(
                    {"detail": f"Files may be at most {limit_mb:g} MB."}, status=413
                )
            content = upload.read()
            kind = _sniffed_type(content)
            if kind is None:
                return JsonResponse(
                    {"detail": "Send images (PNG, JPEG, GIF, WebP) or PDF documents."},
                    status=415,
                )
            files.append(
                AttachmentInput(filename=upload.name or "file", content_type=kind, content=content)
            )
        result = visitor_actions.visitor_writes(
            visitor=self.visitor,
            text=str(data.get("text") or ""),
            attachments=files,
            name=str(data.get("name") or ""),
            email=str(data.get("email") or ""),
        )
        if result.new_conversation:
            tell_contact_visitors(self.inbox.pk, result.conversation.contact_id, "visitor.follow")
        return JsonResponse(
            visitor_message_payload(result.message, self.inbox, attachments=result.attachments),
            status=201,
        )


class ReadView(WidgetView):
    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        message_id = _json(request).get("message_id")
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise actions.InboxError("message_id must be a message id.", field="message_id")
        visitor_actions.visitor_read(visitor=self.visitor, message_id=message_id)
        return HttpResponse(status=204)


class EmailView(WidgetView):
    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        visitor = visitor_actions.set_email(
            visitor=self.visitor, email=str(_json(request).get("email") or "")
        )
        return JsonResponse(
            {
                "visitor": {
                    "name": visitor.name,
                    "email": visitor.email,
                    "verified": visitor.verified,
                }
            }
        )


class RatingView(WidgetView):
    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.visitor is not None
        data = _json(request)
        conversation: Conversation = visitor_actions.rate(
            visitor=self.visitor, score=data.get("score", 0), comment=str(data.get("comment") or "")
        )
        return JsonResponse({"conversation": visitor_conversation_payload(conversation)})


class FileView(WidgetView):
    """A file of the visitor's chat, by a signed link valid a day (usable in <img src>,
    which sends no Origin: the signature is the key)."""

    anonymous = True
    check_origin = False

    def get(self, request: HttpRequest, attachment_id: int, signature: str) -> HttpResponseBase:
        try:
            signing.TimestampSigner(salt="widget-file").unsign(
                f"{attachment_id}:{signature}", max_age=FILE_LINK_SECONDS
            )
        except signing.BadSignature as exc:  # wrong, or expired (SignatureExpired)
            raise Http404 from exc
        attachment = (
            Attachment.objects.filter(
                pk=attachment_id,
                message__inbox=self.inbox,
                message__kind=Message.Kind.MESSAGE,
            )
            .select_related("message")
            .first()
        )
        if attachment is None:
            raise Http404
        inline = attachment.content_type in SAFE_INLINE
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=not inline,
            filename=attachment.filename,
            content_type=attachment.content_type if inline else "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=3600"
        return response
