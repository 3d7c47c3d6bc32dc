"""What a Telegram message carries, as agents see it: its text (or caption), its files
downloaded through the Bot API, and readable lines for locations, contacts, polls and dice.

Files: `getFile` gives a path, the file is then downloaded from
`{TELEGRAM_API_URL}/file/bot<token>/<path>` with `inbox.sources.media.fetch_media`, capped
at 20 MB (the most the Bot API serves; MESSAGING_MEDIA_MAX_BYTES when lower). Telegram's
file server often answers `application/octet-stream`: the type is then taken from the
update (`mime_type`) or the file's extension, and must still suit the kind of message (a
photo must be an image). What cannot be downloaded becomes a placeholder with the reason
(`media_error` in data; the raw message is kept by the caller); a network failure or a 429
or 5xx from Telegram is tried again (RetryLater) while the delivery has attempts left.

Fields of the wrong type (a photo's `width` as text, a poll's `options` not a list, a shared
contact's `user_id` not a number) are treated as missing, never raised on."""

from __future__ import annotations

import math
import mimetypes
import posixpath
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

from inbox.actions.messages import AttachmentInput
from inbox.sources.media import FAMILIES, MediaProblem, fetch_media, label, placeholder
from inbox.sources.telegram.api import DOWNLOAD_LIMIT, as_dict, bot_call, file_url
from inbox.sources.webhooks import RETRY_DELAYS, RetryLater

# Telegram's field → the kind inbox.sources.media checks the download against. Order
# matters: an animation also carries `document`, a venue also carries `location`.
FILE_KINDS = {
    "animation": "video",
    "photo": "image",
    "video": "video",
    "video_note": "video",
    "voice": "voice",
    "audio": "audio",
    "sticker": "sticker",
    "document": "document",
}
OTHER_KINDS = (
    "story",
    "game",
    "invoice",
    "paid_media",
    "giveaway",
    "giveaway_winners",
    "checklist",
    "successful_payment",
    "users_shared",
    "chat_shared",
    "new_chat_members",
    "left_chat_member",
    "pinned_message",
)
GENERIC = ("", "application/octet-stream", "binary/octet-stream")
# The extensions of Telegram's file paths, whatever the system's mime.types says.
EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".pdf": "application/pdf",
}
NAMES = {"photo": "photo", "video_note": "video-message", "voice": "voice", "sticker": "sticker"}


@dataclass
class Content:
    text: str  # what agents read: the text or caption, a description, or a placeholder
    attachments: list[AttachmentInput] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # kept in the message's data


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one (updates are untrusted input)."""
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    """`value` when it is a JSON integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def safe_filename(name: str, fallback: str) -> str:
    try:
        return get_valid_filename(name)[:200] or fallback
    except SuspiciousFileOperation:  # nothing usable left, e.g. ".."
        return fallback


def download_limit() -> int:
    return min(DOWNLOAD_LIMIT, int(settings.MESSAGING_MEDIA_MAX_BYTES or DOWNLOAD_LIMIT))


def describe(message: dict[str, Any], *, token: str, attempt: int) -> Content:
    """The content of one Telegram Message object. `attempt`: the webhook delivery's attempt
    number. Raises RetryLater (a download worth trying again)."""
    caption = str(message.get("text") or message.get("caption") or "")
    for kind in FILE_KINDS:
        if isinstance(message.get(kind), dict | list) and message.get(kind):
            return _file(message, kind, caption, token=token, attempt=attempt)
    if isinstance(message.get("venue"), dict) or isinstance(message.get("location"), dict):
        return _place(message)
    if isinstance(message.get("contact"), dict):
        return _contact(message["contact"])
    if caption:
        return Content(caption)
    if isinstance(message.get("poll"), dict):
        poll = message["poll"]
        options = " / ".join(
            str(o.get("text") or "") for o in as_list(poll.get("options")) if isinstance(o, dict)
        )
        return Content(f"[Telegram poll: {poll.get('question') or '?'} ({options})]")
    if isinstance(message.get("dice"), dict):
        dice = message["dice"]
        return Content(f"[Telegram dice {dice.get('emoji') or '🎲'}: {dice.get('value')}]")
    kind = next((k for k in OTHER_KINDS if k in message), "")
    if kind:
        return Content(f"[Telegram {kind.replace('_', ' ')}: Parley does not show these yet]")
    return Content("[A kind of Telegram message Parley does not show yet]")


def _file(message: dict[str, Any], kind: str, caption: str, *, token: str, attempt: int) -> Content:
    media = _photo_size(message[kind]) if kind == "photo" else as_dict(message[kind])
    if kind == "sticker" and (media.get("is_animated") or media.get("is_video")):
        emoji = f" {media['emoji']}" if media.get("emoji") else ""
        text = f"[Animated sticker{emoji}: Parley does not show animated stickers yet]"
        return Content(text, extra={"media_error": "animated sticker"})
    try:
        attachment = fetch_file(media, kind, token=token, attempt=attempt)
    except MediaProblem as exc:
        text = placeholder(FILE_KINDS[kind] if kind == "photo" else kind, str(exc))
        return Content(f"{text}\n{caption}" if caption else text, extra={"media_error": str(exc)})
    return Content(caption, [attachment])


def _photo_size(sizes: Any) -> dict[str, Any]:
    """The largest size that can be downloaded (Telegram lists several of one photo)."""
    usable = (
        [s for s in sizes if isinstance(s, dict) and s.get("file_id")]
        if isinstance(sizes, list)
        else []
    )
    if not usable:
        return {}
    usable.sort(key=lambda s: (as_int(s.get("width")) or 0) * (as_int(s.get("height")) or 0))
    fitting = [s for s in usable if (as_int(s.get("file_size")) or 0) <= download_limit()]
    return (fitting or usable)[-1]


def fetch_file(media: dict[str, Any], kind: str, *, token: str, attempt: int) -> AttachmentInput:
    """getFile, then the download. Raises MediaProblem or RetryLater."""
    family = FILE_KINDS[kind]
    limit = download_limit()
    size = as_int(media.get("file_size"))
    if size is not None and size > limit:
        raise MediaProblem(f"{size:,} bytes is over the {limit:,}-byte limit")
    if not token:
        raise MediaProblem("this inbox has no bot token")
    if not media.get("file_id"):
        raise MediaProblem("the update names no file")
    reply = bot_call(token, "getFile", {"file_id": str(media["file_id"])})
    if reply.transient and attempt <= len(RETRY_DELAYS):
        raise RetryLater(f"Telegram's getFile failed: {reply.description}")
    if not reply.ok:
        raise MediaProblem(f"Telegram: {reply.description}")
    path = (
        str((reply.result or {}).get("file_path") or "") if isinstance(reply.result, dict) else ""
    )
    if not path:
        raise MediaProblem("Telegram gave no file path (the file may be over 20 MB)")
    extension = posixpath.splitext(path)[1].lower()
    name = str(media.get("file_name") or "") or f"{NAMES.get(kind, kind)}{extension}"
    # kind="file": fetch_media accepts any type but a web page; the type is settled below,
    # where a generic one can be replaced by what the update says.
    got = fetch_media(
        file_url(token, path),
        kind="file",
        attempt=attempt,
        filename=safe_filename(name, f"{NAMES.get(kind, kind)}{extension}"),
        max_bytes=limit,
    )
    content_type = got.content_type
    if content_type in GENERIC:
        content_type = (
            str(media.get("mime_type") or "").split(";")[0].strip().lower()
            or EXTENSIONS.get(extension)
            or mimetypes.guess_type(path)[0]
            or "application/octet-stream"
        )
    if not any(content_type.startswith(prefix) for prefix in FAMILIES.get(family, ("",))):
        raise MediaProblem(f"a {label(family).lower()} cannot be {content_type}")
    return AttachmentInput(filename=got.filename, content_type=content_type, content=got.content)


def map_link(latitude: float, longitude: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}#map=17/{latitude:.6f}/{longitude:.6f}"


def _place(message: dict[str, Any]) -> Content:
    venue = as_dict(message.get("venue"))
    location = as_dict(venue.get("location") or message.get("location"))
    try:
        latitude, longitude = float(location["latitude"]), float(location["longitude"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return Content("[Telegram location without coordinates]")
    if not (math.isfinite(latitude) and abs(latitude) <= 90 and abs(longitude) <= 180):
        return Content("[Telegram location without coordinates]")
    kept: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for key in ("horizontal_accuracy", "live_period"):
        if key in location:
            kept[key] = location[key]
    lines = []
    if venue:
        kept.update({k: str(venue[k]) for k in ("title", "address") if venue.get(k)})
        lines += [str(venue[k]) for k in ("title", "address") if venue.get(k)]
    else:
        live = " (live)" if location.get("live_period") else ""
        lines.append(f"Location{live}: {latitude:.6f}, {longitude:.6f}")
    lines.append(map_link(latitude, longitude))
    return Content("\n".join(lines), extra={"location": kept})


def _vcard_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def vcard(contact: dict[str, Any]) -> str:
    first = str(contact.get("first_name") or "")
    last = str(contact.get("last_name") or "")
    full = " ".join(p for p in (first, last) if p) or str(contact.get("phone_number") or "")
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{_vcard_text(last)};{_vcard_text(first)};;;",
        f"FN:{_vcard_text(full)}",
    ]
    if contact.get("phone_number"):
        lines.append(f"TEL;TYPE=CELL:{_vcard_text(str(contact['phone_number']))}")
    if as_int(contact.get("user_id")):
        lines.append(f"X-TELEGRAM-ID:{contact['user_id']}")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def _contact(contact: dict[str, Any]) -> Content:
    name = " ".join(str(contact.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    phone = str(contact.get("phone_number") or "")
    text = "Contact: " + ", ".join(p for p in (name, phone) if p)
    card = str(contact.get("vcard") or "") or vcard(contact)
    filename = safe_filename(f"{name or phone or 'contact'}.vcf", "contact.vcf")
    kept: dict[str, Any] = {
        k: str(contact[k]) for k in ("phone_number", "first_name", "last_name") if contact.get(k)
    }
    if as_int(contact.get("user_id")):
        kept["user_id"] = contact["user_id"]
    return Content(
        text,
        [AttachmentInput(filename=filename, content_type="text/vcard", content=card.encode())],
        extra={"contact": kept},
    )
