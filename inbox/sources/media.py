"""Files customers send on messaging apps, downloaded while the provider's URL still works
(WhatsApp's expire in minutes), with a size cap and a content-type check, into an
`AttachmentInput` for `receive_inbound_message`.

What cannot be downloaded is not dropped: `MediaProblem` carries the reason, and the source
stores the message with `placeholder()` as its text and the raw payload in `data`, so agents
see that something came and admins can read what it was. A network failure raises
`RetryLater` while the webhook delivery has attempts left (inbox/sources/webhooks.py)."""

from __future__ import annotations

import mimetypes

from django.conf import settings

from inbox.actions.messages import AttachmentInput
from inbox.sources.http import DeliveryRefused, TransientError, download
from inbox.sources.webhooks import RETRY_DELAYS, RetryLater

# What each kind of media may be. A document may be anything but a web page (a provider
# answering HTML instead of the file is an error or sign-in page, not the customer's file).
FAMILIES = {
    "image": ("image/",),
    "sticker": ("image/",),
    "audio": ("audio/",),
    "voice": ("audio/",),
    "video": ("video/",),
    "document": ("",),
    "file": ("",),
}
NEVER = ("text/html", "application/xhtml+xml")
LABELS = {
    "image": "Photo",
    "sticker": "Sticker",
    "audio": "Audio",
    "voice": "Voice message",
    "video": "Video",
    "document": "Document",
    "file": "File",
    "location": "Location",
    "contacts": "Contact card",
}


class MediaProblem(Exception):
    """The file will not be downloaded (too large, wrong type, refused URL, gone)."""


def label(kind: str) -> str:
    return LABELS.get(kind, kind.replace("_", " ").capitalize() or "File")


def placeholder(kind: str, reason: str = "") -> str:
    """The text agents see for media that is not stored as a file."""
    if reason:
        return f"[{label(kind)} not downloaded: {reason}]"
    return f"[{label(kind)}: a kind of message Parley does not show yet]"


def _type_refusal(kind: str, content_type: str) -> str | None:
    if content_type in NEVER:
        return f"the provider answered {content_type}, not a file"
    families = FAMILIES.get(kind, ("",))
    if not any(content_type.startswith(prefix) for prefix in families):
        return f"a {label(kind).lower()} cannot be {content_type or 'of no declared type'}"
    return None


def fetch_media(
    url: str,
    *,
    kind: str,
    attempt: int,
    headers: dict[str, str] | None = None,
    declared_type: str = "",
    filename: str = "",
    max_bytes: int | None = None,
) -> AttachmentInput:
    """Download one file. `attempt`: the webhook delivery's attempt number (a network failure
    is retried while attempts remain). `declared_type`: what the webhook said the file is;
    the download must agree with it and with `kind`. Raises MediaProblem or RetryLater."""
    limit = max_bytes or settings.MESSAGING_MEDIA_MAX_BYTES
    try:
        got = download(url, headers or {}, max_bytes=limit)
    except TransientError as exc:
        if attempt <= len(RETRY_DELAYS):
            raise RetryLater(f"Downloading a {label(kind).lower()} failed: {exc}") from exc
        raise MediaProblem(str(exc)) from exc
    except DeliveryRefused as exc:
        raise MediaProblem(str(exc)) from exc
    # A server answering the generic octet-stream says nothing: the webhook's type counts.
    generic = got.content_type in ("application/octet-stream", "binary/octet-stream")
    declared_plain = declared_type.split(";")[0].strip().lower()
    content_type = (
        (declared_plain or got.content_type)
        if generic or not got.content_type
        else got.content_type
    )
    refusal = _type_refusal(kind, content_type)
    declared = declared_type.split(";")[0].strip().lower()
    if not refusal and declared and declared.split("/")[0] != content_type.split("/")[0]:
        refusal = f"announced as {declared} but the download is {content_type}"
    if refusal:
        raise MediaProblem(refusal)
    name = filename or got.filename
    if not name:
        extension = mimetypes.guess_extension(content_type) or ""
        name = f"{kind}{extension}"
    return AttachmentInput(filename=name[:255], content_type=content_type, content=got.content)
