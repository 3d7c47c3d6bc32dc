"""The in-process task worker of the embedded shape.

The queue is the same durable database queue the scaled shape uses (django-tasks-db); here
one daemon thread of the web process drains it, so `make run` needs no second process.
At scale, set INBOX_IN_PROCESS_WORKER=false and run `manage.py db_worker` instead.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)
_started = threading.Event()


def start_in_process_worker(*, interval: float = 0.5) -> None:
    """Start the worker thread once per process. Safe to call more than once."""
    if _started.is_set():
        return
    _started.set()
    thread = threading.Thread(target=_run, args=(interval,), name="task-worker", daemon=True)
    thread.start()


def _run(interval: float) -> None:
    from django.db import close_old_connections
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["*"],
        interval=interval,
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
            # A database hiccup must not kill background work for the life of the server.
            logger.exception("in-process task worker crashed; restarting in 5s")
            close_old_connections()
            threading.Event().wait(5)
