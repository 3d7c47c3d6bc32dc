"""The in-process task worker of the embedded shape.

The queue is the same durable database queue the scaled shape uses (django-tasks-db); here
a daemon thread of the web process drains it, so `make run` needs no second process.
At scale, set INBOX_IN_PROCESS_WORKER=false and run `manage.py db_worker` instead.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)
_started: set[str] = set()
_lock = threading.Lock()


def _start(name: str, target: object) -> None:
    with _lock:
        if name in _started:
            return
        _started.add(name)
    threading.Thread(target=target, name=name, daemon=True).start()  # type: ignore[arg-type]


def start_in_process_worker() -> None:
    """Start the task worker thread (and the IMAP poller) once per process."""
    _start("task-worker", _run_tasks)
    _start("imap-poller", _poll_imap)


def _poll_imap() -> None:
    from inbox.sources.email.imap import poll_forever

    poll_forever()


def _run_tasks() -> None:
    from django.db import close_old_connections
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["*"],
        interval=0.5,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"inproc-{get_random_string(8)}",
        excluded_queue_names=[],
    )
    logger.info("in-process task worker started")
    while True:
        try:
            worker.run()
            return
        except Exception:
            # A database hiccup must not stop background work for the life of the server.
            logger.exception("in-process task worker crashed; restarting in 5s")
            close_old_connections()
            time.sleep(5)
