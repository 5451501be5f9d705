"""A real browser imports a second city's plan (衡水市, tests/plans/fixtures/second-city-hengshui.txt): upload the
text, see what needs checking, click an item to find its source in the text, give the plan its code, publish beside
Zhangjiakou's, open the plan. Screenshots land in test-artifacts/ (plan-import-review.png …)."""

from __future__ import annotations

from typing import Any

import pytest

from huanxin.core.models import Department
from huanxin.core.roles import Role
from huanxin.core.services import create_user
from huanxin.plans.models import Plan, PlanImport
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import department_org
from tests.jobs.helpers import run_queued_jobs
from tests.plans.test_import_second_city import FIXTURE
from tests.plans.test_import_views import reviewed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name


def test_task_force_uploads_reviews_and_publishes_a_plan(plan, live_server, browser_page, tmp_path) -> None:
    create_user(
        actor=None,
        username="zhuanban-e2e",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
        display_name="王磊",
    )
    page: Any = browser_page
    login(page, live_server, "zhuanban-e2e")
    page.goto(f"{live_server.url}/plans/")
    page.get_by_role("link", name="导入方案文件").click()
    page.wait_for_url("**/plans/imports/")
    assert page.get_by_text("还没有导入过方案文件").is_visible()
    page.get_by_role("link", name="导入方案文件").click()

    # an unsupported file first: a clear error, the form stays
    bad = tmp_path / "方案.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0")
    page.get_by_label("方案文件").set_input_files(str(bad))
    page.get_by_role("button", name="上传并生成草稿").click()
    assert "不支持" in page.get_by_role("alert").inner_text()

    source = tmp_path / "衡水市实施方案.txt"
    source.write_bytes(FIXTURE.read_bytes())
    page.get_by_label("方案文件").set_input_files(str(source))
    page.get_by_role("button", name="上传并生成草稿").click()
    # the document is read by a background job: its page at once, the outcome as soon as a worker has run it
    page.wait_for_url("**/jobs/*/")
    run_queued_jobs()
    page.get_by_role("status").filter(has_text="已生成“衡水市实施方案.txt”的方案草稿").wait_for()
    page.screenshot(path=str(ARTIFACTS / "plan-import-job.png"), full_page=True)
    page.locator(".crumbs").get_by_role("link", name="方案文件导入").click()
    page.wait_for_url("**/plans/imports/")
    page.get_by_role("link", name="衡水市实施方案.txt").click()
    page.wait_for_url("**/plans/imports/*/")
    assert page.get_by_role("heading", name="审阅导入草稿：衡水市实施方案.txt").is_visible()
    record = PlanImport.objects.get(status=PlanImport.Status.DRAFT)
    text = record.text  # the importer's normalised text: the spans point into it
    review = page.locator("#low-confidence")
    assert review.get_by_role("heading", name="需人工核对").is_visible()
    assert page.locator(".imp-item.imp-low").count() == review.locator("li").count() > 0

    # an item of the outline: its span is marked in the source text and scrolled into the text pane
    item = page.locator(".imp-item.imp-measure[data-start]").first
    start, end = int(item.get_attribute("data-start")), int(item.get_attribute("data-end"))
    item.click()
    hit = page.locator("#imp-source mark#imp-hit")
    assert hit.inner_text() == text[start:end]
    assert "active" in (item.get_attribute("class") or "")

    # a low-confidence item from the list at the top
    first_low = review.locator("a.imp-jump").first
    target = page.locator("#" + first_low.get_attribute("data-item"))
    first_low.click()
    assert "active" in (target.get_attribute("class") or "")
    if target.get_attribute("data-start") is not None:
        start, end = int(target.get_attribute("data-start")), int(target.get_attribute("data-end"))
        assert hit.inner_text() == text[start:end]
        assert hit.is_visible()
    page.screenshot(path=str(ARTIFACTS / "plan-import-review.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "plan-import-review-viewport.png"))

    # another city's draft clashes with nothing (its region from the code database, its bureaux as its own rows):
    # the reviewer only replaces the placeholder plan code, saves (validated by the loader), then publishes
    assert page.get_by_text("发布前需修正").count() == 0
    assert page.get_by_role("button", name="发布", exact=True).is_enabled()
    page.locator("#draft-yaml > summary").click()  # the YAML editor is the advanced fallback, folded away
    page.get_by_label("草稿 YAML").fill(reviewed(record.draft_yaml, code="hengshui-2024"))
    page.get_by_role("button", name="保存并校验").click()
    page.locator(".messages", has_text="草稿已保存，校验通过").wait_for()
    assert page.get_by_role("button", name="发布", exact=True).is_enabled()

    # publish, confirming the dialog
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="发布", exact=True).click()
    page.get_by_role("status").filter(has_text="发布为实施方案").wait_for()
    record = PlanImport.objects.get(status=PlanImport.Status.PUBLISHED)
    assert record.plan is not None
    page.screenshot(path=str(ARTIFACTS / "plan-import-published.png"), full_page=True)
    page.get_by_role("status").get_by_role("link", name=record.plan.title).click()
    page.wait_for_url(f"**/plans/{record.plan.code}/")
    assert page.get_by_role("heading", name=record.plan.title).is_visible()
    assert Plan.objects.filter(code=record.plan.code).count() == 1
    assert record.plan.code == "hengshui-2024" and record.plan.region.code == "131100"
    assert Department.objects.get(code="miit").name == "市工业和信息化局"  # Zhangjiakou's, untouched
    assert Department.objects.get(code="131100-miit").name == "衡水市工业和信息化局"

    page.goto(f"{live_server.url}/plans/imports/")
    assert page.locator("tbody tr").count() == 2  # the refused .xls and the published plan
    assert page.get_by_role("cell", name="导入失败").is_visible()
    page.screenshot(path=str(ARTIFACTS / "plan-import-list.png"), full_page=True)


def test_a_draft_is_fixed_in_forms_published_and_its_monitoring_set_up(plan, live_server, browser_page) -> None:
    """At 1366 px: the county sample without 文号 and date — 方案信息 asks for both, a measure's form changes its
    lead department and target, publishing is possible once they are filled in, and monitoring is set up on a
    page. Screenshots: plan-import-header.png, plan-import-item.png, monitoring-setup.png."""
    import yaml

    from huanxin.plans import imports
    from tests.plans.test_import_forms import BARE

    boss = create_user(
        actor=None,
        username="zhuanban-forms",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
        display_name="王磊",
    )
    record = imports.create_import(actor=boss, filename="张北县实施方案.txt", data=BARE.encode())
    draft = yaml.safe_load(record.draft_yaml)
    draft["plan"]["code"] = "zhangbei-2024"
    imports.save_draft(actor=boss, plan_import=record, yaml_text=yaml.safe_dump(draft, allow_unicode=True))
    page: Any = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, live_server, "zhuanban-forms")
    page.goto(f"{live_server.url}/plans/imports/{record.pk}/")
    assert page.get_by_role("button", name="发布", exact=True).is_disabled()
    header = page.locator("#header")
    assert header.get_by_label("文号").input_value() == "" and header.get_by_label("成文日期").input_value() == ""
    page.screenshot(path=str(ARTIFACTS / "plan-import-header.png"), full_page=True)
    header.get_by_label("文号").fill("张北政字〔2024〕12号")
    header.get_by_label("成文日期").fill("2024-06-03")
    header.get_by_role("button", name="保存方案信息").click()
    page.locator(".messages", has_text="方案信息已保存").wait_for()
    assert page.get_by_text("发布前需修正").count() == 0

    page.locator(".imp-item.imp-measure", has_text="加快建筑市政设施更新").get_by_role("link", name="编辑").click()
    page.wait_for_url("**/items/s1.s0.m1/")
    assert page.get_by_role("heading", name="编辑举措 二（一）2 加快建筑市政设施更新").is_visible()
    page.get_by_label("牵头单位").select_option(label="张北县城市管理综合行政执法局")
    page.get_by_label("目标值").fill("125")
    page.get_by_label("已核对", exact=True).first.check()
    page.screenshot(path=str(ARTIFACTS / "plan-import-item.png"), full_page=True)
    page.get_by_role("button", name="保存", exact=True).click()
    page.locator(".messages", has_text="二（一）2 已保存").wait_for()
    assert "≥125公里" in page.locator("#imp-outline").inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="发布", exact=True).click()
    page.get_by_role("status").filter(has_text="发布为实施方案").wait_for()
    page.get_by_role("link", name="为该方案设置监测").click()
    page.wait_for_url("**/monitoring/setup/zhangbei-2024/")
    assert page.get_by_role("heading", name="监测设置").is_visible()
    page.screenshot(path=str(ARTIFACTS / "monitoring-setup.png"), full_page=True)
