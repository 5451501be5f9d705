"""Batch intake at scale: a merchant's file of --rows sales (default 100,000) through `batch.import_batch`, the same
service the upload page calls, on PostgreSQL; then the database is checked.

    .venv/bin/python bench/batch_intake.py [--rows 100000] [--format csv|xlsx] [--dup-pct 2] [--keep]

What it does, all on 127.0.0.1:
1. creates a fresh database huanxin_bench_batch_<pid>, runs `huanxin migrate` and `huanxin plan load`, an open
   appliance programme with a budget that covers every row (sample_pct 5, as the defaults) and one merchant;
2. writes the file: each row a new applicant, invoice and serial, except --dup-pct % that repeat an earlier row's
   invoice (refused), and a few bad IDs (refused);
3. times `import_batch` (parsing + checks + writes + the result workbook) and, separately, the upload again (every
   row answered "此前已提交");
4. prints a machine reference beside the rates (a fixed pure-Python loop and a fixed PostgreSQL count, seconds):
   the rates of one machine are not another's;
5. checks: accepted rows = applications = reserve entries, refused rows have their reasons, `check_ledger` clean,
   `huanxin audit verify` and `ledger verify`; prints rows/s; drops the database unless --keep.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import io
import os
import pstats
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from intake import BIN, admin_sql, audit_and_ledger_verify, open_programme, setup_django  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    p.add_argument("--dup-pct", type=float, default=2.0, help="rows repeating an earlier invoice (default 2)")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--profile", action="store_true", help="print where the first upload spends its time")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    return p.parse_args()


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent busy (every process, every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine_reference(cursor: Any) -> tuple[float, float]:
    """Seconds this machine takes for two fixed pieces of work, printed beside the rates so that runs on different
    machines can be compared (the rates of one machine are not another's): a pure-Python loop of 10 million
    additions, and PostgreSQL counting 10 million generated rows. Lower is faster."""
    t = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    python = time.perf_counter() - t
    t = time.perf_counter()
    cursor.execute("SELECT count(*) FROM generate_series(1, 10000000)")
    cursor.fetchone()
    return python, time.perf_counter() - t


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_file(args: argparse.Namespace, programme: str) -> bytes:
    from stdnum.cn import ric

    from huanxin.demo import identities
    from huanxin.subsidies import batch

    rng = random.Random(2025)  # noqa: S311 - test data
    today = dt.date.today().isoformat()
    counties = list(identities.COUNTIES)
    kinds = ["refrigerator", "washing_machine", "tv", "air_conditioner", "water_heater", "range_hood"]
    rows = []
    for i in range(args.rows):
        born = dt.date(1993, 1, 1) + dt.timedelta(days=i // 900)  # these counties' codes date from 1993
        body = f"{counties[i % len(counties)]}{born:%Y%m%d}{i % 900:03d}"
        resident = body + ric.calc_check_digit(body + "0")
        if i % 997 == 5:
            resident = body + ("0" if resident[-1] != "0" else "1")  # a wrong check digit: refused
        invoice = f"INV{i:09d}"
        if i > 100 and rng.random() * 100 < args.dup_pct:
            invoice = f"INV{rng.randrange(i - 100):09d}"  # an earlier row's invoice: refused
        kind = kinds[i % len(kinds)]
        price = rng.choice(["2999.00", "3999.00", "4599.00", "5299.00"])
        order, model, serial, phone = f"DD{i:09d}", f"型号{i % 40}", f"SN{i:09d}", "13800001111"
        rows.append([order, programme, "申请人", resident, phone, kind, model, serial, "1", invoice, today, price])
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(batch.HEADERS)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet()
    sheet.append(batch.HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def main() -> int:
    args = parse_args()
    run = str(os.getpid())
    db = f"huanxin_bench_batch_{run}"
    url = f"{args.pg_url}/{db}"
    os.environ["HUANXIN_DEBUG"] = "0"  # as production runs it (DEBUG wraps every query to record it)
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("HUANXIN_ENV", None)
    admin_sql(args.pg_url, "CREATE DATABASE {}", db)
    try:
        for cmd in (["migrate", "--no-input", "-v", "0"], ["plan", "load"]):
            subprocess.run([str(BIN / "huanxin"), *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        setup_django(url)
        from django.db import connection

        from huanxin.core import services
        from huanxin.core.models import Region
        from huanxin.core.roles import Role
        from huanxin.subsidies import batch, rules, selectors
        from huanxin.subsidies.models import Application, Entry

        programme = open_programme(
            code=f"batch-{run}",
            name="压测：批量申请",
            budget_fen=args.rows * 2_000_00,
            stripes=32,
            parameters=rules.DEFAULTS["appliance"],  # the default 5% sample, as a real programme
        )
        store = services.create_organisation(
            actor=None, name="压测批量商户", kind="merchant", region=Region.objects.get(code="130702")
        )
        merchant = services.create_user(
            actor=None, username="bench-batch", password=None, role=Role.MERCHANT, organisation=store
        )
        with connection.cursor() as cursor:
            python_ref, pg_ref = machine_reference(cursor)
        print(f"machine reference: Python loop {python_ref:.2f} s, PostgreSQL count {pg_ref:.2f} s (lower is faster)")
        t = time.perf_counter()
        data = build_file(args, programme.code)
        built = time.perf_counter() - t
        print(f"{args.rows:,} rows as {args.format}: {len(data) / 1e6:.1f} MB, built in {built:.1f} s")

        profiler = cProfile.Profile() if args.profile else None
        busy, cpu = machine_busy(), own_cpu()
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        results, result = batch.import_batch(actor=merchant, data=data, filename=f"sales.{args.format}")
        first = time.perf_counter() - t
        cpu, busy = own_cpu() - cpu, machine_busy() - busy
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        accepted = sum(1 for r in results if r.ok)
        refused = [r for r in results if not r.ok]
        print(
            f"first upload   {first:6.1f} s  {args.rows / first:8,.0f} rows/s  "
            f"accepted {accepted:,}, refused {len(refused):,}; result file {len(result.content) / 1e6:.1f} MB"
        )
        print(f"  CPU: this process {cpu:.1f} s, the rest of the machine (PostgreSQL) {busy - cpu:.1f} s")
        t = time.perf_counter()
        again, _ = batch.import_batch(actor=merchant, data=data, filename=f"sales.{args.format}")
        second = time.perf_counter() - t
        print(f"same file again {second:6.1f} s  {args.rows / second:8,.0f} rows/s  (every row answered once more)")

        checks = []
        stored = Application.objects.filter(programme=programme).count()
        reserves = Entry.objects.filter(programme=programme, kind=Entry.Kind.RESERVE).count()
        checks.append(("accepted rows = applications", accepted == stored, f"{accepted} vs {stored}"))
        checks.append(("applications = reserve entries", stored == reserves, f"{stored} vs {reserves}"))
        checks.append(("every refused row has its reason", all(r.message for r in refused), ""))
        same = all(a.number == b.number and a.ok == b.ok for a, b in zip(results, again, strict=True))
        checks.append(("second upload: same numbers, nothing new", same, ""))
        checks.append(
            (
                "no application added by the second upload",
                Application.objects.filter(programme=programme).count() == stored,
                "",
            )
        )
        reasons: dict[str, int] = {}
        for r in refused:
            reasons[r.message.split("：")[0]] = reasons.get(r.message.split("：")[0], 0) + 1
        print(f"refusals by check: {reasons}")
        checks.append(("check_ledger problems == []", not selectors.check_ledger(programme).problems, ""))
        checks += audit_and_ledger_verify()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            print(f"database size {cursor.fetchone()[0]}")
        for name, ok, detail in checks:
            print(f"{'ok  ' if ok else 'FAIL'}  {name}  {detail if not ok else ''}")
        return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep:
            print(f"kept database {db}")
        else:
            admin_sql(args.pg_url, "DROP DATABASE {} WITH (FORCE)", db)


if __name__ == "__main__":
    sys.exit(main())
