"""Fixtures for the recycling network: a county, a recycler with a pickup site and a dismantler, people."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.utils import timezone

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.recycling import services
from huanxin.recycling.models import PickupSlot, Site
from tests.factories import UserFactory, task_force

NOW = timezone.make_aware(dt.datetime(2025, 6, 10, 9, 0))


@pytest.fixture(autouse=True)
def tax_rule(db: Any) -> Any:
    """The migration's rule; transactional tests empty the tables, so it is put back when missing."""
    return services.ensure_default_tax_rule()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(2025)


@pytest.fixture
def zhangbei(plan: Any) -> Region:
    return Region.objects.get(code="130722")


@pytest.fixture
def kangbao(plan: Any) -> Region:
    return Region.objects.get(code="130723")


def recycler_org(region: Region, name: str = "张北县绿源再生资源回收有限公司") -> Organisation:
    org, _ = Organisation.objects.get_or_create(
        name=name, defaults={"kind": Organisation.Kind.RECYCLER, "region": region}
    )
    return org


@pytest.fixture
def recycler(zhangbei: Region) -> Any:
    return UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei), display_name="回收员")


@pytest.fixture
def boss(plan: Any) -> Any:
    return task_force()


@pytest.fixture
def site(recycler: Any, zhangbei: Region, boss: Any) -> Site:
    return services.save_site(
        actor=recycler,
        organisation=recycler.organisation,
        name="张北镇回收站",
        kind=Site.Kind.POINT,
        region=zhangbei,
        address="张北县张北镇新村路12号",
        categories=["refrigerator", "washing_machine", "tv", "air_conditioner", "phone", "scrap_steel", "paper"],
        offers_pickup=True,
        opening_hours="8:30-17:30",
    )


@pytest.fixture
def dismantler(recycler: Any, zhangbei: Region) -> Site:
    return services.save_site(
        actor=recycler,
        organisation=recycler.organisation,
        name="张北县报废机动车回收拆解中心",
        kind=Site.Kind.DISMANTLER,
        region=zhangbei,
        address="张北县工业园区纬三路8号",
        categories=["car"],
        qualification_no="冀报废回收（张）001",
    )


@pytest.fixture
def slot(site: Site) -> PickupSlot:
    start = NOW + dt.timedelta(days=1)
    return PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=2)


@pytest.fixture
def citizen(plan: Any) -> Any:
    return UserFactory(role=Role.CITIZEN, display_name="李明")


@pytest.fixture
def merchant(zhangbei: Region) -> Any:
    store, _ = Organisation.objects.get_or_create(
        name="张北县国美电器", defaults={"kind": Organisation.Kind.MERCHANT, "region": zhangbei}
    )
    return UserFactory(role=Role.MERCHANT, organisation=store)


def book(user: Any, slot: PickupSlot, region: Region | None = None, **kwargs: Any) -> Any:
    fields = {
        "contact_name": "李明",
        "phone": "13812345678",
        "address": "张北县张北镇幸福小区3号楼2单元501",
        "items": [services.ItemIn("refrigerator", 1)],
        "now": NOW,
        **kwargs,
    }
    return services.book_pickup(actor=user, slot=slot, region=region or slot.site.region, **fields)
