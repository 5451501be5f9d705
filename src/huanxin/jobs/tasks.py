"""The one task the queue holds: run a job. Everything a person sees is on the `Job`; the task only names it."""

from __future__ import annotations

from django.tasks import task

from huanxin.jobs import services, worker


@task()
def run_job(job_id: int) -> str:
    return services.run(job_id, worker.identity())
