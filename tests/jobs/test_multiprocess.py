"""Two app servers and two workers on one PostgreSQL database, as in production's two-machine layout
(docs/operations.md): 20 jobs queued, each run exactly once — done at the first attempt, one `job.done` audit event
each — and both app servers ready, each seeing the workers."""

from __future__ import annotations

import json
import time
from collections import Counter

import psycopg

from tests import processes
from tests.conftest import postgres_only

JOBS = 20
QUEUE = f"""
from huanxin.jobs import services
for n in range({JOBS}):
    services.start(actor=None, kind="audit_verify", title=f"multiprocess-{{n}}")
"""


def _rows(name: str, sql: str) -> list[tuple]:
    with psycopg.connect(dbname=name, **processes.server()) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


@postgres_only
def test_two_app_servers_and_two_workers_run_each_job_exactly_once(tmp_path) -> None:
    started = []
    with processes.migrated_database("hx_multiprocess") as name:
        env = {"DATABASE_URL": processes.url(name), "HUANXIN_LOG_FORMAT": "json"}
        try:
            apps = []
            for n in range(2):
                port = processes.free_port()
                log = tmp_path / f"app{n}.log"
                app = processes.start(["serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"], log, **env)
                started.append(app)
                apps.append((f"http://127.0.0.1:{port}", app, log))
            for n in range(2):
                started.append(processes.start(["worker", "--interval", "0.1"], tmp_path / f"worker{n}.log", **env))
            for base, app, log in apps:
                processes.wait_for(base + "/healthz", process=app, log=log)

            queued = processes.start(["shell", "-c", QUEUE], tmp_path / "queue.log", **env)
            assert queued.wait(timeout=60) == 0, (tmp_path / "queue.log").read_text()

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = _rows(name, "SELECT state FROM jobs_job WHERE title LIKE 'multiprocess-%'")
                if len(states) == JOBS and all(state in ("done", "failed") for (state,) in states):
                    break
                time.sleep(0.3)
            jobs = _rows(name, "SELECT id, state, attempts, worker_id FROM jobs_job WHERE title LIKE 'multiprocess-%'")
            assert len(jobs) == JOBS
            assert all(state == "done" and attempts == 1 for _, state, attempts, _ in jobs), jobs

            done_events = Counter(
                int(object_id)
                for (object_id,) in _rows(
                    name, "SELECT object_id FROM core_auditevent WHERE object_type = 'jobs.job' AND action = 'job.done'"
                )
            )
            assert {pk: done_events[pk] for pk, *_ in jobs} == {pk: 1 for pk, *_ in jobs}

            # which worker ran what: both usually take some, but that depends on timing and is not asserted
            by_worker = Counter(worker for *_, worker in jobs)
            assert 1 <= len(by_worker) <= 2 and all(by_worker)
            print(f"jobs per worker: {dict(by_worker)}")

            for base, _, _ in apps:
                status, _, body = processes.get(base + "/readyz")
                answer = json.loads(body)
                assert status == 200, answer
                assert answer["checks"]["worker"]["seen"] == 2  # each app server sees both workers
                assert answer["checks"]["migrations"] == {"ok": True, "pending": 0}
        finally:
            processes.stop(*started)
