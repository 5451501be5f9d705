"""The progress engine: worked examples in the plan's own terms, and properties that hold for any series."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from huanxin.monitoring.progress import (
    Assessment,
    Milestone,
    Observation,
    Status,
    Target,
    assess,
    expected_on,
    meets,
)

START, DEADLINE = dt.date(2024, 5, 28), dt.date(2027, 12, 31)
DAYS = (DEADLINE - START).days  # 1312


def target(kind: str = "cumulative_total", value: str = "180.6", comparator: str = "gte", **kw) -> Target:
    return Target(kind=kind, comparator=comparator, target_value=Decimal(value), start=START, deadline=DEADLINE, **kw)


def obs(day: dt.date, value: str | int | float) -> Observation:
    return Observation(day, Decimal(str(value)))


def test_gas_pipeline_ahead_of_the_path_is_on_track() -> None:
    on = dt.date(2025, 6, 30)
    path_today = Decimal("180.6") * (on - START).days / DAYS  # 396 of 1312 days: about 54.5 km
    result = assess(target(), [obs(dt.date(2024, 12, 31), 20), obs(on, 60)], today=dt.date(2025, 7, 10))
    assert result.status == Status.ON_TRACK
    assert result.actual == 60
    assert abs(result.expected - path_today) < Decimal("0.01")
    assert result.progress_pct == Decimal("33.2")  # 60 / 180.6


def test_well_behind_the_path_is_at_risk_with_a_reason() -> None:
    result = assess(target(), [obs(dt.date(2025, 6, 30), 10), obs(dt.date(2026, 6, 30), 20)], dt.date(2026, 7, 5))
    assert result.status == Status.AT_RISK
    assert result.forecast is not None and result.forecast < Decimal("180.6")
    assert result.summary == "存在风险" and "明显低于计划" in result.reasons[0]
    assert "难以完成" in result.reasons[1]


def at(share: float) -> dt.date:
    """The day a share of the plan's time has gone by."""
    return START + dt.timedelta(days=round(DAYS * share))


def gas(*points: tuple[float, float]) -> list[Observation]:
    """Figures of the gas pipeline (180.6 km) given as (share of the time gone, share of the target done)."""
    return [obs(at(t), round(Decimal("180.6") * Decimal(str(done)), 2)) for t, done in points]


def test_a_target_forecast_to_be_met_is_not_late_even_behind_the_path() -> None:
    """七大领域设备投资 (较2023年增长25%): 42.8% of the way at 58% of the time, but rising fast enough to reach
    30.9% — the issue's dashboard called it 进度滞后; it is on track, and the pace is said beside it."""
    goal = target("growth_vs_baseline", "25", baseline_value=Decimal(420), unit="%")
    growth = [("2025-06-30", "1"), ("2025-12-31", "5.5"), ("2026-06-30", "10.7")]
    series = [obs(dt.date.fromisoformat(on), Decimal(420) * (1 + Decimal(g) / 100)) for on, g in growth]
    result = assess(goal, series, dt.date(2026, 7, 10))
    assert result.forecast is not None and result.forecast > 25
    assert result.status == Status.ON_TRACK
    assert result.summary == result.headline == "按当前趋势可完成（进度慢于计划）"
    assert result.reasons[0] == "进度 42.8%，时间进度 58.2%，慢于计划"
    assert "目标 25%，可以完成" in result.reasons[1]


def test_a_bit_behind_the_path_and_forecast_to_make_it() -> None:
    result = assess(target(unit="公里"), gas((0.3, 0.1), (0.6, 0.52)), at(0.6))
    assert result.status == Status.ON_TRACK
    assert result.summary == "按当前趋势可完成（进度略慢于计划）"


def test_on_the_path_but_slowing_down_is_said_plainly() -> None:
    result = assess(target(unit="公里"), gas((0.3, 0.4), (0.58, 0.55)), at(0.58))
    assert result.status == Status.LAGGING and result.status.label == "需关注"
    assert result.summary == "进度符合计划，但按当前趋势难以完成"


def test_behind_the_path_and_forecast_short_is_lagging() -> None:
    result = assess(target(unit="公里"), gas((0.3, 0.25), (0.6, 0.5)), at(0.6))
    assert result.status == Status.LAGGING and result.summary == "进度滞后"
    assert result.reasons[0].endswith("低于计划")


def test_on_the_path_and_forecast_to_make_it_is_on_track() -> None:
    result = assess(target(unit="公里"), gas((0.3, 0.3), (0.6, 0.6)), at(0.6))
    assert (result.status, result.headline) == (Status.ON_TRACK, "正常推进")


def test_a_count_forecast_is_said_as_a_whole_number() -> None:
    video = target(value="6400", unit="个")
    result = assess(video, [obs(at(0.3), 2000), obs(at(0.6), 3900)], at(0.6))
    assert re.fullmatch(r"按当前趋势预计截止时为 [0-9],[0-9]{3} 个，目标 6,400 个，可以完成", result.reasons[0])


def test_achieved_and_the_date_it_was_reached() -> None:
    series = [obs(dt.date(2025, 12, 31), 150), obs(dt.date(2026, 3, 31), 181), obs(dt.date(2026, 6, 30), 190)]
    result = assess(target(), series, dt.date(2026, 7, 1))
    assert result.status == Status.ACHIEVED
    assert result.reach_date == dt.date(2026, 3, 31)


def test_no_data() -> None:
    assert assess(target(), [], dt.date(2026, 1, 1)).status == Status.NO_DATA
    future_only = [obs(dt.date(2026, 3, 31), 100)]
    assert assess(target(), future_only, dt.date(2026, 1, 1)).status == Status.NO_DATA  # after "today": ignored


def test_past_the_deadline_and_short_is_at_risk() -> None:
    result = assess(target(), [obs(dt.date(2027, 12, 31), 170)], dt.date(2028, 2, 1))
    assert result.status == Status.AT_RISK
    assert "已过截止日期" in result.reasons[0]


def test_unsorted_and_duplicate_observations() -> None:
    series = [obs(dt.date(2026, 6, 30), 99), obs(dt.date(2025, 6, 30), 60), obs(dt.date(2026, 6, 30), 100)]
    result = assess(target(), series, dt.date(2026, 7, 1))
    assert result.actual == 100  # the last one given for a date wins


def test_growth_against_the_baseline() -> None:
    """报废汽车回收量较2023年增长一倍: 5,200 cars in 2023; 9,360 a year now is +80%."""
    goal = target("growth_vs_baseline", "100", baseline_value=Decimal(5200))
    result = assess(goal, [obs(dt.date(2026, 6, 30), 9360)], dt.date(2026, 7, 1))
    assert result.actual == Decimal(80)
    assert result.progress_pct == Decimal("80.0")
    assert result.status == Status.ON_TRACK  # 80% done at 62% of the time
    zero = target("growth_vs_baseline", "100", baseline_value=Decimal(0))
    assert assess(zero, [obs(dt.date(2026, 6, 30), 10)], dt.date(2026, 7, 1)).status == Status.NO_DATA


def test_a_share_starts_from_its_baseline_and_its_forecast_stays_below_100() -> None:
    buses = target("share", "90", start_value=Decimal(40))
    result = assess(buses, [obs(dt.date(2024, 12, 31), 85)], dt.date(2025, 1, 5))
    assert result.progress_pct == Decimal("90.0")  # (85 − 40) / (90 − 40)
    assert result.forecast is not None and result.forecast <= 100


def test_lower_is_better() -> None:
    emissions = target("level", "50", comparator="lte", start_value=Decimal(100))
    on_path = Decimal(100) - Decimal(50) * Decimal((dt.date(2026, 1, 1) - START).days) / DAYS
    assert assess(emissions, [obs(dt.date(2026, 1, 1), on_path)], dt.date(2026, 1, 2)).status == Status.ON_TRACK
    assert assess(emissions, [obs(dt.date(2026, 1, 1), 99)], dt.date(2026, 1, 2)).status == Status.AT_RISK
    assert assess(emissions, [obs(dt.date(2026, 1, 1), 45)], dt.date(2026, 1, 2)).status == Status.ACHIEVED


def test_qualitative_milestones() -> None:
    goal = Target("qualitative", None, None, START, DEADLINE)
    today = dt.date(2026, 6, 1)
    done = Milestone("摸排完成", dt.date(2025, 6, 30), dt.date(2025, 6, 20))
    upcoming = Milestone("全部改造完毕", dt.date(2027, 12, 31))
    late = Milestone("方案印发", dt.date(2026, 4, 30))
    very_late = Milestone("招标完成", dt.date(2025, 12, 31))
    assert assess(goal, [], today).status == Status.NO_DATA
    assert assess(goal, [], today, [done]).status == Status.ACHIEVED
    assert assess(goal, [], today, [done, upcoming]).status == Status.ON_TRACK
    assert assess(goal, [], today, [done, late, upcoming]).status == Status.LAGGING
    lagging = assess(goal, [], today, [done, very_late, upcoming])
    assert lagging.status == Status.AT_RISK and "逾期 152 天" in lagging.reasons[0]
    assert assess(goal, [], today, [done, upcoming]).progress_pct == Decimal("50.0")


@pytest.mark.parametrize(
    ("comparator", "value", "result"),
    [("gte", 5, True), ("gt", 5, False), ("eq", 5, True), ("lte", 6, False), ("gte", 4, False)],
)
def test_meets(comparator: str, value: int, result: bool) -> None:
    assert meets(comparator, Decimal(value), Decimal(5)) is result


# --- properties ----------------------------------------------------------------------------------------

days = st.integers(min_value=0, max_value=DAYS)
amounts = st.decimals(min_value=1, max_value=100000, places=2, allow_nan=False, allow_infinity=False)


@given(days, days, amounts)
def test_the_path_is_monotone_and_ends_at_start_and_target(a: int, b: int, goal: Decimal) -> None:
    t = Target("cumulative_total", "gte", goal, START, DEADLINE)
    early, late = sorted((a, b))
    assert expected_on(t, START + dt.timedelta(days=early), Decimal(0)) <= expected_on(
        t, START + dt.timedelta(days=late), Decimal(0)
    )
    assert expected_on(t, START, Decimal(0)) == 0
    assert expected_on(t, DEADLINE, Decimal(0)) == goal
    assert expected_on(t, DEADLINE + dt.timedelta(days=99), Decimal(0)) == goal  # clamped


@given(st.integers(min_value=30, max_value=DAYS - 1), amounts)
def test_a_point_on_the_path_has_the_elapsed_share_as_progress(day: int, goal: Decimal) -> None:
    t = Target("cumulative_total", "gte", goal, START, DEADLINE)
    on = START + dt.timedelta(days=day)
    result = assess(t, [Observation(on, expected_on(t, on, Decimal(0)))], on)
    assert abs(result.progress_pct - Decimal(day) / DAYS * 100) <= Decimal("0.1")
    assert result.status in {Status.ON_TRACK, Status.ACHIEVED}


@given(st.lists(st.integers(min_value=30, max_value=DAYS - 1), min_size=2, max_size=8, unique=True), amounts)
def test_a_straight_series_to_the_target_is_forecast_to_reach_it(points: list[int], goal: Decimal) -> None:
    t = Target("cumulative_total", "gte", goal, START, DEADLINE)
    series = [Observation(START + dt.timedelta(days=d), goal * d / DAYS) for d in sorted(points)]
    today = series[-1].on
    result = assess(t, series, today)
    assert result.forecast is not None and abs(result.forecast - goal) <= goal * Decimal("0.001")
    assert result.status != Status.AT_RISK


@given(
    st.lists(st.tuples(st.integers(min_value=1, max_value=DAYS - 60), amounts), min_size=1, max_size=6),
    amounts,
    amounts,
)
def test_a_later_higher_figure_never_makes_a_cumulative_target_worse(
    points: list[tuple[int, Decimal]], extra: Decimal, goal: Decimal
) -> None:
    t = Target("cumulative_total", "gte", goal, START, DEADLINE)
    series = sorted((Observation(START + dt.timedelta(days=d), v) for d, v in points), key=lambda o: o.on)
    last = series[-1]
    assume(all(o.on < last.on or o is last for o in series))
    later = Observation(last.on, last.value + extra)  # the same date, a higher running total
    rank = [Status.AT_RISK, Status.LAGGING, Status.ON_TRACK, Status.ACHIEVED]
    before = assess(t, series, last.on)
    after = assess(t, [*series, later], last.on)
    assert rank.index(after.status) >= rank.index(before.status)


@given(st.lists(st.tuples(days, amounts), min_size=1, max_size=6), amounts, st.sampled_from(["gte", "gt", "lte", "eq"]))
def test_achieved_exactly_when_the_latest_actual_meets_the_target(
    points: list[tuple[int, Decimal]], goal: Decimal, comparator: str
) -> None:
    t = Target("level", comparator, goal, START, DEADLINE)
    series = [Observation(START + dt.timedelta(days=d), v) for d, v in points]
    result: Assessment = assess(t, series, DEADLINE)
    assert (result.status == Status.ACHIEVED) == meets(comparator, result.actual, goal)
