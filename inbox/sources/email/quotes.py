"""The new part of a reply: what the customer wrote above the quoted history ("On … wrote:",
Outlook's "-----Original Message-----" and "From: … Sent: …" blocks, Gmail's and Apple
Mail's quote containers, `>` lines) and their signature ("-- " line). quotequail finds the
quotes in the common clients' styles; the full message is always kept and shown on demand.
"""

from __future__ import annotations

import re

import quotequail

SIGNATURE = re.compile(r"(?m)^-- ?$")
MAX_CHARS = 200_000  # past this, quote detection is not worth its time: show it all


def new_text(text: str) -> str | None:
    """The text above the quoted history and signature, or None when there is nothing to
    hide (no quote found, or nothing would be left)."""
    if not text or len(text) > MAX_CHARS:
        return None
    try:
        parts = quotequail.quote(text, quote_intro_line=True)
    except Exception:
        return None
    shown = "".join(chunk for visible, chunk in parts if visible)
    signature = SIGNATURE.search(shown)
    if signature:
        shown = shown[: signature.start()]
    shown = shown.rstrip()
    if not shown.strip() or shown == text.rstrip():
        return None
    return shown


def new_html(html: str) -> str | None:
    """The same for HTML (Gmail's gmail_quote, Apple's blockquote type=cite, Outlook's
    divRplyFwdMsg…): the visible part as HTML, or None."""
    if not html or len(html) > MAX_CHARS:
        return None
    try:
        parts = quotequail.quote_html(html, quote_intro_line=True)
    except Exception:
        return None
    if len(parts) < 2:
        return None
    shown = "".join(chunk for visible, chunk in parts if visible).strip()
    return shown or None
