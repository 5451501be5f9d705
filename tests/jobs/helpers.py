"""Running queued jobs in a test: the worker's claim and run, in this process, until the queue is empty. No
housekeeping: a test that wants the periodic jobs starts them (`schedule.start_due`)."""

from __future__ import annotations

from huanxin.jobs.worker import run_worker


def run_queued_jobs() -> None:
    run_worker(batch=True, housekeeping=False)
