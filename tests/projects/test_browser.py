"""A real browser (Playwright driving Debian's Chromium) through the project library: an enterprise declares an
equipment-renewal project whose air compressor is below the energy-saving level; the page flags it, the county
cannot approve it and returns it; the enterprise replaces the compressor with a 2级 one and resubmits; the county and
then the city's 工业和信息化局 approve it into the library. Bad input is refused at the field. Screenshots land in
test-artifacts/. Skips without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from huanxin.projects.models import EquipmentItem, Project
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import officer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

REASON = "空气压缩机能效3级，低于节能水平，请更换为2级及以上产品"


def account(user: Any, username: str, display_name: str) -> str:
    """Give a fixture's user a known username, a name and the browser password."""
    user.username, user.display_name = username, display_name
    user.set_password(PASSWORD)
    user.save()
    return username


def logout(page: Any) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()


def messages(page: Any) -> str:
    return page.locator("ul.messages").inner_text()


def fill_project(page: Any, *, total: str = "5000", equipment: str = "3000") -> None:
    page.get_by_label("项目名称").fill("空压站及智能化生产线节能改造")
    page.get_by_label("领域").select_option(value="industry")
    page.get_by_label("建设内容").fill("更换空压站螺杆空气压缩机，改造机加工生产线。")
    page.get_by_label("总投资（万元）").fill(total)
    page.get_by_label("其中设备投资（万元）").fill(equipment)
    page.get_by_label("开工日期").fill("2025-03-01")
    page.get_by_label("竣工日期").fill("2026-06-30")
    page.get_by_label("年综合能耗（吨标准煤）").fill("12000")


def add_item(page: Any, *, name: str, model: str, quantity: str, price: str, category: str, grade: str) -> None:
    form = page.locator("#item-form")
    form.get_by_label("设备名称").fill(name)
    form.get_by_label("型号").fill(model)
    form.get_by_label("数量").fill(quantity)
    form.get_by_label("单价（元）").fill(price)
    form.get_by_label("产品类别").select_option(value=category)
    form.get_by_label("能效等级").fill(grade)
    form.get_by_role("button", name="添加").click()
    page.wait_for_load_state()


def status_tag(page: Any) -> str:
    return page.locator("h1 .tag").inner_text()


def test_a_project_with_a_low_efficiency_item_is_flagged_and_approved_only_after_the_fix(
    enterprise, owner, county, boss, live_server, browser_page
) -> None:
    qiye = account(owner, "qiye-e2e", "企业经办人张磊")
    xianqu = account(county, "xianqu-e2e", "宣化区政府李娜")
    gongxin = account(officer("市工业和信息化局"), "gongxin-e2e", "市工信局刘洋")
    zhuanban = account(boss, "zhuanban-e2e", "专班王建国")
    page = browser_page

    # the enterprise declares the project from its list
    login(page, live_server, qiye)
    page.goto(f"{live_server.url}/projects/")
    page.get_by_role("link", name="申报项目").click()
    page.wait_for_url(f"{live_server.url}/projects/new/")
    page.get_by_role("heading", name="申报设备更新项目").wait_for()
    fill_project(page)
    page.get_by_label("申请中央预算内投资或其他中央财政资金").check()
    page.screenshot(path=str(ARTIFACTS / "projects-form.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/projects/XM\d+/$"))
    project = Project.objects.get()
    assert page.url.endswith(f"/projects/{project.code}/")
    assert "项目已保存为草稿" in messages(page)
    assert status_tag(page) == "草稿"

    # …lists a 3级 air compressor (below the energy-saving level) and a 1级 LED lighting set
    add_item(
        page,
        name="螺杆空气压缩机",
        model="LG-20/8",
        quantity="2",
        price="350000",
        category="air_compressor",
        grade="3级",
    )
    assert "设备已保存" in messages(page)
    add_item(
        page, name="车间LED照明", model="GC-150W", quantity="40", price="800", category="led_lighting", grade="1级"
    )
    compressor = page.locator("#items tbody tr", has_text="螺杆空气压缩机")
    assert "✘" in compressor.inner_text() and "低于节能水平" in compressor.inner_text()
    assert "容积式空气压缩机" in compressor.inner_text()
    assert "✔ 达标" in page.locator("#items tbody tr", has_text="车间LED照明").inner_text()
    assert "1 项设备低于节能水平" in page.locator("#efficiency").inner_text()
    page.screenshot(path=str(ARTIFACTS / "projects-detail-flagged.png"), full_page=True)
    page.get_by_role("button", name="提交县区审核").click()
    page.wait_for_load_state()
    assert "已提交县区审核" in messages(page)
    assert status_tag(page) == "待县区审核"
    assert page.locator("#item-form").count() == 0  # no changes while under review
    logout(page)

    # the county sees the flag, cannot approve, and returns the project with a reason
    login(page, live_server, xianqu)
    page.goto(f"{live_server.url}/projects/{project.code}/")
    assert "1 项设备低于节能水平" in page.locator("#efficiency").inner_text()
    assert "低于节能水平" in page.locator("#items tbody tr", has_text="螺杆空气压缩机").inner_text()
    assert page.get_by_role("button", name="移除").count() == 0
    review = page.locator("#review")
    assert "县区审核" in review.inner_text()
    review.get_by_role("button", name="审核通过").click()
    page.wait_for_load_state()
    assert "低于节能水平" in page.locator("ul.messages li.error").inner_text()
    assert "请退回企业修改" in messages(page)
    assert status_tag(page) == "待县区审核"
    page.screenshot(path=str(ARTIFACTS / "projects-review.png"), full_page=True)
    page.get_by_label("退回或不予入库的理由").fill(REASON)
    page.get_by_role("button", name="退回企业修改").click()
    page.wait_for_load_state()
    assert "已退回企业修改" in messages(page)
    assert status_tag(page) == "退回修改"
    assert page.locator("#review").count() == 0
    logout(page)

    # the enterprise reads the reason, replaces the compressor with a 2级 one and resubmits
    login(page, live_server, qiye)
    page.goto(f"{live_server.url}/projects/{project.code}/")
    assert REASON in page.locator("ol.timeline").inner_text()
    page.locator("#items tbody tr", has_text="螺杆空气压缩机").get_by_role("button", name="移除").click()
    page.wait_for_load_state()
    assert "设备已移除" in messages(page)
    assert page.locator("#items tbody tr", has_text="螺杆空气压缩机").count() == 0
    add_item(
        page,
        name="螺杆空气压缩机",
        model="LG-20/8-Ⅱ",
        quantity="2",
        price="380000",
        category="air_compressor",
        grade="2级",
    )
    assert "✔ 达标" in page.locator("#items tbody tr", has_text="螺杆空气压缩机").inner_text()
    assert "✔ 设备清单均达到节能水平" in page.locator("#efficiency").inner_text()
    assert page.locator("#items tr.flagged").count() == 0
    page.get_by_role("button", name="提交县区审核").click()
    page.wait_for_load_state()
    assert status_tag(page) == "待县区审核"
    logout(page)

    # the county approves; the project goes on to the city
    login(page, live_server, xianqu)
    page.goto(f"{live_server.url}/projects/{project.code}/")
    page.locator("#review").get_by_role("button", name="审核通过").click()
    page.wait_for_load_state()
    assert "审核通过" in messages(page)
    assert status_tag(page) == "待市级审核"
    assert page.locator("#review").count() == 0  # the county's part is done
    logout(page)

    # the city's 工业和信息化局 (the department for 工业) approves it into the library
    login(page, live_server, gongxin)
    page.goto(f"{live_server.url}/projects/{project.code}/")
    review = page.locator("#review")
    assert "市级审核" in review.inner_text()
    review.get_by_role("button", name="审核通过").click()
    page.wait_for_load_state()
    assert "审核通过" in messages(page)
    assert status_tag(page) == "已入库"
    page.get_by_role("heading", name="投资完成情况").wait_for()
    page.screenshot(path=str(ARTIFACTS / "projects-approved.png"), full_page=True)
    logout(page)

    # the task force finds it in the library
    login(page, live_server, zhuanban)
    page.goto(f"{live_server.url}/projects/")
    page.get_by_role("heading", name="设备更新项目库").wait_for()
    row = page.locator("tbody tr", has_text=project.code)
    assert row.get_by_role("link", name="空压站及智能化生产线节能改造").is_visible()
    assert "已入库" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "projects-list.png"), full_page=True)

    project.refresh_from_db()
    assert project.status == Project.Status.APPROVED
    assert project.approved_at is not None and not project.exemption
    assert project.total_investment_fen == 5000 * 10**6 and project.equipment_investment_fen == 3000 * 10**6
    assert project.seeks_central_funds
    compressor_item = project.items.get(category="air_compressor")
    assert (compressor_item.grade, compressor_item.model) == ("2级", "LG-20/8-Ⅱ")
    assert compressor_item.unit_price_fen == 380000_00 and compressor_item.quantity == 2
    assert sorted(project.items.values_list("name", flat=True)) == sorted(["螺杆空气压缩机", "车间LED照明"])
    events = list(project.events.values_list("status", "actor__username", "note"))
    assert [(status, who) for status, who, _ in events] == [
        (Project.Status.DRAFT, qiye),
        (Project.Status.SUBMITTED, qiye),
        (Project.Status.RETURNED, xianqu),
        (Project.Status.SUBMITTED, qiye),
        (Project.Status.COUNTY_APPROVED, xianqu),
        (Project.Status.APPROVED, gongxin),
    ]
    assert "1项设备低于节能水平" in events[1][2]
    assert events[2][2] == f"县区审核：{REASON}"
    assert events[3][2] == "提交审核"
    assert events[5][2] == "市级审核通过"


def test_bad_project_input_is_refused_on_the_form(enterprise, owner, live_server, browser_page) -> None:
    page = browser_page
    login(page, live_server, account(owner, "qiye-bad-e2e", "企业经办人张磊"))
    page.goto(f"{live_server.url}/projects/new/")

    # equipment investment above the total
    fill_project(page, total="3000", equipment="3500")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert page.url.endswith("/projects/new/")
    page.get_by_text("项目未保存，请按提示修改。").wait_for()
    equipment = page.get_by_label("其中设备投资（万元）")
    assert equipment.get_attribute("aria-invalid") == "true"
    assert page.locator(f"#{equipment.get_attribute('aria-describedby')}").inner_text() == "设备投资不能超过总投资"
    assert equipment.input_value() == "3500"  # what was typed stays
    assert page.get_by_label("项目名称").input_value() == "空压站及智能化生产线节能改造"
    assert page.get_by_label("总投资（万元）").get_attribute("aria-invalid") is None
    page.screenshot(path=str(ARTIFACTS / "projects-form-refused.png"), full_page=True)

    # a negative total, and a completion date before the start
    page.get_by_label("总投资（万元）").fill("-100")
    page.get_by_label("其中设备投资（万元）").fill("50")
    page.get_by_label("竣工日期").fill("2024-12-31")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    total = page.get_by_label("总投资（万元）")
    assert total.get_attribute("aria-invalid") == "true"
    assert page.locator(f"#{total.get_attribute('aria-describedby')}").inner_text() == "总投资应大于0"
    assert page.get_by_label("其中设备投资（万元）").get_attribute("aria-invalid") is None
    ends = page.get_by_label("竣工日期")
    assert ends.get_attribute("aria-invalid") == "true"
    assert page.locator(f"#{ends.get_attribute('aria-describedby')}").inner_text() == "竣工日期不能早于开工日期"

    # not a number
    page.get_by_label("总投资（万元）").fill("五千")
    page.get_by_label("竣工日期").fill("2026-06-30")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "“五千”不是数字" in page.locator("#e-total").inner_text()
    assert not Project.objects.exists()

    # corrected, it saves; then an unknown grade in the item form is refused
    page.get_by_label("总投资（万元）").fill("3000")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/projects/XM\d+/$"))
    project = Project.objects.get()
    assert project.equipment_investment_fen == 50 * 10**6
    add_item(
        page,
        name="螺杆空气压缩机",
        model="LG-20",
        quantity="1",
        price="350000",
        category="air_compressor",
        grade="6级",
    )
    refusal = page.locator("ul.messages li.error").inner_text()
    assert "未知的能效等级" in refusal and "1级、2级、3级" in refusal
    assert page.get_by_text("还没有设备清单。").is_visible()

    # a price that is not a number
    add_item(
        page,
        name="螺杆空气压缩机",
        model="LG-20",
        quantity="1",
        price="三十五万",
        category="air_compressor",
        grade="2级",
    )
    assert "“三十五万”不是数字" in page.locator("ul.messages li.error").inner_text()  # names what was typed
    assert not EquipmentItem.objects.exists()
    assert Project.objects.count() == 1
    project.refresh_from_db()
    assert project.status == Project.Status.DRAFT
