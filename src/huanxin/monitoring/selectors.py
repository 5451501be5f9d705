"""Scoped reads for reporting: a department's entry sheet for a period, the task force's review queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from huanxin.core.models import Region
from huanxin.monitoring.models import IndicatorSetting, IndicatorValue, Period, ValueRevision
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.monitoring.services import county_of as services_county_of

__all__ = ["Frequency", "PeriodRef"]


@dataclass
class SheetRow:
    setting: IndicatorSetting
    region: Region
    value: IndicatorValue | None

    @property
    def key(self) -> str:
        return f"{self.setting.indicator_id}-{self.region.pk}"

    @property
    def editable(self) -> bool:
        return self.value is None or self.value.status in {IndicatorValue.Status.DRAFT, IndicatorValue.Status.RETURNED}


def latest_open_period(frequency: Frequency, today: dt.date) -> PeriodRef:
    """The most recent period whose reporting has opened (it has reached its last day)."""
    ref = PeriodRef.containing(frequency, today)
    return ref if today >= ref.end else ref.previous()


def reporting_settings(*, user: Any) -> QuerySet[IndicatorSetting]:
    """The indicators the user's department reports, or for a county officer the by-county indicators of the
    county's city (none for anyone else)."""
    department = getattr(user, "department", None)
    county = services_county_of(user)
    if county is not None:
        mine = Q(by_county=True, indicator__plan__region=county.parent_id)
    elif department is not None:
        mine = Q(reporting_department=department)
    else:
        return IndicatorSetting.objects.none()
    return (
        IndicatorSetting.objects.visible_to(user)
        .filter(mine, source=IndicatorSetting.Source.REPORTED)
        .select_related("indicator__plan__region", "indicator__measure")
        .order_by("indicator__plan", "indicator__position")
    )


def entry_sheet(*, user: Any, period: Period | None, frequency: str | None = None) -> list[SheetRow]:
    """One row per indicator and region the user's department reports for the period (values where entered).
    Without a Period row yet (nobody has opened it), every row is empty: pass its `frequency`."""
    frequency = period.frequency if period is not None else frequency
    county = services_county_of(user)
    settings = list(reporting_settings(user=user).filter(frequency=frequency))
    values = {}
    if period is not None:
        values = {
            (v.indicator_id, v.region_id): v
            for v in IndicatorValue.objects.visible_to(user).filter(
                period=period, indicator__in=[s.indicator_id for s in settings]
            )
        }
    counties: dict[int, list[Region]] = {}
    rows: list[SheetRow] = []
    for setting in settings:
        city = setting.indicator.plan.region
        if county is not None:
            regions = [county]
        elif setting.by_county:
            if city.pk not in counties:
                counties[city.pk] = list(Region.objects.filter(parent=city).order_by("code"))
            regions = counties[city.pk]
        else:
            regions = [city]
        rows.extend(SheetRow(setting, region, values.get((setting.indicator_id, region.pk))) for region in regions)
    return rows


def review_queue(*, user: Any, period: Period | None = None, status: str = "submitted") -> QuerySet[IndicatorValue]:
    qs = IndicatorValue.objects.visible_to(user).select_related(
        "indicator__setting__reporting_department", "period", "region", "updated_by"
    )
    if period is not None:
        qs = qs.filter(period=period)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("period__end", "indicator__position", "region__code")


def value_history(*, user: Any, value: IndicatorValue) -> QuerySet[ValueRevision]:
    return ValueRevision.objects.visible_to(user).filter(value=value).select_related("actor").order_by("number")
