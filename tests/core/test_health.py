"""`/healthz` and `/readyz` (core/health.py): open without a login, no personal data, readiness by its checks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from huanxin.jobs.models import WorkerBeat

pytestmark = pytest.mark.django_db


def _beat(seconds_ago: float) -> WorkerBeat:
    now = timezone.now()
    return WorkerBeat.objects.create(
        worker_id=f"test:{seconds_ago}", hostname="test", pid=1, started_at=now - dt.timedelta(hours=1),
        seen_at=now - dt.timedelta(seconds=seconds_ago),
    )  # fmt: skip


def test_healthz_answers_without_login_or_database(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_ready_with_migrations_applied_and_a_worker_seen() -> None:
    _beat(seconds_ago=3)
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True, "pending": 0}
    assert body["checks"]["worker"] == {"ok": True, "seen": 1, "within_seconds": 30}


def test_readyz_without_a_recent_worker_is_503_naming_the_check(settings) -> None:
    _beat(seconds_ago=45)  # seen, but longer ago than the setting allows
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = json.loads(response.content)
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["seen"] == 0
    settings.HUANXIN_READY_WORKER_SECONDS = 60
    assert Client().get("/readyz").status_code == 200
    # 0 switches the worker check off (a load balancer that keeps serving pages while the workers are down)
    WorkerBeat.objects.all().delete()
    settings.HUANXIN_READY_WORKER_SECONDS = 0
    assert Client().get("/readyz").status_code == 200


def test_readyz_with_a_migration_not_applied_is_503() -> None:
    _beat(seconds_ago=1)
    MigrationRecorder(connection).record_unapplied("jobs", "0001_initial")  # rolled back inside the test
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"]["pending"] >= 1


def test_probes_need_no_login_and_refuse_writes() -> None:
    client = Client()
    assert client.get("/readyz").status_code in (200, 503)  # not a redirect to the login page
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_probes_are_not_redirected_to_https(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/").status_code == 301
