"""What a unit says about its numbers: whether they are counted (台, 个, 辆 … — whole numbers), how many decimals
they are shown with, and how a spreadsheet formats them.

An indicator's figures are shown at its precision, not at whatever a sum or a forecast happens to give: counts
without decimals, shares and growth rates with one, money with two and thousands separators, physical amounts
(公里, 吨) with as many decimals as the plan's own target has (180.6 公里: one; 11.76 公里: two).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# units of things counted one by one: a figure in them is a whole number
_COUNTED = "台 个 辆 家 座 处 户 套 件 项 人 名 所 部 艘 架 只 头 张 间 栋 幢 棵 株 次 批 宗 台套 辆次 人次 户次 家次"
COUNT_UNITS = frozenset(_COUNTED.split(" "))
MONEY_UNITS = frozenset({"元", "万元", "亿元"})
PERCENT = "%"


def is_count(unit: str | None) -> bool:
    return (unit or "").strip() in COUNT_UNITS


def decimals(unit: str | None, target: Decimal | None = None) -> int:
    """How many decimals a figure in `unit` is shown with (see the module's docstring)."""
    unit = (unit or "").strip()
    if unit in COUNT_UNITS:
        return 0
    if unit == PERCENT:
        return 1
    if unit in MONEY_UNITS:
        return 2
    places = 0
    if target is not None and target.is_finite():
        exponent = target.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(max(places, 1), 2)


def rounded(value: Decimal, unit: str | None, target: Decimal | None = None) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals(unit, target)), rounding=ROUND_HALF_UP)


def display(value: Decimal | None, unit: str | None, target: Decimal | None = None, *, with_unit: bool = True) -> str:
    """A figure as people read it: 6,400 个, 30.9%, 12.35 亿元; "—" when there is none."""
    if value is None:
        return "—"
    text = f"{rounded(value, unit, target):,f}"
    unit = (unit or "").strip()
    if not with_unit or not unit:
        return text
    return f"{text}{unit}" if unit == PERCENT else f"{text} {unit}"


def written(value: Decimal, unit: str | None) -> str:
    """A target as the plan writes it, without rounding or padding: 25%, 6,400 个, 180.6 公里."""
    text = f"{value.normalize():,f}"
    unit = (unit or "").strip()
    return f"{text}{unit}" if unit == PERCENT or not unit else f"{text} {unit}"


def target_text(indicator: Any) -> str:
    """An indicator's target as the plan states it, its number as `written`: ≥6,400 个, 较2023年增长≥25%."""
    if indicator.kind == "qualitative" or indicator.target_value is None:
        return "定性目标"
    symbol = {"gte": "≥", "gt": ">", "eq": "=", "lte": "≤"}.get(indicator.comparator, "")
    prefix = f"较{indicator.baseline_year}年增长" if indicator.kind == "growth_vs_baseline" else ""
    return f"{prefix}{symbol}{written(indicator.target_value, indicator.unit).replace(' ', '')}"


def excel_format(unit: str | None, target: Decimal | None = None) -> str:
    """The number format of a cell holding a figure in `unit`. A percentage is written as a fraction (0.309) and
    formatted 0.0%, as a spreadsheet expects; see `excel_value`."""
    unit = (unit or "").strip()
    places = decimals(unit, target)
    if unit == PERCENT:
        return "0." + "0" * places + "%" if places else "0%"
    number = "#,##0" + ("." + "0" * places if places else "")
    return f'{number}" {unit}"' if unit else number


def excel_value(value: Decimal | None, unit: str | None, target: Decimal | None = None) -> float | int | None:
    """The cell's value for `excel_format`: rounded to the precision shown (so a sum of the cells adds up to what
    is shown), a percentage as a fraction, a count as an integer."""
    if value is None or not value.is_finite():
        return None
    shown = rounded(value, unit, target)
    if (unit or "").strip() == PERCENT:
        return float(shown / 100)
    return int(shown) if decimals(unit, target) == 0 else float(shown)
