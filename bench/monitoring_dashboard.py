"""Measure the monitoring dashboard and the monthly exports on a large data set.

Builds, in an empty database: the Zhangjiakou plan, five years of MONTHLY approved values for every quantitative
indicator in every county-level division and the city (21,600 values), and 1,000,000 works-ledger records.
Then times, through Django's test client as the task force would load them: the dashboard, an indicator page, the
monthly Excel report and the Word briefing; and the derivation of ledger-based indicators for one month.

    createdb -h 127.0.0.1 -U postgres huanxin_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/huanxin_bench .venv/bin/python bench/monitoring_dashboard.py

The data are inserted with bulk_create: this is load for a benchmark, not records anyone made, so it bypasses the
services (and their audit events) on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huanxin.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from huanxin.core.models import Region  # noqa: E402
from huanxin.core.roles import Role  # noqa: E402
from huanxin.core.services import create_user  # noqa: E402
from huanxin.monitoring import services  # noqa: E402
from huanxin.monitoring.models import IndicatorSetting, IndicatorValue, LedgerEntry, LedgerKind  # noqa: E402
from huanxin.monitoring.periods import Frequency, PeriodRef  # noqa: E402
from huanxin.plans.loader import load_plan  # noqa: E402

LEDGER_ROWS = int(os.environ.get("BENCH_LEDGER_ROWS", "1000000"))
YEARS = 5
RUNS = 10


def build() -> None:
    call_command("migrate", verbosity=0)
    if IndicatorValue.objects.exists():
        print("database not empty: reusing its data")
        return
    plan = load_plan(ROOT / "src/huanxin/plans/data/zhangjiakou-2024.yaml").plan
    call_command("monitoring", "setup", stdout=StringIO())
    # the heaviest shape: every indicator monthly, in every county-level division and the city
    IndicatorSetting.objects.update(frequency=Frequency.MONTH.value, by_county=True)
    regions = [*Region.objects.filter(parent=plan.region), plan.region]
    rng = random.Random(7)  # noqa: S311 - benchmark data
    start = time.perf_counter()
    refs = [PeriodRef(2023 + y, Frequency.MONTH, m) for y in range(YEARS) for m in range(1, 13)]
    periods = [services.ensure_period(ref=ref) for ref in refs]
    values = []
    now = timezone.now()
    for setting in IndicatorSetting.objects.select_related("indicator"):
        targets = regions
        for period in periods:
            for region in targets:
                values.append(
                    IndicatorValue(
                        indicator=setting.indicator,
                        period=period,
                        region=region,
                        value=Decimal(rng.randint(1, 500)),
                        status=IndicatorValue.Status.APPROVED,
                        submitted_at=now,
                        approved_at=now,
                    )
                )
    IndicatorValue.objects.bulk_create(values, batch_size=5000)
    print(f"built {len(values):,} approved monthly values in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    clerk = create_user(actor=None, username="bench-clerk", password="bench-password-1", role=Role.DEPARTMENT_OFFICER)
    kinds = list(LedgerKind.objects.filter(plan=plan))
    first = dt.date(2023, 1, 1).toordinal()
    span = YEARS * 365
    batch = []
    for n in range(LEDGER_ROWS):
        kind = kinds[n % len(kinds)]
        attributes = {a["key"]: a["choices"][n % len(a["choices"])] for a in kind.attributes if a.get("choices")}
        batch.append(
            LedgerEntry(
                kind=kind,
                region=regions[n % len(regions)],
                recorded_on=dt.date.fromordinal(first + n % span),
                quantity=Decimal(1 + n % 9),
                attributes=attributes,
                created_by=clerk,
            )
        )
        if len(batch) == 20000:
            LedgerEntry.objects.bulk_create(batch)
            batch = []
    LedgerEntry.objects.bulk_create(batch)
    print(f"built {LEDGER_ROWS:,} ledger records in {time.perf_counter() - start:.1f} s")


def timed(client: Client, url: str) -> tuple[float, int, int]:
    samples = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples) * 1000, len(queries), len(response.content)


def main() -> None:
    build()
    from huanxin.core.models import User

    boss = User.objects.filter(role=Role.TASK_FORCE).first() or create_user(
        actor=None, username="bench-boss", password="bench-password-1", role=Role.TASK_FORCE
    )
    client = Client()
    client.force_login(boss)
    print(
        f"database: {connection.vendor}; values: {IndicatorValue.objects.count():,}; "
        f"ledger records: {LedgerEntry.objects.count():,}"
    )
    for label, url in [
        ("dashboard", "/monitoring/"),
        ("indicator page", "/monitoring/indicators/zhangjiakou-2024/gas-pipeline-renewed-km/"),
        ("monthly Excel report", "/monitoring/report.xlsx"),
        ("Word briefing", "/monitoring/report.docx"),
        ("ledger page (buses)", "/monitoring/ledgers/zhangjiakou-2024/buses/"),
    ]:
        ms, queries, size = timed(client, url)
        print(f"{label}: median {ms:.0f} ms over {RUNS} runs, {queries} queries, {size / 1024:.0f} KiB")
    period = services.ensure_period(ref=PeriodRef(2027, Frequency.MONTH, 6))
    start = time.perf_counter()
    changed = services.derive_values(period=period)
    print(
        f"derive one month from {LedgerEntry.objects.count():,} ledger records: "
        f"{(time.perf_counter() - start) * 1000:.0f} ms ({changed} values)"
    )


if __name__ == "__main__":
    main()
