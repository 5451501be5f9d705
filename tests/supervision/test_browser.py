"""A real browser (Playwright driving Debian's Chromium): the task force issues a 督办单, the department answers,
the task force closes it. Screenshots land in test-artifacts/. Skips without /usr/bin/chromium, except in CI
(HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import pytest

from huanxin.core.roles import Role
from huanxin.core.services import create_user
from huanxin.supervision.models import Notice
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import department_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name


def test_a_notice_is_issued_answered_and_closed(plan, live_server, browser_page) -> None:
    create_user(
        actor=None,
        username="zhuanban-e2e",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
        display_name="王建国",
    )
    create_user(
        actor=None,
        username="zhujian-e2e",
        password=PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=department_org("市住房和城乡建设局"),
        display_name="陈静",
    )
    page = browser_page

    # the task force issues a notice; the first try lacks the subject, and nothing typed is lost
    login(page, live_server, "zhuanban-e2e")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="调度督办").click()
    page.get_by_role("heading", name="调度督办").wait_for()
    page.get_by_role("link", name="发出督办单").first.click()
    page.get_by_label("督办对象").select_option(label="市住房和城乡建设局")
    page.get_by_label("关于举措").select_option(label="二（二）2 补齐市政设施短板")
    page.get_by_label("关于指标").select_option(label="淘汰更新改造燃气老旧管网（二（二）2）")
    page.get_by_label("督办内容").fill("燃气老旧管网累计改造完成率低于序时进度，请分析原因，提出整改措施和完成时限。")
    page.get_by_role("button", name="发出").click()
    page.get_by_text("请填写督办事项").wait_for()
    assert "低于序时进度" in page.get_by_label("督办内容").input_value()
    assert page.get_by_label("关于指标").input_value() != ""
    page.screenshot(path=str(ARTIFACTS / "supervision-notice-form.png"), full_page=True)
    page.get_by_label("督办事项").fill("燃气老旧管网改造进度滞后")
    page.get_by_role("button", name="发出").click()
    page.get_by_text("已发出，送市住房和城乡建设局办理").wait_for()
    notice = Notice.objects.get()
    assert page.get_by_role("heading", name=f"{notice.number} 燃气老旧管网改造进度滞后").is_visible()
    page.get_by_role("button", name="退出").click()

    # the department finds it in its inbox and answers
    login(page, live_server, "zhujian-e2e")
    page.get_by_role("link", name="待答复的督办单").click()
    page.get_by_role("link", name=notice.number).click()
    page.get_by_label("答复内容").fill("已召开专题调度会，宣化区、万全区本月进场施工，12月底前追上序时进度。")
    page.get_by_role("button", name="提交答复").click()
    page.get_by_text("答复已提交工作专班").wait_for()
    assert page.get_by_text("宣化区、万全区本月进场施工").is_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # readable on a phone
    page.screenshot(path=str(ARTIFACTS / "supervision-notice-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="退出").click()

    # the task force closes it
    login(page, live_server, "zhuanban-e2e")
    page.get_by_role("link", name="已答复待办结的督办单").click()
    page.get_by_role("link", name=notice.number).click()
    page.get_by_label("办结意见").fill("整改措施具体可行，纳入月度调度持续跟踪。")
    page.get_by_role("button", name="办结", exact=True).click()
    page.get_by_text(f"{notice.number}已办结").wait_for()
    assert page.get_by_text("整改措施具体可行").is_visible()
    page.screenshot(path=str(ARTIFACTS / "supervision-notice-closed.png"), full_page=True)
    notice.refresh_from_db()
    assert notice.status == "closed" and notice.messages.count() == 2
