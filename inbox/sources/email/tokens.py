"""Reply addresses: `<local>+<token>@<domain>` of the inbox's own address, where the token
names a conversation and is signed (HMAC with SECRET_KEY) so nobody can make one up.

We use the inbox's own local part with "+token" (sub-addressing) rather than a separate
`reply+…` mailbox: mail to `support+…@example.com` reaches the `support` mailbox with every
major provider, so a reply finds us over IMAP and webhooks as well as our SMTP server. All
lower case and digits: some mail servers fold the case of local parts."""

from __future__ import annotations

import hmac

from django.utils.crypto import salted_hmac

SALT = "parley.email.reply-token"
DIGEST_CHARS = 16


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _digest(conversation_id: int) -> str:
    return salted_hmac(SALT, str(conversation_id), algorithm="sha256").hexdigest()[:DIGEST_CHARS]


def reply_token(conversation_id: int) -> str:
    return f"c{_base36(conversation_id)}{_digest(conversation_id)}"


def conversation_id_from_token(token: str) -> int | None:
    """The conversation a token names, or None for anything we did not sign."""
    token = token.lower()
    if len(token) <= DIGEST_CHARS + 1 or not token.startswith("c"):
        return None
    number, digest = token[1:-DIGEST_CHARS], token[-DIGEST_CHARS:]
    try:
        conversation_id = int(number, 36)
    except ValueError:
        return None
    if not hmac.compare_digest(digest, _digest(conversation_id)):
        return None
    return conversation_id


def reply_address(inbox_address: str, conversation_id: int) -> str:
    local, _, domain = inbox_address.partition("@")
    return f"{local}+{reply_token(conversation_id)}@{domain}"


def split_address(address: str) -> tuple[str, str]:
    """("support@example.com", token) for "support+token@example.com"; token "" if none."""
    local, _, domain = address.lower().partition("@")
    base, _, token = local.partition("+")
    return f"{base}@{domain}", token
