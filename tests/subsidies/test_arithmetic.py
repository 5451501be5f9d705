"""The small pieces of arithmetic the intake path does thousands of times a second, each against the plain way of
doing it: a percentage of a price (Decimal, half up), the median of a model's newest prices, the random sample."""

from __future__ import annotations

import copy
import statistics
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from huanxin.subsidies import applications, rules
from huanxin.subsidies.bulk import _PriceWindow


@given(
    price=st.integers(min_value=0, max_value=10**12),
    pct=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False),
)
def test_a_percentage_of_a_price_rounds_half_up_like_decimal(price: int, pct: Decimal) -> None:
    expected = int((Decimal(price) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert rules._pct(price, pct) == expected


def test_half_a_fen_rounds_up() -> None:
    assert rules._pct(5, Decimal(10)) == 1  # 0.5 fen
    assert rules._pct(4, Decimal(10)) == 0  # 0.4 fen
    assert rules._pct(299900, Decimal("15")) == 44985


@given(
    start=st.lists(st.integers(min_value=1, max_value=10**6), max_size=260),
    added=st.lists(st.integers(min_value=1, max_value=10**6), max_size=400),
)
def test_the_price_window_keeps_the_median_of_the_newest_prices(start: list[int], added: list[int]) -> None:
    window = _PriceWindow(start)  # newest first, as the database hands them
    newest = start[: applications.PRICE_WINDOW]
    for price in added:
        window.add(price)
        newest = [price, *newest[: applications.PRICE_WINDOW - 1]]
    count, middle = window.median()
    assert count == len(newest)
    assert middle == (statistics.median(newest) if newest else 0)


def test_the_sample_draws_uniform_floats_and_a_forked_process_draws_its_own(monkeypatch) -> None:
    sampler = applications._Sampler()
    draws = [sampler.random() for _ in range(20_000)]
    assert all(0 <= d < 1 for d in draws)
    assert len(set(draws)) == len(draws)
    assert 0.48 < statistics.fmean(draws) < 0.52  # mean of 20,000 uniform draws: sd 0.002
    assert 0.09 < sum(d < 0.1 for d in draws) / len(draws) < 0.11
    child = copy.copy(sampler)  # what a forked process starts with: the parent's buffer, at the same place
    monkeypatch.setattr(applications.os, "getpid", lambda: -1)  # … in another process
    from_child = child.random()
    monkeypatch.undo()
    assert from_child != sampler.random()  # the child read its own bytes, not the parent's next ones
