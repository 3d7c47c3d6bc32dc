from __future__ import annotations

import contextlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.sources.email.imap import ImapFailed, imap_inboxes, poll_forever, poll_inbox


class Command(BaseCommand):
    help = (
        "Fetch new mail of the email inboxes that have IMAP settings: every IMAP_POLL_SECONDS "
        "(run it as a service at scale), or once with --once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--every", type=float, help="seconds between polls of an inbox")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["once"]:
            self.stdout.write("Polling IMAP inboxes (Ctrl+C stops).")
            with contextlib.suppress(KeyboardInterrupt):
                poll_forever(options["every"])
            return
        for inbox in imap_inboxes():
            try:
                result = poll_inbox(inbox)
                self.stdout.write(f"{inbox.name}: {result.imported} new")
            except ImapFailed as exc:
                self.stderr.write(f"{inbox.name}: {exc}")
