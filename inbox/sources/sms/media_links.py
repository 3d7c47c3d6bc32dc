"""Public links to the files of our outgoing MMS. Twilio fetches each `MediaUrl` itself,
so the file must be reachable without signing in: the link carries a signature of the inbox
and the attachment (django.core.signing, keyed by SECRET_KEY) and expires after
LINK_MAX_AGE. Each delivery attempt makes fresh links."""

from __future__ import annotations

from django.core import signing

from inbox.models import Attachment, Inbox
from inbox.sources.sms.twilio import public_url

LINK_MAX_AGE = 6 * 60 * 60  # Twilio fetches the files when it takes the message
_SALT = "inbox.sources.sms.media_links"


def _value(inbox: Inbox, attachment_id: int) -> str:
    return f"{inbox.public_id}/{attachment_id}"


def media_link(inbox: Inbox, attachment: Attachment) -> str:
    """The absolute, expiring URL Twilio fetches this attachment from."""
    value = _value(inbox, attachment.pk)
    token = signing.TimestampSigner(salt=_SALT).sign(value)[len(value) + 1 :]
    return public_url(inbox, "media", attachment_id=attachment.pk, token=token)


def link_valid(inbox: Inbox, attachment_id: int, token: str) -> bool:
    value = _value(inbox, attachment_id)
    try:
        signing.TimestampSigner(salt=_SALT).unsign(f"{value}:{token}", max_age=LINK_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return True
