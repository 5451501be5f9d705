"""Shared fixtures. The Zhangjiakou plan is loaded once per test database; tests roll back around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from huanxin.plans.loader import load_plan
from huanxin.plans.models import Plan

REPO = Path(__file__).resolve().parent.parent
PLAN_FILE = REPO / "src" / "huanxin" / "plans" / "data" / "zhangjiakou-2024.yaml"
SOURCE_TEXT = REPO / "src" / "huanxin" / "plans" / "data" / "zhangjiakou-2024.txt"


def pytest_configure(config: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
    # suites that call the API hundreds of times in one test (hostile inputs, schemathesis) stay under its rate;
    # tests/core/test_throttle_api.py lowers it again to prove the limit
    settings.API_RATE_ANON = settings.API_RATE_USER = 100_000


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        load_plan(PLAN_FILE)
    yield
    if connection.vendor == "postgresql":
        # The live server's request threads can leave a session open; it would block dropping the test database.
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Every test starts with an empty cache: counts of failed public look-ups (core/throttle.py) kept by one test
    would throttle the next."""
    cache.clear()


@pytest.fixture
def plan(db: Any) -> Plan:
    """The loaded plan. Transactional tests (whose flush empties the tables) load it again."""
    existing = Plan.objects.filter(code="zhangjiakou-2024").first()
    return existing or load_plan(PLAN_FILE).plan


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


postgres_only = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL)",
)
