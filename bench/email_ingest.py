"""Email ingestion: emails/s accepted by the SMTP server (`manage.py smtp_server`), emails/s
turned into messages by the worker (`manage.py db_worker`), and emails/s through the pipe
command (`manage.py inbound_email`, one process per email, as an MTA runs it); then the
robustness report over the test corpus (processed / failed with a reason / crashed).

    python bench/email_ingest.py            # 30 s of SMTP load, 400 emails processed
    python bench/email_ingest.py --quick    # 8 s, 120 emails

Mix: 90 % small emails (~2 KB, plain + HTML), 10 % of ~1 MB (a base64 attachment). The
clients are `smtplib` threads, each with its own connection reused for its messages.
Baseline, same run: the same clients against a bare aiosmtpd server that accepts and
discards (the ceiling of the SMTP conversation itself). Target (issue): ≥ 100 emails/s via
SMTP on this machine with PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

TARGET = 100.0
ADDRESS = "support@bench.example"


def make_email(n: int, *, large: bool) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n % 500} <customer{n % 500}@example.net>"
    message["To"] = ADDRESS
    message["Subject"] = f"Order {100000 + n}: where is it?"
    message["Message-ID"] = f"<bench-{os.getpid()}-{n}-{time.monotonic_ns()}@example.net>"
    text = (
        f"Hello, my order {100000 + n} has not arrived yet. The tracking page says the label "
        "was created a week ago. Could you check with the carrier?\n\nThanks\n" * 8
    )
    message.set_content(text)
    message.add_alternative(f"<p>{text.replace(chr(10), '<br>')}</p>", subtype="html")
    if large:
        message.add_attachment(os.urandom(750_000), maintype="application", subtype="pdf",
                               filename="invoice.pdf")  # fmt: skip
    return message.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire


class Load:
    """Closed-loop SMTP clients for `seconds`; counts accepted messages."""

    def __init__(self, port: int, threads: int, seconds: float) -> None:
        self.port, self.threads, self.seconds = port, threads, seconds
        self.accepted = 0
        self.errors: list[str] = []
        self.bytes = 0
        self.lock = threading.Lock()
        self.small = [make_email(i, large=False) for i in range(50)]
        self.large = [make_email(i, large=True) for i in range(3)]

    def _work(self, index: int) -> None:
        end = time.monotonic() + self.seconds
        n = index
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        try:
            while time.monotonic() < end:
                raw = self.large[n % 3] if n % 10 == 0 else self.small[n % 50]
                # A fresh Message-ID each time, so the worker stores every one.
                raw = raw.replace(b"<bench-", f"<b{index}x{n}-".encode(), 1)
                try:
                    client.sendmail(f"customer{n % 500}@example.net", [ADDRESS], raw)
                    with self.lock:
                        self.accepted += 1
                        self.bytes += len(raw)
                except smtplib.SMTPException as exc:
                    self.errors.append(repr(exc)[:120])
                n += self.threads
        finally:
            client.quit()

    def run(self) -> float:
        workers = [threading.Thread(target=self._work, args=(i,)) for i in range(self.threads)]
        start = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return self.accepted / (time.monotonic() - start)


def bare_server(port: int) -> Any:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    controller = Controller(Discard(), hostname="127.0.0.1", port=port, data_size_limit=30_000_000)
    controller.start()
    return controller


def seed(db_url: str) -> None:
    from accounts.models import User
    from accounts.origin import SYSTEM
    from inbox.actions import create_inbox

    admin = User.objects.create_user(
        "bench-admin@example.com", "x-password-1", name="Bench Admin", role="admin"
    )
    create_inbox(name="Bench mail", kind="email", actor=admin, origin=SYSTEM,
                 settings={"address": ADDRESS})  # fmt: skip


def count(status: str | None = None) -> int:
    from inbox.models import InboundEmail

    rows = InboundEmail.objects.all()
    return rows.filter(status=status).count() if status else rows.count()


def robustness() -> None:
    from inbox.models import InboundEmail, Inbox
    from inbox.sources.email.inbound import process_inbound_email, store_inbound_email

    inbox = Inbox.objects.get(kind="email")  # the corpus is addressed to other domains
    corpus = sorted((harness.ROOT / "tests/sources/email_corpus").glob("*.eml"))
    outcome: dict[str, list[str]] = {"processed": [], "failed": [], "crashed": []}
    for path in corpus:
        try:
            row = store_inbound_email(path.read_bytes(), via="pipe", inbox=inbox)
            row = process_inbound_email(InboundEmail.objects.get(pk=row.pk))
            kind = "failed" if row.status == "failed" else "processed"
            outcome[kind].append(f"{path.name}" + (f" ({row.error})" if row.error else ""))
        except Exception as exc:
            outcome["crashed"].append(f"{path.name}: {exc!r}")
    print(
        f"\nrobustness over {len(corpus)} corpus messages: processed {len(outcome['processed'])}, "
        f"failed with a reason {len(outcome['failed'])}, crashed {len(outcome['crashed'])}"
    )
    for kind in ("failed", "crashed"):
        for line in outcome[kind]:
            print(f"  {kind}: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--smtp-workers", type=int, default=2, help="smtp_server --workers")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 30.0
    pipe_count = 10 if args.quick else 30
    env = harness.services_env()
    media = tempfile.mkdtemp(prefix="parley-bench-media-")
    os.environ["MEDIA_ROOT"] = media  # raw emails and attachments stay out of var/
    started = time.monotonic()
    print(
        f"email ingest — {harness.run_stamp()} — {harness.machine()}; "
        f"background load {harness.background_load():.0f} %"
    )
    with harness.bench_database(env["DATABASE_URL"], "bench_email") as db_url:
        harness.django_setup(db_url, None)
        seed(db_url)
        from django.db import connections

        connections.close_all()

        port = harness.free_port()
        controller = bare_server(port)
        try:
            bare = Load(port, args.threads, seconds)
            bare_rate = bare.run()
        finally:
            controller.stop()
        print(f"baseline: bare aiosmtpd (accept and discard)   {bare_rate:7.1f} emails/s")

        server_env = dict(os.environ, DATABASE_URL=db_url, **harness.server_env_overrides())
        server_env.pop("REDIS_URL", None)
        port = harness.free_port()
        argv = [sys.executable, "manage.py", "smtp_server", "--port", str(port)]
        argv += ["--workers", str(args.smtp_workers)]
        with harness.Server(argv, port, server_env, Path(f"/tmp/parley-smtp-{port}.log")) as smtp:
            smtp.wait_port()
            cpu = harness.CpuWindow({"smtp_server": smtp.pid, "bench": os.getpid()})  # (parent)
            load = Load(port, args.threads, seconds)
            rate = load.run()
            usage = cpu.report()
        mib = load.bytes / seconds / 1024 / 1024
        print(
            f"SMTP server: accepted and stored durably     {rate:7.1f} emails/s "
            f"({mib:.1f} MiB/s; errors {len(load.errors)} {load.errors[:2]}); "
            f"{args.smtp_workers} server process(es); CPU % of a core: first server process "
            f"{usage['smtp_server']:.0f}, machine {usage['machine']:.0f} % of 2"
        )
        print(f"ratio to bare: {rate / max(bare_rate, 0.001):.2f}")
        print(
            f"target ≥ {TARGET:g} emails/s via SMTP: {'met' if rate >= TARGET else 'NOT met'} "
            f"({rate:.0f}/s)"
        )

        # The worker turns the backlog into messages.
        pending = count("pending")
        worker = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
        t = time.monotonic()
        subprocess.run(worker, env=server_env, cwd=harness.ROOT, check=True, capture_output=True)
        spent = time.monotonic() - t
        done = pending - count("pending")
        print(
            f"worker (1 db_worker process): {done} emails processed in {spent:.1f} s = "
            f"{done / spent:.1f} emails/s; failed {count('failed')}"
        )

        # The pipe: a Python process per email, as an MTA's pipe transport runs it.
        raw = make_email(10**6, large=False)
        t = time.monotonic()
        for i in range(pipe_count):
            subprocess.run(
                [sys.executable, "manage.py", "inbound_email"],
                input=raw.replace(b"<bench-", f"<pipe{i}-".encode(), 1),
                env=server_env,
                cwd=harness.ROOT,
                check=True,
                capture_output=True,
            )
        spent = time.monotonic() - t
        print(f"pipe (manage.py inbound_email per email): {pipe_count / spent:.1f} emails/s")

        robustness()
        connections.close_all()
    shutil.rmtree(media, ignore_errors=True)
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
