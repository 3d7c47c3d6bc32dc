from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.models import InboundEmail
from inbox.sources.email.inbound import needs_attention, reprocess_inbound_email


class Command(BaseCommand):
    help = "Process stored emails again: the given ids, or every failed one with --failed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument(
            "--failed",
            action="store_true",
            help="every failed email, and those still waiting 10 minutes after they arrived",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = InboundEmail.objects.select_related("inbox").order_by("id")
        if options["failed"]:
            rows = rows.filter(pk__in=needs_attention().values("pk"))
        elif options["ids"]:
            rows = rows.filter(pk__in=options["ids"])
        else:
            self.stderr.write("Name email ids, or use --failed.")
            return
        for row in rows:
            row = reprocess_inbound_email(row)
            reason = f": {row.error}" if row.error else ""
            self.stdout.write(f"#{row.pk} {row.status}{reason}")
