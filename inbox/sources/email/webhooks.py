"""Inbound email posted by a provider (Mailgun, Postmark, SendGrid, Amazon SES, Brevo,
Mailjet, …) through django-anymail's inbound webhooks, mounted at `/webhooks/email/` only
when a webhook secret is configured. Anymail checks the provider's signature or the basic
auth secret (a bad one is answered 400 and nothing is stored) and hands us a parsed message;
we store its MIME form like any other received email."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from inbox.models import InboundEmail
from inbox.sources.email.inbound import store_inbound_email

logger = logging.getLogger(__name__)


def webhooks_enabled() -> bool:
    """Only with the basic-auth secret: anymail checks it on every provider's webhook (and
    Mailgun's signature too when its signing key is set); without it anymail would only
    warn and accept anyone's posts."""
    anymail = getattr(settings, "ANYMAIL", {}) or {}
    return bool(anymail.get("WEBHOOK_SECRET"))


def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    recipient = getattr(message, "envelope_recipient", None)
    row = store_inbound_email(
        message.as_bytes(),
        via=InboundEmail.Via.WEBHOOK,
        envelope_from=getattr(message, "envelope_sender", None) or "",
        envelope_to=[recipient] if recipient else [],
        refuse_oversized=False,  # the provider took it already: keep it, marked failed
    )
    logger.info("inbound email #%s from %s webhook: %s", row.pk, esp_name, row.status)


# What a provider's report means for the message agents see (opens count as read; deferred
# deliveries are retried by the provider and change nothing).
_TRACKING_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "opened": "read",
    "clicked": "read",
    "bounced": "failed",
    "rejected": "failed",
    "failed": "failed",
}


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    from inbox.actions import set_delivery_status
    from inbox.models import Message

    status = _TRACKING_STATUS.get(str(event.event_type))
    if status is None or event.message_id is None:
        return
    message = Message.objects.filter(
        direction=Message.Direction.OUTGOING, data__provider_message_id=str(event.message_id)
    ).first()
    if message is None:
        return
    reason = ""
    if status == "failed":
        details = [event.reject_reason, event.description, event.mta_response]
        reason = f"{esp_name}: " + " · ".join(str(d) for d in details if d)
    set_delivery_status(message=message, status=status, error=reason)


def guarded_urlpatterns() -> list[Any]:
    """anymail's webhook URLs, answering 404 while no webhook secret is configured (anymail
    alone would accept unauthenticated posts, with a warning)."""
    import functools

    from anymail.urls import urlpatterns
    from django.http import Http404
    from django.urls import URLPattern

    def guard(view: Any) -> Any:
        @functools.wraps(view)  # keeps csrf_exempt: providers post without our cookie
        def guarded(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not webhooks_enabled():
                raise Http404("Email webhooks are not configured.")
            return view(request, *args, **kwargs)

        return guarded

    return [
        URLPattern(p.pattern, guard(p.callback), p.default_args, p.name)
        for p in urlpatterns
        if isinstance(p, URLPattern)
    ]
