"""Scoped reads for supervision: which monthly reports are owed, what a department has to do, what the task
force has to follow up. Every function takes the user who asks and reads through `visible_to`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from huanxin.core.models import Department
from huanxin.monitoring.periods import Frequency, PeriodRef, periods_between
from huanxin.plans import selectors as plan_selectors
from huanxin.plans.models import Measure, Plan, Responsibility
from huanxin.supervision.models import Milestone, Notice, ProgressReport
from huanxin.supervision.services import REPORT_GRACE_DAYS

AWAITING = "awaiting"  # the notice list's pseudo-status: issued or returned, i.e. waiting for the department


def report_due_on(month: PeriodRef) -> dt.date:
    """The last day to report a month: the month's end plus the grace days."""
    return month.end + dt.timedelta(days=REPORT_GRACE_DAYS)


def plan_months(plan: Plan, today: dt.date) -> list[PeriodRef]:
    """Months a report can be written for: from the plan's issue month to the current one (or the deadline)."""
    if today < plan.issued_on:
        return []
    return periods_between(Frequency.MONTH, plan.issued_on, min(today, plan.deadline))


def due_months(*, plan: Plan, today: dt.date) -> list[PeriodRef]:
    """Months whose report is overdue if missing on `today`: the month ended more than the grace days ago."""
    return [m for m in plan_months(plan, today) if report_due_on(m) < today]


@dataclass
class MissingReports:
    measure: Measure
    department: Department
    months: list[PeriodRef]


def _responsibilities(user: Any, **filters: Any) -> dict[tuple[int, int], str]:
    """(measure id, department id) → "lead" or "cooperating" (lead if the department leads any clause)."""
    pairs: dict[tuple[int, int], str] = {}
    for measure_id, department_id, role in (
        Responsibility.objects.visible_to(user)
        .filter(**filters)
        .values_list("clause__measure_id", "department_id", "role")
    ):
        if pairs.get((measure_id, department_id)) != Responsibility.Role.LEAD:
            pairs[(measure_id, department_id)] = role
    return pairs


def _submitted(user: Any, **filters: Any) -> set[tuple[int, int, str]]:
    rows = ProgressReport.objects.visible_to(user).filter(status=ProgressReport.Status.SUBMITTED, **filters)
    return set(rows.values_list("measure_id", "department_id", "period"))


def missing_reports(
    *, user: Any, today: dt.date, department: Department | None = None, measure: Measure | None = None
) -> list[MissingReports]:
    """Overdue progress reports: for every department responsible for a measure, each month since the plan was
    issued whose report is past due (month end + grace days) and not submitted."""
    filters: dict[str, Any] = {}
    if department is not None:
        filters["department"] = department
    if measure is not None:
        filters["clause__measure"] = measure
    pairs = _responsibilities(user, **filters)
    if not pairs:
        return []
    measures = {m.pk: m for m in Measure.objects.filter(pk__in={m for m, _ in pairs}).select_related("plan")}
    departments = {d.pk: d for d in Department.objects.filter(pk__in={d for _, d in pairs})}
    report_filters = {("measure" if k == "clause__measure" else k): v for k, v in filters.items()}
    submitted = _submitted(user, measure__in=list(measures), **report_filters)
    months_of: dict[int, list[PeriodRef]] = {}
    out = []
    for measure_id, department_id in sorted(pairs, key=lambda p: (measures[p[0]].position, p[1])):
        m = measures[measure_id]
        if m.plan_id not in months_of:
            months_of[m.plan_id] = due_months(plan=m.plan, today=today)
        missing = [month for month in months_of[m.plan_id] if (measure_id, department_id, month.code) not in submitted]
        if missing:
            out.append(MissingReports(m, departments[department_id], missing))
    return out


# --- a department's duties ------------------------------------------------------------------------------


@dataclass
class MeasureDuty:
    measure: Measure
    role: str
    latest: ProgressReport | None  # the latest report the user can see (the department's own drafts included)
    missing: list[PeriodRef] = field(default_factory=list)
    open_milestones: int = 0
    open_notices: int = 0


def department_duties(*, user: Any, department: Department, today: dt.date) -> list[MeasureDuty]:
    """For each measure the department is responsible for: its role, its latest report, the overdue months."""
    pairs = _responsibilities(user, department=department)
    measures = list(
        Measure.objects.visible_to(user)
        .filter(pk__in={m for m, _ in pairs})
        .select_related("plan")
        .order_by("plan", "position")
    )
    latest: dict[int, ProgressReport] = {}
    for report in (
        ProgressReport.objects.visible_to(user)
        .filter(department=department, measure__in=measures)
        .order_by("measure", "-period")
    ):
        latest.setdefault(report.measure_id, report)
    missing = {m.measure.pk: m.months for m in missing_reports(user=user, today=today, department=department)}
    milestones: dict[int, int] = defaultdict(int)
    for measure_id in (
        Milestone.objects.visible_to(user)
        .filter(department=department, status=Milestone.Status.OPEN)
        .values_list("measure_id", flat=True)
    ):
        milestones[measure_id] += 1
    notices: dict[int, int] = defaultdict(int)
    for measure_id in (
        Notice.objects.visible_to(user)
        .filter(department=department, measure__isnull=False)
        .exclude(status=Notice.Status.CLOSED)
        .values_list("measure_id", flat=True)
    ):
        notices[measure_id] += 1
    return [
        MeasureDuty(
            measure=m,
            role=pairs[(m.pk, department.pk)],
            latest=latest.get(m.pk),
            missing=missing.get(m.pk, []),
            open_milestones=milestones[m.pk],
            open_notices=notices[m.pk],
        )
        for m in measures
    ]


# --- the task force's overview --------------------------------------------------------------------------


@dataclass
class DepartmentRow:
    department: Department
    measures: int = 0
    overdue_reports: int = 0
    awaiting_notices: int = 0
    overdue_notices: int = 0
    overdue_milestones: int = 0

    @property
    def trouble(self) -> int:
        return self.overdue_reports + self.overdue_notices + self.overdue_milestones


def overview(*, user: Any, today: dt.date) -> list[DepartmentRow]:
    """Every responsible department with what it owes: overdue reports, notices awaiting it, late milestones."""
    rows: dict[int, DepartmentRow] = {}

    def row(department: Department) -> DepartmentRow:
        return rows.setdefault(department.pk, DepartmentRow(department))

    departments = {d.pk: d for d in Department.objects.visible_to(user)}
    for _measure_id, department_id in _responsibilities(user):
        row(departments[department_id]).measures += 1
    for missing in missing_reports(user=user, today=today):
        row(missing.department).overdue_reports += len(missing.months)
    for notice in Notice.objects.visible_to(user).awaiting_answer().select_related("department"):
        r = row(notice.department)
        r.awaiting_notices += 1
        r.overdue_notices += notice.is_overdue(today)
    for milestone in Milestone.objects.visible_to(user).overdue(today).select_related("department"):
        row(milestone.department).overdue_milestones += 1
    return sorted(rows.values(), key=lambda r: (-r.trouble, -r.measures, r.department.name))


# --- a measure's page ----------------------------------------------------------------------------------


@dataclass
class ReportCell:
    responsibility: Responsibility
    report: ProgressReport | None
    overdue: bool


@dataclass
class MonthRow:
    month: PeriodRef
    due_on: dt.date
    cells: list[ReportCell]


def measure_reports(*, user: Any, measure: Measure, today: dt.date, limit: int | None = 6) -> list[MonthRow]:
    """The measure's reports month by month (latest first), one cell per responsible department; a cell without
    a submitted report past its due date is overdue. `measure` must come with its clauses prefetched."""
    responsible = plan_selectors.measure_departments(measure)
    months = list(reversed(plan_months(measure.plan, today)))
    if limit is not None:
        months = months[:limit]
    reports = {
        (r.department_id, r.period): r
        for r in ProgressReport.objects.visible_to(user).filter(measure=measure, period__in=[m.code for m in months])
    }
    out = []
    for month in months:
        due_on = report_due_on(month)
        cells = []
        for resp in responsible:
            report = reports.get((resp.department_id, month.code))
            submitted = report is not None and report.status == ProgressReport.Status.SUBMITTED
            cells.append(ReportCell(resp, report, overdue=not submitted and due_on < today))
        out.append(MonthRow(month, due_on, cells))
    return out


# --- notices and milestones ----------------------------------------------------------------------------


def notices(
    *, user: Any, status: str = "", department: str = "", overdue: bool = False, today: dt.date | None = None
) -> QuerySet[Notice]:
    """The notice list's filters: a status (or "awaiting": issued or returned), a department code, overdue."""
    qs = Notice.objects.visible_to(user).select_related("department", "measure__plan", "indicator")
    if status == AWAITING:
        qs = qs.awaiting_answer()
    elif status:
        qs = qs.filter(status=status)
    if department:
        qs = qs.filter(department__code=department)
    if overdue and today is not None:
        qs = qs.overdue(today)
    return qs


def overdue_milestones(*, user: Any, today: dt.date, department: Department | None = None) -> QuerySet[Milestone]:
    qs = Milestone.objects.visible_to(user).overdue(today).select_related("measure__plan", "department")
    return qs.filter(department=department) if department is not None else qs
