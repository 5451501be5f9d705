"""`huanxin serve` (core/management/commands/serve.py): gunicorn with its timeouts and worker count written down,
started as the operator starts it, answering /healthz, reloading its workers on SIGHUP and stopping on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import time

from huanxin.core.management.commands import serve
from tests import processes


def test_the_options_are_explicit() -> None:
    options = serve.options(bind=["127.0.0.1:9"], workers=3, threads=2, timeout=60)
    assert options["timeout"] == 60 and options["graceful_timeout"] == 30 and options["keepalive"] == 5
    assert options["worker_class"] == "gthread" and options["workers"] == 3
    assert options["accesslog"] is None  # the app writes its own access line, without paths or query strings
    assert options["logconfig_dict"]["loggers"]["gunicorn.error"]["handlers"] == ["console"]
    cores = len(os.sched_getaffinity(0))
    assert serve.default_workers() == 2 * cores + 1


def test_serve_answers_reloads_on_sighup_and_stops_on_sigterm(tmp_path) -> None:
    port = processes.free_port()
    log = tmp_path / "serve.log"
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # from a run before: emptied at start
    process = processes.start(
        ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
        log,
        HUANXIN_SQLITE_PATH=str(tmp_path / "db.sqlite3"),  # /healthz touches no database
        HUANXIN_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
    )
    try:
        processes.wait_for(f"http://127.0.0.1:{port}/healthz", process=process, log=log)
        status, headers, body = processes.get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert headers["Server"] == "gunicorn"
        assert not (multiproc / "counter_999999.db").exists()

        os.killpg(process.pid, 0)
        os.kill(process.pid, signal.SIGHUP)  # to the master: new workers, the old ones retired gracefully
        deadline = time.monotonic() + 20
        while "Hang up" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        processes.wait_for(f"http://127.0.0.1:{port}/healthz", process=process, log=log)

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    finally:
        processes.stop(process)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "huanxin.access"]
    assert access and all(line["http"]["view"] == "healthz" for line in access)
