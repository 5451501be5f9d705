import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huanxin.monitoring.periods import Frequency, PeriodRef, periods_between


@pytest.mark.parametrize(
    ("code", "start", "end", "label"),
    [
        ("2025-M06", dt.date(2025, 6, 1), dt.date(2025, 6, 30), "2025年6月"),
        ("2024-M02", dt.date(2024, 2, 1), dt.date(2024, 2, 29), "2024年2月"),
        ("2025-Q2", dt.date(2025, 4, 1), dt.date(2025, 6, 30), "2025年第二季度"),
        ("2025-q4", dt.date(2025, 10, 1), dt.date(2025, 12, 31), "2025年第四季度"),
        ("2027", dt.date(2027, 1, 1), dt.date(2027, 12, 31), "2027年"),
    ],
)
def test_parse(code: str, start: dt.date, end: dt.date, label: str) -> None:
    ref = PeriodRef.parse(code)
    assert (ref.start, ref.end, ref.label) == (start, end, label)
    assert PeriodRef.parse(ref.code) == ref


@pytest.mark.parametrize("bad", ["2025-M13", "2025-Q5", "2025-M00", "25-Q1", "2025Q1", "明年", ""])
def test_bad_codes_are_refused_in_chinese(bad: str) -> None:
    with pytest.raises(ValueError, match="期间"):
        PeriodRef.parse(bad)


@given(st.sampled_from(list(Frequency)), st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 1)))
def test_periods_tile_time(frequency: Frequency, day: dt.date) -> None:
    ref = PeriodRef.containing(frequency, day)
    assert ref.start <= day <= ref.end
    assert ref.next().start == ref.end + dt.timedelta(days=1)
    assert ref.next().previous() == ref
    assert ref < ref.next()


def test_periods_between_covers_the_plan() -> None:
    quarters = periods_between(Frequency.QUARTER, dt.date(2024, 5, 28), dt.date(2027, 12, 31))
    assert quarters[0].code == "2024-Q2" and quarters[-1].code == "2027-Q4"
    assert len(quarters) == 15
