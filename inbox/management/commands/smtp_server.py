from __future__ import annotations

import contextlib
import ssl
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inbox.sources.email.smtp import serve


class Command(BaseCommand):
    help = (
        "Receive email for the email inboxes over SMTP (docs/sources/email.md): unknown "
        "recipients are refused at RCPT, accepted mail is stored before the server answers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)
        parser.add_argument("--hostname", help="name in the greeting (default: this host's)")
        parser.add_argument("--tls-cert", help="certificate file, to offer STARTTLS")
        parser.add_argument("--tls-key", help="its private key")
        parser.add_argument(
            "--workers", type=int, default=1, help="processes sharing the port (one per core)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tls = None
        if options["tls_cert"]:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(options["tls_cert"], options["tls_key"])
        self.stdout.write(f"SMTP server on {options['host']}:{options['port']} (Ctrl+C stops it)")
        with contextlib.suppress(KeyboardInterrupt):
            serve(
                options["host"],
                options["port"],
                hostname=options["hostname"],
                tls=tls,
                workers=options["workers"],
            )
