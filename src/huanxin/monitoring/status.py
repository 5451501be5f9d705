"""Where each indicator stands: the plan's targets, the approved figures so far, and the progress engine.

This module turns database rows into the engine's inputs (`progress.Target`, `progress.Observation`) and back into
rows for the dashboard and the reports. City-wide series only: a by-county indicator's city figure is the sum of
its counties.

How a series is read, by what the department enters:
- `increment` (work done in the period): the observations are the running total since the plan started
  (cumulative targets); for growth targets, the last four quarters' (or twelve months') total, annualised while
  fewer periods exist, compared with the baseline year's amount.
- `level` (a share or a count at period end): the observations are the figures themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from huanxin.monitoring import progress
from huanxin.monitoring.models import IndicatorSetting, IndicatorValue
from huanxin.monitoring.periods import Frequency
from huanxin.plans.models import Indicator, Plan

PERIODS_PER_YEAR = {Frequency.MONTH: 12, Frequency.QUARTER: 4, Frequency.YEAR: 1}


@dataclass
class IndicatorStatus:
    indicator: Indicator
    setting: IndicatorSetting | None
    assessment: progress.Assessment
    series: list[progress.Observation]

    @property
    def status(self) -> progress.Status:
        return self.assessment.status


def _city_series(setting: IndicatorSetting, values: list[tuple[dt.date, Decimal]]) -> list[progress.Observation]:
    """Per-period city figures (already summed over counties) → the engine's observations."""
    indicator = setting.indicator
    if setting.aggregation == IndicatorSetting.Aggregation.LEVEL:
        return [progress.Observation(on, value) for on, value in values]
    if indicator.kind == Indicator.Kind.GROWTH_VS_BASELINE:
        per_year = PERIODS_PER_YEAR[Frequency(setting.frequency)]
        out = []
        for i, (on, _value) in enumerate(values):
            window = [v for _, v in values[max(0, i - per_year + 1) : i + 1]]
            out.append(progress.Observation(on, sum(window, Decimal(0)) * per_year / len(window)))
        return out
    running = Decimal(0)
    out = []
    for on, value in values:
        running += value
        out.append(progress.Observation(on, running))
    return out


def target_of(indicator: Indicator, setting: IndicatorSetting | None, plan: Plan) -> progress.Target:
    return progress.Target(
        kind=indicator.kind,
        comparator=indicator.comparator or None,
        target_value=indicator.target_value,
        start=plan.issued_on,
        deadline=plan.deadline,
        baseline_value=setting.baseline_value if setting is not None else None,
        # a share's or level's baseline-year value starts its path; growth targets use it as the baseline instead
        start_value=(
            setting.baseline_value
            if setting is not None and indicator.kind != Indicator.Kind.GROWTH_VS_BASELINE
            else None
        ),
        unit=indicator.unit,
    )


def plan_status(*, user: Any, plan: Plan, today: dt.date) -> list[IndicatorStatus]:
    """Every indicator of the plan with its assessment, in the plan's order. Two queries in all."""
    indicators = list(
        Indicator.objects.visible_to(user)
        .filter(plan=plan)
        .select_related("setting__reporting_department", "measure")
        .order_by("position")
    )
    sums: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    rows = (
        IndicatorValue.objects.filter(
            indicator__plan=plan, status=IndicatorValue.Status.APPROVED, period__end__lte=today
        )
        .values("indicator_id", "period__end")
        .annotate(total=Sum("value"))
        .order_by("indicator_id", "period__end")
    )
    for row in rows:
        sums[row["indicator_id"]].append((row["period__end"], row["total"]))
    result = []
    for indicator in indicators:
        setting = getattr(indicator, "setting", None)
        series = _city_series(setting, sums.get(indicator.pk, [])) if setting is not None else []
        assessment = progress.assess(target_of(indicator, setting, plan), series, today)
        result.append(IndicatorStatus(indicator, setting, assessment, series))
    return result


def county_breakdown(*, indicator: Indicator, today: dt.date) -> list[tuple[str, Decimal]]:
    """Approved totals since the plan started, per county (increment indicators reported by county)."""
    rows = (
        IndicatorValue.objects.filter(
            indicator=indicator, status=IndicatorValue.Status.APPROVED, period__end__lte=today
        )
        .exclude(region=indicator.plan.region)
        .values("region__name", "region__code")
        .annotate(total=Sum("value"))
        .order_by("region__code")
    )
    return [(row["region__name"], row["total"]) for row in rows]
