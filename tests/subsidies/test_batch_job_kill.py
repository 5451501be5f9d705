"""kill -9 of a worker half-way through a long batch file, then another worker: every row is answered once,
nothing is written twice, nothing is lost. Real processes on PostgreSQL (`huanxin worker`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from huanxin.jobs import services
from huanxin.jobs.models import Job
from huanxin.subsidies import rules
from huanxin.subsidies.models import Application
from tests.conftest import postgres_only
from tests.subsidies.conftest import make_programme
from tests.subsidies.test_batch import merchant, rows  # noqa: F401 - the merchant fixture
from tests.subsidies.test_batch_job import csv_of

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

ROWS = 30_000
HUANXIN = Path(sys.executable).with_name("huanxin")


def _worker(stale_seconds: int) -> subprocess.Popen[bytes]:
    settings = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        "HUANXIN_JOB_STALE_SECONDS": str(stale_seconds),
    }
    return subprocess.Popen([str(HUANXIN), "worker", "--interval", "0.1"], env=env, stdout=subprocess.DEVNULL)


def _wait(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_half_way_leaves_nothing_doubled_and_nothing_lost(merchant, boss) -> None:  # noqa: F811
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=10**12)
    data = rows(programme.code, ROWS)
    data[100][3] = "130722199001011234"  # one bad row: refused once, in both runs
    job = services.start(
        actor=merchant,
        kind="subsidy_batch",
        title="补贴批量申请：sales.csv",
        params={"filename": "sales.csv"},
        upload=services.Upload("sales.csv", "text/csv", csv_of(data)),
    )
    first = _worker(stale_seconds=600)
    try:
        _wait(lambda: Job.objects.get(pk=job.pk).rows_done > 0, 120, "the first chunks")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    killed = Job.objects.get(pk=job.pk)
    assert killed.state == "running" and 0 < killed.rows_done < ROWS, "the job ended before the kill: use more rows"
    written = Application.objects.count()
    assert 0 < written < ROWS - 1

    second = _worker(stale_seconds=2)  # presumes the first dead two seconds after its last heartbeat
    try:
        _wait(lambda: Job.objects.get(pk=job.pk).state in ("done", "failed"), 180, "the job to finish")
    finally:
        second.terminate()
        second.wait(30)
    job.refresh_from_db()
    assert (job.state, job.attempts, job.rows_done) == ("done", 2, ROWS)
    _, content = services.read_file(job, "result")
    notes = [line.rsplit(",", 1)[-1] for line in content.decode("utf-8-sig").splitlines()[1:]]
    assert len(notes) == ROWS
    accepted = sum(n.startswith("已受理，补贴") for n in notes)  # answered once, as this batch's: none "此前已提交"
    # the made-up residents repeat now and then (a second TV for one person is refused by the limit): a few refusals
    assert ROWS - 10 < accepted < ROWS and "居民身份证号码无效" in notes[100]
    assert Application.objects.count() == accepted  # nothing written twice, nothing lost
    assert Application.objects.values("idempotency_key").distinct().count() == accepted
    call_command("ledger", "verify", "--programme", programme.code)  # the money agrees with the applications
