"""The dashboard, an indicator's page and the monthly report exports, on real approved data."""

from __future__ import annotations

import datetime as dt
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from docx import Document
from openpyxl import load_workbook

from huanxin.core.models import Region
from huanxin.core.roles import Role
from huanxin.monitoring import services
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(plan):
    """Gas pipeline: 20 km by 2024 Q4 and 60 km by 2025 Q2 in 张北县 — ahead of the path; approved."""
    call_command("monitoring", "setup", stdout=StringIO())
    gas = Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km")
    clerk, boss = officer("市住房和城乡建设局"), task_force()
    for code, amount in [("2024-Q4", "20"), ("2025-Q1", "15"), ("2025-Q2", "25")]:
        period = services.ensure_period(ref=PeriodRef.parse(code))
        value = services.save_value(
            actor=clerk,
            indicator=gas,
            period=period,
            region=Region.objects.get(code="130722"),
            value=amount,
            today=dt.date(2025, 7, 1),
        )
        services.submit_values(actor=clerk, values=[value])
        services.approve_value(actor=boss, value=value)
    return plan


def test_dashboard_shows_every_target_with_a_status(client: Client, data, django_assert_max_num_queries) -> None:
    client.force_login(task_force())
    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="tag status-') == Indicator.objects.filter(plan=data).count()
    assert "60.0 公里" in html  # 20 + 15 + 25, summed over periods
    assert "暂无数据" in html
    rows = {row["department"]: row for row in response.context["by_department"]}
    assert rows["市住房和城乡建设局"]["total"] == 4  # the four pipelines; the video devices are 公安局's


def test_only_officials_see_the_dashboard(client: Client, data) -> None:
    for role in [Role.MERCHANT, Role.CITIZEN, Role.ENTERPRISE]:
        client.force_login(user_with_role(role))
        assert client.get(reverse("monitoring:dashboard")).status_code == 403
        assert client.get(reverse("monitoring:report_xlsx")).status_code == 403
    client.force_login(user_with_role(Role.COUNTY_OFFICER))
    assert client.get(reverse("monitoring:dashboard")).status_code == 200


def test_indicator_page_has_its_chart_data_and_county_breakdown(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:indicator", args=[data.code, "gas-pipeline-renewed-km"]))
    assert response.status_code == 200
    chart = response.context["chart"]
    assert [point[1] for point in chart["actual"]] == [20.0, 35.0, 60.0]
    assert chart["path"] == [["2024-05-28", 0.0], ["2027-12-31", 180.6]]
    assert response.context["counties"] == [("张北县", 60)]


def test_monthly_excel_report_has_a_sheet_per_section(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:report_xlsx"))
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames[:2] == ["总览", "一、总体目标"]
    assert "二、实施设备更新行动" in wb.sheetnames and "七、强化政策要素保障" in wb.sheetnames
    rows = list(wb["二、实施设备更新行动"].iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "任务举措", "牵头单位")
    gas_row = next(r for r in rows if r[0] == "二（二）2")
    assert gas_row[2] == "市住房和城乡建设局、市公安局" and "淘汰更新改造燃气老旧管网" in gas_row[4]
    assert len(list(wb["全部指标"].iter_rows())) == 1 + Indicator.objects.filter(plan=data).count()


def test_word_briefing_has_the_status_table_and_the_risks(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:report_docx"))
    doc = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "推进情况简报" in text and "需要关注的事项" in text
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["指标", "目标", "当前", "进度", "状态", "预计达成"]
    assert len(table.rows) == 1 + Indicator.objects.filter(plan=data).count()
