"""Running queued jobs in a test: the real django_tasks_db worker loop, in this process, until the queue is empty."""

from __future__ import annotations

from huanxin.jobs.worker import run_worker


def run_queued_jobs() -> None:
    run_worker(batch=True)
