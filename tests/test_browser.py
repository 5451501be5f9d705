"""A real browser (Playwright driving Debian's Chromium) walks login → plan → measure → department.

Screenshots land in test-artifacts/ for people to look at. Without /usr/bin/chromium these tests skip, except
in CI (HUANXIN_REQUIRE_BROWSER=1), where a missing browser is a failure.
"""

from __future__ import annotations

import pytest

from huanxin.core.roles import Role
from huanxin.core.services import create_user
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import department_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name


def test_clerk_walks_plan_measure_department_and_files_an_action(plan, live_server, browser_page) -> None:
    create_user(
        actor=None,
        username="zhujian-e2e",
        password=PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=department_org("市住房和城乡建设局"),
        display_name="陈静",
    )
    page = browser_page
    login(page, live_server, "zhujian-e2e")
    assert page.get_by_role("heading", name="您好，陈静").is_visible()

    page.get_by_role("link", name="查看方案").click()
    page.wait_for_url("**/plans/zhangjiakou-2024/")
    assert page.get_by_role("heading", name=plan.title).is_visible()
    assert page.locator("#plan-tree .measure-row").count() == 27
    page.screenshot(path=str(ARTIFACTS / "plan-tree.png"), full_page=True)

    page.get_by_role("link", name="提升居民居住品质").click()
    page.wait_for_url("**/measures/2.2.1/")
    assert page.get_by_role("heading", name="二（二）1 提升居民居住品质").is_visible()
    assert page.get_by_text("稳妥有序推进既有住宅加装电梯").first.is_visible()

    # file a draft 落实举措 through the htmx form, then submit it
    page.get_by_label("举措名称").fill("老旧住宅电梯逐台建档")
    page.get_by_label("具体内容").fill("会同市场监管部门逐台登记，建立一梯一档。")
    page.get_by_role("button", name="保存草稿").click()
    row = page.locator("#actions-panel tr", has_text="老旧住宅电梯逐台建档")
    row.get_by_text("草稿").wait_for()
    row.get_by_role("button", name="报送").click()
    page.locator("#actions-panel .messages", has_text="已报送工作专班").wait_for()
    page.locator("#actions-panel tr", has_text="老旧住宅电梯逐台建档").get_by_text("已报送").wait_for()
    page.screenshot(path=str(ARTIFACTS / "measure.png"), full_page=True)

    page.get_by_role("link", name="市住房和城乡建设局（牵头）").click()
    page.wait_for_url("**/departments/**")
    assert page.get_by_role("heading", name="我的任务 · 市住房和城乡建设局").is_visible()
    assert page.get_by_role("cell", name="老旧住宅电梯逐台建档").is_visible()
    page.screenshot(path=str(ARTIFACTS / "department.png"), full_page=True)


def test_login_page_fits_a_phone(live_server, browser_page) -> None:
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("heading", name="焕新 · 登录").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.get_by_label("用户名").fill("nobody")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text().startswith("用户名或密码不正确")
    page.screenshot(path=str(ARTIFACTS / "login-phone.png"))


def test_clerk_reports_task_force_returns_and_approves(plan, live_server, browser_page) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from huanxin.monitoring.models import IndicatorValue
    from huanxin.monitoring.periods import Frequency
    from huanxin.monitoring.selectors import latest_open_period

    call_command("monitoring", "setup", stdout=StringIO())
    period = latest_open_period(Frequency.QUARTER, timezone.localdate())
    for username, role, org in [
        ("clerk-e2e", Role.DEPARTMENT_OFFICER, "市住房和城乡建设局"),
        ("boss-e2e", Role.TASK_FORCE, "市发展和改革委员会"),
    ]:
        create_user(actor=None, username=username, password=PASSWORD, role=role, organisation=department_org(org))
    from huanxin.core.models import Organisation, Region
    from huanxin.core.services import create_organisation

    zhangbei = create_organisation(
        actor=None,
        name="张北县人民政府",
        kind=Organisation.Kind.COUNTY_GOVERNMENT,
        region=Region.objects.get(code="130722"),
    )
    create_user(actor=None, username="county-e2e", password=PASSWORD, role=Role.COUNTY_OFFICER, organisation=zhangbei)
    page = browser_page

    # the county officer fills in 张北县's figure
    login(page, live_server, "county-e2e")
    page.get_by_role("link", name="数据填报").click()
    assert page.get_by_label("淘汰更新改造燃气老旧管网 康保县").count() == 0  # only their own county
    page.get_by_label("淘汰更新改造燃气老旧管网 张北县").fill("3.5")
    page.get_by_role("button", name="保存草稿").click()
    page.get_by_text("已保存").first.wait_for()
    page.get_by_role("button", name="退出").click()

    # the clerk finds it, fills another county, wrongly at first, and submits
    login(page, live_server, "clerk-e2e")
    page.get_by_role("link", name="数据填报").click()
    assert page.get_by_role("heading", name=f"数据填报 · {period.label}").is_visible()
    assert page.get_by_label("淘汰更新改造燃气老旧管网 张北县").input_value() == "3.5"
    page.get_by_label("淘汰更新改造燃气老旧管网 康保县").fill("-2")
    page.get_by_role("button", name="保存并报送").click()
    assert page.get_by_text("数值不能为负数").is_visible()
    page.get_by_label("淘汰更新改造燃气老旧管网 康保县").fill("35")
    page.get_by_role("button", name="保存并报送").click()
    page.get_by_text("报送 2 项至工作专班审核").wait_for()
    page.screenshot(path=str(ARTIFACTS / "report-sheet.png"))
    page.get_by_role("button", name="退出").click()

    # the task force returns the implausible one and approves the other
    login(page, live_server, "boss-e2e")
    page.get_by_role("link", name="数据审核").click()
    page.get_by_label("退回原因 淘汰更新改造燃气老旧管网 康保县").fill("35公里远超全年计划，请核实")
    page.locator("tr", has_text="康保县").get_by_role("button", name="退回").click()
    page.get_by_text("已退回：淘汰更新改造燃气老旧管网（康保县）").wait_for()
    page.locator("tr", has_text="张北县").get_by_role("button", name="通过").click()
    page.get_by_text("已审核通过：淘汰更新改造燃气老旧管网（张北县）").wait_for()
    page.get_by_role("button", name="退出").click()

    # the clerk sees why, corrects and submits again; the history shows every step
    login(page, live_server, "clerk-e2e")
    page.goto(f"{live_server.url}/monitoring/report/?period={period.code}")
    assert page.get_by_text("退回原因：35公里远超全年计划，请核实").is_visible()
    page.get_by_label("淘汰更新改造燃气老旧管网 康保县").fill("3.2")
    page.get_by_role("button", name="保存并报送").click()
    page.get_by_text("报送 1 项至工作专班审核").wait_for()
    page.locator("tr", has_text="康保县").get_by_role("link", name="已报送待审核").click()
    for step in ["填写", "报送", "退回", "35公里远超全年计划，请核实"]:
        assert page.get_by_role("cell", name=step, exact=True).first.is_visible(), step
    page.screenshot(path=str(ARTIFACTS / "value-history.png"), full_page=True)
    assert sorted(IndicatorValue.objects.values_list("status", flat=True)) == ["approved", "submitted"]


def test_task_force_dashboard_draws_its_charts(plan, live_server, browser_page) -> None:
    import datetime as dt
    from io import StringIO

    from django.core.management import call_command

    from huanxin.core.models import Region
    from huanxin.monitoring import services
    from huanxin.monitoring.periods import PeriodRef
    from huanxin.plans.models import Indicator

    call_command("monitoring", "setup", stdout=StringIO())
    clerk = create_user(
        actor=None,
        username="clerk-d",
        password=PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=department_org("市住房和城乡建设局"),
    )
    boss = create_user(
        actor=None,
        username="boss-d",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
    )
    gas = Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km")
    for code, amount in [("2025-Q1", "30"), ("2025-Q2", "40")]:
        value = services.save_value(
            actor=clerk,
            indicator=gas,
            period=services.ensure_period(ref=PeriodRef.parse(code)),
            region=Region.objects.get(code="130722"),
            value=amount,
            today=dt.date(2025, 7, 1),
        )
        services.submit_values(actor=clerk, values=[value])
        services.approve_value(actor=boss, value=value)
    page = browser_page
    login(page, live_server, "boss-d")
    page.get_by_role("link", name="监测总览").click()
    page.locator("#overview-chart canvas").wait_for()
    assert page.locator("tr", has_text="淘汰更新改造燃气老旧管网").get_by_text("70.0 公里").is_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    page.get_by_role("link", name="淘汰更新改造燃气老旧管网").first.click()
    page.locator("#path-chart canvas").wait_for()
    page.locator("#county-chart canvas").wait_for()
    page.screenshot(path=str(ARTIFACTS / "indicator.png"), full_page=True)
