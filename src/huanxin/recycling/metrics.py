"""What the recycling network feeds into the plan's indicators (方案 四: scrapped cars, old appliances, sorting
centres). Each metric answers per county, and for the city (the counties' parent) as their sum."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, Sum

from huanxin.core import metrics
from huanxin.core.metrics import Metric, Values
from huanxin.recycling import selectors
from huanxin.recycling.categories import APPLIANCES
from huanxin.recycling.models import Certificate, CollectionRecord, Site


def cars_scrapped(start: dt.date, end: dt.date) -> Values:
    rows = (
        Certificate.objects.filter(kind=Certificate.Kind.VEHICLE, status=Certificate.Status.VALID)
        .filter(issued_on__range=(start, end))
        .values("region")
        .annotate(n=Count("pk"))
    )
    return metrics.with_parents((r["region"], Decimal(r["n"])) for r in rows)


def _appliances(start: dt.date, end: dt.date, field: str) -> Values:
    rows = (
        CollectionRecord.objects.filter(received_on__range=(start, end), category__in=APPLIANCES)
        .values("region")
        .annotate(total=Sum(field))
    )
    return metrics.with_parents((r["region"], Decimal(r["total"] or 0)) for r in rows)


def appliances_units(start: dt.date, end: dt.date) -> Values:
    return _appliances(start, end, "units")


def appliances_kg(start: dt.date, end: dt.date) -> Values:
    return _appliances(start, end, "weight_kg")


def sorting_centres(start: dt.date, end: dt.date) -> Values:
    """Sorting centres operating at `end` (a level: the count on the last day)."""
    rows = (
        Site.objects.filter(kind=Site.Kind.SORTING_CENTRE, status=Site.Status.OPERATING)
        .filter(Q(opened_on__isnull=True) | Q(opened_on__lte=end))
        .values("region")
        .annotate(n=Count("pk"))
    )
    return metrics.with_parents((r["region"], Decimal(r["n"])) for r in rows)


def township_coverage(start: dt.date, end: dt.date) -> Values:
    """Share (%) of townships with an operating site at `end`; counties without a township list are left out."""
    out: Values = {}
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in selectors.coverage(on=end):
        if not row.townships:
            continue
        out[row.region.pk] = Decimal(len(row.covered) * 100) / len(row.townships)
        parent = row.region.parent_id
        if parent is not None:
            totals[parent][0] += len(row.covered)
            totals[parent][1] += len(row.townships)
    for parent, (covered, total) in totals.items():
        out[parent] = Decimal(covered * 100) / total
    return {k: v.quantize(Decimal("0.1")) for k, v in out.items()}


for metric in (
    Metric("recycling.cars-scrapped", "报废机动车回收证明", "辆", "sum", cars_scrapped),
    Metric("recycling.appliances-collected-units", "废旧家电回收记录", "台", "sum", appliances_units),
    Metric("recycling.appliances-collected-kg", "废旧家电回收记录（重量）", "千克", "sum", appliances_kg),
    Metric("recycling.sorting-centres", "运营中的分拣中心", "个", "level", sorting_centres),
    Metric("recycling.township-coverage", "乡镇回收网点覆盖率", "%", "level", township_coverage),
):
    metrics.register(metric)
