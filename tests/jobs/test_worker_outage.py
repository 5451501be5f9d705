"""A worker outlives a database outage: PostgreSQL unreachable for three seconds (a proxy cut under it), the worker
keeps running, reconnects by itself and runs the next job. Before, django_tasks_db's loop raised and the worker
process exited."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from huanxin.jobs import services
from huanxin.jobs.models import Job
from tests import processes
from tests.conftest import postgres_only
from tests.core.test_db_outage import Proxy

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def _done(job: Job, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.ended:
            return job.state == Job.State.DONE
        time.sleep(0.1)
    return False


def test_a_worker_reconnects_after_the_database_comes_back(tmp_path) -> None:
    upstream = processes.server()
    proxy = Proxy((upstream["host"], upstream["port"]))
    log = tmp_path / "worker.log"
    worker = processes.start(
        ["worker", "--interval", "0.1"],
        log,
        DATABASE_URL=processes.url(connection.settings_dict["NAME"], host="127.0.0.1", port=proxy.port),
    )
    try:
        first = services.start(actor=None, kind="audit_verify", title="断开之前")
        assert _done(first, 30), log.read_text(errors="replace")[-3000:]
        proxy.cut()
        time.sleep(3.0)
        assert worker.poll() is None, "the worker exited while the database was away"
        proxy.restore()
        second = services.start(actor=None, kind="audit_verify", title="恢复之后")
        assert _done(second, 30), log.read_text(errors="replace")[-3000:]
        assert worker.poll() is None
    finally:
        proxy.cut()
        processes.stop(worker)
    assert "database unreachable; the worker reconnects" in log.read_text(errors="replace")
