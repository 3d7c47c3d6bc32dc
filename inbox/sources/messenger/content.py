"""What a Messenger Platform message holds besides its text, for agents: its files,
downloaded while Meta's URLs still work, and readable lines for the rest (a location, a
shared link, an Instagram story mention, share or reel), or for a file that could not be
downloaded (why, in a placeholder; the raw event stays on the message)."""

from __future__ import annotations

from typing import Any

from inbox.actions.messages import AttachmentInput
from inbox.models import ProviderEvent
from inbox.sources.media import MediaProblem, fetch_media, label, placeholder
from inbox.sources.messenger.platform import Platform

# The Send API's attachment types, and the family fetch_media checks the download against.
MEDIA_KINDS = {"image": "image", "audio": "audio", "video": "video", "file": "file"}
# Instagram's shared things: a CDN URL of the post, reel or story, which stops working
# after a while (a story after 24 hours), so they are downloaded too. Value: (what agents
# read, the family of the download).
SHARED = {
    "share": ("shared_post", "file"),
    "ig_post": ("shared_post", "file"),
    "story_mention": ("story_mention", "file"),
    "ig_reel": ("shared_reel", "video"),
    "reel": ("shared_reel", "video"),
}
# Messenger's thumbs-up button sends one of these stickers (small, medium, large).
LIKE_STICKERS = {"369239263222822", "369239343222814", "369239383222810"}


def attachments(
    event: ProviderEvent, platform: Platform, message: dict[str, Any]
) -> tuple[list[AttachmentInput], list[str]]:
    """The message's files, downloaded, and the lines agents read for what is not a file
    (a location, a link, a share) or could not be downloaded. Raises RetryLater when a
    download failed on the network and the delivery has attempts left."""
    files: list[AttachmentInput] = []
    lines: list[str] = []
    given = message.get("attachments")
    for attachment in given if isinstance(given, list) else []:
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("type") or "")
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        url = str(payload.get("url") or "")
        title = str(payload.get("title") or attachment.get("title") or "").strip()
        sticker = str(payload.get("sticker_id") or "")
        if kind == "image" and sticker in LIKE_STICKERS:
            lines.append("\U0001f44d")
        elif kind == "location":
            lines.append(_location(payload, title))
        elif kind == "fallback":  # a link shared in Messenger
            link = str(attachment.get("URL") or attachment.get("url") or url)
            lines.append(" ".join(part for part in (title, link) if part) or "[Shared link]")
        elif kind == "template":  # the echo of a structured message
            lines.append(str(payload.get("text") or title or "[Template message]"))
        elif kind in MEDIA_KINDS or kind in SHARED:
            shown, family = SHARED.get(kind, (kind, MEDIA_KINDS.get(kind, "file")))
            if sticker:
                shown = family = "sticker"
            if kind in SHARED:
                lines.append(f"[{label(shown)}{': ' + title if title else ''}]")
            if not url:
                lines.append(placeholder(shown, "Meta gave no URL for it"))
                continue
            try:
                files.append(fetch_media(url, kind=family, attempt=event.attempts))
            except MediaProblem as exc:
                lines.append(placeholder(shown, str(exc)))
        else:
            lines.append(
                f"[{label(kind or 'attachment')}: a kind of {platform.name} attachment "
                "Parley does not show yet]"
            )
    return files, lines


def _location(payload: dict[str, Any], title: str) -> str:
    coordinates = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else {}
    assert isinstance(coordinates, dict)
    lat, long = coordinates.get("lat"), coordinates.get("long")
    if isinstance(lat, int | float) and isinstance(long, int | float):
        where = f"{lat}, {long} https://www.openstreetmap.org/?mlat={lat}&mlon={long}"
        return f"Location: {title + ' · ' if title else ''}{where}"
    return f"Location: {title or 'shared without coordinates'}"
