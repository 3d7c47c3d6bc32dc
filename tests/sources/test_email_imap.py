"""IMAP polling against a real IMAP server: Debian's dovecot, started on loopback with a
configuration of its own (a passwd file, Maildir under a temporary directory)."""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from accounts.origin import SYSTEM
from inbox import actions
from inbox.models import ImapState, InboundEmail, Inbox, Message
from inbox.sources.email.imap import ImapFailed, check_connection, poll_due, poll_inbox
from tests.factories import AdminFactory
from tests.servers import free_port

pytestmark = pytest.mark.django_db

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "support@example.com", "imap-secret-1"


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        (root / "home").mkdir()
        shutil.chown(root / "home", "nobody", "nogroup")
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (root / "dovecot.conf").write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                self.client().logout()
                break
            except OSError:
                assert time.monotonic() < deadline, (root / "dovecot.log").read_text()
                time.sleep(0.1)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def deliver(self, *raws: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for raw in raws:
                client.append(folder, None, None, raw)
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT) or os.geteuid() != 0:
        pytest.skip("needs Debian's dovecot-imapd and root (make test installs it)")
    # Not under pytest's temporary directory: dovecot's unprivileged processes must be able
    # to reach the passwd file and the mail folders.
    root = Path(tempfile.mkdtemp(prefix="parley-dovecot-"))
    os.chmod(root, 0o755)
    server = Dovecot(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def mail(n: int, **extra: str) -> bytes:
    headers = {
        "From": f"Customer {n} <customer{n}@example.net>",
        "To": USER,
        "Subject": f"Question {n}",
        "Message-ID": f"<imap-{n}@example.net>",
        **extra,
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{head}\r\nHello, this is message {n}.\r\n".encode()


@pytest.fixture
def inbox(dovecot: Dovecot) -> Inbox:
    return actions.create_inbox(
        name="Support",
        kind="email",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={
            "address": USER,
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_security": "none",
            "imap_username": USER,
        },
        secrets={"imap_password": PASSWORD},
    )


def test_new_mail_is_imported_once_and_polling_resumes_where_it_stopped(
    inbox: Inbox, dovecot: Dovecot, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dovecot.deliver(mail(1), mail(2))
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_inbox(inbox).imported == 2
    run_tasks()
    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "Hello, this is message 1.",
        "Hello, this is message 2.",
    ]
    assert poll_inbox(inbox).imported == 0  # nothing new: nothing fetched again

    dovecot.deliver(mail(3))  # arrived while we were away
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_inbox(inbox).imported == 1
    run_tasks()
    state = ImapState.objects.get(inbox=inbox)
    assert (state.last_uid, state.imported, state.last_error) == (3, 3, "")
    assert Message.objects.count() == 3
    assert set(InboundEmail.objects.values_list("via", flat=True)) == {"imap"}


def test_a_rebuilt_mailbox_is_read_again_without_duplicates(
    inbox: Inbox, dovecot: Dovecot, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dovecot.deliver(mail(1))
    with django_capture_on_commit_callbacks(execute=True):
        poll_inbox(inbox)
    run_tasks()
    ImapState.objects.filter(inbox=inbox).update(uidvalidity=1)  # as if the folder changed
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_inbox(inbox).imported == 1
    run_tasks()
    assert Message.objects.count() == 1
    assert list(InboundEmail.objects.order_by("id").values_list("status", flat=True)) == [
        "processed",
        "duplicate",
    ]


def test_a_wrong_password_is_shown_not_silent(inbox: Inbox, dovecot: Dovecot) -> None:
    inbox.set_secrets({"imap_password": "wrong"})
    inbox.save()
    with pytest.raises(ImapFailed, match="refused the sign-in"):
        poll_inbox(inbox)
    state = ImapState.objects.get(inbox=inbox)
    assert "refused the sign-in" in state.last_error and state.last_polled_at is not None
    with pytest.raises(ImapFailed):
        check_connection(inbox)


def test_an_unreachable_server_is_recorded_and_the_next_round_recovers(
    inbox: Inbox, dovecot: Dovecot, django_capture_on_commit_callbacks: Any
) -> None:
    port = inbox.settings["imap_port"]
    inbox.settings = {**inbox.settings, "imap_port": free_port()}
    inbox.save()
    poll_due(interval=__import__("datetime").timedelta(0))  # logs, does not raise
    assert "Cannot connect" in ImapState.objects.get(inbox=inbox).last_error

    inbox.settings = {**inbox.settings, "imap_port": port}
    inbox.save()
    dovecot.deliver(mail(7))
    assert check_connection(inbox) == "Connected: 1 messages in INBOX."
    with django_capture_on_commit_callbacks(execute=True):
        call_command("poll_imap", "--once")
    state = ImapState.objects.get(inbox=inbox)
    assert state.last_error == "" and state.imported == 1


def test_admins_see_the_imap_state_and_can_check_now(
    inbox: Inbox, dovecot: Dovecot, admin_web: Any
) -> None:
    inbox.set_secrets({"imap_password": "wrong"})
    inbox.save()
    response = admin_web.post(f"/settings/inboxes/{inbox.pk}/check-mail/", follow=True)
    page = response.content.decode()
    assert "Support: The IMAP server refused the sign-in" in page  # the flash message
    assert "refused the sign-in" in admin_web.get("/settings/inboxes/").content.decode()

    inbox.set_secrets({"imap_password": PASSWORD})
    inbox.save()
    dovecot.deliver(mail(1), mail(2))
    response = admin_web.post(f"/settings/inboxes/{inbox.pk}/check-mail/", follow=True)
    assert "Support: 2 new email(s)." in response.content.decode()
    assert "checked 0\xa0minutes ago" in admin_web.get("/settings/inboxes/").content.decode()


def test_fetch_answers_are_read_whatever_the_order_of_their_items() -> None:
    from inbox.sources.email.imap import _messages

    answer = [(b"1 (BODY[] {5}", b"hello"), b" UID 7)", (b"2 (UID 9 BODY[] {3}", b"abc"), b")"]
    assert _messages(answer) == [(7, b"hello"), (9, b"abc")]
