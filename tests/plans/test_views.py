"""Pages as their users use them: the tree, a measure, 我的任务, indicators with filters and export, search."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from huanxin.core.models import AuditEvent
from huanxin.plans.models import Indicator, Measure, MeasureAction, Plan
from tests.factories import officer, task_force

pytestmark = pytest.mark.django_db
HOUSING = "市住房和城乡建设局"


@pytest.fixture
def clerk_client(client: Client, plan: Plan) -> Client:
    client.force_login(officer(HOUSING))
    return client


def test_plan_tree_shows_every_measure_in_a_bounded_number_of_queries(
    clerk_client: Client, plan: Plan, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(15):
        response = clerk_client.get(reverse("plans:detail", args=[plan.code]))
    html = response.content.decode()
    for measure in Measure.objects.filter(plan=plan):
        assert reverse("plans:measure", args=[plan.code, measure.slug]) in html
    assert "总体目标" in html and "二、实施设备更新行动" in html
    # document order: 二（一）'s heading and measures come before 二（三）
    assert html.index("（一）推进制造业技术改造升级") < html.index("二（一）1") < html.index("二（三）")


def test_measure_page_shows_text_departments_targets(clerk_client: Client, plan: Plan) -> None:
    measure = Measure.objects.get(plan=plan, code="二（二）2")
    html = clerk_client.get(reverse("plans:measure", args=[plan.code, measure.slug])).content.decode()
    assert measure.text[:20] in html
    assert "市住房和城乡建设局（牵头）" in html
    assert "市公安局（牵头）" in html  # the second clause's lead
    assert "180.6公里" in html and "6400个" in html
    assert "分工条款 2" in html


def test_my_tasks_splits_lead_and_cooperating(clerk_client: Client, plan: Plan) -> None:
    response = clerk_client.get(reverse("plans:my_tasks"), follow=True)
    html = response.content.decode()
    assert "我的任务 · 市住房和城乡建设局" in html
    lead, cooperating = html.split("配合的举措", 1)
    assert "二（二）1" in lead and "二（二）2" in lead
    assert "四（一）" in cooperating  # 商务局 leads 四（一）; 住建局 co-operates


def test_a_clerk_writes_a_draft_then_submits_it(clerk_client: Client, plan: Plan) -> None:
    measure = Measure.objects.get(plan=plan, code="二（二）1")
    url = reverse("plans:action_create", args=[plan.code, measure.slug])
    response = clerk_client.post(url, {"title": "", "body": "", "due_on": "2025-13-01"})
    assert response.status_code == 400
    assert "日期格式" in response.content.decode()
    response = clerk_client.post(url, {"title": "", "body": ""})
    assert "请填写举措名称" in response.content.decode() and "请填写具体内容" in response.content.decode()
    assert not MeasureAction.objects.exists()

    response = clerk_client.post(url, {"title": "电梯更新摸排", "body": "逐台登记", "due_on": "2025-06-30"})
    assert response.status_code == 302
    action = MeasureAction.objects.get()
    assert action.status == "draft" and str(action.due_on) == "2025-06-30"
    assert AuditEvent.objects.filter(action="measure_action.created", object_id=str(action.pk)).exists()

    response = clerk_client.post(reverse("plans:action_submit", args=[action.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "已报送" in response.content.decode()
    action.refresh_from_db()
    assert action.status == "submitted" and action.submitted_at is not None
    # submitting again (a double click, a retry) changes nothing
    clerk_client.post(reverse("plans:action_submit", args=[action.pk]))
    assert AuditEvent.objects.filter(action="measure_action.submitted", object_id=str(action.pk)).count() == 1


def test_indicator_list_filters_sorts_and_exports(clerk_client: Client, plan: Plan) -> None:
    url = reverse("plans:indicators", args=[plan.code])
    html = clerk_client.get(url).content.decode()
    assert "报废" in html and "定性" in html
    html = clerk_client.get(url, {"kind": "cumulative_total"}).content.decode()
    assert "公里" in html and "报废汽车回收量" not in html

    response = clerk_client.get(url, {"format": "xlsx", "sort": "-target"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("序号", "指标")
    assert len(rows) - 1 == Indicator.objects.filter(plan=plan).count()
    targets = [r[6] for r in rows[1:] if r[6] != "" and r[6] is not None]
    assert targets == sorted(targets, reverse=True) and targets[0] == 6400


def test_indicator_list_by_department(clerk_client: Client, plan: Plan) -> None:
    from huanxin.core.models import Department

    police = Department.objects.resolve("市公安局")
    html = clerk_client.get(reverse("plans:indicators", args=[plan.code]), {"department": police.code}).content.decode()
    assert "6400" in html
    assert "180.6" not in html  # same measure 二（二）2, but the pipelines are the other clause's
    assert "专精特新" not in html


def test_search_finds_measures_by_word_department_and_code(clerk_client: Client, plan: Plan) -> None:
    search = reverse("plans:search")
    html = clerk_client.get(search, {"q": "电梯"}).content.decode()
    assert "<mark>电梯</mark>" in html and "二（二）1" in html
    html = clerk_client.get(search, {"q": "公安局"}).content.decode()
    assert "二（二）2" in html and "三（一）" in html
    html = clerk_client.get(search, {"q": "不存在的词"}).content.decode()
    assert "没有找到" in html
    html = clerk_client.get(search, {"q": "<script>"}).content.decode()
    assert "<script>" not in html.split('<main id="main">')[1]


def test_department_list_search(clerk_client: Client, plan: Plan) -> None:
    html = clerk_client.get(reverse("plans:departments"), {"q": "发展和改革委"}).content.decode()
    assert "市发展和改革委员会" in html and "市商务局" not in html


def test_task_force_home_shows_submitted_actions(client: Client, plan: Plan) -> None:
    from huanxin.plans import services

    clerk = officer(HOUSING)
    measure = Measure.objects.get(plan=plan, code="二（二）1")
    action = services.save_measure_action(actor=clerk, measure=measure, title="已报送的举措", body="内容")
    services.save_measure_action(actor=clerk, measure=measure, title="仍是草稿的举措", body="内容")
    services.submit_measure_action(actor=clerk, action=action)
    client.force_login(task_force())
    html = client.get(reverse("home")).content.decode()
    assert "已报送的举措" in html and "仍是草稿的举措" not in html
