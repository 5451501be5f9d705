"""A plan is shown to the people of its own region: a published plan of another city is not on this city's pages;
a county's plan is read by that county and by the city's officials; the task force and auditors see every plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo.plan_import import SAMPLE
from huanxin.plans import imports
from huanxin.plans.models import Measure, Plan
from tests.factories import OrganisationFactory, UserFactory, officer, task_force
from tests.plans.test_import_second_city import confirmed

pytestmark = pytest.mark.django_db

HENGSHUI = Path(__file__).resolve().parent / "fixtures" / "second-city-hengshui.txt"


def _publish(boss: Any, data: bytes, code: str) -> Plan:
    record = imports.create_import(actor=boss, filename=f"{code}.txt", data=data)
    imports.save_draft(actor=boss, plan_import=record, yaml_text=confirmed(record.draft_yaml, code))
    return imports.publish(actor=boss, plan_import=record)


def _person(role: Role, region_code: str | None) -> Any:
    if region_code is None:
        return UserFactory(role=role)
    region = Region.objects.get(code=region_code)
    return UserFactory(role=role, organisation=OrganisationFactory(region=region, kind=Organisation.Kind.DEPARTMENT))


def _codes(user: Any) -> set[str]:
    return set(Plan.objects.visible_to(user).values_list("code", flat=True))


@pytest.fixture
def plans(plan: Plan) -> dict[str, Plan]:
    boss = task_force()
    return {
        "city": plan,
        "other_city": _publish(boss, HENGSHUI.read_bytes(), "hengshui-2024"),
        "county": _publish(boss, SAMPLE.encode(), "zhangbei-2024"),
    }


def test_each_person_reads_the_plans_of_their_own_place(plans) -> None:
    city, county, other = "zhangjiakou-2024", "zhangbei-2024", "hengshui-2024"
    assert _codes(UserFactory(role=Role.CITIZEN)) == {city}  # the site's own city; not its counties' nor another's
    assert _codes(officer("市住房和城乡建设局")) == {city, county}  # the city's officials oversee its counties
    assert _codes(_person(Role.COUNTY_OFFICER, "130722")) == {city, county}  # 张北县: its own and the city's
    assert _codes(_person(Role.COUNTY_OFFICER, "130705")) == {city}  # 宣化区 does not read 张北县's plan
    assert _codes(_person(Role.MERCHANT, "130722")) == {city, county}
    assert _codes(_person(Role.DEPARTMENT_OFFICER, "131100")) == {other}  # 衡水's people read 衡水's plan
    assert _codes(task_force()) == {city, county, other}
    assert _codes(UserFactory(role=Role.AUDITOR)) == {city, county, other}


def test_another_citys_plan_is_not_listed_nor_opened_here(client, plans) -> None:
    client.force_login(UserFactory(role=Role.CITIZEN))
    listing = client.get(reverse("plans:list")).content.decode()
    assert plans["city"].title in listing and plans["other_city"].title not in listing
    assert client.get(reverse("plans:detail", args=["hengshui-2024"])).status_code == 404
    measure = Measure.objects.filter(plan=plans["other_city"]).first()
    assert client.get(reverse("plans:measure", args=["hengshui-2024", measure.slug])).status_code == 404
    home = client.get(reverse("home")).content.decode()
    assert plans["other_city"].title not in home and plans["county"].title not in home


def test_the_site_region_can_be_set(plans) -> None:
    with override_settings(HUANXIN_HOME_REGION="131100"):
        assert _codes(UserFactory(role=Role.CITIZEN)) == {"hengshui-2024"}
