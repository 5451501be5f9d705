"""Periodic jobs, started by the workers themselves: no cron to set up.

An app registers what it wants run and how often (in its AppConfig.ready()):

    schedule.register(Periodic("ledger_verify", kind="ledger_verify", every="daily"))

Each worker's housekeeping calls `start_due`; the unique (name, slot) of `ScheduledRun` lets exactly one of them
start each run, whichever comes first, and a worker that was down when a slot began starts it when it is back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from huanxin.jobs import kinds, services
from huanxin.jobs.models import ScheduledRun

Every = Literal["daily", "monthly"]


@dataclass(frozen=True)
class Periodic:
    name: str
    kind: str
    every: Every

    def slot(self, today: dt.date) -> str:
        """The run due on `today`: the day itself, or for a monthly job the month that last ended."""
        if self.every == "daily":
            return today.isoformat()
        last_month = today.replace(day=1) - dt.timedelta(days=1)
        return f"{last_month:%Y-%m}"


_periodic: dict[str, Periodic] = {}


def register(periodic: Periodic) -> Periodic:
    _periodic[periodic.name] = periodic
    return periodic


def all_periodic() -> list[Periodic]:
    return list(_periodic.values())


def start_due(now: dt.datetime | None = None) -> list[str]:
    """Start each periodic job whose current slot has no run yet; the names of those this call started."""
    today = timezone.localdate(now)
    started = []
    for periodic in all_periodic():
        slot = periodic.slot(today)
        if ScheduledRun.objects.filter(name=periodic.name, slot=slot).exists():
            continue  # the common case, without a transaction
        try:
            with transaction.atomic():
                job = services.start(
                    actor=None,
                    kind=periodic.kind,
                    title=f"{kinds.get(periodic.kind).label}（{slot}）",
                    params={"slot": slot},
                )
                ScheduledRun.objects.create(name=periodic.name, slot=slot, job=job)
        except IntegrityError:  # another worker started it a moment ago: its job stands, ours rolled back
            continue
        started.append(periodic.name)
    return started
