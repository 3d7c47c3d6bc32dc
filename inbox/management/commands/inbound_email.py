"""`manage.py inbound_email [--inbox ADDRESS] < message.eml`: hand one email to Parley from
a mail server (Postfix `pipe`, Exim `pipe` transport, procmail…). Exit status 0 once the
email is stored; otherwise 65 (EX_DATAERR: the email is refused, e.g. too large) or 75
(EX_TEMPFAIL: try again later, e.g. the database is down), with a one-line reason on stderr,
which is what MTAs expect from a delivery command."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from inbox.models import InboundEmail
from inbox.sources.email.inbound import EmailRefused, inbox_for_address, store_inbound_email

EX_DATAERR, EX_TEMPFAIL = 65, 75


class Command(BaseCommand):
    help = "Store one email read from standard input (for a mail server's pipe delivery)."
    # Run once per email by the mail server: skip the system checks (they import every URL
    # and view of the project, most of this command's start-up time).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inbox", help="the inbox's address (default: the recipients')")
        parser.add_argument("--sender", default="", help="envelope sender (MTA: ${sender})")
        parser.add_argument(
            "--recipient", action="append", default=[], help="envelope recipient (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read()
        inbox = None
        if options["inbox"]:
            inbox = inbox_for_address(options["inbox"])
            if inbox is None:
                raise CommandError(
                    f"No active email inbox has the address {options['inbox']}.",
                    returncode=EX_DATAERR,
                )
        try:
            row = store_inbound_email(
                raw,
                via=InboundEmail.Via.PIPE,
                envelope_from=options["sender"],
                envelope_to=options["recipient"],
                inbox=inbox,
            )
        except EmailRefused as exc:
            raise CommandError(exc.reason, returncode=EX_DATAERR) from exc
        except (DatabaseError, OSError) as exc:
            raise CommandError(
                f"Cannot store the email now: {exc}", returncode=EX_TEMPFAIL
            ) from exc
        if row.status == InboundEmail.Status.FAILED:
            # Kept (an admin can reprocess it once the address exists), but tell the MTA.
            raise CommandError(
                f"Stored as #{row.pk} but not delivered: {row.error}", returncode=EX_DATAERR
            )
        self.stdout.write(f"Stored email #{row.pk}.")
