"""Task supervision: progress reports, milestones and 督办单 — states, permissions, numbering, scoping, pages."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core.models import AuditEvent, Department
from huanxin.core.roles import Role
from huanxin.plans.models import Indicator, Measure
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone, Notice, NoticeAnswer, ProgressReport
from tests.conftest import postgres_only
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db
HOUSING = "市住房和城乡建设局"


@pytest.fixture
def measure(plan) -> Measure:
    return Measure.objects.get(plan=plan, code="二（二）2")  # 住建局 leads, 公安局 leads the second clause


def notice_for(boss, measure, **kw) -> Notice:
    defaults = {
        "department": Department.objects.resolve(HOUSING),
        "subject": "排水管网更新改造进度滞后",
        "body": "请分析原因并提出措施。",
        "due_on": timezone.localdate() + dt.timedelta(days=10),
        "measure": measure,
    }
    return services.issue_notice(actor=boss, **{**defaults, **kw})


def test_a_progress_report_is_written_then_submitted_once(measure) -> None:
    clerk = officer(HOUSING)
    report = services.save_report(
        actor=clerk, measure=measure, period="2025-M06", text="完成改造12公里", percent_done=30
    )
    assert report.status == "draft"
    report = services.save_report(
        actor=clerk, measure=measure, period="2025-M06", text="完成改造13公里", percent_done=31, submit=True
    )
    assert report.status == "submitted" and ProgressReport.objects.count() == 1
    with pytest.raises(ValidationError, match="已报送"):
        services.save_report(actor=clerk, measure=measure, period="2025-M06", text="改")


@pytest.mark.parametrize(
    ("period", "text", "percent", "field"),
    [
        ("2025-Q2", "x", None, "__all__"),
        ("2099-M01", "x", None, "period"),
        ("2025-M06", " ", None, "text"),
        ("2025-M06", "x", 130, "percent_done"),
    ],
)
def test_bad_reports_are_refused(measure, period, text, percent, field) -> None:
    with pytest.raises(ValidationError) as exc:
        services.save_report(actor=officer(HOUSING), measure=measure, period=period, text=text, percent_done=percent)
    assert field in exc.value.message_dict if hasattr(exc.value, "error_dict") else field == "__all__"


def test_only_responsible_departments_report(measure) -> None:
    with pytest.raises(PermissionDenied, match="不是该举措的责任单位"):
        services.save_report(actor=officer("市商务局"), measure=measure, period="2025-M06", text="x")
    with pytest.raises(PermissionDenied):
        services.save_report(actor=task_force(), measure=measure, period="2025-M06", text="x")


def test_drafts_stay_in_the_department(measure) -> None:
    clerk = officer(HOUSING)
    report = services.save_report(actor=clerk, measure=measure, period="2025-M06", text="草稿")
    assert ProgressReport.objects.visible_to(officer(HOUSING)).filter(pk=report.pk).exists()
    assert not ProgressReport.objects.visible_to(task_force()).filter(pk=report.pk).exists()
    services.save_report(actor=clerk, measure=measure, period="2025-M06", text="报送", submit=True)
    assert ProgressReport.objects.visible_to(task_force()).filter(pk=report.pk).exists()
    assert not ProgressReport.objects.visible_to(user_with_role(Role.CITIZEN)).exists()


def test_missing_months_are_counted_for_the_lead_only(measure, plan) -> None:
    clerk = officer(HOUSING)
    today = dt.date(2024, 9, 5)  # May, June, July due; August not yet (due 10 days after the month ends)
    services.save_report(actor=clerk, measure=measure, period="2024-M06", text="x", submit=True, today=today)
    duties = {
        d.measure.code: d for d in selectors.department_duties(user=clerk, department=clerk.department, today=today)
    }
    assert [m.code for m in duties["二（二）2"].missing] == ["2024-M05", "2024-M07"]
    assert duties["四（一）"].role == "cooperating" and duties["四（一）"].missing == []


def test_milestones(measure) -> None:
    boss, clerk = task_force(), officer(HOUSING)
    housing = Department.objects.resolve(HOUSING)
    with pytest.raises(PermissionDenied, match="工作专班或牵头单位"):
        services.add_milestone(
            actor=officer("市商务局"), measure=measure, department=housing, title="x", due_on=dt.date(2025, 6, 30)
        )
    with pytest.raises(ValidationError):
        services.add_milestone(
            actor=boss,
            measure=measure,
            department=Department.objects.resolve("市商务局"),
            title="x",
            due_on=dt.date(2025, 6, 30),
        )
    milestone = services.add_milestone(
        actor=clerk, measure=measure, department=housing, title="计划下达", due_on=dt.date(2025, 3, 31)
    )
    assert list(selectors.overdue_milestones(user=boss, today=dt.date(2025, 4, 5))) == [milestone]
    with pytest.raises(PermissionDenied):
        services.complete_milestone(actor=boss, milestone=milestone, done_on=dt.date(2025, 3, 20))
    services.complete_milestone(actor=clerk, milestone=milestone, done_on=dt.date(2025, 3, 20))
    assert not selectors.overdue_milestones(user=boss, today=dt.date(2025, 4, 5)).exists()
    with pytest.raises(ValidationError, match="写明原因"):
        services.cancel_milestone(actor=boss, milestone=milestone, reason="")


def test_a_notice_from_issue_to_close(measure) -> None:
    boss, clerk = task_force(), officer(HOUSING)
    with pytest.raises(PermissionDenied):
        notice_for(clerk, measure)
    with pytest.raises(ValidationError) as exc:
        notice_for(boss, None, subject="", due_on=dt.date(2020, 1, 1))
    assert set(exc.value.message_dict) == {"measure", "subject", "due_on"}
    notice = notice_for(boss, measure)
    assert notice.number == f"督办〔{timezone.localdate().year}〕1号"
    assert notice_for(boss, measure).sequence == 2

    with pytest.raises(ValidationError, match="尚未答复"):
        services.close_notice(actor=boss, notice=notice, note="")
    with pytest.raises(PermissionDenied):
        services.answer_notice(actor=officer("市商务局"), notice=notice, text="x")
    first = services.answer_notice(actor=clerk, notice=notice, text="已制定措施", token="t-1")
    again = services.answer_notice(actor=clerk, notice=notice, text="已制定措施", token="t-1")  # a double click
    assert first.pk == again.pk and NoticeAnswer.objects.count() == 1
    services.return_notice(actor=boss, notice=notice, reason="请补充分县区计划")
    services.answer_notice(actor=clerk, notice=notice, text="分县区计划见附表", token="t-2")
    notice = services.close_notice(actor=boss, notice=notice, note="措施可行")
    assert notice.status == "closed" and notice.answers.count() == 2
    assert services.close_notice(actor=boss, notice=notice, note="again").closing_note == "措施可行"
    actions = list(
        AuditEvent.objects.filter(object_id=str(notice.pk), object_type="supervision.notice").values_list(
            "action", flat=True
        )
    )
    assert actions == ["notice.issued", "notice.answered", "notice.returned", "notice.answered", "notice.closed"]


def test_notices_are_scoped(measure) -> None:
    notice = notice_for(task_force(), measure)
    assert Notice.objects.visible_to(officer(HOUSING)).filter(pk=notice.pk).exists()
    assert Notice.objects.visible_to(user_with_role(Role.AUDITOR)).filter(pk=notice.pk).exists()
    for outsider in [officer("市商务局"), user_with_role(Role.CITIZEN), user_with_role(Role.COUNTY_OFFICER)]:
        assert not Notice.objects.visible_to(outsider).filter(pk=notice.pk).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_notices_get_distinct_numbers(plan) -> None:
    boss = task_force()
    measure = Measure.objects.get(plan=plan, code="二（二）2")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                notice_for(boss, measure)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Notice.objects.values_list("sequence", flat=True)) == list(range(1, 31))


def test_pages_and_inbox(client: Client, measure) -> None:
    boss, clerk = task_force(), officer(HOUSING)
    client.force_login(boss)
    url = reverse("supervision:notice_new")
    response = client.post(url, {"department": "", "subject": "", "body": "", "due_on": "明天"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "请选择督办对象" in html and "请填写办理时限" in html
    response = client.post(
        url,
        {
            "department": Department.objects.resolve(HOUSING).code,
            "measure": measure.pk,
            "subject": "管网改造滞后",
            "body": "请答复",
            "due_on": "2099-01-01",
        },
    )
    notice = Notice.objects.get()
    assert response["Location"] == reverse("supervision:notice", args=[notice.pk])
    assert notice.number in client.get(reverse("supervision:notices")).content.decode()

    client.force_login(clerk)
    assert "<b>1</b> 待答复的督办单" in client.get(reverse("home")).content.decode()
    detail = reverse("supervision:notice", args=[notice.pk])
    assert client.post(detail, {"action": "answer", "text": "", "token": "a"}).status_code == 400
    client.post(detail, {"action": "answer", "text": "已部署", "token": "b"})
    client.post(detail, {"action": "answer", "text": "已部署", "token": "b"})
    assert NoticeAnswer.objects.count() == 1

    client.force_login(boss)
    assert "<b>1</b> 已答复待办结的督办单" in client.get(reverse("home")).content.decode()
    client.post(detail, {"action": "close", "note": "同意"})
    notice.refresh_from_db()
    assert notice.status == "closed"

    client.force_login(officer("市商务局"))
    assert client.get(detail).status_code == 404
    client.force_login(user_with_role(Role.CITIZEN))
    assert client.get(reverse("supervision:notices")).status_code == 403


def test_measure_page_report_and_milestone_forms(client: Client, measure, plan) -> None:
    clerk = officer(HOUSING)
    client.force_login(clerk)
    page = reverse("supervision:measure", args=[plan.code, measure.slug])
    assert "报告本单位进展" in client.get(page).content.decode()
    post = reverse("supervision:report", args=[plan.code, measure.slug])
    month = timezone.localdate().strftime("%Y-M%m")
    response = client.post(post, {"period": month, "text": "", "percent_done": "150"})
    assert response.status_code == 400 and "请填写工作进展" in response.content.decode()
    assert client.post(post, {"period": month, "text": "本月完成8公里", "action": "submit"}).status_code == 302
    assert "本月完成8公里" in client.get(page).content.decode()
    milestones = reverse("supervision:milestone", args=[plan.code, measure.slug])
    response = client.post(milestones, {"action": "add", "title": "", "department": "housing", "due_on": "2026-12-31"})
    assert response.status_code == 400
    client.post(
        milestones, {"action": "add", "title": "主城区改造完成", "department": "housing", "due_on": "2026-12-31"}
    )
    milestone = Milestone.objects.get()
    client.post(milestones, {"action": "done", "milestone": milestone.pk, "done_on": "2026-01-05"})
    milestone.refresh_from_db()
    assert milestone.status == "done"
    client.force_login(user_with_role(Role.MERCHANT))
    assert client.get(page).status_code == 403
    assert Indicator.objects.exists()
