"""A widget inbox's settings, kept in `Inbox.settings["widget"]`: its look, the pre-chat
form, the websites allowed to embed it, identity verification and the satisfaction prompt.
The signing secret for `identify()` is among the inbox's encrypted secrets
(`identity_secret`), never in these settings."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

POSITIONS = ("right", "left")
PRECHAT = ("off", "optional", "required")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_GREETING = "Hi there! Ask us anything, we're happy to help."
ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


class WidgetConfigError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class WidgetConfig:
    color: str = "#1f6feb"
    position: str = "right"
    greeting: str = DEFAULT_GREETING
    launcher_text: str = ""  # empty: the widget's own "Chat with us", in the visitor's language
    prechat_name: str = "optional"
    prechat_email: str = "optional"
    privacy_url: str = ""
    # Websites allowed to embed the widget, as origins: "https://www.example.com". The HTTP
    # API and the websocket refuse every other origin. Empty: the widget works nowhere.
    allowed_origins: list[str] = field(default_factory=list)
    identity_required: bool = False  # identify() must be signed; unsigned calls refused
    identity_max_age: int = 0  # seconds a timestamped hash stays valid; 0: untimed allowed
    satisfaction: bool = True
    max_attachment_bytes: int = 10 * 1024 * 1024
    # An email inbox of ours: a reply to a visitor who has left is emailed through it (when
    # they gave an address), and their email answer comes back into the chat conversation.
    email_inbox_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and normalize_origin(origin or "") in self.allowed_origins


def normalize_origin(value: str) -> str:
    """ "https://Example.com:443/" → "https://example.com"; "" when it is not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def config_for(inbox: Any) -> WidgetConfig:
    stored = (inbox.settings or {}).get("widget") or {}
    known = {f.name for f in fields(WidgetConfig)}
    return WidgetConfig(**{key: value for key, value in stored.items() if key in known})


def clean(data: dict[str, Any]) -> WidgetConfig:
    """Settings from submitted values, checked (raises WidgetConfigError naming the field)."""
    unknown = set(data) - {f.name for f in fields(WidgetConfig)}
    if unknown:
        raise WidgetConfigError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    config = WidgetConfig(**data)
    if not isinstance(config.color, str) or not COLOR.match(config.color):
        raise WidgetConfigError("Give a colour as #rrggbb.", "color")
    if config.position not in POSITIONS:
        raise WidgetConfigError("Choose right or left.", "position")
    for name in ("prechat_name", "prechat_email"):
        if getattr(config, name) not in PRECHAT:
            raise WidgetConfigError("Choose off, optional or required.", name)
    for name, limit in (("greeting", 300), ("launcher_text", 40)):
        value = getattr(config, name)
        if not isinstance(value, str) or len(value) > limit:
            raise WidgetConfigError(f"At most {limit} characters.", name)
        setattr(config, name, value.strip())
    if config.privacy_url and urlsplit(config.privacy_url).scheme not in ("http", "https"):
        raise WidgetConfigError(
            "Give the full address of the privacy policy (https://…).", "privacy_url"
        )
    if not isinstance(config.allowed_origins, list):
        raise WidgetConfigError("Give a list of website addresses.", "allowed_origins")
    origins = []
    for value in config.allowed_origins:
        origin = normalize_origin(str(value))
        if not origin:
            raise WidgetConfigError(
                f"“{value}” is not a website address such as https://www.example.com.",
                "allowed_origins",
            )
        if origin not in origins:
            origins.append(origin)
    config.allowed_origins = origins
    for name in ("identity_required", "satisfaction"):
        if not isinstance(getattr(config, name), bool):
            raise WidgetConfigError("Give true or false.", name)
    if (
        not isinstance(config.identity_max_age, int)
        or not 0 <= config.identity_max_age <= 86400 * 30
    ):
        raise WidgetConfigError("Use 0 (no limit) to 2,592,000 seconds.", "identity_max_age")
    if not isinstance(config.max_attachment_bytes, int) or not (
        1024 <= config.max_attachment_bytes <= 25 * 1024 * 1024
    ):
        raise WidgetConfigError("Use 1 KB to 25 MB.", "max_attachment_bytes")
    if config.email_inbox_id is not None:
        from inbox.models import Inbox

        if isinstance(config.email_inbox_id, bool) or not isinstance(config.email_inbox_id, int):
            raise WidgetConfigError("Choose an email inbox.", "email_inbox_id")
        if not Inbox.objects.filter(pk=config.email_inbox_id, kind=Inbox.Kind.EMAIL).exists():
            raise WidgetConfigError("Choose one of your email inboxes.", "email_inbox_id")
    return config
