"""Writes on supervision. Each function is one transaction with its audit event; dates can be given for the
demo's backfill and for tests, and default to today in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from huanxin.core import audit
from huanxin.core.models import Department, User
from huanxin.core.roles import Role, is_task_force
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans.models import Indicator, Measure, Responsibility
from huanxin.supervision.models import Milestone, Notice, NoticeAnswer, ProgressReport

REPORT_GRACE_DAYS = 10  # a month's progress report is due this many days after the month ends
_NUMBER_LOCK = 0x68786475  # "hxdu"


def _clerk_department(actor: User, measure: Measure) -> Department:
    department = actor.department
    if actor.role != Role.DEPARTMENT_OFFICER or department is None:
        raise PermissionDenied("只有责任单位经办人可以报告进展")
    if not Responsibility.objects.filter(clause__measure=measure, department=department).exists():
        raise PermissionDenied("本单位不是该举措的责任单位")
    return department


def _month(code: str) -> PeriodRef:
    try:
        ref = PeriodRef.parse(code)
    except ValueError as exc:
        raise ValidationError(str(exc), code="period_invalid") from exc
    if ref.frequency != Frequency.MONTH:
        raise ValidationError("进展报告按月报送，期间格式如 2025-M06", code="period_not_month")
    return ref


# --- progress reports -----------------------------------------------------------------------------------


@transaction.atomic
def save_report(
    *,
    actor: User,
    measure: Measure,
    period: str,
    text: str,
    problems: str = "",
    percent_done: int | None = None,
    submit: bool = False,
    today: dt.date | None = None,
) -> ProgressReport:
    """Write (or rewrite, while a draft) this month's progress report of the actor's department; `submit` sends it."""
    department = _clerk_department(actor, measure)
    ref = _month(period)
    today = today or timezone.localdate()
    errors = {}
    if ref.start > today:
        errors["period"] = f"{ref.label}尚未开始"
    if not text.strip():
        errors["text"] = "请填写工作进展"
    if percent_done is not None and not 0 <= percent_done <= 100:
        errors["percent_done"] = "完成程度应在 0–100 之间"
    if errors:
        raise ValidationError(errors)
    report = (
        ProgressReport.objects.select_for_update()
        .filter(measure=measure, department=department, period=ref.code)
        .first()
    )
    if report is not None and report.status == ProgressReport.Status.SUBMITTED:
        raise ValidationError("本月进展已报送，不能再修改", code="report_submitted")
    if report is None:
        report = ProgressReport(measure=measure, department=department, period=ref.code, created_by=actor)
    report.text, report.problems, report.percent_done = text.strip(), problems.strip(), percent_done
    if submit:
        report.status = ProgressReport.Status.SUBMITTED
        report.submitted_at = (
            timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
            if today != timezone.localdate()
            else timezone.now()
        )
    report.save()
    audit.record(
        actor=actor,
        action="progress_report.submitted" if submit else "progress_report.saved",
        target=report,
        changes={"measure": measure.code, "period": ref.code, "percent_done": percent_done},
    )
    return report


def _moment(day: dt.date) -> dt.datetime:
    """Now, or 09:00 of a past day given for backfill."""
    return timezone.now() if day == timezone.localdate() else timezone.make_aware(dt.datetime.combine(day, dt.time(9)))


# --- milestones ----------------------------------------------------------------------------------------


def _may_plan(actor: User, measure: Measure) -> None:
    if is_task_force(actor):
        return
    lead = Responsibility.objects.filter(clause__measure=measure, role="lead", department=actor.department)
    if actor.role != Role.DEPARTMENT_OFFICER or not lead.exists():
        raise PermissionDenied("里程碑由工作专班或牵头单位设置")


@transaction.atomic
def add_milestone(*, actor: User, measure: Measure, department: Department, title: str, due_on: dt.date) -> Milestone:
    _may_plan(actor, measure)
    if not Responsibility.objects.filter(clause__measure=measure, department=department).exists():
        raise ValidationError({"department": "该单位不是本举措的责任单位"})
    if not title.strip():
        raise ValidationError({"title": "请填写里程碑名称"})
    if not measure.plan.issued_on <= due_on <= measure.plan.deadline:
        raise ValidationError({"due_on": "计划完成日期应在方案期限内"})
    milestone = Milestone.objects.create(
        measure=measure, department=department, title=title.strip()[:120], due_on=due_on, created_by=actor
    )
    audit.record(
        actor=actor,
        action="milestone.added",
        target=milestone,
        changes={"measure": measure.code, "department": department.code, "due_on": due_on},
    )
    return milestone


@transaction.atomic
def complete_milestone(*, actor: User, milestone: Milestone, done_on: dt.date, note: str = "") -> Milestone:
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    if actor.role != Role.DEPARTMENT_OFFICER or actor.department != milestone.department:
        raise PermissionDenied("由里程碑的责任单位标记完成")
    if milestone.status != Milestone.Status.OPEN:
        return milestone
    if done_on > timezone.localdate():
        raise ValidationError({"done_on": "完成日期不能晚于今天"})
    milestone.status, milestone.done_on, milestone.note = Milestone.Status.DONE, done_on, note.strip()
    milestone.save(update_fields=["status", "done_on", "note"])
    audit.record(actor=actor, action="milestone.done", target=milestone, changes={"done_on": done_on})
    return milestone


@transaction.atomic
def cancel_milestone(*, actor: User, milestone: Milestone, reason: str) -> Milestone:
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    _may_plan(actor, milestone.measure)
    if not reason.strip():
        raise ValidationError("取消里程碑请写明原因", code="reason_missing")
    milestone.status, milestone.note = Milestone.Status.CANCELLED, reason.strip()
    milestone.save(update_fields=["status", "note"])
    audit.record(actor=actor, action="milestone.cancelled", target=milestone, changes={"reason": reason.strip()})
    return milestone


# --- notices -------------------------------------------------------------------------------------------


def _next_sequence(year: int) -> int:
    """The next notice number of the year. Serialised: an advisory lock on PostgreSQL, IMMEDIATE transactions
    on SQLite; the unique constraint on (year, sequence) backs both."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_NUMBER_LOCK, year])
    return (Notice.objects.filter(year=year).aggregate(m=Max("sequence"))["m"] or 0) + 1


@transaction.atomic
def issue_notice(
    *,
    actor: User,
    department: Department,
    subject: str,
    body: str,
    due_on: dt.date,
    measure: Measure | None = None,
    indicator: Indicator | None = None,
    today: dt.date | None = None,
) -> Notice:
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以发出督办单")
    today = today or timezone.localdate()
    errors = {}
    if measure is None and indicator is None:
        errors["measure"] = "请选择督办的举措或指标"
    if not subject.strip():
        errors["subject"] = "请填写督办事项"
    if not body.strip():
        errors["body"] = "请填写督办内容"
    if due_on < today:
        errors["due_on"] = "办理时限不能早于今天"
    if errors:
        raise ValidationError(errors)
    issued_at = (
        timezone.make_aware(dt.datetime.combine(today, dt.time(9))) if today != timezone.localdate() else timezone.now()
    )
    notice = Notice.objects.create(
        year=today.year,
        sequence=_next_sequence(today.year),
        department=department,
        measure=measure,
        indicator=indicator,
        subject=subject.strip()[:120],
        body=body.strip(),
        due_on=due_on,
        issued_by=actor,
        issued_at=issued_at,
    )
    audit.record(
        actor=actor,
        action="notice.issued",
        target=notice,
        changes={"number": notice.number, "department": department.code, "due_on": due_on},
    )
    return notice


@transaction.atomic
def answer_notice(
    *, actor: User, notice: Notice, text: str, token: str | None = None, at: dt.datetime | None = None
) -> NoticeAnswer:
    """The department answers. The form's token makes a double submit answer once."""
    token = token or uuid.uuid4().hex
    existing = NoticeAnswer.objects.filter(token=token).first()
    if existing is not None:
        return existing
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if actor.role != Role.DEPARTMENT_OFFICER or actor.department != notice.department:
        raise PermissionDenied("由督办对象单位答复")
    if not notice.awaits_department:
        raise ValidationError(f"该督办单{notice.get_status_display()}，无需答复", code="not_awaiting")
    if not text.strip():
        raise ValidationError({"text": "请填写答复内容"})
    answer = NoticeAnswer.objects.create(
        notice=notice, text=text.strip(), author=actor, at=at or timezone.now(), token=token
    )
    notice.status = Notice.Status.ANSWERED
    notice.save(update_fields=["status"])
    audit.record(actor=actor, action="notice.answered", target=notice, changes={"answer": answer.pk})
    return answer


@transaction.atomic
def close_notice(*, actor: User, notice: Notice, note: str, at: dt.datetime | None = None) -> Notice:
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以办结督办单")
    if notice.status == Notice.Status.CLOSED:
        return notice
    if notice.status != Notice.Status.ANSWERED:
        raise ValidationError("督办对象尚未答复，不能办结", code="not_answered")
    notice.status, notice.closing_note, notice.closed_at = Notice.Status.CLOSED, note.strip(), at or timezone.now()
    notice.save(update_fields=["status", "closing_note", "closed_at"])
    audit.record(actor=actor, action="notice.closed", target=notice, changes={"note": notice.closing_note})
    return notice


@transaction.atomic
def return_notice(*, actor: User, notice: Notice, reason: str) -> Notice:
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以退回督办答复")
    if notice.status != Notice.Status.ANSWERED:
        raise ValidationError("只有已答复的督办单可以退回补充", code="not_answered")
    if not reason.strip():
        raise ValidationError("退回时请写明需要补充的内容", code="reason_missing")
    notice.status, notice.return_reason = Notice.Status.RETURNED, reason.strip()
    notice.save(update_fields=["status", "return_reason"])
    audit.record(actor=actor, action="notice.returned", target=notice, changes={"reason": notice.return_reason})
    return notice
