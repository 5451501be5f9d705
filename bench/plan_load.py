"""Time loading the Zhangjiakou plan: first load into an empty database, then idempotent reloads.

    DATABASE_URL=... .venv/bin/python bench/plan_load.py   (default: a throw-away SQLite file)

Prints figures; bench/RESULTS.md keeps a row per run worth remembering.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huanxin.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["HUANXIN_SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from huanxin.plans.loader import load_plan  # noqa: E402

PLAN = ROOT / "src" / "huanxin" / "plans" / "data" / "zhangjiakou-2024.yaml"


def main() -> None:
    call_command("migrate", verbosity=0)
    reset_queries()
    with CaptureQueriesContext(connection) as first_queries:
        start = time.perf_counter()
        report = load_plan(PLAN)
        first = time.perf_counter() - start
    reloads = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as reload_queries:
            start = time.perf_counter()
            again = load_plan(PLAN)
            reloads.append(time.perf_counter() - start)
        assert not again.changed
    print(f"database: {connection.vendor}")
    print(f"first load: {first * 1000:.0f} ms, {len(first_queries)} queries ({report.summary()[:60]}…)")
    print(f"idempotent reload: median {statistics.median(reloads) * 1000:.0f} ms, {len(reload_queries)} queries")


if __name__ == "__main__":
    main()
