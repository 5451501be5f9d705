"""`huanxin worker`: the django_tasks_db worker loop, plus the housekeeping every worker does beside it.

Every HOUSEKEEPING seconds, on a thread with its own connection: say this worker is alive (`WorkerBeat`, read by
`/readyz`), queue again the jobs of workers that died (`services.recover_stale`), and start the periodic jobs that
are due (`schedule.start_due`). Several workers doing the same is safe: each step is a conditional write."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from django.utils import timezone

log = logging.getLogger(__name__)

HOUSEKEEPING = 5.0  # seconds
OUTAGE_PAUSE = 2.0  # seconds between reconnection attempts while the database is away


def identity() -> str:
    """This process, as the queue and the jobs name it: host and pid (unique across a pool of machines)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def beat() -> None:
    from huanxin.jobs.models import WorkerBeat

    now = timezone.now()
    WorkerBeat.objects.update_or_create(
        worker_id=identity(),
        defaults={"hostname": socket.gethostname()[:100], "pid": os.getpid(), "seen_at": now},
        create_defaults={
            "hostname": socket.gethostname()[:100],
            "pid": os.getpid(),
            "seen_at": now,
            "started_at": now,
        },
    )


def housekeeping_once() -> None:
    from huanxin.jobs import schedule, services

    beat()
    services.recover_stale()
    schedule.start_due()


class Housekeeper(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="jobs-housekeeping", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while True:
                try:
                    close_old_connections()
                    housekeeping_once()
                except Exception:  # the database away for a moment: the next round tries again
                    log.exception("worker housekeeping failed")
                    connection.close()
                if self.stopped.wait(HOUSEKEEPING):
                    return
        finally:
            connection.close()


def run_ready(worker: Any) -> int:
    """Run the tasks that are ready now, one after another, and return how many: `huanxin worker --batch`, and
    tests, which run jobs in their own transaction. django_tasks_db's loop closes the connection between tasks
    (`close_old_connections`), which would end a test's transaction; this is the same claim and run without it."""
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    done = 0
    while True:
        ready = DBTaskResult.objects.ready().filter(backend_name="default", queue_name__in=worker.queue_names)
        with exclusive_transaction(ready.db):
            task_result = ready.get_locked()
            if task_result is None:
                return done
            task_result.claim(worker.worker_id)
        worker.run_task(task_result)
        done += 1


def run_worker(
    *, batch: bool = False, interval: float = 0.5, queues: list[str] | None = None, housekeeping: bool = True
) -> None:
    """Run queued jobs until stopped (SIGTERM finishes the job in hand first), or, with `batch`, until none is left
    (after one round of housekeeping, unless told not to: tests start periodic jobs only when they mean to)."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=queues or ["default"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=not batch,
        max_tasks=None,
        worker_id=identity(),
        excluded_queue_names=[],
    )
    if batch:
        if housekeeping:
            housekeeping_once()
        run_ready(worker)
        return
    keeper = Housekeeper()
    keeper.start()
    worker.configure_signals()
    try:
        while worker.running:
            try:
                worker.run()
            except (OperationalError, InterfaceError):
                # The database went away (a restart, a failover): wait and reconnect rather than exit. A job that
                # was running is left with a stopped heartbeat and is queued again once the database is back.
                log.warning("database unreachable; the worker reconnects in %s s", OUTAGE_PAUSE)
                connections.close_all()
                time.sleep(OUTAGE_PAUSE)
    finally:
        keeper.stopped.set()
