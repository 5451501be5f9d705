"""Fixtures for supervision: 二（二）2 补齐市政设施短板 (住建局 leads, 公安局 leads its second clause, 城管执法局 and
市场监管局 co-operate), its departments' clerks, the task force, and a helper that issues a notice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from huanxin.core.models import Department, User
from huanxin.plans.models import Measure, Plan
from huanxin.supervision import services
from huanxin.supervision.models import Notice
from tests.factories import officer, task_force

HOUSING = "市住房和城乡建设局"
POLICE = "市公安局"
MARKET = "市市场监督管理局"
COMMERCE = "市商务局"


@pytest.fixture
def measure(plan: Plan) -> Measure:
    return Measure.objects.get(plan=plan, code="二（二）2")


@pytest.fixture
def housing(plan: Plan) -> Department:
    return Department.objects.resolve(HOUSING)


@pytest.fixture
def clerk(plan: Plan) -> User:
    return officer(HOUSING)


@pytest.fixture
def boss(plan: Plan) -> User:
    return task_force()


def issue(actor: User, measure: Measure | None, **kwargs: Any) -> Notice:
    """A notice to 住建局 about `measure`, due in ten days; keyword arguments override."""
    values: dict[str, Any] = {
        "department": Department.objects.resolve(HOUSING),
        "subject": "排水管网更新改造进度滞后",
        "body": "请分析原因，提出加快推进的措施和时间表。",
        "due_on": timezone.localdate() + dt.timedelta(days=10),
        "measure": measure,
    }
    values.update(kwargs)
    return services.issue_notice(actor=actor, **values)
