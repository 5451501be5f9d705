"""Monitoring for an imported plan set up on a page (what `huanxin monitoring setup` does from a file): defaults
shown, what they cannot know asked for, all set up with one button through the service, audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from huanxin.core.models import AuditEvent
from huanxin.demo.plan_import import SAMPLE
from huanxin.monitoring.models import IndicatorSetting
from huanxin.plans import imports
from huanxin.plans.models import Plan
from tests.factories import officer, task_force
from tests.plans.test_import_second_city import confirmed

pytestmark = pytest.mark.django_db


@pytest.fixture
def county_plan(plan: Plan) -> Plan:
    boss = task_force()
    record = imports.create_import(actor=boss, filename="张北.txt", data=SAMPLE.encode())
    imports.save_draft(actor=boss, plan_import=record, yaml_text=confirmed(record.draft_yaml, "zhangbei-2024"))
    return imports.publish(actor=boss, plan_import=record)


def _form(page_rows: Any, **override: str) -> dict[str, str]:
    form = {}
    for indicator in page_rows:
        p = f"i{indicator.pk}-"
        form[p + "include"] = "1"
        form[p + "frequency"] = "Q"
        form[p + "value_unit"] = indicator.unit if indicator.kind != "growth_vs_baseline" else ""
        clause = indicator.clause or indicator.measure.clauses.first() if indicator.measure else None
        lead = clause.responsibilities.get(role="lead").department.code if clause else ""
        form[p + "department"] = lead
    form.update(override)
    return form


def test_the_task_force_sets_up_an_imported_plans_monitoring_on_a_page(client, county_plan) -> None:
    boss = task_force()
    client.force_login(boss)
    url = reverse("monitoring:setup", args=[county_plan.code])
    assert f'href="{url}"' in client.get(reverse("plans:detail", args=[county_plan.code])).content.decode()
    page = client.get(url).content.decode()
    quantitative = list(county_plan.indicators.exclude(kind="qualitative").order_by("position"))
    assert f"待设置（{len(quantitative)} 项）" in page
    goal = next(i for i in quantitative if i.kind == "growth_vs_baseline")  # 设备投资较2023年增长25%: no unit to enter
    assert goal.measure is None

    form = _form(quantitative)
    response = client.post(url, form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "请填写填报单位" in page and "请选择填报的责任单位" in page  # the overall goal: no unit, nobody reports
    assert not IndicatorSetting.objects.filter(indicator__plan=county_plan).exists()  # all or nothing

    growth = [i for i in quantitative if i.kind == "growth_vs_baseline" and i != goal]
    form |= {f"i{i.pk}-value_unit": "辆" for i in growth}  # 报废汽车回收量较2023年增加约一倍: vehicles a period
    department = county_plan.measures.order_by("position").first().clauses.first().responsibilities.first()
    form |= {f"i{goal.pk}-value_unit": "亿元", f"i{goal.pk}-department": department.department.code}
    response = client.post(url, form)
    assert response.status_code == 302, re.findall(r'<p class="error">(.*?)</p>', response.content.decode())
    settings = IndicatorSetting.objects.filter(indicator__plan=county_plan)
    assert settings.count() == len(quantitative)
    assert settings.get(indicator=goal).value_unit == "亿元"
    assert AuditEvent.objects.filter(action="indicator_setting.saved").count() >= len(quantitative)
    event = AuditEvent.objects.get(action="monitoring.setup")
    assert event.actor == boss and len(event.changes["indicators"]) == len(quantitative)
    page = client.get(url).content.decode()
    assert "所有量化指标都已设置监测" in page and f"已设置（{len(quantitative)} 项）" in page
    assert client.post(url, form).status_code == 302  # again: nothing left to set up, nothing changed
    assert AuditEvent.objects.filter(action="monitoring.setup").count() == 1


def test_only_the_task_force_opens_the_setup_page(client, county_plan) -> None:
    client.force_login(officer("市住房和城乡建设局"))
    assert client.get(reverse("monitoring:setup", args=[county_plan.code])).status_code == 403
    client.force_login(task_force())
    assert client.get(reverse("monitoring:setup", args=["no-such-plan"])).status_code == 404
