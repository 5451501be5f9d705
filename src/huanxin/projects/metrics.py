"""What the project library and the enterprise surveys feed into the plan's indicators (方案 二, 五, 七)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Max, Q, Sum

from huanxin.core import metrics
from huanxin.core.metrics import Metric, Values
from huanxin.monitoring.periods import PeriodRef
from huanxin.projects import reference
from huanxin.projects.models import Enterprise, InvestmentReport, Project, Survey

YI = Decimal(10**10)  # fen in a 亿元


def _quarters_within(start: dt.date, end: dt.date) -> list[str]:
    """Quarter codes whose quarter ends within [start, end] (reports are per quarter)."""
    ref = PeriodRef.parse(f"{start.year}-Q{(start.month - 1) // 3 + 1}")
    codes = []
    while ref.end <= end:
        if ref.end >= start:
            codes.append(ref.code)
        ref = ref.next()
    return codes


def equipment_investment(field: str | None = None):  # type: ignore[no-untyped-def]
    def compute(start: dt.date, end: dt.date) -> Values:
        reports = InvestmentReport.objects.filter(
            period__in=_quarters_within(start, end), project__status=Project.Status.APPROVED
        )
        if field:
            reports = reports.filter(project__field=field)
        rows = reports.values("project__region").annotate(total=Sum("equipment_fen"))
        return metrics.with_parents((r["project__region"], Decimal(r["total"] or 0) / YI) for r in rows)

    return compute


def specialised_sme(start: dt.date, end: dt.date) -> Values:
    """Enterprises holding a 专精特新 recognition (any level) of a year up to `end`: a level, counted once each."""
    rows = (
        Enterprise.objects.filter(recognitions__year__lte=end.year)
        .values("region")
        .annotate(n=Count("pk", distinct=True))
    )
    return metrics.with_parents((r["region"], Decimal(r["n"])) for r in rows)


def _latest_surveys(end: dt.date):  # type: ignore[no-untyped-def]
    """Each industrial enterprise above designated size, with its latest survey of a year up to `end`."""
    latest = (
        Survey.objects.filter(year__lte=end.year, enterprise__field="industry", enterprise__above_designated_size=True)
        .values("enterprise")
        .annotate(year=Max("year"))
    )
    wanted = Q(pk__in=[])
    for row in latest:
        wanted |= Q(enterprise_id=row["enterprise"], year=row["year"])
    return Survey.objects.filter(wanted).select_related("enterprise")


def _rate(end: dt.date, value) -> Values:  # type: ignore[no-untyped-def]
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for survey in _latest_surveys(end):
        region = survey.enterprise.region
        part, whole = value(survey)
        for key in (region.pk, region.parent_id):
            if key is not None:
                totals[key][0] += part
                totals[key][1] += whole
    return {k: (p * 100 / w).quantize(Decimal("0.1")) for k, (p, w) in totals.items() if w}


def digital_tools_rate(start: dt.date, end: dt.date) -> Values:
    return _rate(end, lambda s: (Decimal(int(s.digital_rd_tools)), Decimal(1)))


def nc_rate(start: dt.date, end: dt.date) -> Values:
    return _rate(end, lambda s: (s.nc_rate / 100, Decimal(1)))


def benchmark_share(start: dt.date, end: dt.date) -> Values:
    return _rate(end, lambda s: (s.benchmark_capacity, s.capacity))


def _field_metric(name: str) -> Metric | None:
    field = name.removeprefix("projects.equipment-investment.")
    f = reference.fields().get(field)
    if f is None:
        return None
    return Metric(name, f"{f.name}领域项目设备投资", "亿元", "sum", equipment_investment(field))


for metric in (
    Metric("projects.equipment-investment", "项目库设备投资完成额", "亿元", "sum", equipment_investment()),
    Metric("projects.specialised-sme", "专精特新企业", "家", "level", specialised_sme),
    Metric("projects.digital-rd-tools-rate", "规上工业企业数字化研发设计工具普及率", "%", "level", digital_tools_rate),
    Metric("projects.nc-rate", "规上工业企业关键工序数控化率", "%", "level", nc_rate),
    Metric("projects.benchmark-capacity-share", "能效标杆水平产能占比", "%", "level", benchmark_share),
):
    metrics.register(metric)
metrics.register_prefix("projects.equipment-investment.", _field_metric)
