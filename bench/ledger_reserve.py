"""Measure reservations per second of the budget ledger on PostgreSQL: 1, 4 and 8 threads, one stripe against 32,
with the audit event recorded per reservation (the service as it is) and without it (to see what the audit log's
global lock costs).

    createdb -h 127.0.0.1 -U postgres huanxin_ledger_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huanxin_ledger_bench .venv/bin/python bench/ledger_reserve.py

or, in a project shell already pointed at PostgreSQL:

    .venv/bin/huanxin shell -c "exec(open('bench/ledger_reserve.py').read())"

Each run opens a fresh programme with a budget far too large to run out, then every thread calls
`ledger.reserve()` with its own references (100–2,000 yuan each) for BENCH_SECONDS seconds. Threads share one
Python process, so the ORM's CPU time (a few ms a call) is spent under one GIL: the figures are a floor for one
app process, not for a fleet of them. `huanxin ledger verify` runs over everything at the end.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import statistics
import sys
import threading
import time
import types
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huanxin.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from huanxin.core.models import Region  # noqa: E402
from huanxin.subsidies import ledger  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
THREADS = (1, 4, 8)
STRIPES = (1, 32)


class RetryCounter(logging.Handler):
    """Counts the deadlock / serialization retries the ledger logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def run(*, stripes: int, threads: int, audited: bool, region: Region) -> tuple[float, float, float, int]:
    """Reservations per second, median and 95th-percentile latency (ms), and the number of retries."""
    today = timezone.localdate()
    programme = ledger.create_programme(
        actor=None,
        code=f"bench-{stripes}-{threads}-{'a' if audited else 'n'}-{time.time_ns()}",
        name="压测用补贴项目",
        category="appliance",
        region=region,
        opens_on=today - dt.timedelta(days=1),
        closes_on=today + dt.timedelta(days=1),
        status="open",
        budget_fen=10**13,
        stripes=stripes,
    )
    latencies: list[list[float]] = [[] for _ in range(threads)]
    window: dict[str, float] = {}
    barrier = threading.Barrier(threads, action=lambda: window.update(start=time.perf_counter()))
    errors: list[BaseException] = []
    counter = RetryCounter()
    logging.getLogger("huanxin.subsidies.ledger").addHandler(counter)
    real_audit = ledger.audit
    if not audited:
        ledger.audit = types.SimpleNamespace(record=lambda **kwargs: None)  # type: ignore[assignment]

    def work(n: int) -> None:
        rng = random.Random(n)  # noqa: S311 - benchmark data
        try:
            barrier.wait()
            deadline = window["start"] + SECONDS
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                ledger.reserve(
                    actor=None,
                    programme=programme,
                    reference=f"B{n}-{i}",
                    amount_fen=rng.randint(100, 2_000) * 100,
                )
                latencies[n].append(time.perf_counter() - t0)
                i += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    try:
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        ledger.audit = real_audit
        logging.getLogger("huanxin.subsidies.ledger").removeHandler(counter)
    if errors:
        raise errors[0]
    elapsed = time.perf_counter() - window["start"]
    every = sorted(x for per_thread in latencies for x in per_thread)
    p95 = every[int(len(every) * 0.95)] if every else 0.0
    return len(every) / elapsed, statistics.median(every) * 1000, p95 * 1000, counter.count


def main() -> None:
    if connection.vendor != "postgresql":
        print("ledger_reserve.py measures PostgreSQL: set DATABASE_URL=postgres://…")
        return
    call_command("migrate", verbosity=0)
    region, _ = Region.objects.get_or_create(code="130700", defaults={"name": "张家口市", "kind": "city"})
    print(f"{SECONDS:.0f} s per run; audit = one hash-chained audit event per reservation (global advisory lock)")
    print(f"{'stripes':>7} {'threads':>7} {'audit':>5} {'res/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'retries':>7}")
    for audited in (True, False):
        for stripes in STRIPES:
            for threads in THREADS:
                rate, p50, p95, retries = run(stripes=stripes, threads=threads, audited=audited, region=region)
                print(
                    f"{stripes:>7} {threads:>7} {'yes' if audited else 'no':>5} {rate:>8.0f} {p50:>7.1f} "
                    f"{p95:>7.1f} {retries:>7}"
                )
    out = StringIO()
    call_command("ledger", "verify", stdout=out, stderr=StringIO())
    print(out.getvalue().strip().splitlines()[-1])


main()
