"""Fixtures for the budget ledger: the task force, a finance officer, and programmes made through the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.recycling import services as recycling
from huanxin.subsidies import ledger
from huanxin.subsidies.models import Programme
from tests.factories import UserFactory, task_force, user_with_role

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


# recycling bodies whose certificates the car and e-bike categories need
@pytest.fixture
def dismantler(plan):
    county = Region.objects.get(code="130722")
    org = Organisation.objects.create(name="拆解公司", kind="recycler", region=county)
    clerk = UserFactory(role=Role.RECYCLER, organisation=org)
    site = recycling.save_site(
        actor=clerk, organisation=org, name="张北拆解厂", kind="dismantler", region=county, address="张北县工业园区1号",
        categories=["car"], qualification_no="001",
    )  # fmt: skip
    return clerk, site


@pytest.fixture
def recycler(plan):
    county = Region.objects.get(code="130702")
    org = Organisation.objects.create(name="绿源回收", kind="recycler", region=county)
    clerk = UserFactory(role=Role.RECYCLER, organisation=org)
    site = recycling.save_site(
        actor=clerk, organisation=org, name="桥东区社区回收点1号", kind="point", region=county,
        address="桥东区胜利路1号", categories=["ebike", "refrigerator"],
    )  # fmt: skip
    return clerk, site
