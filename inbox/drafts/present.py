"""A stored draft as one agent sees it: variables filled for this contact and agent, and
shaped for the channel. Email gets a greeting (unless the draft has one) and the body; the
agent's and inbox's signature are shown beside it and added when the email is sent. Chat,
SMS and messaging apps get a short form: no sign-off, no blank-line padding; SMS also shows
its segment count."""

from __future__ import annotations

import re
from typing import Any

from inbox import canned, segments
from inbox.drafts import language

GREETING_START = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|bonjour|bonsoir|salut|hola|"
    r"buenos d[ií]as|buenas|hallo|guten (tag|morgen)|liebe[rs]?|sehr geehrte[rs]?|ol[aá]|"
    r"bom dia|ciao|buongiorno|hoi|beste)\b",
    re.IGNORECASE,
)
SIGN_OFF = re.compile(
    r"^\s*(best( regards| wishes)?|kind regards|regards|many thanks|thanks( again)?|cheers|"
    r"all the best|sincerely|cordialement|bien [àa] vous|bonne journ[ée]e|saludos|"
    r"un saludo|atentamente|viele gr[üu](ß|ss)e|mit freundlichen gr[üu](ß|ss)en|"
    r"liebe gr[üu](ß|ss)e|gr[üu](ß|ss)e|cumprimentos|cordiali saluti|met vriendelijke groet)"
    r"[,.!]*\s*$",
    re.IGNORECASE,
)
GREETINGS = {
    "en": "Hi {{contact.first_name|there}},",
    "fr": "Bonjour {{contact.first_name|}},",
    "es": "Hola {{contact.first_name|}}:",
    "de": "Hallo {{contact.first_name|}},",
    "pt": "Olá {{contact.first_name|}},",
    "it": "Ciao {{contact.first_name|}},",
    "nl": "Hallo {{contact.first_name|}},",
}
LONG_FORM = {"email"}


def short_form(text: str) -> str:
    """A chat-sized draft: the trailing sign-off (and the name under it) dropped, blank
    lines collapsed."""
    lines = text.strip().splitlines()
    for position in range(len(lines) - 1, max(len(lines) - 4, 0) - 1, -1):
        if SIGN_OFF.match(lines[position]):
            lines = lines[:position]
            break
    return re.sub(r"\n{2,}", "\n", "\n".join(lines).strip())


def _with_greeting(text: str, greeting: str) -> str:
    if not greeting or GREETING_START.match(text):
        return text
    return f"{greeting.strip()}\n\n{text.strip()}"


def _tidy(text: str) -> str:
    # A fallback left empty (“Bonjour {{contact.first_name|}},”) must not leave “Bonjour ,”.
    return re.sub(r"[ \t]+([,:;!?.])", r"\1", text).replace(" \n", "\n")


def present(
    candidate: dict[str, Any],
    *,
    conversation: Any,
    agent: Any,
    customer_language: str = "",
    greeting: str = "",
) -> dict[str, Any]:
    """The candidate rendered for `agent` on `conversation`'s channel."""
    filled = canned.values(
        contact=conversation.contact,
        agent=agent,
        inbox=conversation.inbox,
        conversation=conversation,
    )
    kind = conversation.inbox.kind
    template = candidate["template"]
    draft_language = candidate.get("language") or ""
    if kind in LONG_FORM:
        line = greeting or GREETINGS.get(draft_language or customer_language or "en", "")
        template = _with_greeting(template, line)
    text = _tidy(canned.render(template, filled))
    if kind not in LONG_FORM:
        text = short_form(text)
    reason = candidate["reason"]
    if customer_language and draft_language and draft_language != customer_language:
        reason += (
            f" (in {language.name(draft_language)}; the customer wrote in "
            f"{language.name(customer_language)})"
        )
    out: dict[str, Any] = {
        "text": text,
        "score": candidate["score"],
        "engine": candidate["engine"],
        "reason": reason,
        "canned_reply_id": candidate.get("canned_reply_id"),
        "language": draft_language,
        "language_mismatch": bool(
            customer_language and draft_language and draft_language != customer_language
        ),
    }
    if kind == "email":
        signature = [
            (getattr(agent, "signature", "") or "").strip(),
            str((conversation.inbox.settings or {}).get("signature") or "").strip(),
        ]
        out["signature"] = "\n".join(part for part in signature if part)
    if kind == "sms":
        count = segments.count(text)
        out["segments"] = {"encoding": count.encoding, "count": count.segments}
    return out
