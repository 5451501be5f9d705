"""Fixtures for the budget ledger: the task force, a finance officer, and programmes made through the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from huanxin.core.models import Region, User
from huanxin.core.roles import Role
from huanxin.subsidies import ledger
from huanxin.subsidies.models import Programme
from tests.factories import task_force, user_with_role

YUAN = 100  # fen


@pytest.fixture
def boss(plan: Any) -> User:
    return task_force()


@pytest.fixture
def finance(db: Any) -> User:
    return user_with_role(Role.FINANCE_OFFICER)


def make_programme(actor: User | None, **kwargs: Any) -> Programme:
    """An open appliance programme of the city, accepting applications from a month ago to a month ahead."""
    today = timezone.localdate()
    values: dict[str, Any] = {
        "code": "appliance-2025",
        "name": "2025年家电以旧换新补贴",
        "category": Programme.Category.APPLIANCE,
        "region": Region.objects.get(code="130700"),
        "opens_on": today - dt.timedelta(days=30),
        "closes_on": today + dt.timedelta(days=30),
        "status": Programme.Status.OPEN,
        "budget_fen": 10_000 * YUAN,
        "stripes": 4,
    }
    values.update(kwargs)
    return ledger.create_programme(actor=actor, **values)


@pytest.fixture
def programme_factory(boss: User) -> Callable[..., Programme]:
    return lambda **kwargs: make_programme(boss, **kwargs)
