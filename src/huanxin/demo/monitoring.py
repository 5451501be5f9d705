"""Demo reporting history: quarterly (and yearly) values since the plan started, by county where the indicator
is reported by county, reviewed by the task force; the latest quarter is left half-done (submitted, returned,
drafts and gaps) so the review queue and the entry sheet have something to show.

Every number here is invented for the demo. Baselines (2023 amounts) are not in the plan; a city enters its own.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TextIO

from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.utils import timezone

from huanxin.core import services as core_services
from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.monitoring import ledgers, selectors, services, units
from huanxin.monitoring.models import IndicatorSetting, IndicatorValue, LedgerEntry, LedgerKind
from huanxin.monitoring.periods import Frequency, periods_between
from huanxin.plans.models import Indicator, Plan

DEMO_PASSWORD = "huanxin-demo-2024"  # noqa: S105 - demo accounts only
DEMO_COUNTY = "130722"  # 张北县, zhangbei's
EXISTING_CLERKS = {"drc": "fagai", "commerce": "shangwu", "miit": "gongxin", "housing": "zhujian"}
BASELINES = {  # invented 2023 amounts for the growth targets
    "equipment-investment-growth": Decimal(420),
    "scrapped-cars-collected-growth": Decimal(400),  # the recycling demo issues certificates at this rate
    "used-car-trades-growth": Decimal(48000),
    "appliances-collected-growth": Decimal(86000),
}
# how each indicator performs against its path in the demo: > 1 ahead, < 1 behind
PACE = {
    "gas-pipeline-renewed-km": 1.08,
    "water-pipeline-renewed-km": 0.93,
    "drainage-pipeline-renewed-km": 0.55,
    "heating-pipeline-renewed-km": 1.2,
    "police-video-devices-renewed": 1.02,
    "agricultural-machines-scrapped": 0.75,
    "nev-heavy-trucks": 0.6,
    "specialised-sme-enterprises": 1.05,
    "scrapped-cars-collected-growth": 0.9,
    "appliances-collected-growth": 1.1,
    "used-car-trades-growth": 0.7,
    "equipment-investment-growth": 0.95,
}


def _clerk(department: Department) -> User:
    username = EXISTING_CLERKS.get(department.code, f"tb-{department.code}")
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    org = Organisation.objects.filter(department=department).first()
    return core_services.create_user(
        actor=None,
        username=username,
        password=DEMO_PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=org,
        display_name=f"{department.short_name or department.name}填报员",
    )


def _value(setting: IndicatorSetting, fraction: float, step: float, weight: float, rng: random.Random) -> Decimal:
    """The demo figure for one period: on a path scaled by the indicator's pace, with some noise."""
    indicator = setting.indicator
    pace = PACE.get(indicator.code, 1.0)
    noise = rng.uniform(0.8, 1.2)
    target = float(indicator.target_value or 0)
    if indicator.kind == Indicator.Kind.GROWTH_VS_BASELINE:
        baseline = float(BASELINES[indicator.code])
        per_period = baseline / (4 if setting.frequency == Frequency.QUARTER else 1)
        amount = per_period * (1 + target / 100 * fraction * pace) * noise * weight
    elif setting.aggregation == IndicatorSetting.Aggregation.INCREMENT:
        amount = target * step * pace * noise * weight
    else:  # a level: shares, counts
        start = {"%": 0.6 * target}.get(indicator.unit, 0.3 * target)
        amount = min(start + (target - start) * fraction * pace, 100.0 if indicator.unit == "%" else 1e9)
    if units.is_count(setting.value_unit):  # cameras, cars, machines are whole: no 18.17 cameras
        return Decimal(round(amount))
    return Decimal(str(round(amount, 2 if amount < 1000 else 0)))


def build(stdout: TextIO | OutputWrapper) -> None:
    plan = Plan.objects.get(code="zhangjiakou-2024")
    call_command("monitoring", "setup", stdout=stdout)
    if IndicatorValue.objects.filter(indicator__plan=plan).exists():
        return
    task_force = User.objects.get(username="zhuanban")
    for code, baseline in BASELINES.items():
        setting = IndicatorSetting.objects.get(indicator__plan=plan, indicator__code=code)
        services.configure_indicator(actor=task_force, indicator=setting.indicator, baseline_value=baseline)
    rng = random.Random(2024)  # noqa: S311 - demo figures, not security
    today = timezone.localdate()
    counties = list(Region.objects.filter(parent=plan.region).order_by("code"))
    weights = [rng.uniform(0.5, 1.5) for _ in counties]
    weights = [w / sum(weights) for w in weights]
    total_days = (plan.deadline - plan.issued_on).days
    settings = IndicatorSetting.objects.filter(indicator__plan=plan).select_related("indicator", "reporting_department")
    _ledgers(plan, counties, rng, today)
    for setting in settings:
        if setting.source == IndicatorSetting.Source.DERIVED:
            continue
        clerk = _clerk(setting.reporting_department)  # type: ignore[arg-type]
        frequency = Frequency(setting.frequency)
        latest = selectors.latest_open_period(frequency, today)
        refs = [r for r in periods_between(frequency, plan.issued_on, latest.end) if r <= latest]
        regions = list(zip(counties, weights, strict=True)) if setting.by_county else [(plan.region, 1.0)]
        for ref in refs:
            period = services.ensure_period(ref=ref, actor=task_force)
            fraction = max(0.0, (ref.end - plan.issued_on).days / total_days)
            step = ((ref.end - max(ref.start, plan.issued_on)).days + 1) / total_days
            is_latest = ref == latest
            values = []
            for region, weight in regions:
                # not reported yet: the sheet shows the gap. 张北县 has reported none of the latest period, so its
                # county officer (zhangbei) finds the cells to fill in (flows helper, issue 18; the draw stays)
                if is_latest and (rng.random() < 0.25 or region.code == DEMO_COUNTY):
                    continue
                amount = _value(setting, fraction, step, weight, rng)
                values.append(
                    services.save_value(
                        actor=clerk,
                        indicator=setting.indicator,
                        period=period,
                        region=region,
                        value=amount,
                        note="演示数据",
                        today=today,
                    )
                )
            if is_latest:
                values = [v for v in values if rng.random() < 0.7]  # the rest stay drafts
            # most departments report within the 15 days allowed; a few are late
            delay = rng.choice([3, 6, 9, 12, 14, 14, 20, 35]) if not is_latest else 5
            submitted = timezone.make_aware(dt.datetime.combine(ref.end + dt.timedelta(days=delay), dt.time(10)))
            services.submit_values(actor=clerk, values=values, at=min(submitted, timezone.now()))
            for value in values:
                if not is_latest:
                    services.approve_value(actor=task_force, value=value, at=submitted + dt.timedelta(days=3))
                elif rng.random() < 0.1:
                    services.return_value(actor=task_force, value=value, reason="与上季度相比波动过大，请核实数据来源")
    derived = sorted({Frequency(s.frequency) for s in settings if s.source == IndicatorSetting.Source.DERIVED})
    for derived_frequency in derived:
        latest = selectors.latest_open_period(derived_frequency, today)
        for ref in periods_between(derived_frequency, plan.issued_on, latest.end):
            services.derive_values(period=services.ensure_period(ref=ref, actor=task_force), actor=None)
    entries = LedgerEntry.objects.filter(kind__plan=plan).count()
    stdout.write(
        f"监测演示数据：{IndicatorValue.objects.filter(indicator__plan=plan).count()} 个数值，{entries} 条台账记录\n"
    )


# the demo's renewals: (kind, records per quarter, quantity range, attribute choices with weights)
LEDGER_DEMO = [
    (
        "buses",
        3,
        (4, 20),
        {"fuel": [("纯电动", 8), ("插电式混合动力", 1), ("燃料电池", 1), ("天然气", 1), ("柴油", 1)]},
    ),
    ("taxis", 4, (5, 30), {"fuel": [("纯电动", 6), ("插电式混合动力", 1), ("天然气", 2), ("汽油", 1)]}),
    ("nev-heavy-trucks", 2, (2, 8), {"power": [("纯电动", 3), ("换电", 2), ("燃料电池", 1)]}),
    (
        "agricultural-machines-scrapped",
        6,
        (5, 25),
        {"machine": [("拖拉机", 5), ("联合收割机", 2), ("播种机", 2), ("其他", 1)]},
    ),
    ("elevators", 3, (1, 6), {"work": [("老旧电梯更新", 2), ("老旧电梯改造", 1), ("既有住宅加装", 3)]}),
]


def _ledgers(plan: Plan, counties: list[Region], rng: random.Random, today: dt.date) -> None:
    for code, per_quarter, (low, high), choices in LEDGER_DEMO:
        kind = LedgerKind.objects.get(plan=plan, code=code)
        clerk = _clerk(kind.department)
        for ref in periods_between(Frequency.QUARTER, plan.issued_on, today):
            for n in range(per_quarter):
                day = ref.start + dt.timedelta(days=rng.randrange((ref.end - ref.start).days + 1))
                if day > today or day < plan.issued_on:
                    continue
                attributes = {
                    key: rng.choices([c for c, _ in options], weights=[w for _, w in options])[0]
                    for key, options in choices.items()
                }
                if code == "elevators":
                    attributes["estate"] = rng.choice(["建国路小区", "明德北小区", "宣化钟楼小区", "南站小区"])
                ledgers.record_entry(
                    actor=clerk,
                    kind=kind,
                    region=rng.choice(counties),
                    recorded_on=day,
                    quantity=Decimal(rng.randint(low, high)),
                    attributes=attributes,
                    evidence=f"演示：{ref.label}第{n + 1}批",
                    idempotency_key=f"demo-{code}-{ref.code}-{n}",
                    today=today,
                )
