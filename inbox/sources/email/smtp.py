"""The built-in SMTP server (aiosmtpd): `manage.py smtp_server`.

- RCPT TO an address no active email inbox has → 550 (before the message is sent);
- a message over INBOUND_EMAIL_MAX_BYTES → 552 (aiosmtpd enforces the size at DATA);
- more than SMTP_SENDER_RATE_PER_MINUTE messages from one sender → 451 (try later);
- otherwise the message is stored durably (file synced, row committed, processing queued)
  and only then answered 250: a crash after that loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class SenderRateLimit:
    """At most `per_minute` messages per sender address in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, sender: str) -> bool:
        now = time.monotonic()
        times = self.seen[sender.lower()]
        while times and now - times[0] > 60:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        if len(self.seen) > 10_000:  # forget quiet senders
            for key in [k for k, v in self.seen.items() if not v or now - v[-1] > 60]:
                del self.seen[key]
        return True


def _inbox_id_for(address: str) -> int | None:
    from inbox.sources.email.inbound import inbox_for_address

    close_old_connections()
    try:
        inbox = inbox_for_address(address)
        return inbox.pk if inbox else None
    finally:
        close_old_connections()  # back to the pool, as after an HTTP request


def _store(raw: bytes, sender: str, recipients: list[str], inbox_id: int) -> int:
    from inbox.models import InboundEmail, Inbox
    from inbox.sources.email.inbound import store_inbound_email

    close_old_connections()
    try:
        row = store_inbound_email(
            raw,
            via=InboundEmail.Via.SMTP,
            envelope_from=sender,
            envelope_to=recipients,
            inbox=Inbox.objects.get(pk=inbox_id),
        )
        return row.pk
    finally:
        close_old_connections()


class InboxHandler:
    """aiosmtpd handler: recipients checked at RCPT, messages stored at DATA."""

    def __init__(self, *, rate: SenderRateLimit | None = None) -> None:
        self.rate = rate or SenderRateLimit(settings.SMTP_SENDER_RATE_PER_MINUTE)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if address and not self.rate.allow(address):
            return "451 4.7.1 Too many messages from this sender; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        inbox_id = await sync_to_async(_inbox_id_for, thread_sensitive=False)(address)
        if inbox_id is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        inboxes = getattr(envelope, "parley_inboxes", {})
        inboxes.setdefault(inbox_id, []).append(address.lower())
        envelope.parley_inboxes = inboxes
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        stored = []
        try:
            # One copy per inbox addressed (two of our inboxes on one message: two tickets).
            for inbox_id, recipients in getattr(envelope, "parley_inboxes", {}).items():
                stored.append(
                    await sync_to_async(_store, thread_sensitive=False)(
                        raw, envelope.mail_from or "", recipients, inbox_id
                    )
                )
        except Exception as exc:
            from inbox.sources.email.inbound import EmailRefused

            if isinstance(exc, EmailRefused):
                return f"{exc.smtp_code} {exc.reason}"
            logger.exception("could not store an email from %s", envelope.mail_from)
            return "451 4.3.0 Cannot store the message now; try again later"
        return f"250 2.0.0 Stored as {', '.join(f'#{n}' for n in stored)}"


def smtp_protocol(handler: InboxHandler, *, hostname: str | None = None, tls: Any = None) -> Any:
    """One SMTP session (aiosmtpd's protocol object) with our limits."""
    from aiosmtpd.smtp import SMTP

    return SMTP(
        handler,
        data_size_limit=settings.INBOUND_EMAIL_MAX_BYTES,
        enable_SMTPUTF8=True,
        decode_data=False,
        hostname=hostname,
        tls_context=tls,
        require_starttls=False,
        ident="Parley SMTP",
    )


def serve(
    host: str, port: int, *, hostname: str | None = None, tls: Any = None, workers: int = 1
) -> None:
    """Run the server until interrupted; `workers` processes share the port (SO_REUSEPORT,
    the kernel spreads connections), since one Python process parses about a core's worth
    of SMTP."""
    import os
    import signal

    from django.db import connections

    connections.close_all()  # no connection crosses a fork
    parent = os.getpid()
    children: list[int] = []
    for _ in range(max(1, workers) - 1):
        pid = os.fork()
        if pid == 0:
            children = []
            break
        children.append(pid)
    handler = InboxHandler()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: smtp_protocol(handler, hostname=hostname, tls=tls),
            host=host,
            port=port,
            reuse_port=workers > 1,
        )
        stopped = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopped.set)
        logger.info("SMTP server listening on %s:%s (pid %s)", host, port, os.getpid())

        async def orphaned() -> None:  # a worker stops when the main process is gone
            while os.getpid() == parent or os.getppid() == parent:
                await asyncio.sleep(1)
            stopped.set()

        watchdog = asyncio.create_task(orphaned())
        async with server:
            await stopped.wait()
        watchdog.cancel()

    try:
        asyncio.run(main())
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
