"""Monthly progress reports: drafted, submitted once, refused with a reason; which months are overdue."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections

from huanxin.core.models import AuditEvent, Department
from huanxin.core.roles import Role
from huanxin.plans.models import Measure
from huanxin.supervision import selectors, services
from huanxin.supervision.models import ProgressReport
from tests.conftest import postgres_only
from tests.factories import officer, task_force, user_with_role
from tests.supervision.conftest import COMMERCE, HOUSING, MARKET, POLICE

pytestmark = pytest.mark.django_db
JULY_2025 = dt.date(2025, 7, 20)


def save(clerk, measure, period="2025-M06", text="完成燃气管网改造12公里", **kw) -> ProgressReport:
    return services.save_report(actor=clerk, measure=measure, period=period, text=text, today=JULY_2025, **kw)


def test_a_report_is_drafted_rewritten_then_submitted_and_final(clerk, measure) -> None:
    report = save(clerk, measure, percent_done=30)
    assert (report.status, report.percent_done, report.submitted_at) == ("draft", 30, None)
    report = save(clerk, measure, text="完成燃气管网改造13公里", problems="资金到位慢", percent_done="31", submit=True)
    assert report.status == "submitted" and report.submitted_at is not None
    assert (report.text, report.problems, report.percent_done) == ("完成燃气管网改造13公里", "资金到位慢", 31)
    assert ProgressReport.objects.count() == 1
    assert report.period_label == "2025年6月"
    with pytest.raises(ValidationError, match="2025年6月的进展已报送，不能再修改"):
        save(clerk, measure, text="改一改")
    actions = list(
        AuditEvent.objects.filter(object_type="supervision.progressreport", object_id=str(report.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == ["progress_report.saved", "progress_report.submitted"]


def test_sending_the_same_report_twice_changes_nothing(clerk, measure) -> None:
    first = save(clerk, measure, percent_done=40, submit=True)
    again = save(clerk, measure, percent_done=40, submit=True)  # a double click on 报送
    assert again.pk == first.pk and again.submitted_at == first.submitted_at
    assert AuditEvent.objects.filter(action="progress_report.submitted").count() == 1


@pytest.mark.parametrize(
    ("period", "text", "percent", "field", "message"),
    [
        ("2025-Q2", "x", None, "period", "进展报告按月报送"),
        ("2025年6月", "x", None, "period", "期间格式应为"),
        ("2024-M04", "x", None, "period", "2024年4月不在方案实施期内"),
        ("2028-M01", "x", None, "period", "不在方案实施期内"),
        ("2025-M08", "x", None, "period", "2025年8月尚未开始"),
        ("2025-M06", "  ", None, "text", "请填写工作进展"),
        ("2025-M06", "x", "130", "percent_done", "完成程度应为 0–100 的整数"),
        ("2025-M06", "x", "三成", "percent_done", "完成程度应为 0–100 的整数"),
        ("2025-M06", "x", -5, "percent_done", "完成程度应为 0–100 的整数"),
    ],
)
def test_bad_reports_are_refused_field_by_field(clerk, measure, period, text, percent, field, message) -> None:
    with pytest.raises(ValidationError) as exc:
        save(clerk, measure, period=period, text=text, percent_done=percent)
    assert message in exc.value.message_dict[field][0]
    assert not ProgressReport.objects.exists()


def test_every_field_error_is_reported_at_once(clerk, measure) -> None:
    with pytest.raises(ValidationError) as exc:
        save(clerk, measure, period="2025-Q2", text="", percent_done="101")
    assert set(exc.value.message_dict) == {"period", "text", "percent_done"}


def test_percent_may_be_left_empty_or_written_with_a_sign(clerk, measure) -> None:
    assert save(clerk, measure, percent_done="").percent_done is None
    assert save(clerk, measure, percent_done="45%").percent_done == 45


def test_only_the_measures_departments_clerks_report(measure) -> None:
    with pytest.raises(PermissionDenied, match="本单位不是该举措的责任单位"):
        save(officer(COMMERCE), measure)
    for outsider in [task_force(), user_with_role(Role.AUDITOR), user_with_role(Role.COUNTY_OFFICER)]:
        with pytest.raises(PermissionDenied, match="只有责任单位经办人可以报告进展"):
            save(outsider, measure)
    # co-operating departments and the second clause's lead report too
    assert save(officer(MARKET), measure).department.name == MARKET
    assert save(officer(POLICE), measure).department.name == POLICE
    assert ProgressReport.objects.filter(measure=measure, period="2025-M06").count() == 2


def test_drafts_stay_in_their_department(clerk, measure) -> None:
    report = save(clerk, measure)
    boss, colleague, other = task_force(), officer(HOUSING), officer(MARKET)
    assert ProgressReport.objects.visible_to(colleague).filter(pk=report.pk).exists()
    assert not ProgressReport.objects.visible_to(boss).filter(pk=report.pk).exists()
    assert not ProgressReport.objects.visible_to(other).filter(pk=report.pk).exists()
    save(clerk, measure, submit=True)
    for official in [boss, other, user_with_role(Role.AUDITOR)]:
        assert ProgressReport.objects.visible_to(official).filter(pk=report.pk).exists()
    assert not ProgressReport.objects.visible_to(user_with_role(Role.CITIZEN)).exists()


def test_a_month_is_overdue_ten_days_after_it_ends(clerk, measure, plan) -> None:
    """The plan was issued on 2024-05-28, so May 2024 is the first month; its report is due on 10 June."""
    assert plan.issued_on == dt.date(2024, 5, 28)
    assert [m.code for m in selectors.due_months(plan=plan, today=dt.date(2024, 6, 10))] == []
    assert [m.code for m in selectors.due_months(plan=plan, today=dt.date(2024, 6, 11))] == ["2024-M05"]
    assert [m.code for m in selectors.due_months(plan=plan, today=dt.date(2024, 8, 11))] == [
        "2024-M05",
        "2024-M06",
        "2024-M07",
    ]
    assert selectors.due_months(plan=plan, today=dt.date(2024, 5, 1)) == []
    # after the plan's deadline nothing new falls due
    assert selectors.due_months(plan=plan, today=dt.date(2029, 1, 1))[-1].code == "2027-M12"


def test_missing_reports_count_every_responsible_department(clerk, measure) -> None:
    today = dt.date(2024, 8, 15)  # May, June and July are due
    services.save_report(actor=clerk, measure=measure, period="2024-M06", text="x", submit=True, today=today)
    services.save_report(actor=clerk, measure=measure, period="2024-M07", text="草稿", today=today)  # not sent
    missing = {
        m.department.name: [p.code for p in m.months]
        for m in selectors.missing_reports(user=task_force(), today=today, measure=measure)
    }
    assert missing == {
        HOUSING: ["2024-M05", "2024-M07"],
        POLICE: ["2024-M05", "2024-M06", "2024-M07"],
        MARKET: ["2024-M05", "2024-M06", "2024-M07"],
        "市城市管理综合行政执法局": ["2024-M05", "2024-M06", "2024-M07"],
    }
    commerce = Department.objects.resolve(COMMERCE)
    mine = selectors.missing_reports(user=task_force(), today=today, department=commerce)
    assert measure.pk not in {m.measure.pk for m in mine}  # 商务局 owes nothing on 二（二）2
    codes = {m.measure.code for m in mine}
    assert codes == {
        "三（一）",
        "三（二）",
        "三（三）",
        "四（一）",
        "四（二）",
        "四（四）",
        "五（一）",
        "五（二）",
        "六（二）",
        "七（一）",
    }


def test_a_departments_duties(clerk, measure, housing) -> None:
    today = dt.date(2024, 8, 15)
    services.save_report(actor=clerk, measure=measure, period="2024-M05", text="x", submit=True, today=today)
    services.save_report(actor=clerk, measure=measure, period="2024-M06", text="x", submit=True, today=today)
    services.save_report(actor=clerk, measure=measure, period="2024-M08", text="本月草稿", today=today)
    duties = {d.measure.code: d for d in selectors.department_duties(user=clerk, department=housing, today=today)}
    assert set(duties) == {"二（二）1", "二（二）2", "三（三）", "四（一）", "六（一）", "六（二）"}
    assert duties["二（二）2"].role == "lead" and duties["四（一）"].role == "cooperating"
    assert duties["二（二）2"].latest is not None and duties["二（二）2"].latest.period == "2024-M08"  # own draft
    assert [m.code for m in duties["二（二）2"].missing] == ["2024-M07"]
    assert len(duties["四（一）"].missing) == 3
    # the task force does not see the draft, so the latest report it sees is June's
    boss_view = selectors.department_duties(user=task_force(), department=housing, today=today)
    assert next(d for d in boss_view if d.measure.pk == measure.pk).latest.period == "2024-M06"  # type: ignore[union-attr]


def test_the_measure_grid_shows_each_department_month_by_month(clerk, measure, plan) -> None:
    today = dt.date(2024, 7, 5)  # May is due (10 June); June is not yet (10 July)
    services.save_report(actor=clerk, measure=measure, period="2024-M05", text="五月", submit=True, today=today)
    measure = Measure.objects.prefetch_related("clauses__responsibilities__department").get(pk=measure.pk)
    rows = selectors.measure_reports(user=task_force(), measure=measure, today=today)
    assert [r.month.code for r in rows] == ["2024-M07", "2024-M06", "2024-M05"]
    may = {c.responsibility.department.name: c for c in rows[2].cells}
    assert may[HOUSING].report is not None and not may[HOUSING].overdue
    assert may[POLICE].report is None and may[POLICE].overdue
    assert not any(c.overdue for c in rows[1].cells)
    assert [c.responsibility.role for c in rows[0].cells][:2] == ["lead", "lead"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_clerks_writing_the_same_month_at_once_leave_one_report(plan) -> None:
    measure = Measure.objects.get(plan=plan, code="二（二）2")
    clerks = [officer(HOUSING) for _ in range(5)]
    barrier = threading.Barrier(len(clerks))
    errors: list[BaseException] = []

    def work(clerk, n: int) -> None:
        try:
            barrier.wait()
            services.save_report(actor=clerk, measure=measure, period="2025-M06", text=f"第{n}稿", today=JULY_2025)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(clerk, n)) for n, clerk in enumerate(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ProgressReport.objects.count() == 1
    assert AuditEvent.objects.filter(action="progress_report.saved").count() == len(clerks)
