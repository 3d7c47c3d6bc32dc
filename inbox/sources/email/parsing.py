"""Reading an email: headers, bodies, attachments, auto-replies and bounces.

Built on the standard library's modern email API (`email.policy.default`), with a fallback
for every step that real mail breaks: a header the modern parser chokes on is read raw and
decoded leniently, a body in an unknown or lying charset is decoded with fallbacks, a part
that cannot be decoded at all is kept as an attachment. `parse_email` raises `UnreadableEmail`
only for bytes that are not an email at all; the caller stores those raw, as failed.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message

MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
MAX_ID_LENGTH = 255  # Message.external_id
HEADER_CHARS = 2000  # a header longer than this is cut when kept (subjects, names)
FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")  # latin-1 decodes anything


class UnreadableEmail(ValueError):
    """These bytes are not an email (no header at all)."""


@dataclass(frozen=True)
class Address:
    name: str
    address: str  # lower case

    def formatted(self) -> str:
        return email.utils.formataddr((self.name, self.address)) if self.name else self.address


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # without the angle brackets
    inline: bool = False


@dataclass
class ParsedEmail:
    message_id: str = ""  # "<id@host>", normalised (see normalise_message_id)
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    sender: Address | None = None  # From
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str = ""  # as sent: sanitise before storing or showing
    attachments: list[ParsedAttachment] = field(default_factory=list)
    # "" for mail a person wrote; "auto_reply" (out of office, bulk, list…) or "bounce".
    automated: str = ""
    bounced_message_ids: list[str] = field(default_factory=list)
    bounce_reason: str = ""
    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first (In-Reply-To, then References
        from the most recent)."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


def normalise_message_id(value: str) -> str:
    """`<id@host>` as it appears in headers; an id too long to store becomes a digest, the
    same for every message that quotes it."""
    value = value.strip()
    if not value:
        return ""
    if not (value.startswith("<") and value.endswith(">")):
        value = f"<{value.strip('<>')}>"
    if len(value) > MAX_ID_LENGTH:
        return f"<sha256.{hashlib.sha256(value.encode()).hexdigest()}@long-id>"
    return value


def message_ids(value: str) -> list[str]:
    return [normalise_message_id(f"<{m}>") for m in MESSAGE_ID.findall(value or "")]


# --- headers --------------------------------------------------------------------------------


def _decode_raw_header(value: str) -> str:
    """RFC 2047 encoded words in a raw header, decoded leniently."""
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(_decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return "".join(out)


def _raw_values(msg: Message, name: str) -> list[str]:
    """The header's values as written, unparsed (the modern parser runs on access)."""
    wanted = name.lower()
    try:
        return [str(v) for k, v in msg.raw_items() if k.lower() == wanted]
    except Exception:
        return []


def header(msg: Message, name: str) -> str:
    """A header's decoded value ("" when absent). Never raises: the modern parser's value,
    else the raw one decoded by hand."""
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception:
        raw = _raw_values(msg, name)
        text = _decode_raw_header(raw[0]) if raw else ""
    if "\ufffd" in text:  # a broken encoded word: the header as written says more
        raw = _raw_values(msg, name)
        text = raw[0] if raw else text
    return " ".join(text.split())[:HEADER_CHARS]


def _raw_header(msg: Message, name: str) -> str:
    """The header as written (for address lists and ids, which we parse ourselves)."""
    return ", ".join(_raw_values(msg, name))


def addresses(msg: Message, name: str) -> list[Address]:
    raw = _raw_header(msg, name)
    if not raw:
        return []
    found = _valid(email.utils.getaddresses([_decode_raw_header(raw)]))
    if not found:  # unbalanced quotes and the like: any address written in it
        found = _valid([("", addr) for addr in _BARE_ADDRESS.findall(raw)])
    return found


def _valid(pairs: list[tuple[str, str]]) -> list[Address]:
    found = []
    for display, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        if "@" not in addr or len(addr) > 254 or any(c.isspace() for c in addr):
            continue
        found.append(Address(" ".join(display.split())[:200], addr))
    return list(dict.fromkeys(found))


# --- bodies ---------------------------------------------------------------------------------


def _decode_bytes(data: bytes, charset: str | None) -> str:
    for candidate in (charset, *FALLBACK_CHARSETS):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")  # unreachable: latin-1 decodes anything


def part_text(part: Message) -> str:
    """A text part's content, whatever its charset claims."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:  # noqa: S110 (an unknown or lying charset: decoded below instead)
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _decode_bytes(payload, part.get_content_charset())


def part_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        try:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return bytes(inner[0].as_bytes(policy=policy.SMTP))
            return bytes(part.as_bytes(policy=policy.SMTP))
        except Exception:
            return str(part).encode("utf-8", "replace")
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else b""


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        name = _decode_raw_header(str(name))
    name = " ".join((name or "").replace("/", "_").replace("\\", "_").split())[:200]
    if name:
        return name
    kind = part.get_content_type()
    extension = {
        "message/rfc822": ".eml",
        "message/delivery-status": ".txt",
        "text/rfc822-headers": ".txt",
        "text/calendar": ".ics",
        "text/html": ".html",
        "text/plain": ".txt",
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/gif": ".gif",
        "application/pdf": ".pdf",
    }.get(kind, "")
    stem = {
        "message/rfc822": "forwarded-message",
        "text/calendar": "invite",
        "message/delivery-status": "delivery-status",
        "text/rfc822-headers": "original-headers",
    }.get(kind, "part")
    return f"{stem}-{index}{extension}"


LEAF_MESSAGES = ("message/rfc822", "message/delivery-status", "message/global-delivery-status")


def _walk(part: Message) -> list[Message]:
    """Leaf parts in order, not descending into attached messages (message/rfc822) or
    delivery reports."""
    if part.get_content_type() in LEAF_MESSAGES:
        return [part]
    if part.is_multipart():
        children = part.get_payload()
        out = []
        for child in children if isinstance(children, list) else []:
            if isinstance(child, Message):
                out.extend(_walk(child))
        return out
    return [part]


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    if disposition == "attachment":
        return True
    kind = part.get_content_type()
    if kind in ("text/plain", "text/html"):
        try:
            return bool(part.get_filename()) and disposition != "inline"
        except Exception:
            return False
    return True  # images, calendars, attached messages, anything else


def _bodies_and_attachments(msg: Message, parsed: ParsedEmail) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    for index, part in enumerate(_walk(msg), start=1):
        kind = part.get_content_type()
        if not _is_attachment(part):
            (htmls if kind == "text/html" else texts).append(part_text(part))
            continue
        content_id = header(part, "Content-ID").strip().strip("<>")
        # Inline means shown by the HTML (cid:), so only an image with a Content-ID; any
        # other "inline" part is listed with the attachments, or nobody would see it.
        inline = bool(content_id)
        parsed.attachments.append(
            ParsedAttachment(
                filename=_filename(part, index),
                content_type=kind[:100],
                content=part_bytes(part),
                content_id=content_id[:255],
                inline=inline and kind.startswith("image/"),
            )
        )
    # multipart/alternative gives the same words twice: keep the first plain and first HTML
    # version of each, and join the parts of a mixed message in order.
    texts = [t.replace("\r\n", "\n").replace("\r", "\n") for t in texts]
    parsed.text = "\n\n".join(t for t in texts if t.strip()).strip("\n")
    parsed.html = "\n".join(htmls)
    if not parsed.text and parsed.html:
        parsed.text = html_to_text(parsed.html)


_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|tr|li|h[1-6]|blockquote)\s*>|<br\s*/?>", re.I)
_INVISIBLE = re.compile(r"<(style|script|head|title)\b.*?</\1\s*>", re.I | re.S)


def html_to_text(html: str) -> str:
    """A plain rendering of an HTML-only email, for previews, search and notifications."""
    import html as html_module

    text = _INVISIBLE.sub(" ", html)
    text = _BLOCK_END.sub("\n", text)
    text = html_module.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- automated mail -------------------------------------------------------------------------

_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster)@", re.I)
_BOUNCE_SUBJECTS = re.compile(
    r"(undeliver|delivery (status notification|failure|has failed)|returned mail|"
    r"mail delivery (failed|system)|failure notice|non.?delivery)",
    re.I,
)


def _automated(msg: Message, parsed: ParsedEmail, envelope_from: str | None) -> None:
    report = msg.get_content_type() == "multipart/report"
    report_type = (msg.get_param("report-type") or "") if report else ""
    sender = parsed.sender.address if parsed.sender else ""
    null_sender = envelope_from == "" or header(msg, "Return-Path").strip() == "<>"
    looks_like_bounce = bool(_BOUNCE_SENDERS.match(sender)) or (
        null_sender and bool(_BOUNCE_SUBJECTS.search(parsed.subject))
    )
    if (report and str(report_type).lower() == "delivery-status") or looks_like_bounce:
        parsed.automated = "bounce"
        _bounce_details(msg, parsed)
        return
    auto_submitted = header(msg, "Auto-Submitted").lower()
    precedence = header(msg, "Precedence").lower()
    if (
        (auto_submitted and auto_submitted != "no")
        or header(msg, "X-Autoreply")
        or header(msg, "X-Autorespond")
        or header(msg, "X-Auto-Response-Suppress")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or null_sender
        or report
    ):
        parsed.automated = "auto_reply"


def _bounce_details(msg: Message, parsed: ParsedEmail) -> None:
    reasons = []
    for part in _walk(msg):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers"):
            original = part_bytes(part) if kind == "message/rfc822" else part_text(part).encode()
            try:
                headers = email.message_from_bytes(original, policy=policy.compat32)
                parsed.bounced_message_ids += message_ids(str(headers.get("Message-ID", "")))
            except Exception:  # noqa: S110 (the text is searched for the id below)
                pass
        elif kind in ("message/delivery-status", "message/global-delivery-status"):
            blocks = part.get_payload()
            fields: list[tuple[str, str]] = []
            if isinstance(blocks, list):  # one block of fields per recipient
                for block in blocks:
                    if isinstance(block, Message):
                        fields += [(k, " ".join(str(v).split())) for k, v in block.raw_items()]
            else:
                for line in part_text(part).splitlines():
                    key, _, value = line.partition(":")
                    fields.append((key, value))
            for key, value in fields:
                if key.strip().lower() in ("diagnostic-code", "status", "action"):
                    reasons.append(f"{key.strip()}: {value.strip()}")
    if not parsed.bounced_message_ids:
        # Some servers quote the original headers in the text of the bounce.
        found = re.findall(r"(?im)^\s*Message-ID:\s*(<[^>\s]+>)", parsed.text)
        parsed.bounced_message_ids = [normalise_message_id(m) for m in found]
    parsed.bounced_message_ids = [
        m for m in dict.fromkeys(parsed.bounced_message_ids) if m and m != parsed.message_id
    ]
    diagnostic = [r for r in reasons if r.lower().startswith("diagnostic-code")]
    parsed.bounce_reason = (diagnostic or reasons or [parsed.subject or "Delivery failed"])[0][:500]


# --- the whole message ----------------------------------------------------------------------


def parse_email(raw: bytes, *, envelope_from: str | None = None) -> ParsedEmail:
    """Everything we use from an email. `envelope_from` is the SMTP MAIL FROM when known
    ("" for the null sender of bounces and auto-replies)."""
    if not raw or not raw.strip():
        raise UnreadableEmail("The message is empty.")
    msg = email.message_from_bytes(raw, policy=policy.default)
    if not msg.keys():
        raise UnreadableEmail("The message has no headers.")
    assert isinstance(msg, EmailMessage)
    parsed = ParsedEmail()
    parsed.defects = [type(d).__name__ for d in msg.defects][:20]
    ids = message_ids(_raw_header(msg, "Message-ID"))
    parsed.message_id = ids[0] if ids else ""
    parsed.in_reply_to = message_ids(_raw_header(msg, "In-Reply-To"))
    parsed.references = message_ids(_raw_header(msg, "References"))[-50:]
    senders = addresses(msg, "From")
    parsed.sender = senders[0] if senders else None
    parsed.reply_to = addresses(msg, "Reply-To")
    parsed.to = addresses(msg, "To")
    parsed.cc = addresses(msg, "Cc")
    parsed.subject = header(msg, "Subject")[:300]
    try:
        date = email.utils.parsedate_to_datetime(_raw_header(msg, "Date"))
        parsed.date = date if date.tzinfo else None
    except (TypeError, ValueError, IndexError):
        parsed.date = None
    _bodies_and_attachments(msg, parsed)
    _automated(msg, parsed, envelope_from)
    return parsed


def peek(raw: bytes) -> tuple[str, str]:
    """(Message-ID, subject) read cheaply for the raw store; ("", "") when unreadable."""
    try:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        msg = email.message_from_bytes(head + b"\n\n", policy=policy.compat32)
        ids = message_ids(str(msg.get("Message-ID", "")))
        return (ids[0] if ids else ""), _decode_raw_header(str(msg.get("Subject", "")))[:300]
    except Exception:
        return "", ""
