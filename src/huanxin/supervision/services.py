"""Writes on supervision: progress reports, milestones, 督办单. Each function is one transaction with its audit
event. Dates can be given (`today`) for the demo's backfill and for tests; they default to today in
Asia/Shanghai. A retried request (double click, reload) changes nothing a second time: forms carry a token.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from huanxin.core import audit
from huanxin.core.models import Department, User
from huanxin.core.roles import Role, is_task_force
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans.models import Indicator, Measure, Responsibility
from huanxin.supervision.models import Milestone, Notice, NoticeCounter, NoticeMessage, ProgressReport

REPORT_GRACE_DAYS = 10  # a month's progress report is overdue this many days after the month ends
SUBJECT_MAX = 120


def _moment(day: dt.date) -> dt.datetime:
    """Now, or 09:00 of a past day given for backfill."""
    if day == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(dt.datetime.combine(day, dt.time(9)))


def responsible_departments(measure: Measure) -> set[int]:
    return set(Responsibility.objects.filter(clause__measure=measure).values_list("department_id", flat=True))


def leads(measure: Measure, department: Department | None) -> bool:
    if department is None:
        return False
    return Responsibility.objects.filter(clause__measure=measure, department=department, role="lead").exists()


def _clerk_of(actor: User, department: Department | None, message: str) -> None:
    if actor.role != Role.DEPARTMENT_OFFICER or actor.department is None or actor.department != department:
        raise PermissionDenied(message)


# --- progress reports -----------------------------------------------------------------------------------


def report_month(code: str, measure: Measure, today: dt.date) -> PeriodRef:
    """The month a report is for, checked against the plan's time span and today."""
    try:
        ref = PeriodRef.parse(code)
    except ValueError as exc:
        raise ValidationError({"period": str(exc)}, code="period_invalid") from exc
    if ref.frequency != Frequency.MONTH:
        raise ValidationError({"period": "进展报告按月报送，月份格式如 2025-M06"}, code="period_not_month")
    plan = measure.plan
    if ref.end < plan.issued_on or ref.start > plan.deadline:
        raise ValidationError({"period": f"{ref.label}不在方案实施期内"}, code="period_outside_plan")
    if ref.start > today:
        raise ValidationError({"period": f"{ref.label}尚未开始"}, code="period_future")
    return ref


def _percent(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().rstrip("%％")
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise ValidationError({"percent_done": "完成程度应为 0–100 的整数"}, code="percent_invalid")
    return int(text)


@transaction.atomic
def save_report(
    *,
    actor: User,
    measure: Measure,
    period: str,
    text: str,
    problems: str = "",
    percent_done: int | str | None = None,
    submit: bool = False,
    today: dt.date | None = None,
) -> ProgressReport:
    """Write (or rewrite, while a draft) the actor's department's report for a month; `submit` sends it (报送).

    A submitted report is final. Submitting the same content again (a double click) returns it unchanged."""
    department = actor.department
    if actor.role != Role.DEPARTMENT_OFFICER or department is None:
        raise PermissionDenied("只有责任单位经办人可以报告进展")
    if department.pk not in responsible_departments(measure):
        raise PermissionDenied("本单位不是该举措的责任单位")
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    ref: PeriodRef | None = None
    percent: int | None = None
    try:
        ref = report_month(period, measure, today)
    except ValidationError as exc:
        errors.update({k: "；".join(v) for k, v in exc.message_dict.items()})
    try:
        percent = _percent(percent_done)
    except ValidationError as exc:
        errors.update({k: "；".join(v) for k, v in exc.message_dict.items()})
    text, problems = text.strip(), problems.strip()
    if not text:
        errors["text"] = "请填写工作进展"
    if errors or ref is None:
        raise ValidationError(errors)
    rows = ProgressReport.objects.select_for_update().filter(measure=measure, department=department, period=ref.code)
    report = rows.first()
    created = False
    if report is None:
        try:
            with transaction.atomic():  # two clerks writing the same month at once: one creates, the other updates
                report = ProgressReport.objects.create(
                    measure=measure,
                    department=department,
                    period=ref.code,
                    text=text,
                    created_by=actor,
                    updated_by=actor,
                )
            created = True
        except IntegrityError:
            report = rows.get()
    if report.status == ProgressReport.Status.SUBMITTED:
        if submit and (report.text, report.problems, report.percent_done) == (text, problems, percent):
            return report  # the same report sent twice
        raise ValidationError(f"{ref.label}的进展已报送，不能再修改", code="report_submitted")
    before = {} if created else {"text": report.text, "problems": report.problems, "percent": report.percent_done}
    report.text, report.problems, report.percent_done, report.updated_by = text, problems, percent, actor
    if submit:
        report.status = ProgressReport.Status.SUBMITTED
        report.submitted_at = _moment(today)
    report.save()
    changes = {
        "measure": measure.code,
        "department": department.code,
        "period": ref.code,
        **audit.diff(before, {"text": text, "problems": problems, "percent": percent}),
    }
    audit.record(
        actor=actor,
        action="progress_report.submitted" if submit else "progress_report.saved",
        target=report,
        changes=changes,
    )
    return report


# --- milestones ----------------------------------------------------------------------------------------


def may_plan_milestones(actor: User | object, measure: Measure) -> bool:
    """Whether the actor plans any of the measure's milestones: the task force, or a clerk of a department that
    leads a clause of it (which department a milestone may be for: `plannable_departments`)."""
    if is_task_force(actor):
        return True
    return getattr(actor, "role", None) == Role.DEPARTMENT_OFFICER and leads(
        measure, getattr(actor, "department", None)
    )


def plannable_departments(actor: User | object, measure: Measure) -> set[int]:
    """The departments whose milestones on `measure` the actor may set and cancel: every responsible department
    for the task force; for the lead of a clause, the departments responsible under the clauses it leads (so the
    lead of one clause does not plan, or cancel, another clause's milestones)."""
    if is_task_force(actor):
        return responsible_departments(measure)
    department = getattr(actor, "department", None)
    if getattr(actor, "role", None) != Role.DEPARTMENT_OFFICER or department is None:
        return set()
    led = Responsibility.objects.filter(clause__measure=measure, department=department, role="lead")
    return set(Responsibility.objects.filter(clause__in=led.values("clause")).values_list("department_id", flat=True))


def may_change_milestone(actor: User | object, milestone: Milestone) -> bool:
    """Cancel (or re-plan) a milestone: the task force, or the lead of a clause the milestone's department is
    responsible under."""
    return milestone.department_id in plannable_departments(actor, milestone.measure)


@transaction.atomic
def add_milestone(
    *,
    actor: User,
    measure: Measure,
    department: Department | None,
    title: str,
    due_on: dt.date | None,
    token: str = "",
) -> Milestone:
    if not may_plan_milestones(actor, measure):
        raise PermissionDenied("里程碑由工作专班或牵头单位设置")
    measure = Measure.objects.select_for_update(of=("self",)).select_related("plan").get(pk=measure.pk)
    if token:
        existing = Milestone.objects.filter(token=token).first()
        if existing is not None:
            if existing.measure_id != measure.pk or existing.created_by_id != actor.pk:
                raise ValidationError("表单已失效，请刷新页面后重试", code="token_reused")
            return existing
    title = title.strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "请填写里程碑名称"
    elif len(title) > 120:
        errors["title"] = "里程碑名称不超过120字"
    if department is None:
        errors["department"] = "请选择责任单位"
    elif department.pk not in responsible_departments(measure):
        errors["department"] = "该单位不是本举措的责任单位"
    elif department.pk not in plannable_departments(actor, measure):
        raise PermissionDenied(f"只能为本单位牵头的分工条款设置里程碑，{department.name}不在其中")
    plan = measure.plan
    if due_on is None:
        errors["due_on"] = "请填写计划完成日期（年-月-日）"
    elif not plan.issued_on <= due_on <= plan.deadline:
        errors["due_on"] = f"计划完成日期应在方案实施期内（{plan.issued_on:%Y-%m-%d} 至 {plan.deadline:%Y-%m-%d}）"
    if errors or department is None or due_on is None:
        raise ValidationError(errors)
    milestone = Milestone.objects.create(
        measure=measure, department=department, title=title, due_on=due_on, created_by=actor, token=token
    )
    audit.record(
        actor=actor,
        action="milestone.added",
        target=milestone,
        changes={"measure": measure.code, "department": department.code, "title": title, "due_on": due_on},
    )
    return milestone


@transaction.atomic
def complete_milestone(
    *, actor: User, milestone: Milestone, done_on: dt.date | None, note: str = "", today: dt.date | None = None
) -> Milestone:
    """The responsible department marks a milestone done, with the date it was reached and a note."""
    milestone = Milestone.objects.select_for_update().select_related("measure__plan").get(pk=milestone.pk)
    _clerk_of(actor, milestone.department, "由里程碑的责任单位标记完成")
    if milestone.status == Milestone.Status.DONE:
        return milestone  # marked twice
    if milestone.status == Milestone.Status.CANCELLED:
        raise ValidationError("该里程碑已取消", code="milestone_cancelled")
    today = today or timezone.localdate()
    if done_on is None:
        raise ValidationError({"done_on": "请填写实际完成日期（年-月-日）"})
    if done_on > today:
        raise ValidationError({"done_on": "完成日期不能晚于今天"})
    if done_on < milestone.measure.plan.issued_on:
        raise ValidationError({"done_on": "完成日期不能早于方案印发日期"})
    milestone.status, milestone.done_on, milestone.note = Milestone.Status.DONE, done_on, note.strip()
    milestone.closed_by = actor
    milestone.save(update_fields=["status", "done_on", "note", "closed_by"])
    audit.record(
        actor=actor,
        action="milestone.done",
        target=milestone,
        changes={"done_on": done_on, "due_on": milestone.due_on, "note": milestone.note},
    )
    return milestone


@transaction.atomic
def cancel_milestone(*, actor: User, milestone: Milestone, reason: str) -> Milestone:
    """Milestones are never deleted: one set in error or overtaken by events is cancelled with a reason."""
    milestone = Milestone.objects.select_for_update().select_related("measure").get(pk=milestone.pk)
    if not may_plan_milestones(actor, milestone.measure):
        raise PermissionDenied("里程碑由工作专班或牵头单位取消")
    if not may_change_milestone(actor, milestone):
        raise PermissionDenied("只能取消本单位牵头的分工条款下的里程碑")
    if milestone.status == Milestone.Status.CANCELLED:
        return milestone
    if milestone.status == Milestone.Status.DONE:
        raise ValidationError("已完成的里程碑不能取消", code="milestone_done")
    if not reason.strip():
        raise ValidationError({"reason": "取消里程碑请写明原因"}, code="reason_missing")
    milestone.status, milestone.cancel_reason, milestone.closed_by = Milestone.Status.CANCELLED, reason.strip(), actor
    milestone.save(update_fields=["status", "cancel_reason", "closed_by"])
    audit.record(actor=actor, action="milestone.cancelled", target=milestone, changes={"reason": reason.strip()})
    return milestone


# --- notices -------------------------------------------------------------------------------------------


def _lock_counter(year: int) -> NoticeCounter:
    """The year's number counter, locked until the caller's transaction ends. The row is created if missing
    (INSERT … ON CONFLICT DO NOTHING, so two first issuers of a year do not collide) and then locked with
    SELECT … FOR UPDATE: a concurrent issuer waits here for this transaction and then reads the number it used.
    (On SQLite every transaction is IMMEDIATE, so writers are serialised anyway.)"""
    NoticeCounter.objects.bulk_create([NoticeCounter(year=year, last=0)], ignore_conflicts=True)
    return NoticeCounter.objects.select_for_update().get(year=year)


def indicator_departments(indicator: Indicator) -> set[int]:
    """Departments answering for an indicator: its clause's, else its measure's, else its related measures'."""
    if indicator.clause_id is not None:
        qs = Responsibility.objects.filter(clause_id=indicator.clause_id)
    elif indicator.measure_id is not None:
        qs = Responsibility.objects.filter(clause__measure_id=indicator.measure_id)
    else:
        qs = Responsibility.objects.filter(clause__measure__in=indicator.related_measures.all())
    return set(qs.values_list("department_id", flat=True))


def _indicator_of(indicator: Indicator, measure: Measure) -> bool:
    """Whether the indicator is the measure's own, or an overall goal the measure delivers."""
    if indicator.plan_id != measure.plan_id:
        return False
    return indicator.measure_id == measure.pk or indicator.related_measures.filter(pk=measure.pk).exists()


@transaction.atomic
def issue_notice(
    *,
    actor: User,
    department: Department | None,
    subject: str,
    body: str,
    due_on: dt.date | None,
    measure: Measure | None = None,
    indicator: Indicator | None = None,
    token: str = "",
    today: dt.date | None = None,
) -> Notice:
    """The task force issues a 督办单 to a department about a measure or an indicator (at least one)."""
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以发出督办单")
    today = today or timezone.localdate()
    counter = _lock_counter(today.year)  # first: a double submit waits here, then finds the first one's notice
    if token:
        existing = Notice.objects.filter(token=token).first()
        if existing is not None:
            if existing.issued_by_id != actor.pk:
                raise ValidationError("表单已失效，请刷新页面后重试", code="token_reused")
            return existing
    subject, body = subject.strip(), body.strip()
    errors: dict[str, str] = {}
    if department is None:
        errors["department"] = "请选择督办对象"
    if measure is None and indicator is None:
        errors["measure"] = "请选择督办的举措或指标（至少一项）"
    elif measure is not None and indicator is not None and not _indicator_of(indicator, measure):
        errors["indicator"] = "该指标不属于所选举措"
    if department is not None and "measure" not in errors and "indicator" not in errors:
        if measure is not None and department.pk not in responsible_departments(measure):
            errors["department"] = f"{department.name}不是举措{measure.code}的责任单位"
        elif measure is None and indicator is not None and department.pk not in indicator_departments(indicator):
            errors["department"] = f"{department.name}不是该指标的责任单位"
    if not subject:
        errors["subject"] = "请填写督办事项"
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"督办事项不超过{SUBJECT_MAX}字"
    if not body:
        errors["body"] = "请填写督办内容"
    if due_on is None:
        errors["due_on"] = "请填写办理时限（年-月-日）"
    elif due_on < today:
        errors["due_on"] = "办理时限不能早于今天"
    if errors or department is None or due_on is None:
        raise ValidationError(errors)
    counter.last += 1
    counter.save(update_fields=["last"])
    notice = Notice.objects.create(
        year=today.year,
        sequence=counter.last,
        department=department,
        measure=measure,
        indicator=indicator,
        subject=subject,
        body=body,
        due_on=due_on,
        issued_by=actor,
        issued_at=_moment(today),
        token=token,
    )
    audit.record(
        actor=actor,
        action="notice.issued",
        target=notice,
        changes={
            "number": notice.number,
            "department": department.code,
            "measure": measure.code if measure else None,
            "indicator": indicator.code if indicator else None,
            "subject": subject,
            "due_on": due_on,
        },
    )
    return notice


@transaction.atomic
def answer_notice(
    *, actor: User, notice: Notice, text: str, token: str = "", today: dt.date | None = None
) -> NoticeMessage:
    """The addressed department answers; it may answer again after a return, and every answer is kept.

    The form's token makes a double submit (or a retried request) answer once: the notice row is locked first,
    so a second request with the same token waits for the first and then finds its answer."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    _clerk_of(actor, notice.department, "由督办对象单位答复")
    if token:
        existing = NoticeMessage.objects.filter(token=token).first()
        if existing is not None:
            if existing.notice_id != notice.pk or existing.author_id != actor.pk:
                raise ValidationError("表单已失效，请刷新页面后重试", code="token_reused")
            return existing
    if not notice.awaits_department:
        raise ValidationError(f"该督办单{notice.get_status_display()}，当前无需答复", code="not_awaiting")
    text = text.strip()
    if not text:
        raise ValidationError({"text": "请填写答复内容"}, code="text_missing")
    at = _moment(today or timezone.localdate())
    message = NoticeMessage.objects.create(
        notice=notice, kind=NoticeMessage.Kind.ANSWER, text=text, author=actor, at=at, token=token
    )
    before = notice.status
    notice.status, notice.answered_at = Notice.Status.ANSWERED, at
    notice.save(update_fields=["status", "answered_at"])
    audit.record(
        actor=actor,
        action="notice.answered",
        target=notice,
        changes={"status": [before, notice.status], "message": message.pk},
    )
    return message


@transaction.atomic
def return_notice(
    *, actor: User, notice: Notice, reason: str, due_on: dt.date | None = None, today: dt.date | None = None
) -> Notice:
    """The task force sends an answer back for more (退回补充), optionally with a new due date."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以退回督办答复")
    reason = reason.strip()
    if notice.status == Notice.Status.RETURNED:
        last = notice.messages.filter(kind=NoticeMessage.Kind.RETURN).order_by("-at", "-pk").first()
        if last is not None and last.text == reason:
            return notice  # sent back twice
    if notice.status != Notice.Status.ANSWERED:
        raise ValidationError(
            f"该督办单{notice.get_status_display()}，只有已答复的督办单可以退回补充", code="not_answered"
        )
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "退回时请写明需要补充的内容"
    if due_on is not None and due_on < today:
        errors["due_on"] = "补充答复时限不能早于今天"
    if errors:
        raise ValidationError(errors)
    NoticeMessage.objects.create(
        notice=notice, kind=NoticeMessage.Kind.RETURN, text=reason, due_on=due_on, author=actor, at=_moment(today)
    )
    old_due = notice.due_on
    notice.status = Notice.Status.RETURNED
    notice.due_on = due_on or notice.due_on
    notice.save(update_fields=["status", "due_on"])
    audit.record(
        actor=actor,
        action="notice.returned",
        target=notice,
        changes={
            "status": ["answered", "returned"],
            "reason": reason,
            **audit.diff({"due_on": old_due}, {"due_on": notice.due_on}),
        },
    )
    return notice


@transaction.atomic
def close_notice(*, actor: User, notice: Notice, note: str, today: dt.date | None = None) -> Notice:
    """The task force closes (办结) an answered notice with its closing note."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以办结督办单")
    if notice.status == Notice.Status.CLOSED:
        return notice  # closed twice
    if notice.status != Notice.Status.ANSWERED:
        raise ValidationError(f"该督办单{notice.get_status_display()}，督办对象答复后方可办结", code="not_answered")
    note = note.strip()
    if not note:
        raise ValidationError({"note": "请填写办结意见"}, code="note_missing")
    at = _moment(today or timezone.localdate())
    NoticeMessage.objects.create(notice=notice, kind=NoticeMessage.Kind.CLOSE, text=note, author=actor, at=at)
    notice.status, notice.closing_note, notice.closed_at = Notice.Status.CLOSED, note, at
    notice.save(update_fields=["status", "closing_note", "closed_at"])
    audit.record(
        actor=actor, action="notice.closed", target=notice, changes={"status": ["answered", "closed"], "note": note}
    )
    return notice
