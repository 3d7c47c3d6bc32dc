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
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

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
from inbox.sources.webhooks import Door, door_view, refusal

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM = "application/x-www-form-urlencoded"


def _fields(request: HttpRequest, inbox: Inbox) -> dict[str, str] | HttpResponse:
    """The delivery's fields (the first value of each) once the signature is checked, or
    the answer refusing it."""
    if request.content_type != FORM:
        given = request.content_type or "an untyped body"
        return refusal(f"Twilio posts {FORM}, not {given}.", 400)
    try:
        params = parse_form(request.body)
    except ValueError:  # UnicodeDecodeError is one
        return refusal("The body is not a form.", 400)
    path = request.get_full_path()
    urls = [request.build_absolute_uri(), public_base(inbox) + path, settings.SITE_URL + path]
    token = TwilioAccount.of(inbox).auth_token
    if not signature_valid(token, urls, params, request.headers.get(SIGNATURE_HEADER, "")):
        return refusal("Wrong or missing X-Twilio-Signature.", 403)
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    if not fields.get("MessageSid", "").strip():
        return refusal("Not a Twilio message delivery (no MessageSid).", 400)
    return fields


def check_message(request: HttpRequest, inbox: Inbox) -> HttpResponse | None:
    fields = _fields(request, inbox)
    if isinstance(fields, HttpResponse):
        return fields
    if is_status_callback(fields):
        return refusal(
            "This is a status callback: Twilio sends those to the URL ending in /status/ "
            "(Parley gives it with each message it sends).",
            400,
        )
    return None


def check_status(request: HttpRequest, inbox: Inbox) -> HttpResponse | None:
    fields = _fields(request, inbox)
    if isinstance(fields, HttpResponse):
        return fields
    if not is_status_callback(fields):
        return refusal(
            "This is an incoming message, not a status callback: set the number's "
            "“A message comes in” webhook to the inbox's URL without /status/.",
            400,
        )
    return None


webhook = door_view(
    Door(
        Inbox.Kind.SMS,
        check_message,
        answer=lambda: HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8"),
    )
)
status = door_view(Door(Inbox.Kind.SMS, check_status, answer=lambda: HttpResponse(status=204)))


@require_safe
def media(request: HttpRequest, inbox_id: Any, attachment_id: int, token: str) -> HttpResponseBase:
    """A file of an outgoing message of this inbox, for Twilio to fetch; 404 for anything
    else, an expired or wrong token included (nothing to learn from the difference)."""
    inbox = Inbox.objects.filter(public_id=inbox_id, kind=Inbox.Kind.SMS, is_active=True).first()
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
