"""The supervision pages as their users use them: forms, refusals shown next to their fields, empty states."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core.models import Department
from huanxin.core.roles import Role
from huanxin.monitoring.periods import PeriodRef
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone, Notice, NoticeMessage, ProgressReport
from tests import clock
from tests.factories import officer, task_force, user_with_role
from tests.supervision.conftest import COMMERCE, HOUSING, POLICE, issue

pytestmark = pytest.mark.django_db
NOTICES = reverse("supervision:notices")
NEW = reverse("supervision:notice_new")


def page(client: Client, url: str, user=None, status: int = 200) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content.decode()[:500]
    return response.content.decode()


# --- notice list ---------------------------------------------------------------------------------------


def test_the_notice_list_filters_and_pages(client: Client, measure, boss, clerk) -> None:
    police = Department.objects.resolve(POLICE)
    for n in range(22):
        issue(boss, measure, subject=f"督办事项{n:02d}")
    late = issue(boss, measure, subject="逾期未答复的事项", due_on=dt.date(2025, 1, 10), today=dt.date(2025, 1, 2))
    answered = issue(boss, measure, department=police, subject="公安局已答复的事项")
    services.answer_notice(actor=officer(POLICE), notice=answered, text="已答复")

    html = page(client, NOTICES, boss)
    assert "共 24 份" in html and "第 1 / 2 页" in html and "发出督办单" in html
    assert "督办事项21" in html and "逾期未答复的事项" not in html  # the 2025 one is on page 2
    assert "逾期未答复的事项" in page(client, f"{NOTICES}?page=2")
    html = page(client, f"{NOTICES}?overdue=1")
    assert "共 1 份" in html and late.number in html and "已逾期" in html
    html = page(client, f"{NOTICES}?status=answered")
    assert "公安局已答复的事项" in html and "督办事项01" not in html
    html = page(client, f"{NOTICES}?department=police")
    assert "共 1 份" in html
    html = page(client, f"{NOTICES}?status=awaiting&department=housing")
    assert "共 23 份" in html and 'href="?status=awaiting&amp;department=housing&amp;page=2"' in html
    assert "没有符合条件的督办单" in page(client, f"{NOTICES}?status=closed")

    html = page(client, NOTICES, officer(POLICE))  # a department sees only its own
    assert "共 1 份" in html and "发出督办单" not in html
    assert "还没有督办单" in page(client, NOTICES, officer(COMMERCE))
    page(client, NOTICES, user_with_role(Role.CITIZEN), status=403)


# --- issuing -------------------------------------------------------------------------------------------


def test_issuing_a_notice_keeps_what_was_typed_when_refused(client: Client, measure, boss, plan) -> None:
    html = page(client, f"{NEW}?measure={measure.pk}", boss)
    assert f'<option value="{measure.pk}" selected>二（二）2 补齐市政设施短板</option>' in html
    token = html.split('name="token" value="')[1].split('"')[0]
    form = {
        "department": "commerce",
        "measure": str(measure.pk),
        "indicator": "",
        "subject": "燃气老旧管网改造进度滞后",
        "body": "请于时限内书面答复。",
        "due_on": "2026-13-45",
        "token": token,
    }
    response = client.post(NEW, form)
    assert response.status_code == 400
    html = response.content.decode()
    assert "市商务局不是举措二（二）2的责任单位" in html and "办理时限的格式应为 年-月-日" in html
    assert 'value="燃气老旧管网改造进度滞后"' in html and "请于时限内书面答复。</textarea>" in html
    assert '<option value="commerce" selected>' in html and 'value="2026-13-45"' in html
    assert not Notice.objects.exists()

    form.update(department="housing", due_on=(timezone.localdate() + dt.timedelta(days=10)).isoformat())
    response = client.post(NEW, form)
    notice = Notice.objects.get()
    assert response["Location"] == reverse("supervision:notice", args=[notice.pk])
    assert client.post(NEW, form)["Location"] == response["Location"]  # the same form again: no second notice
    assert Notice.objects.count() == 1
    html = page(client, response["Location"])
    assert f"{notice.number}已发出，送市住房和城乡建设局办理" in html


def test_an_empty_issue_form_lists_every_missing_field(client: Client, boss) -> None:
    client.force_login(boss)
    response = client.post(NEW, {"due_on": ""})
    html = response.content.decode()
    assert response.status_code == 400
    for message in ["请选择督办对象", "请选择督办的举措或指标（至少一项）", "请填写督办事项", "请填写督办内容"]:
        assert message in html
    assert "请填写办理时限（年-月-日）" in html


def test_only_the_task_force_issues(client: Client, clerk) -> None:
    page(client, NEW, clerk, status=403)
    page(client, NEW, user_with_role(Role.AUDITOR), status=403)
    assert client.post(NEW, {"department": "housing"}).status_code == 403


# --- a notice's page -----------------------------------------------------------------------------------


def test_the_department_answers_and_the_task_force_closes(client: Client, measure, boss, clerk) -> None:
    notice = issue(boss, measure)
    url = reverse("supervision:notice", args=[notice.pk])
    html = page(client, url, clerk)
    assert "提交答复" in html and "办结意见" not in html
    token = html.split('name="token" value="')[1].split('"')[0]
    response = client.post(url, {"action": "answer", "text": " ", "token": token})
    assert response.status_code == 400 and "请填写答复内容" in response.content.decode()
    assert f'name="token" value="{token}"' in response.content.decode()  # the retry keeps the form's token
    client.post(url, {"action": "answer", "text": "已召开专题会", "token": token})
    assert client.post(url, {"action": "answer", "text": "已召开专题会", "token": token}).status_code == 302
    assert NoticeMessage.objects.count() == 1  # the double click answered once
    html = page(client, url)
    assert "已召开专题会" in html and "提交答复" not in html and "等待" not in html

    html = page(client, url, boss)
    assert "办结意见" in html and "退回补充" in html and "提交答复" not in html
    response = client.post(url, {"action": "close", "note": ""})
    assert response.status_code == 400 and "请填写办结意见" in response.content.decode()
    response = client.post(url, {"action": "return", "reason": "请补充分县区计划", "due_on": "明天"})
    assert response.status_code == 400 and "补充答复时限的格式应为 年-月-日" in response.content.decode()
    assert "请补充分县区计划</textarea>" in response.content.decode()
    client.post(url, {"action": "return", "reason": "请补充分县区计划"})
    assert Notice.objects.get().status == "returned"

    html = page(client, url, clerk)
    assert "工作专班退回补充" in html and "请补充分县区计划" in html and "提交答复" in html
    client.post(url, {"action": "answer", "text": "分县区计划见附表", "token": "second-form"})
    client.force_login(boss)
    response = client.post(url, {"action": "close", "note": "同意办结"})
    assert response.status_code == 302
    html = page(client, url)
    assert f"{notice.number}已办结" in html and "同意办结" in html and "已办结" in html
    assert "已召开专题会" in html and "分县区计划见附表" in html  # both answers kept


def test_a_notice_page_is_closed_to_everyone_else(client: Client, measure, boss) -> None:
    notice = issue(boss, measure)
    url = reverse("supervision:notice", args=[notice.pk])
    page(client, url, officer(COMMERCE), status=404)
    page(client, url, user_with_role(Role.CITIZEN), status=404)
    html = page(client, url, user_with_role(Role.AUDITOR))
    assert notice.subject in html and "提交答复" not in html and "办结意见" not in html
    assert client.post(url, {"action": "close", "note": "x"}).status_code == 400  # an auditor changes nothing
    assert Notice.objects.get().status == "issued"


# --- a measure's 任务调度 page --------------------------------------------------------------------------


def test_the_measure_page_for_a_department_clerk(client: Client, measure, plan, clerk, monkeypatch) -> None:
    today = timezone.localdate(clock.freeze(monkeypatch))  # the page's months and this test's are the same
    url = reverse("supervision:measure", args=[plan.code, measure.slug])
    html = page(client, url, clerk)
    assert "任务调度 · 二（二）2 补齐市政设施短板" in html and "报告本单位进展 · 市住房和城乡建设局" in html
    assert "尚未设置里程碑" in html and "没有本单位可查看的关于本举措的督办单" in html
    assert "逾期未报" in html  # nobody has reported since 2024
    month = selectors.plan_months(plan, today)[-1]  # this month, or the plan's last once the plan has ended
    post = reverse("supervision:report", args=[plan.code, measure.slug])
    response = client.post(post, {"period": month.code, "text": "", "percent_done": "150", "problems": "资金慢"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "请填写工作进展" in html and "完成程度应为 0–100 的整数" in html and 'value="150"' in html
    assert "资金慢</textarea>" in html

    response = client.post(
        post, {"period": month.code, "text": "本月完成8公里", "percent_done": "60", "action": "save"}
    )
    assert response.status_code == 302 and f"?period={month.code}" in response["Location"]
    html = page(client, response["Location"])
    assert "进展已保存为草稿" in html and "本月完成8公里</textarea>" in html and "（草稿）" in html
    client.post(post, {"period": month.code, "text": "本月完成9公里", "percent_done": "61", "action": "submit"})
    report = ProgressReport.objects.get()
    assert (report.status, report.text, report.percent_done) == ("submitted", "本月完成9公里", 61)
    html = page(client, url, task_force())
    assert "本月完成9公里" in html and "完成 61%" in html and "报告本单位进展" not in html


def test_months_are_shown_six_at_a_time_or_all(client: Client, measure, plan, clerk) -> None:
    url = reverse("supervision:measure", args=[plan.code, measure.slug])

    def grid(html: str) -> str:  # the reports table: after the report form, before the milestones
        return html.split('id="milestones"')[0].split("</form>")[-1]

    html = page(client, url, clerk)
    first = PeriodRef.parse("2024-M05")
    assert first.label not in grid(html) and "显示全部" in html
    assert first.label in grid(page(client, f"{url}?months=all"))


def test_milestones_on_the_measure_page(client: Client, measure, plan, housing, clerk) -> None:
    url = reverse("supervision:measure", args=[plan.code, measure.slug])
    add = reverse("supervision:milestone_add", args=[plan.code, measure.slug])
    client.force_login(clerk)
    response = client.post(add, {"title": "", "department": "commerce", "due_on": "2030-01-01", "token": "m1"})
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "请填写里程碑名称" in html and "该单位不是本举措的责任单位" in html and "计划完成日期应在方案实施期内" in html
    )
    form = {"title": "主城区改造完成过半", "department": "housing", "due_on": "2025-06-30", "token": "m2"}
    assert client.post(add, form).status_code == 302
    assert client.post(add, form).status_code == 302  # a double click
    milestone = Milestone.objects.get()
    html = page(client, url)
    assert "主城区改造完成过半" in html and "已逾期" in html and "标记完成" in html

    done = reverse("supervision:milestone_done", args=[milestone.pk])
    response = client.post(done, {"done_on": "2099-01-01"})
    assert response.status_code == 400 and "完成日期不能晚于今天" in response.content.decode()
    assert "<details open><summary>标记完成</summary>" in response.content.decode()
    client.post(done, {"done_on": "2025-07-10", "note": "已完成"})
    milestone.refresh_from_db()
    assert (milestone.status, milestone.done_on) == ("done", dt.date(2025, 7, 10))
    assert "晚于计划" in page(client, url)

    other = services.add_milestone(
        actor=clerk, measure=measure, department=housing, title="年度计划", due_on=dt.date(2027, 6, 30)
    )
    cancel = reverse("supervision:milestone_cancel", args=[other.pk])
    client.force_login(officer(COMMERCE))
    assert client.post(cancel, {"reason": "x"}).status_code == 400  # not theirs to cancel
    client.force_login(task_force())
    response = client.post(cancel, {"reason": ""})
    assert response.status_code == 400 and "取消里程碑请写明原因" in response.content.decode()
    client.post(cancel, {"reason": "并入年度计划"})
    assert "取消原因：并入年度计划" in page(client, url)


def test_the_measure_page_is_for_officials(client: Client, measure, plan) -> None:
    url = reverse("supervision:measure", args=[plan.code, measure.slug])
    page(client, url, user_with_role(Role.MERCHANT), status=403)
    page(client, reverse("supervision:measure", args=[plan.code, "9.9.9"]), task_force(), status=404)
    html = page(client, url)
    assert "添加里程碑" in html and "就本举措发出督办单" in html and "报告本单位进展" not in html
    html = page(client, url, officer("市市场监督管理局"))  # co-operating: reports, cannot plan milestones
    assert "报告本单位进展" in html and "添加里程碑" not in html


def test_a_clause_lead_gets_buttons_only_for_its_own_clauses_milestones(client: Client, measure, plan, housing) -> None:
    url = reverse("supervision:measure", args=[plan.code, measure.slug])
    police = Department.objects.resolve(POLICE)
    theirs = services.add_milestone(
        actor=task_force(), measure=measure, department=housing, title="管网改造", due_on=dt.date(2027, 6, 30)
    )
    ours = services.add_milestone(
        actor=task_force(), measure=measure, department=police, title="视频监控", due_on=dt.date(2027, 6, 30)
    )
    html = page(client, url, officer(POLICE))
    assert reverse("supervision:milestone_cancel", args=[ours.pk]) in html
    assert reverse("supervision:milestone_cancel", args=[theirs.pk]) not in html
    choices = html.split('id="m-department"')[1].split("</select>")[0]
    assert f'value="{police.code}"' in choices and f'value="{housing.code}"' not in choices
    refused = client.post(reverse("supervision:milestone_cancel", args=[theirs.pk]), {"reason": "x"})
    assert refused.status_code == 400 and "只能取消本单位牵头的分工条款下的里程碑" in refused.content.decode()


# --- landing and department pages ----------------------------------------------------------------------


def test_the_landing_page_by_role(client: Client, measure, boss, clerk) -> None:
    notice = issue(boss, measure)
    html = page(client, reverse("supervision:mine"), boss)
    assert "各责任单位" in html and "市住房和城乡建设局" in html and "还没有单位报送进展报告" in html
    html = page(client, reverse("supervision:mine"), clerk)
    assert "我的调度 · 市住房和城乡建设局" in html and notice.number in html
    assert "二（二）2 补齐市政设施短板" in html and "牵头" in html and "配合" in html
    html = page(client, reverse("supervision:mine"), officer(COMMERCE))
    assert "没有未办结的督办单" in html and "没有进行中的里程碑" in html
    page(client, reverse("supervision:mine"), user_with_role(Role.COUNTY_OFFICER), status=403)
    page(client, reverse("supervision:mine"), user_with_role(Role.CITIZEN), status=403)


def test_department_pages(client: Client, measure, boss) -> None:
    url = reverse("supervision:department", args=["housing"])
    assert "调度情况 · 市住房和城乡建设局" in page(client, url, boss)
    assert "调度情况 · 市住房和城乡建设局" in page(client, url, user_with_role(Role.AUDITOR))
    assert "我的调度 · 市住房和城乡建设局" in page(client, url, officer(HOUSING))
    page(client, url, officer(COMMERCE), status=403)
    page(client, reverse("supervision:department", args=["nowhere"]), boss, status=404)


def test_the_admin_reads_supervision_rows_and_changes_none(client: Client, measure, boss, clerk) -> None:
    from tests.factories import UserFactory

    notice = issue(boss, measure)
    services.answer_notice(actor=clerk, notice=notice, text="已答复")
    client.force_login(UserFactory(is_staff=True, is_superuser=True, role=Role.TASK_FORCE))
    html = page(client, reverse("admin:supervision_notice_change", args=[notice.pk]))
    assert "已答复" in html and notice.subject in html
    for name in ["notice", "noticemessage", "progressreport", "milestone", "noticecounter"]:
        assert client.get(reverse(f"admin:supervision_{name}_add")).status_code == 403
    assert client.post(reverse("admin:supervision_notice_delete", args=[notice.pk]), {"post": "yes"}).status_code == 403
    assert Notice.objects.filter(pk=notice.pk).exists()


def test_a_department_with_every_month_reported_sees_no_form(client: Client, measure, plan, clerk, monkeypatch) -> None:
    today = timezone.localdate(clock.freeze(monkeypatch))  # no new month may begin before the page is drawn
    for month in selectors.plan_months(plan, today):
        services.save_report(actor=clerk, measure=measure, period=month.code, text="按计划推进", submit=True)
    html = page(client, reverse("supervision:measure", args=[plan.code, measure.slug]), clerk)
    assert "本单位各月进展均已报送" in html and 'id="report-form"' not in html
    assert "市住建局 0 个月" not in html
