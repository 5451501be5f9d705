"""Scoped reads for supervision: what a department owes, what the task force has to follow up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from huanxin.core.models import Department
from huanxin.monitoring.periods import Frequency, PeriodRef, periods_between
from huanxin.plans.models import Measure, Responsibility
from huanxin.supervision.models import Milestone, Notice, ProgressReport
from huanxin.supervision.services import REPORT_GRACE_DAYS


def due_months(*, since: dt.date, today: dt.date) -> list[PeriodRef]:
    """Months whose progress report is due by `today` (the month ended more than the grace days ago)."""
    last = PeriodRef.containing(Frequency.MONTH, today)
    months = periods_between(Frequency.MONTH, since, last.end)
    return [m for m in months if m.end + dt.timedelta(days=REPORT_GRACE_DAYS) < today]


@dataclass
class MeasureDuty:
    measure: Measure
    role: str
    latest: ProgressReport | None
    missing: list[PeriodRef]


def department_duties(*, user: Any, department: Department, today: dt.date) -> list[MeasureDuty]:
    """For each measure of the department: its latest report and the due months without a submitted one."""
    measures = list(
        Measure.objects.visible_to(user)
        .filter(clauses__responsibilities__department=department)
        .select_related("plan")
        .distinct()
        .order_by("plan", "position")
    )
    leads = set(
        Responsibility.objects.filter(department=department, role="lead").values_list("clause__measure_id", flat=True)
    )
    reports: dict[int, list[ProgressReport]] = {}
    for report in ProgressReport.objects.visible_to(user).filter(department=department, measure__in=measures):
        reports.setdefault(report.measure_id, []).append(report)
    duties = []
    for measure in measures:
        mine = reports.get(measure.pk, [])
        submitted = {r.period for r in mine if r.status == ProgressReport.Status.SUBMITTED}
        # the lead department owes the monthly report (co-operating departments feed it); see docs/architecture.md
        months = due_months(since=measure.plan.issued_on, today=today) if measure.pk in leads else []
        missing = [m for m in months if m.code not in submitted]
        latest = max(mine, key=lambda r: r.period, default=None)
        duties.append(MeasureDuty(measure, "lead" if measure.pk in leads else "cooperating", latest, missing))
    return duties


def notices(
    *, user: Any, status: str = "", department: str = "", overdue: bool = False, today: dt.date | None = None
) -> QuerySet[Notice]:
    qs = Notice.objects.visible_to(user).select_related("department", "measure", "indicator", "issued_by")
    if status:
        qs = qs.filter(status=status)
    if department:
        qs = qs.filter(department__code=department)
    if overdue and today is not None:
        qs = qs.filter(status__in=[Notice.Status.ISSUED, Notice.Status.RETURNED], due_on__lt=today)
    return qs


def overdue_milestones(*, user: Any, today: dt.date, department: Department | None = None) -> QuerySet[Milestone]:
    qs = Milestone.objects.visible_to(user).filter(status=Milestone.Status.OPEN, due_on__lt=today)
    return qs.filter(department=department) if department is not None else qs
