"""Logs a machine can read (core/logs.py): JSON lines with the request id (echoed in X-Request-ID), the user id and
the job id; one access line a request without its path or query string; the format chosen by the settings."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.test import Client

from huanxin.core.logs import ContextFilter, JsonFormatter
from huanxin.core.roles import Role
from huanxin.jobs import kinds
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from tests.factories import user_with_role
from tests.jobs.helpers import run_queued_jobs

pytestmark = pytest.mark.django_db


def _logging_job(ctx: jobs.Context) -> kinds.Finished:
    logging.getLogger("huanxin.test").info("inside the job")
    return kinds.Finished("ok")


kinds.register(kinds.Kind("test_logs", "测试日志", _logging_job))


@contextlib.contextmanager
def _capture() -> Iterator[list[dict]]:
    """Every record from INFO up, as the production handler writes it (the filter and the JSON formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root, access = logging.getLogger(), logging.getLogger("huanxin.access")
    levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.INFO)
    captured: list[dict] = []
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        access.setLevel(levels[1])
        captured.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_request_id_is_kept_when_sane_and_made_otherwise(plan) -> None:
    client = Client()
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc:9")["X-Request-ID"] == "lb-1234.abc:9"
    for bad in ("", "x" * 65, "a b", "<script>", "林芳", "-leading-dash"):
        made = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert made != bad and len(made) == 32 and int(made, 16) >= 0
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert first != second


def test_access_line_carries_request_and_user_but_no_path_or_query(plan) -> None:
    user = user_with_role(Role.TASK_FORCE)
    client = Client()
    client.force_login(user)
    with _capture() as captured:
        response = client.get("/subsidies/status/?number=BT2025000001&phone4=5678", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    access = [line for line in captured if line["logger"] == "huanxin.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-42"
    assert line["user_id"] == user.pk
    assert line["job_id"] is None
    assert line["http"]["view"] == "subsidies:status"
    assert line["http"]["method"] == "GET" and line["http"]["status"] == 200
    assert line["http"]["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"].endswith("+08:00")
    text = json.dumps(captured, ensure_ascii=False)
    assert "BT2025000001" not in text and "5678" not in text and "/subsidies/status" not in text


def test_anonymous_requests_have_no_user_and_the_user_is_never_loaded_for_the_log(plan) -> None:
    with _capture() as captured:
        Client().get("/recycling/sites/", HTTP_X_REQUEST_ID="anon-1")
    (line,) = [line for line in captured if line["logger"] == "huanxin.access"]
    assert line["user_id"] is None and line["request_id"] == "anon-1"


def test_lines_logged_inside_a_job_carry_its_id(plan) -> None:
    job = jobs.start(actor=None, kind="test_logs", title="日志")
    with _capture() as captured:
        run_queued_jobs()
    (inside,) = [line for line in captured if line["message"] == "inside the job"]
    assert inside["job_id"] == job.pk
    assert inside["request_id"] is None
    assert Job.objects.get(pk=job.pk).state == Job.State.DONE
    with _capture() as after:
        logging.getLogger("huanxin.test").warning("after the job")
    assert after[0]["job_id"] is None  # reset when the run ends


def test_extra_fields_and_runserver_query_strings_never_reach_the_line() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s', None, None)
    record.args = ("GET /subsidies/status/?number=BT1&phone4=5678 HTTP/1.1", 200, 512)
    record.request = object()  # Django passes the request in `extra`
    record.phone = "13912345678"
    line = json.loads(formatter.format(record))
    assert line["message"] == '"GET /subsidies/status/ HTTP/1.1" 200 512'
    assert set(line) == {"time", "level", "logger", "message", "process", "request_id", "user_id", "job_id"}


def test_exceptions_are_one_line_with_the_traceback_inside() -> None:
    formatter = JsonFormatter()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out = formatter.format(record)
    assert "\n" not in out
    assert "RuntimeError: boom" in json.loads(out)["exception"]


def _settings_format(**env: str) -> str:
    """The formatter the console handler gets in a fresh process with this environment."""
    code = "import django, logging; django.setup();print(type(logging.getLogger().handlers[0].formatter).__name__)"
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUANXIN_")}
    base.update({"DJANGO_SETTINGS_MODULE": "huanxin.settings", **env})
    done = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_json_by_default_in_production_plain_otherwise() -> None:
    secrets = {
        "HUANXIN_SECRET_KEY": "s" * 50,
        "HUANXIN_PII_KEY": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "HUANXIN_LOOKUP_KEY": "l" * 32,
        "HUANXIN_AUDIT_ANCHOR_KEY": "a" * 32,
        "HUANXIN_ALLOWED_HOSTS": "example.cn",
    }
    assert _settings_format() == "Formatter"
    assert _settings_format(HUANXIN_LOG_FORMAT="json") == "JsonFormatter"
    assert _settings_format(HUANXIN_ENV="production", **secrets) == "JsonFormatter"
    assert _settings_format(HUANXIN_ENV="production", HUANXIN_LOG_FORMAT="plain", **secrets) == "Formatter"
