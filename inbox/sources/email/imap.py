"""Polling an email inbox's mailbox over IMAP.

An inbox polls when its settings have `imap_host` (with `imap_port`, `imap_security`:
"ssl" (default), "starttls" or "none", `imap_username`, `imap_folder` (default INBOX)) and
its secrets `imap_password`. The folder is opened read-only: Parley never changes the
mailbox. It remembers the folder's UIDVALIDITY and the last UID it stored (ImapState), so
each message is fetched once, a restart fetches what arrived meanwhile, and a mailbox that
was rebuilt (new UIDVALIDITY) is read again from the start: the Message-IDs already stored
are recognised as duplicates. Every attempt's outcome is kept for the admin pages.

Runs from `manage.py poll_imap` at scale, from a thread of the web process in the embedded
shape, and on demand (`poll_imap_now` task, the "Check now" button).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from inbox.models import ImapState, InboundEmail, Inbox
from inbox.sources.email.inbound import store_inbound_email

logger = logging.getLogger(__name__)

TIMEOUT = 30
BATCH = 25  # messages fetched per round trip
_UID = re.compile(rb"UID (\d+)")


class ImapFailed(Exception):
    """The mailbox cannot be read now; the reason is shown to admins."""


@dataclass
class PollResult:
    imported: int
    last_uid: int


def imap_inboxes() -> list[Inbox]:
    return [
        inbox
        for inbox in Inbox.objects.filter(kind=Inbox.Kind.EMAIL, is_active=True)
        if (inbox.settings or {}).get("imap_host")
    ]


def _connect(inbox: Inbox) -> imaplib.IMAP4:
    config = inbox.settings or {}
    host = str(config["imap_host"])
    security = str(config.get("imap_security") or "ssl")
    port = int(config.get("imap_port") or (993 if security == "ssl" else 143))
    try:
        if security == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
            )
        else:
            client = imaplib.IMAP4(host, port, timeout=TIMEOUT)
            if security == "starttls":
                client.starttls(ssl.create_default_context())
        password = str(inbox.get_secrets().get("imap_password") or "")
        client.login(str(config.get("imap_username") or ""), password)
    except imaplib.IMAP4.error as exc:
        raise ImapFailed(f"The IMAP server refused the sign-in: {_words(exc)}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise ImapFailed(f"Cannot connect to {host}:{port}: {exc}") from exc
    return client


def _words(exc: Exception) -> str:
    text = str(exc)
    return text[2:-1] if text.startswith(("b'", 'b"')) else text


def check_connection(inbox: Inbox) -> str:
    """Sign in and open the folder: a sentence for the admin, or raises ImapFailed."""
    client = _connect(inbox)
    try:
        count = _select(client, inbox)[1]
    finally:
        _logout(client)
    return f"Connected: {count} messages in {_folder(inbox)}."


def _folder(inbox: Inbox) -> str:
    return str((inbox.settings or {}).get("imap_folder") or "INBOX")


def _select(client: imaplib.IMAP4, inbox: Inbox) -> tuple[int, int]:
    """(UIDVALIDITY, message count) of the folder, opened read-only."""
    status, data = client.select(_quote(_folder(inbox)), readonly=True)
    if status != "OK":
        raise ImapFailed(f"Cannot open the folder {_folder(inbox)}: {data[0]!r}")
    _, validity = client.response("UIDVALIDITY")
    try:
        return int(validity[0]), int(data[0] or 0)
    except (TypeError, ValueError, IndexError) as exc:
        raise ImapFailed("The IMAP server did not report the folder's UIDVALIDITY") from exc


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _logout(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


def poll_inbox(inbox: Inbox) -> PollResult:
    """Fetch and store what arrived since the last poll. Raises ImapFailed (recorded).
    One poll per inbox at a time: a second poller (another process, "Check now") finds the
    state row locked and reports nothing new rather than fetching the same messages."""
    ImapState.objects.get_or_create(inbox=inbox)
    with transaction.atomic():
        state = ImapState.objects.select_for_update(skip_locked=True).filter(inbox=inbox).first()
        if state is None:
            return PollResult(0, ImapState.objects.get(inbox=inbox).last_uid)
        state.last_polled_at = timezone.now()
        failure = ""
        imported = 0
        try:
            imported = _poll(inbox, state)
        except ImapFailed as exc:
            failure = str(exc)
        except (imaplib.IMAP4.error, OSError) as exc:  # dropped mid-way: resume next time
            failure = f"The connection failed while reading: {_words(exc)}"
        # Recorded in the same transaction as what was stored before any failure.
        state.last_error = failure
        if not failure:
            state.last_success_at = timezone.now()
        state.save(update_fields=["last_polled_at", "last_error", "last_success_at"])
    if failure:
        raise ImapFailed(failure)
    return PollResult(imported, state.last_uid)


def _poll(inbox: Inbox, state: ImapState) -> int:
    client = _connect(inbox)
    try:
        validity, _ = _select(client, inbox)
        if state.uidvalidity != validity:
            # A new or rebuilt folder: every UID we knew is meaningless; read it all again
            # (messages already stored come back as duplicates of their Message-ID).
            state.uidvalidity, state.last_uid = validity, 0
            state.save(update_fields=["uidvalidity", "last_uid"])
        status, data = client.uid("SEARCH", f"UID {state.last_uid + 1}:*")
        if status != "OK":
            raise ImapFailed(f"The IMAP server refused the search: {data!r}")
        # "n:*" always matches the newest message, even when it is older than n.
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > state.last_uid)
        imported = 0
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            status, parts = client.uid("fetch", ",".join(map(str, batch)), "(UID BODY.PEEK[])")
            if status != "OK":
                raise ImapFailed(f"The IMAP server refused to send messages: {parts!r}")
            fetched = dict(_messages(parts))
            for uid in batch:
                raw = fetched.get(uid)
                if raw is None:
                    # Never step over a message: the next round asks for it again.
                    raise ImapFailed(f"The IMAP server did not send message UID {uid}.")
                with transaction.atomic():
                    store_inbound_email(
                        raw, via=InboundEmail.Via.IMAP, inbox=inbox, refuse_oversized=False
                    )
                    state.last_uid = max(state.last_uid, uid)
                    state.imported += 1
                    state.save(update_fields=["last_uid", "imported"])
                imported += 1
        return imported
    finally:
        _logout(client)


def _messages(parts: list[object]) -> list[tuple[int, bytes]]:
    """(UID, message) pairs from a FETCH answer. The UID may come before the message
    (inside the tuple imaplib makes) or after it (in the bytes that follow): servers may
    order the items as they like."""
    found = []
    for index, part in enumerate(parts):
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            match = _UID.search(part[0] if isinstance(part[0], bytes) else b"")
            following = parts[index + 1] if index + 1 < len(parts) else b""
            if match is None and isinstance(following, bytes):
                match = _UID.search(following)
            if match:
                found.append((int(match.group(1)), part[1]))
    return sorted(found)


def poll_due(interval: timedelta) -> int:
    """Poll every IMAP inbox not polled within `interval`. Returns messages imported."""
    total = 0
    now = timezone.now()
    for inbox in imap_inboxes():
        state = ImapState.objects.filter(inbox=inbox).first()
        if state and state.last_polled_at and now - state.last_polled_at < interval:
            continue
        try:
            total += poll_inbox(inbox).imported
        except ImapFailed as exc:
            logger.warning("IMAP polling of inbox %s failed: %s", inbox.pk, exc)
    return total


def poll_forever(seconds: float | None = None) -> None:
    """The polling loop of `manage.py poll_imap` and of the embedded shape's thread."""
    every = seconds or settings.IMAP_POLL_SECONDS
    while True:
        try:
            close_old_connections()
            poll_due(timedelta(seconds=every))
        except Exception:
            logger.exception("IMAP polling round failed")
        finally:
            close_old_connections()
        time.sleep(min(every, 5))
