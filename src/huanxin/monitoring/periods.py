"""Reporting periods as values: a month (2025-M06), a quarter (2025-Q2) or a year (2025)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

_CODE = re.compile(r"^(?P<year>\d{4})(?:-(?P<kind>[MQ])(?P<number>\d{1,2}))?$")
_QUARTERS = "一二三四"


class Frequency(StrEnum):
    MONTH = "M"
    QUARTER = "Q"
    YEAR = "Y"

    @property
    def label(self) -> str:
        return {"M": "月度", "Q": "季度", "Y": "年度"}[self.value]


@dataclass(frozen=True, order=True)
class PeriodRef:
    year: int
    frequency: Frequency
    number: int  # month 1–12, quarter 1–4, 0 for a year

    def __post_init__(self) -> None:
        limit = {Frequency.MONTH: 12, Frequency.QUARTER: 4, Frequency.YEAR: 0}[self.frequency]
        low = 0 if self.frequency == Frequency.YEAR else 1
        if not low <= self.number <= limit:
            raise ValueError(f"期间编号无效：{self.year} {self.frequency} {self.number}")

    @classmethod
    def parse(cls, code: str) -> PeriodRef:
        match = _CODE.match(code.strip().upper())
        if not match:
            raise ValueError(f"期间格式应为 2025-M06、2025-Q2 或 2025，收到“{code}”")
        year = int(match["year"])
        if match["kind"] is None:
            return cls(year, Frequency.YEAR, 0)
        return cls(year, Frequency(match["kind"]), int(match["number"]))

    @classmethod
    def containing(cls, frequency: Frequency, day: dt.date) -> PeriodRef:
        number = {
            Frequency.MONTH: day.month,
            Frequency.QUARTER: (day.month - 1) // 3 + 1,
            Frequency.YEAR: 0,
        }[frequency]
        return cls(day.year, frequency, number)

    @property
    def code(self) -> str:
        if self.frequency == Frequency.YEAR:
            return str(self.year)
        width = 2 if self.frequency == Frequency.MONTH else 1
        return f"{self.year}-{self.frequency.value}{self.number:0{width}d}"

    @property
    def label(self) -> str:
        if self.frequency == Frequency.MONTH:
            return f"{self.year}年{self.number}月"
        if self.frequency == Frequency.QUARTER:
            return f"{self.year}年第{_QUARTERS[self.number - 1]}季度"
        return f"{self.year}年"

    @property
    def start(self) -> dt.date:
        if self.frequency == Frequency.MONTH:
            return dt.date(self.year, self.number, 1)
        if self.frequency == Frequency.QUARTER:
            return dt.date(self.year, 3 * self.number - 2, 1)
        return dt.date(self.year, 1, 1)

    @property
    def end(self) -> dt.date:
        if self.frequency == Frequency.MONTH:
            return dt.date(self.year, self.number, calendar.monthrange(self.year, self.number)[1])
        if self.frequency == Frequency.QUARTER:
            month = 3 * self.number
            return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])
        return dt.date(self.year, 12, 31)

    def next(self) -> PeriodRef:
        return PeriodRef.containing(self.frequency, self.end + dt.timedelta(days=1))

    def previous(self) -> PeriodRef:
        return PeriodRef.containing(self.frequency, self.start - dt.timedelta(days=1))

    def __str__(self) -> str:
        return self.code


def periods_between(frequency: Frequency, first: dt.date, last: dt.date) -> list[PeriodRef]:
    """Every period of `frequency` that overlaps [first, last], in order."""
    out = [PeriodRef.containing(frequency, first)]
    while out[-1].end < last:
        out.append(out[-1].next())
    return out
