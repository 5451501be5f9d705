"""What the subsidies feed into monitoring: applications and amounts per period and county, cars renewed with a
subsidy (scrap-and-renew and replacement), the replacements alone, and the NEV share of the new cars (方案 三（一）)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from huanxin.core import metrics
from huanxin.core.metrics import Metric, Values
from huanxin.core.models import Region
from huanxin.subsidies.models import Application, ApplicationItem

COUNTED = [
    Application.Status.RESERVED,
    Application.Status.IN_REVIEW,
    Application.Status.APPROVED,
    Application.Status.PAID,
]  # what is (still) granted: not rejected, queued or clawed back


def _window(start: dt.date, end: dt.date, prefix: str = "") -> Q:
    """Submitted within [start, end], Asia/Shanghai days."""
    tz = timezone.get_current_timezone()
    return Q(**{f"{prefix}created_at__gte": dt.datetime.combine(start, dt.time.min, tz)}) & Q(
        **{f"{prefix}created_at__lt": dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tz)}
    )


def applications(start: dt.date, end: dt.date) -> Values:
    rows = Application.objects.filter(_window(start, end), status__in=COUNTED).values("region").annotate(n=Count("pk"))
    return metrics.with_parents((r["region"], Decimal(r["n"])) for r in rows)


def amount_wan(start: dt.date, end: dt.date) -> Values:
    rows = (
        Application.objects.filter(_window(start, end), status__in=COUNTED)
        .values("region")
        .annotate(t=Sum("amount_fen"))
    )
    return metrics.with_parents((r["region"], Decimal(r["t"] or 0) / 1_000_000) for r in rows)


CAR_CATEGORIES = ("car_scrap", "car_replace")


def _cars(start: dt.date, end: dt.date, categories: tuple[str, ...] = CAR_CATEGORIES) -> dict[int, tuple[int, int]]:
    items = ApplicationItem.objects.filter(
        _window(start, end, "application__"),
        kind="car",
        application__status__in=COUNTED,
        application__programme__category__in=categories,
    )
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for region, details, explanation in items.values_list("application__region", "details", "explanation"):
        out[region][0] += 1
        # the new car's fuel is kept with the item; older items only name it in the explanation of their amount
        fuel = (details or {}).get("new_fuel")
        out[region][1] += fuel == "nev" if fuel else "新能源" in explanation
    return {k: (v[0], v[1]) for k, v in out.items()}


def cars_renewed(start: dt.date, end: dt.date) -> Values:
    return metrics.with_parents((k, Decimal(total)) for k, (total, _) in _cars(start, end).items())


def cars_replaced(start: dt.date, end: dt.date) -> Values:
    return metrics.with_parents((k, Decimal(total)) for k, (total, _) in _cars(start, end, ("car_replace",)).items())


def nev_share(start: dt.date, end: dt.date) -> Values:
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    cars = _cars(start, end)
    parents = dict(Region.objects.filter(pk__in=list(cars), parent__isnull=False).values_list("pk", "parent_id"))
    for region, (total, nev) in cars.items():
        for key in (region, parents.get(region)):
            if key is not None:
                totals[key][0] += total
                totals[key][1] += nev
    return {k: (Decimal(nev * 100) / total).quantize(Decimal("0.1")) for k, (total, nev) in totals.items() if total}


for metric in (
    Metric("subsidies.applications", "以旧换新补贴申请", "份", "sum", applications),
    Metric("subsidies.amount", "以旧换新补贴金额", "万元", "sum", amount_wan),
    Metric("subsidies.cars-renewed", "享受报废更新、置换更新补贴的汽车", "辆", "sum", cars_renewed),
    Metric("subsidies.cars-replaced", "享受置换更新补贴的汽车", "辆", "sum", cars_replaced),
    Metric("subsidies.nev-share", "报废更新、置换更新新购车中新能源车占比", "%", "ratio", nev_share),
):
    metrics.register(metric)
