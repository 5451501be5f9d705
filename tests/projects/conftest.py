"""Fixtures for the project library: an enterprise with its account, the county and department reviewers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from stdnum.cn import uscc as uscc_lib

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.projects import services
from huanxin.projects.models import Enterprise, Project
from tests.factories import UserFactory, officer, task_force


def credit_code(n: int, region: str = "130705") -> str:
    body = f"91{region}MA0{n:05d}X"[:17]
    return body + uscc_lib.calc_check_digit(body)


@pytest.fixture
def xuanhua(plan: Any) -> Region:
    return Region.objects.get(code="130705")


@pytest.fixture
def boss(plan: Any) -> Any:
    return task_force()


@pytest.fixture
def enterprise(xuanhua: Region, boss: Any) -> Enterprise:
    org = Organisation.objects.create(name="宣化装备制造有限公司", kind=Organisation.Kind.ENTERPRISE, region=xuanhua)
    enterprise, _ = services.register_enterprise(
        actor=boss,
        uscc=credit_code(1),
        name="宣化装备制造有限公司",
        region=xuanhua,
        field="industry",
        industry="C34 通用设备制造业",
        above_designated_size=True,
        organisation=org,
    )
    return enterprise


@pytest.fixture
def owner(enterprise: Enterprise) -> Any:
    return UserFactory(role=Role.ENTERPRISE, organisation=enterprise.organisation)


@pytest.fixture
def county(xuanhua: Region) -> Any:
    org = Organisation.objects.create(name="宣化区人民政府", kind=Organisation.Kind.COUNTY_GOVERNMENT, region=xuanhua)
    return UserFactory(role=Role.COUNTY_OFFICER, organisation=org)


@pytest.fixture
def miit(plan: Any) -> Any:
    return officer("市工业和信息化局")


def declare(owner: Any, enterprise: Enterprise, **kwargs: Any) -> Project:
    fields = {
        "title": "智能化生产线改造",
        "field": "industry",
        "total_investment_fen": 50_000_000_00,  # 5000万元
        "equipment_investment_fen": 30_000_000_00,
        "starts_on": dt.date(2025, 3, 1),
        "ends_on": dt.date(2026, 6, 30),
        "annual_energy_tce": Decimal("12000"),
        **kwargs,
    }
    return services.save_project(actor=owner, enterprise=enterprise, **fields)


def add_item(owner: Any, project: Project, grade: str = "2级", category: str = "air_compressor", **kwargs: Any) -> Any:
    fields = {"name": "螺杆空气压缩机", "model": "LG-20", "quantity": 2, "unit_price_fen": 35_000_000, **kwargs}
    return services.save_item(actor=owner, project=project, category=category, grade=grade, **fields)
