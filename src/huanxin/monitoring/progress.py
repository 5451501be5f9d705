"""The progress engine: pure functions, no database.

For a target (kind, comparator, value, plan start, deadline) and the figures reported so far, compute the actual
value, where the plan's straight path says it should be today, progress, a status, a forecast for the deadline and
the date the target will be reached at the current pace.

Units: `actual`, `expected` and `forecast` are in the target's unit. Growth targets (较2023年增长25%) take
observations as amounts (e.g. yearly tonnes) and a `baseline_value` (the 2023 amount); their actual is the growth
in percent, (value / baseline − 1) × 100.

The path: a straight line from the path start at plan start to the target at the deadline. Path start:
`start_value` when known (a share's or a level's value in the baseline year), else 0.

Status rules, in order — the forecast decides, the pace (progress against the path) is said beside it:
- no usable observation (or, for qualitative targets, no milestone) → NO_DATA;
- the latest actual meets the target → ACHIEVED;
- past the deadline and not achieved → AT_RISK;
- the forecast for the deadline meets the target → ON_TRACK, whatever the pace: a target forecast to be met is
  not late. When the pace is behind the path (by more than TOLERANCE_POINTS) the summary says so plainly:
  "按当前趋势可完成（进度略慢于计划）";
- the forecast falls short: LAGGING when the pace is within TOLERANCE_POINTS of the path (summary
  "进度符合计划，但按当前趋势难以完成") or at LAGGING_SHARE of it ("进度滞后"); AT_RISK when further behind;
- no forecast (all figures on one day): judged on the pace alone, in the same bands.
Qualitative targets: all milestones done → ACHIEVED; none overdue → ON_TRACK; one overdue by at most
OVERDUE_GRACE_DAYS → LAGGING; more, or longer → AT_RISK.

Forecast: the least-squares line through the observations (with one observation, the line through the path
start at plan start and it), evaluated at the deadline. Reach date: where that line meets the target; the date of
the first observation that met it when already achieved; None when the line never gets there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

from huanxin.monitoring import units

TOLERANCE_POINTS = Decimal(5)  # percentage points of progress below the path that still count as on track
LAGGING_SHARE = Decimal("0.8")  # below the path, but at least this share of the expected progress: lagging
OVERDUE_GRACE_DAYS = 90
STALE_DAYS = 120  # a latest figure older than this is pointed out in the reasons

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Status(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    LAGGING = "lagging"
    AT_RISK = "at_risk"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Status.ACHIEVED: "已完成",
    Status.ON_TRACK: "正常推进",
    Status.LAGGING: "需关注",
    Status.AT_RISK: "存在风险",
    Status.NO_DATA: "暂无数据",
}


@dataclass(frozen=True)
class Target:
    kind: str  # growth_vs_baseline | cumulative_total | share | level | count | qualitative
    comparator: str | None  # gte | gt | eq | lte; None for qualitative
    target_value: Decimal | None
    start: dt.date
    deadline: dt.date
    baseline_value: Decimal | None = None
    start_value: Decimal | None = None
    unit: str = ""  # the target's unit, for the reasons' wording only


@dataclass(frozen=True)
class Observation:
    on: dt.date
    value: Decimal


@dataclass(frozen=True)
class Milestone:
    title: str
    due: dt.date
    done_on: dt.date | None = None


@dataclass(frozen=True)
class Assessment:
    actual: Decimal | None
    expected: Decimal | None
    progress_pct: Decimal | None
    status: Status
    forecast: Decimal | None = None
    reach_date: dt.date | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)
    summary: str = ""  # the status in words, pace and forecast together; the status's label when empty

    @property
    def headline(self) -> str:
        return self.summary or self.status.label


def meets(comparator: str, value: Decimal, target: Decimal) -> bool:
    return {
        "gte": value >= target,
        "gt": value > target,
        "eq": value == target,
        "lte": value <= target,
    }[comparator]


def _elapsed(target: Target, on: dt.date) -> Decimal:
    """Share of the plan's time gone by `on`, clamped to [0, 1]."""
    total = (target.deadline - target.start).days
    if total <= 0:
        return Decimal(1)
    done = (min(max(on, target.start), target.deadline) - target.start).days
    return Decimal(done) / Decimal(total)


def expected_on(target: Target, on: dt.date, path_start: Decimal) -> Decimal:
    """The straight path's value on `on`."""
    assert target.target_value is not None
    return path_start + (target.target_value - path_start) * _elapsed(target, on)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _clean(observations: Sequence[Observation], today: dt.date) -> list[Observation]:
    """Sorted, one per date (the last given wins), none after today."""
    by_date: dict[dt.date, Observation] = {}
    for obs in observations:
        if obs.on <= today:
            by_date[obs.on] = obs
    return [by_date[on] for on in sorted(by_date)]


def _to_target_unit(target: Target, value: Decimal) -> Decimal | None:
    if target.kind != "growth_vs_baseline":
        return value
    if not target.baseline_value:
        return None
    return (value / target.baseline_value - 1) * HUNDRED


def _path_start(target: Target) -> Decimal:
    return target.start_value if target.start_value is not None else ZERO


def _ordinal(day: dt.date) -> Decimal:
    return Decimal(day.toordinal())


def _line(points: list[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """Least-squares slope and intercept; None when all x are equal."""
    n = Decimal(len(points))
    mean_x = sum((x for x, _ in points), ZERO) / n
    mean_y = sum((y for _, y in points), ZERO) / n
    sxx = sum(((x - mean_x) ** 2 for x, _ in points), ZERO)
    if sxx == 0:
        return None
    slope = sum(((x - mean_x) * (y - mean_y) for x, y in points), ZERO) / sxx
    return slope, mean_y - slope * mean_x


def assess(
    target: Target,
    observations: Sequence[Observation],
    today: dt.date,
    milestones: Sequence[Milestone] = (),
) -> Assessment:
    if target.kind == "qualitative":
        return _assess_milestones(milestones, today)
    assert target.comparator is not None and target.target_value is not None
    series = _clean(observations, today)
    converted = [(o, _to_target_unit(target, o.value)) for o in series]
    points = [(o.on, v) for o, v in converted if v is not None]
    if not points:
        reason = "基准年数值为0或未设置，无法计算增长率" if series else "尚无已审核的数据"
        return Assessment(None, None, None, Status.NO_DATA, reasons=(reason,))

    goal = target.target_value
    start_value = ZERO if target.kind == "growth_vs_baseline" else _path_start(target)
    last_on, actual = points[-1]
    # progress is judged against the path on the date of the latest figure, so that the weeks a report takes
    # to arrive do not make every target look late
    expected = expected_on(target, last_on, start_value)
    span = goal - start_value
    progress = (
        _one_decimal((actual - start_value) / span * HUNDRED)
        if span
        else (HUNDRED if meets(target.comparator, actual, goal) else ZERO)
    )
    expected_progress = _elapsed(target, last_on) * HUNDRED

    # forecast: least squares through the points, or through (start, path start) and the only point
    xy = [(_ordinal(on), value) for on, value in points]
    if len(xy) == 1:
        xy = [(_ordinal(target.start), start_value), *xy]
    line = _line(xy)
    forecast = reach = None
    if line is not None:
        slope, intercept = line
        forecast = slope * _ordinal(target.deadline) + intercept
        if slope != 0:
            crossing = (goal - intercept) / slope
            if crossing >= _ordinal(last_on) and ((slope > 0) == (target.comparator in {"gte", "gt", "eq"})):
                ordinal = int(crossing.to_integral_value(rounding=ROUND_CEILING))
                reach = dt.date.fromordinal(min(ordinal, dt.date.max.toordinal()))

    reasons: list[str] = []
    if meets(target.comparator, actual, goal):
        first = next(on for on, value in points if meets(target.comparator, value, goal))
        return Assessment(actual, expected, progress, Status.ACHIEVED, forecast, first, ("已达到目标",))
    if target.kind == "share" and forecast is not None:
        forecast = min(max(forecast, ZERO), HUNDRED)
    # judged at the precision the forecast is shown with: "预计 8.27，目标 8.27" is a target forecast to be met
    forecast_ok = forecast is not None and meets(target.comparator, units.rounded(forecast, target.unit, goal), goal)
    gap = f"进度 {progress}%，时间进度 {_one_decimal(expected_progress)}%"
    on_pace = progress >= expected_progress - TOLERANCE_POINTS
    near_pace = bool(expected_progress) and progress >= expected_progress * LAGGING_SHARE
    if forecast is not None:
        verdict = "可以" if forecast_ok else "难以"
        shown = units.display(forecast, target.unit, goal)
        reasons.append(f"按当前趋势预计截止时为 {shown}，目标 {units.written(goal, target.unit)}，{verdict}完成")
    if (today - last_on).days > STALE_DAYS:
        reasons.append(f"最新数据截至{last_on.year}年{last_on.month}月{last_on.day}日")
    if today > target.deadline:
        status, summary = Status.AT_RISK, "已过截止日期仍未达到目标"
        reasons.insert(0, summary)
    elif forecast_ok:
        status = Status.ON_TRACK
        if on_pace:
            summary = "正常推进"
        else:
            summary = f"按当前趋势可完成（进度{'略' if near_pace else ''}慢于计划）"
            reasons.insert(0, f"{gap}，慢于计划")
    elif on_pace:
        status = Status.ON_TRACK if forecast is None else Status.LAGGING
        summary = "正常推进" if forecast is None else "进度符合计划，但按当前趋势难以完成"
    elif near_pace:
        status, summary = Status.LAGGING, "进度滞后"
        reasons.insert(0, f"{gap}，低于计划")
    else:
        status, summary = Status.AT_RISK, "存在风险"
        reasons.insert(0, f"{gap}，明显低于计划")
    return Assessment(actual, expected, progress, status, forecast, reach, tuple(reasons), summary)


def _assess_milestones(milestones: Sequence[Milestone], today: dt.date) -> Assessment:
    if not milestones:
        return Assessment(None, None, None, Status.NO_DATA, reasons=("尚未设置里程碑",))
    done = sum(1 for m in milestones if m.done_on is not None and m.done_on <= today)
    progress = _one_decimal(Decimal(done) / Decimal(len(milestones)) * HUNDRED)
    overdue = [m for m in milestones if (m.done_on is None or m.done_on > today) and m.due < today]
    if done == len(milestones):
        return Assessment(Decimal(done), None, progress, Status.ACHIEVED, reasons=("全部里程碑已完成",))
    if not overdue:
        return Assessment(Decimal(done), None, progress, Status.ON_TRACK)
    worst = max((today - m.due).days for m in overdue)
    status = Status.LAGGING if len(overdue) == 1 and worst <= OVERDUE_GRACE_DAYS else Status.AT_RISK
    reasons = tuple(f"里程碑“{m.title}”已逾期 {(today - m.due).days} 天" for m in overdue)
    return Assessment(Decimal(done), None, progress, status, reasons=reasons)
