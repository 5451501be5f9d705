"""Django's clock in a test: pinned at one instant, or moved to another instant and running on from there.

The app reads the time through `django.utils.timezone` (`now`, `localdate`, `localtime`, and the `auto_now`
fields; only the example rows of two Excel templates read `date.today()`), so replacing `timezone.now` moves
services, views and stored times together. A test that reads the date and then asks the app something that reads
it again pins the clock, so that midnight in Beijing cannot fall between the two reads. `make test-clock` moves
the whole process's clock instead (faketime).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone


def freeze(monkeypatch: pytest.MonkeyPatch, at: dt.datetime | None = None) -> dt.datetime:
    """Pin the clock at `at` (default: now) for the rest of the test; returns the instant."""
    instant = at or timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: instant)
    return instant


def travel(monkeypatch: pytest.MonkeyPatch, at: dt.datetime) -> None:
    """Move the clock to `at` for the rest of the test; it runs on from there."""
    real_now = timezone.now
    offset = at - real_now()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)


def pinned(at: dt.datetime) -> Any:
    """An autouse fixture pinning the clock at `at` for every test of the module that assigns it, so that the
    module's dates (read once, at import) are the app's today in each test, however long the run."""

    @pytest.fixture(autouse=True, name="pinned_clock")
    def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
        return freeze(monkeypatch, at)

    return pinned_clock


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """An aware instant given in the app's time (Asia/Shanghai)."""
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))
