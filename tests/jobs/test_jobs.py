"""The job lifecycle on the real queue: start, claim once, progress, finish, result; recovery of a dead worker's
job; periodic runs started once per slot."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.jobs import kinds, schedule, services
from huanxin.jobs.models import Job, JobFile, ScheduledRun
from tests.factories import user_with_role
from tests.jobs.helpers import run_queued_jobs

pytestmark = pytest.mark.django_db


def _echo(ctx: services.Context) -> kinds.Finished:
    data = ctx.input()
    lines = data.decode().splitlines()
    for i, _ in enumerate(lines, 1):
        ctx.progress(i, len(lines))
    return kinds.Finished(f"共 {len(lines)} 行", result=kinds.Output(data.upper(), "text/plain", "结果.txt"))


def _broken(ctx: services.Context) -> kinds.Finished:
    raise RuntimeError("身份证 130702199001011234")  # an unexpected error: never shown, the owner gets a plain line


kinds.register(kinds.Kind("test_echo", "测试回显", _echo))
kinds.register(kinds.Kind("test_broken", "测试出错", _broken))


def _start(owner, kind="test_echo", content=b"a\nb\nc"):
    return services.start(
        actor=owner, kind=kind, title="测试任务", upload=services.Upload("in.txt", "text/plain", content)
    )


def test_a_job_runs_once_and_keeps_its_result_sealed() -> None:
    owner = user_with_role(Role.MERCHANT)
    job = _start(owner)
    assert job.state == Job.State.QUEUED and DBTaskResult.objects.count() == 1
    sealed = JobFile.objects.get(job=job, role="input").sealed
    assert b"a\nb\nc" not in bytes(sealed)  # the upload is encrypted at rest
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total, job.message, job.attempts) == ("done", 3, 3, "共 3 行", 1)
    file, content = services.read_file(job, "result")
    assert content == b"A\nB\nC" and file.name == "结果.txt"
    assert services.run(job.pk, "another") == "skipped"  # a second delivery of the same task runs nothing
    events = AuditEvent.objects.filter(object_id=str(job.pk), object_type="jobs.job")
    assert set(events.values_list("action", flat=True)) == {"job.start", "job.done"}


def test_an_unexpected_error_fails_the_job_without_showing_it() -> None:
    job = _start(user_with_role(Role.MERCHANT), kind="test_broken")
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "failed" and job.message == services.FAILED_UNEXPECTEDLY and "1307" not in job.message


def test_a_dead_workers_job_is_queued_again_and_finished_once() -> None:
    job = _start(user_with_role(Role.MERCHANT))
    assert services.claim(job.pk, "dead-worker") is not None  # claimed, then the worker was killed
    assert services.recover_stale() == []  # its heartbeat is fresh: not yet presumed dead
    later = timezone.now() + services.stale_after() + dt.timedelta(seconds=1)
    assert services.recover_stale(now=later) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("done", 2)
    # the dead worker coming back cannot overwrite the run that replaced it
    assert services.finish(job, "dead-worker", "failed", kinds.Finished("x")) == "skipped"
    assert JobFile.objects.filter(job=job, role="result").count() == 1


def test_a_job_that_keeps_killing_its_worker_is_failed_not_retried_forever() -> None:
    job = _start(user_with_role(Role.MERCHANT))
    Job.objects.filter(pk=job.pk).update(attempts=services.MAX_ATTEMPTS - 1)
    services.claim(job.pk, "w")
    services.recover_stale(now=timezone.now() + services.stale_after() * 2)
    job.refresh_from_db()
    assert job.state == "failed" and "停止重试" in job.message


def test_periodic_jobs_start_once_per_slot() -> None:
    now = timezone.now()
    first = schedule.start_due(now)
    assert "audit_verify" in first
    assert schedule.start_due(now) == []  # the same day again: nothing more
    tomorrow = schedule.start_due(now + dt.timedelta(days=1))
    assert "audit_verify" in tomorrow
    assert ScheduledRun.objects.filter(name="audit_verify").count() == 2
    run_queued_jobs()
    assert set(Job.objects.filter(kind="audit_verify").values_list("state", flat=True)) == {"done"}


def test_only_the_owner_sees_a_job(client) -> None:
    owner, other = user_with_role(Role.MERCHANT), user_with_role(Role.MERCHANT)
    job = _start(owner)
    run_queued_jobs()
    client.force_login(other)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/result/").status_code == 404
    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "共 3 行" in page and "下载结果文件" in page
    assert client.get(f"/jobs/{job.pk}/result/").content == b"A\nB\nC"
    assert Job.objects.get(pk=job.pk).seen_at is not None  # opened after it ended: off the 待办


def test_a_finished_link_stays_on_this_site() -> None:
    owner = user_with_role(Role.MERCHANT)
    for given, kept in [("/plans/imports/3/", "/plans/imports/3/"), ("https://evil.example/", ""), ("//evil", "")]:
        job = _start(owner)
        services.claim(job.pk, "w")
        services.finish(job, "w", "done", kinds.Finished("好", link=(given, "审阅草稿")))
        job.refresh_from_db()
        assert job.link_url == kept
