"""The URLs Twilio calls for an SMS inbox (docs/sources/sms.md):

- `POST /sources/sms/<inbox public id>/`: an incoming message (the number's or the
  messaging service's "A message comes in" webhook). Answered with empty TwiML, so
  Twilio sends nothing back by itself.
- `POST /sources/sms/<inbox public id>/status/`: a status callback for a message we sent
  (its URL goes with each message as `StatusCallback`). Answered 204.
- `GET /sources/sms/<inbox public id>/media/<attachment id>/<token>`: a file of one of our
  outgoing MMS, for Twilio to fetch (media_links.py).

Both webhooks check `X-Twilio-Signature` against the raw form body before anything is kept:
a wrong or missing signature is 403 and nothing is stored. The URL Twilio signed is the one
it called: as this request arrived, or under the inbox's public base URL (its `public_url`
setting) or SITE_URL, for deployments behind a proxy that rewrites the host or scheme.
A verified delivery is stored and answered at once; the worker parses it (inbound.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from inbox.models import Attachment, Inbox, Message
from inbox.sources.sms.media_links import link_valid
from inbox.sources.sms.twilio import (
    SIGNATURE_HEADER,
    TwilioAccount,
    is_status_callback,
    parse_form,
    public_base,
    signature_valid,
)
from inbox.sources.webhooks import MAX_BODY_BYTES, store_event

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM = "application/x-www-form-urlencoded"


def _inbox(inbox_id: Any) -> Inbox | None:
    return Inbox.objects.filter(public_id=inbox_id, kind=Inbox.Kind.SMS, is_active=True).first()


def _refuse(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class _Refused(Exception):
    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.response = _refuse(detail, status)


def _verified(request: HttpRequest, inbox_id: Any) -> tuple[Inbox, dict[str, str]]:
    """The inbox and the delivery's fields (the first value of each) once the signature is
    checked. Raises _Refused with the answer to give."""
    inbox = _inbox(inbox_id)
    if inbox is None:
        raise _Refused("No such inbox.", 404)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise _Refused("Delivery too large.", 413)
    if request.content_type != FORM:
        raise _Refused(
            f"Twilio posts {FORM}, not {request.content_type or 'an untyped body'}.", 400
        )
    try:
        params = parse_form(body)
    except ValueError:  # UnicodeDecodeError is one
        raise _Refused("The body is not a form.", 400) from None
    path = request.get_full_path()
    urls = [request.build_absolute_uri(), public_base(inbox) + path, settings.SITE_URL + path]
    token = TwilioAccount.of(inbox).auth_token
    if not signature_valid(token, urls, params, request.headers.get(SIGNATURE_HEADER, "")):
        raise _Refused("Wrong or missing X-Twilio-Signature.", 403)
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    if not fields.get("MessageSid", "").strip():
        raise _Refused("Not a Twilio message delivery (no MessageSid).", 400)
    return inbox, fields


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, inbox_id: Any) -> HttpResponse:
    try:
        inbox, fields = _verified(request, inbox_id)
    except _Refused as refused:
        return refused.response
    if is_status_callback(fields):
        return _refuse(
            "This is a status callback: Twilio sends those to the URL ending in /status/ "
            "(Parley gives it with each message it sends).",
            400,
        )
    store_event(inbox, request.body)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_POST
def status(request: HttpRequest, inbox_id: Any) -> HttpResponse:
    try:
        inbox, fields = _verified(request, inbox_id)
    except _Refused as refused:
        return refused.response
    if not is_status_callback(fields):
        return _refuse(
            "This is an incoming message, not a status callback: set the number's "
            "“A message comes in” webhook to the inbox's URL without /status/.",
            400,
        )
    store_event(inbox, request.body)
    return HttpResponse(status=204)


@require_safe
def media(request: HttpRequest, inbox_id: Any, attachment_id: int, token: str) -> HttpResponseBase:
    """A file of an outgoing message of this inbox, for Twilio to fetch; 404 for anything
    else, an expired or wrong token included (nothing to learn from the difference)."""
    inbox = _inbox(inbox_id)
    if inbox is None or not link_valid(inbox, attachment_id, token):
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    attachment = Attachment.objects.filter(
        pk=attachment_id,
        message__inbox=inbox,
        message__direction=Message.Direction.OUTGOING,
        message__kind=Message.Kind.MESSAGE,
    ).first()
    if attachment is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type or "application/octet-stream",
        as_attachment=True,
        filename=attachment.filename,
    )
    # Served from our origin: never rendered as a page, never cached on the way.
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
