"""Load test of subsidy intake: many merchants' tills submit applications over the API to gunicorn + PostgreSQL
while a small budget runs out, optionally with the app killed (kill -9) in the middle; then the database is checked.

    .venv/bin/pip install -e '.[bench]'         # gunicorn + locust (not part of '.[dev]')
    .venv/bin/python bench/intake.py [--seconds 30] [--users 32] [--workers 3] [--threads 4] [--kill] [--keep]

What it does, all on 127.0.0.1:
1. creates a fresh database huanxin_bench_intake_<pid> (PostgreSQL at postgres://postgres@127.0.0.1:5432, or
   --pg-url), runs `huanxin migrate` and `huanxin plan load`, then through the services: an open appliance
   programme with a small budget (--budget-yuan, 32 stripes, sample_pct 0) and one merchant with an API token
   per load user;
2. starts gunicorn (gthread, --workers × --threads) on a free loopback port;
3. runs locust headless (bench/locustfile_intake.py) for --seconds: new applications, ~10% duplicates of accepted
   invoices and serials, exact retries, and simultaneous twins with one Idempotency-Key; every answer goes to a
   JSON-lines file;
4. with --kill: after --kill-after seconds, SIGKILL to gunicorn's whole process group, --down seconds with the
   tills hammering a closed port, gunicorn started again, load continues;
5. checks the database against the answers and the ledger's invariants, prints figures and a table of checks;
6. with --compare: pgbench runs bench/intake_pgbench.sql — the same transaction in SQL, statement for statement —
   with as many clients as the web load had, for as long, against a second programme in the same database, and
   the two rates are printed with their ratio (the web load should then have a budget that does not run out);
7. drops the database (unless --keep) and exits 1 if any check failed.

    .venv/bin/python bench/intake.py --compare --users 64 --seconds 30 --budget-yuan 100000000
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "bench" / "locustfile_intake.py"
PGBENCH_SCRIPT = ROOT / "bench" / "intake_pgbench.sql"
INSTALL_HINT = ".venv/bin/pip install -e '.[bench]'"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=int, default=30, help="load duration (default 30)")
    p.add_argument("--users", type=int, default=32, help="concurrent tills, one merchant + token each (default 32)")
    p.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    p.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (gthread; default 4)")
    p.add_argument("--budget-yuan", type=int, default=250_000, help="the programme's budget (default 250,000)")
    p.add_argument("--stripes", type=int, default=32)
    p.add_argument("--queue", action="store_true", help="queue applications when the money runs out (else refuse)")
    p.add_argument("--kill", action="store_true", help="kill -9 gunicorn mid-run, then start it again")
    p.add_argument("--kill-after", type=float, default=10.0, help="seconds of load before the kill (default 10)")
    p.add_argument("--down", type=float, default=3.0, help="seconds the app stays dead (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the database and the temp files")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="server, without database")
    p.add_argument("--compare", action="store_true", help="then run the same transaction in SQL with pgbench")
    p.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j (default 2)")
    args = p.parse_args()
    if args.kill and args.kill_after + args.down >= args.seconds:
        p.error("--kill-after + --down must be shorter than --seconds")
    return args


def tools() -> tuple[Path, Path]:
    gunicorn, locust = BIN / "gunicorn", BIN / "locust"
    missing = [p.name for p in (gunicorn, locust) if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)} in {BIN}: install with  {INSTALL_HINT}")
    return gunicorn, locust


def admin_sql(pg_url: str, statement: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the app -------------------------------------------------------------------------------------------------


def start_gunicorn(gunicorn: Path, args: argparse.Namespace, port: int, env: dict[str, str], log: Path) -> Any:
    cmd = [
        str(gunicorn),
        "huanxin.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--timeout",
        "60",
        "--error-logfile",
        str(log),
    ]
    # its own session, so that kill -9 of the process group takes the master and every worker
    with log.open("a") as err:  # gunicorn's log and Django's (stderr of the workers)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=err, stderr=err)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/subsidies/status?number=X&phone4=0000", timeout=2)
        except urllib.error.HTTPError:
            return proc  # 404 JSON: a worker answered
        except OSError:
            time.sleep(0.2)
            continue
        return proc
    sys.exit(f"gunicorn did not answer within 60 s; see {log}")


def kill_group(proc: Any) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class WaitSampler(threading.Thread):
    """Samples pg_stat_activity of the bench database four times a second: what the app's busy backends wait on."""

    QUERY = """
        SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU'),
               left(regexp_replace(query, '\\s+', ' ', 'g'), 48)
        FROM pg_stat_activity
        WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()
    """

    def __init__(self, url: str, db: str) -> None:
        super().__init__(daemon=True)
        self.url, self.db = url, db
        self.samples = 0
        self.active = 0
        self.waits: collections.Counter[tuple[str, str]] = collections.Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.25):
                rows = conn.execute(self.QUERY, (self.db,)).fetchall()
                self.samples += 1
                self.active += len(rows)
                self.waits.update((w, q) for w, q in rows)

    def report(self) -> None:
        if not self.samples or not self.active:
            return
        print(f"PostgreSQL busy backends {self.active / self.samples:.1f} on average; top waits:")
        for (wait, query), n in self.waits.most_common(6):
            print(f"  {100 * n / self.active:5.1f}%  {wait:<32} {query}")


# --- set-up and checks (Django, in this process, on the bench database) ------------------------------------------


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huanxin.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def open_programme(*, code: str, name: str, budget_fen: int, stripes: int, **extra: Any) -> Any:
    """An appliance programme of the city, open from yesterday for a month (the benchmarks' programmes)."""
    import datetime as dt

    from django.utils import timezone

    from huanxin.core.models import Region
    from huanxin.subsidies import ledger, rules
    from huanxin.subsidies.models import Programme

    today = timezone.localdate()
    values = {"parameters": {**rules.DEFAULTS["appliance"], "sample_pct": 0}, **extra}
    return ledger.create_programme(
        actor=None,
        code=code,
        name=name,
        category=Programme.Category.APPLIANCE,
        region=Region.objects.get(code="130700"),
        opens_on=today - dt.timedelta(days=1),
        closes_on=today + dt.timedelta(days=30),
        status=Programme.Status.OPEN,
        budget_fen=budget_fen,
        stripes=stripes,
        **values,
    )


def create_fixtures(args: argparse.Namespace, run: str) -> dict[str, Any]:

    from django.utils import timezone

    from huanxin.core import services, tokens
    from huanxin.core.models import Region
    from huanxin.core.roles import Role
    from huanxin.demo import identities
    from huanxin.subsidies.models import Programme

    today = timezone.localdate()
    district = Region.objects.get(code="130702")
    programme = open_programme(
        code=f"intake-{run}",
        name="压测：家电以旧换新补贴",
        budget_fen=args.budget_yuan * 100,
        stripes=args.stripes,
        on_exhaustion=Programme.OnExhaustion.QUEUE if args.queue else Programme.OnExhaustion.REFUSE,
    )
    keys, users = [], []
    for i in range(args.users):
        store = services.create_organisation(actor=None, name=f"压测商户{i:02d}", kind="merchant", region=district)
        user = services.create_user(
            actor=None, username=f"bench-till-{i:02d}", password=None, role=Role.MERCHANT, organisation=store
        )
        _, key = tokens.issue_token(actor=user, name="压测收银")
        keys.append(key)
        users.append(user.pk)
    return {
        "run": run,
        "programme": programme.code,
        "today": today.isoformat(),
        "tokens": keys,
        "users": users,
        "counties": list(identities.COUNTIES),
    }


class Checks:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, str]] = []

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.rows.append((name, ok, detail))

    @property
    def failed(self) -> list[tuple[str, bool, str]]:
        return [r for r in self.rows if not r[1]]


def _sample(items: Any, n: int = 5) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (f" … ({len(items)})" if len(items) > n else "")


def verify(state: dict[str, Any], records: list[dict[str, Any]], killed: bool) -> tuple[Checks, dict[str, Any]]:
    from django.db import connection, transaction
    from django.db.models import Count, Sum

    from huanxin.core.models import AuditEvent
    from huanxin.subsidies import selectors
    from huanxin.subsidies.models import Account, Application, ApplicationItem, Claim, Entry, Programme

    checks = Checks()
    with transaction.atomic():
        connection.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        programme = Programme.objects.get(code=state["programme"])
        apps = {
            a.number: a
            for a in Application.objects.filter(programme=programme).annotate(
                n_items=Count("items", distinct=True),
                n_claims=Count("claims", distinct=True),
                n_checks=Count("checks", distinct=True),
                n_events=Count("events", distinct=True),
            )
        }
        items_fen = dict(
            ApplicationItem.objects.filter(application__programme=programme)
            .values("application__number")
            .annotate(total=Sum("amount_fen"))
            .values_list("application__number", "total")
        )
        reserves = {
            e.reference: e.amount_fen for e in Entry.objects.filter(programme=programme, kind=Entry.Kind.RESERVE)
        }
        pays = collections.Counter(
            Entry.objects.filter(programme=programme, kind=Entry.Kind.PAY).values_list("reference", flat=True)
        )
        audited = collections.Counter(
            AuditEvent.objects.filter(action="subsidies.application_submitted").values_list(
                "changes__number", flat=True
            )
        )
        active_dupes = list(
            Claim.objects.filter(active=True)
            .values("kind", "value")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("kind", "value")
        )
        item_invoices = collections.Counter(
            ApplicationItem.objects.filter(application__programme=programme)
            .exclude(application__status=Application.Status.REJECTED)
            .values_list("invoice_no", flat=True)
        )
        item_serials = collections.Counter(
            ApplicationItem.objects.filter(application__programme=programme)
            .exclude(application__status=Application.Status.REJECTED)
            .values_list("kind", "serial")
        )
        ledger = selectors.check_ledger(programme)
        negative = list(
            Account.objects.filter(programme=programme, balance_fen__lt=0)
            .exclude(kind=Account.Kind.FUNDING)
            .values_list("stripe", "kind", "balance_fen")
        )
        min_available = min(
            Account.objects.filter(programme=programme, kind=Account.Kind.AVAILABLE).values_list(
                "balance_fen", flat=True
            )
        )

    # -- every success answer is whole in the database --------------------------------------------------------
    ok201 = [r for r in records if r["status"] == 201]
    user_of_till = state["users"]
    missing, wrong_owner, unwhole, wrong_amount = [], [], [], []
    for r in ok201:
        a = apps.get(r["number"])
        if a is None:
            missing.append(r["number"] or r["key"])
            continue
        if a.idempotency_key != r["key"] or a.created_by_id != user_of_till[r["till"]]:
            wrong_owner.append(r["number"])
        if a.n_items < 1 or a.n_claims < 2 * a.n_items or (a.status != "queued" and r["number"] not in reserves):
            unwhole.append(r["number"])
        if r["amount_fen"] != a.amount_fen:
            wrong_amount.append(r["number"])
    checks.add("every 201 is in the database", not missing, _sample(missing))
    checks.add("every 201 belongs to its till and key", not wrong_owner, _sample(wrong_owner))
    checks.add("every 201 has items, claims, a reserve entry", not unwhole, _sample(unwhole))
    checks.add("every 201's amount = the stored amount", not wrong_amount, _sample(wrong_amount))

    # -- nothing half-written ----------------------------------------------------------------------------------
    half = [
        n
        for n, a in apps.items()
        if a.n_items < 1
        or a.n_claims < 2 * a.n_items
        or a.n_checks < 1
        or a.n_events < 1
        or audited[n] != 1
        or items_fen.get(n) != a.amount_fen
        or (a.status != Application.Status.QUEUED and reserves.get(n) != a.amount_fen)
        or (a.status == Application.Status.QUEUED and n in reserves)
    ]
    checks.add("no application half-written", not half, _sample(half))
    orphans = [ref for ref in reserves if ref not in apps]
    checks.add("no reservation without an application", not orphans, _sample(orphans))

    # -- never twice -------------------------------------------------------------------------------------------
    checks.add("active claims unique (invoice, serial)", not active_dupes, _sample(active_dupes))
    twice_inv = [k for k, n in item_invoices.items() if n > 1]
    twice_ser = [k for k, n in item_serials.items() if n > 1 and k[1]]
    checks.add("no invoice in two applications", not twice_inv, _sample(twice_inv))
    checks.add("no serial in two applications", not twice_ser, _sample(twice_ser))
    numbers_by_request: dict[str, set[tuple[int, str]]] = collections.defaultdict(set)
    for r in ok201:
        numbers_by_request[r["number"]].add((r["till"], r["key"]))
    shared = [n for n, reqs in numbers_by_request.items() if len(reqs) > 1]
    checks.add("no number answered to two different requests", not shared, _sample(shared))
    dup_accepted = [r["key"] for r in records if r["kind"].startswith("dup_") and r["status"] == 201]
    checks.add("duplicates refused", not dup_accepted, _sample(dup_accepted))
    paid_twice = [ref for ref, n in pays.items() if n > 1]
    checks.add("no application paid twice", not paid_twice, _sample(paid_twice))

    # -- retries -----------------------------------------------------------------------------------------------
    first_number = {r["key"]: r["number"] for r in records if r["kind"] == "new" and r["status"] == 201}
    bad_retry = [
        r["key"]
        for r in records
        # an unanswered retry (the app was down) proves nothing either way
        if r["kind"] == "retry" and r["status"] != 0 and (r["status"] != 201 or r["number"] != first_number[r["of"]])
    ]
    checks.add("exact retries answer the first number", not bad_retry, _sample(bad_retry))
    twins: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in records:
        if r["kind"] == "twin":
            twins[r["key"]].append(r)
    bad_twins = []
    for key, pair in twins.items():
        answered = [r for r in pair if r["status"] != 0]
        ok = [r for r in answered if r["status"] == 201]
        if len({r["number"] for r in ok}) > 1 or (ok and len(ok) != len(answered)):
            bad_twins.append(f"{key}:{'/'.join(str(r['status']) for r in pair)}")
    checks.add("simultaneous twins (one key) answer one number", not bad_twins, _sample(bad_twins))

    # -- the money ---------------------------------------------------------------------------------------------
    checks.add("check_ledger problems == []", not ledger.problems, _sample(ledger.problems, 3))
    checks.add("no pool below zero (every stripe)", not negative, _sample(negative))
    held = sum(
        a.amount_fen for a in apps.values() if a.status in (Application.Status.RESERVED, Application.Status.IN_REVIEW)
    )
    checks.add(
        "reserved total = reserved applications",
        held == ledger.balances.reserved_fen,
        f"ledger {ledger.balances.reserved_fen / 100:.2f} vs applications {held / 100:.2f} yuan",
    )
    answered_keys = {(r["till"], r["key"]) for r in ok201}
    till_of_user = {u: i for i, u in enumerate(user_of_till)}
    unanswered = [
        n for n, a in apps.items() if (till_of_user.get(a.created_by_id), a.idempotency_key) not in answered_keys
    ]
    conn_errors = sum(1 for r in records if r["status"] == 0)
    if not killed and not conn_errors:
        checks.add("every stored application got its 201", not unanswered, _sample(unanswered))
    server_errors = [f"{r['kind']}:{r['status']}" for r in records if r["status"] >= 500]
    checks.add("no 5xx answers", not server_errors, _sample(collections.Counter(server_errors).items()))

    facts = {
        "applications": len(apps),
        "by_status": dict(collections.Counter(a.status for a in apps.values())),
        "committed_unanswered": len(unanswered),
        "balances": ledger.balances,
        "entries": ledger.entries,
        "min_available_fen": min_available,
    }
    return checks, facts


def audit_and_ledger_verify() -> list[tuple[str, bool, str]]:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    rows = []
    for cmd in (["audit", "verify"], ["ledger", "verify"]):
        out = StringIO()
        try:
            call_command(*cmd, stdout=out, stderr=out)
            rows.append((f"huanxin {' '.join(cmd)}", True, ""))
        except CommandError as exc:
            rows.append((f"huanxin {' '.join(cmd)}", False, str(exc)[:200]))
    return rows


# --- figures -------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    records: list[dict[str, Any]],
    seconds: float,
    facts: dict[str, Any],
    checks: Checks,
    sampler: WaitSampler,
    marks: dict[str, float],
) -> None:
    by_status = collections.Counter(r["status"] for r in records)
    codes = collections.Counter(r["code"] for r in records if r["status"] == 422)
    kinds = collections.Counter(r["kind"] for r in records)
    answered = [r for r in records if r["status"] != 0]
    b = facts["balances"]
    print()
    print(f"requests sent            {len(records)}   ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(f"answers                  {', '.join(f'{s or "conn-error"}: {n}' for s, n in sorted(by_status.items()))}")
    print(f"  201                    {by_status[201]}")
    print(f"  422 by code            {', '.join(f'{c} {n}' for c, n in codes.most_common()) or '-'}")
    errors = collections.Counter(r.get("error", "") for r in records if r["status"] == 0)
    print(f"  connection errors      {by_status[0]} {dict(errors) if errors else ''}")
    print(
        f"throughput               {len(answered) / seconds:.1f} answers/s, {by_status[201] / seconds:.1f} accepted/s"
    )

    def latency(label: str, recs: list[dict[str, Any]]) -> None:
        ms = [r["ms"] for r in recs]
        if ms:
            print(
                f"latency {label:<17}n {len(ms):>5}, p50 {statistics.median(ms):7.1f} ms, "
                f"p95 {pct(ms, 0.95):7.1f} ms, max {max(ms):7.1f} ms"
            )

    latency("all answers", answered)
    latency("201", [r for r in answered if r["status"] == 201])
    latency("422 exhausted", [r for r in answered if r["code"] == "budget_exhausted"])
    latency("422 duplicate", [r for r in answered if r["code"].endswith("_already_used")])
    t0 = min(r["t"] for r in records)
    for label, at in marks.items():
        print(f"{label:<25}at t+{at - t0:.1f} s")
    ran_out = min((r["t"] for r in answered if r["code"] == "budget_exhausted"), default=None)
    if ran_out is not None:
        before = [r for r in answered if r["t"] < ran_out]
        after = [r for r in answered if r["t"] >= ran_out]
        print(f"budget ran out           at t+{ran_out - t0:.1f} s (t = the first request)")
        latency("before run-out", before)
        latency("after run-out", after)
        print(
            f"throughput before/after  {len(before) / max(ran_out - t0, 0.001):.1f} / "
            f"{len(after) / max(t0 + seconds - ran_out, 0.001):.1f} answers/s"
        )
    print(
        f"applications in database {facts['applications']} {facts['by_status']}; "
        f"committed but answer lost {facts['committed_unanswered']}"
    )
    print(
        f"ledger                   funded {b.funded_fen / 100:.2f}, available {b.available_fen / 100:.2f}, "
        f"reserved {b.reserved_fen / 100:.2f}, paid {b.paid_fen / 100:.2f} yuan; {facts['entries']} entries; "
        f"poorest stripe {facts['min_available_fen'] / 100:.2f} yuan"
    )
    sampler.report()
    print()
    width = max(len(n) for n, _, _ in checks.rows)
    for name, ok, detail in checks.rows:
        print(f"{'ok  ' if ok else 'FAIL'}  {name:<{width}}  {detail if not ok or detail.startswith('ledger') else ''}")


# --- the same transaction in SQL ----------------------------------------------------------------------------


def orm_statements(state: dict[str, Any], programme_code: str) -> int:
    """Statements the app sends for one accepted application over the API (token, programme, the transaction)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from stdnum.cn import ric

    body = "13070219930101999"
    resident = body + ric.calc_check_digit(body + "0")
    payload = {
        "programme": programme_code,
        "applicant_name": "语句计数",
        "applicant_id": resident,
        "phone": "13800000000",
        "items": [
            {
                "kind": "refrigerator",
                "invoice_no": f"COUNT{state['run']}",
                "invoice_date": state["today"],
                "price_fen": 399900,
                "brand_model": "海尔BCD-501",
                "serial": f"COUNT{state['run']}",
                "grade": "1",
            }
        ],
    }
    with CaptureQueriesContext(connection) as queries:
        answer = Client().post(
            "/api/v1/subsidies/applications",
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {state['tokens'][0]}",
            HTTP_IDEMPOTENCY_KEY=f"count-{state['run']}",
        )
    if answer.status_code != 201:
        sys.exit(f"counting statements: {answer.status_code} {answer.content[:300]!r}")
    return len(queries.captured_queries)


def script_statements() -> int:
    """Statements of bench/intake_pgbench.sql (each ends with ';' or with \\gset)."""
    text = "\n".join(line for line in PGBENCH_SCRIPT.read_text().splitlines() if not line.startswith(("--", "\\set")))
    return text.count(";") + text.count("\\gset")


def run_pgbench(args: argparse.Namespace, url: str, state: dict[str, Any]) -> dict[str, Any]:

    from django.conf import settings

    from huanxin.core.models import User
    from huanxin.core.tokens import hash_key

    pgbench = shutil.which("pgbench")
    if pgbench is None:
        sys.exit("pgbench not found (Debian: postgresql-client)")
    programme = open_programme(
        code=f"pgbench-{state['run']}", name="压测：同一事务的SQL版本", budget_fen=10**13, stripes=args.stripes
    )
    orm = orm_statements(state, programme.code)
    till = User.objects.get(pk=state["users"][0])
    variables = {
        "keyhash": hash_key(state["tokens"][0]),
        "prog": programme.pk,
        "uid": till.pk,
        "org": till.organisation_id,
        "region": programme.region_id,
        "chains": getattr(settings, "AUDIT_CHAINS", 64),
    }
    cmd = [pgbench, "-n", "-f", str(PGBENCH_SCRIPT), "-c", str(args.users), "-j", str(args.pgbench_threads)]
    cmd += ["-T", str(args.seconds), *(f"-D{k}={v}" for k, v in variables.items()), url]
    from django.db import connection

    with connection.cursor() as cursor:  # the tables grew from empty during the web load: fresh statistics, as
        cursor.execute("ANALYZE")  # autovacuum would give a database that has been running for a while
    print(f"pgbench: {args.users} clients, {args.pgbench_threads} threads, {args.seconds} s …")
    sampler = WaitSampler(url, url.rsplit("/", 1)[1])
    sampler.start()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    sampler.stop.set()
    sampler.join()
    sampler.report()
    tps = failed = None
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        if "number of failed transactions" in line:
            failed = line.split(":")[1].strip()
    if done.returncode != 0 or tps is None:
        print(done.stdout[-2000:], done.stderr[-2000:])
        sys.exit("pgbench failed")
    latency = next((line for line in done.stdout.splitlines() if line.startswith("latency average")), "")
    return {"tps": tps, "failed": failed, "latency": latency, "orm": orm, "script": script_statements()}


# --- main ----------------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    gunicorn, locust = tools()
    run = f"{os.getpid()}"
    db = f"huanxin_bench_intake_{run}"
    url = f"{args.pg_url}/{db}"
    work = Path(tempfile.mkdtemp(prefix="huanxin-intake-"))
    # as production runs it: persistent connections, DEBUG off (DEBUG wraps every query to record it)
    env = {**os.environ, "DATABASE_URL": url, "HUANXIN_CONN_MAX_AGE": "60", "HUANXIN_DEBUG": "0"}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("HUANXIN_ENV", None)
    print(f"database {db}; files in {work}")
    admin_sql(args.pg_url, "CREATE DATABASE {}", db)
    app = None
    try:
        t = time.perf_counter()
        for cmd in (["migrate", "--no-input", "-v", "0"], ["plan", "load"]):
            subprocess.run([str(BIN / "huanxin"), *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        setup_django(url)
        state = create_fixtures(args, run)
        (work / "state.json").write_text(json.dumps(state))
        print(
            f"migrated, plan loaded, programme {state['programme']} ({args.budget_yuan:,} yuan, "
            f"{args.stripes} stripes), {args.users} merchants with tokens in {time.perf_counter() - t:.1f} s"
        )

        port = free_port()
        app = start_gunicorn(gunicorn, args, port, env, work / "gunicorn.log")
        print(f"gunicorn on 127.0.0.1:{port}: {args.workers} workers × {args.threads} threads (gthread)")
        results = work / "results.jsonl"
        locust_env = {**env, "INTAKE_STATE": str(work / "state.json"), "INTAKE_RESULTS": str(results)}
        cmd = [
            str(locust),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--stop-timeout",
            "35",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        with (work / "locust.log").open("w") as log:
            marks: dict[str, float] = {}
            sampler = WaitSampler(url, db)
            sampler.start()
            started = time.perf_counter()
            load = subprocess.Popen(cmd, cwd=ROOT, env=locust_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            if args.kill:
                time.sleep(args.kill_after)
                kill_group(app)
                marks["kill -9"] = time.time()
                print(f"t+{time.perf_counter() - started:.1f}s  kill -9 gunicorn (process group {app.pid})")
                time.sleep(args.down)
                app = start_gunicorn(gunicorn, args, port, env, work / "gunicorn.log")
                marks["answering again"] = time.time()
                print(f"t+{time.perf_counter() - started:.1f}s  gunicorn answering again (pid {app.pid})")
            load.wait(timeout=args.seconds + 90)
            elapsed = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
        kill_group(app)
        app = None
        records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        if not records:
            print((work / "locust.log").read_text()[-3000:])
            print("no answers recorded")
            return 1
        checks, facts = verify(state, records, args.kill)
        checks.rows += audit_and_ledger_verify()
        seconds = min(elapsed, args.seconds)
        report(records, seconds, facts, checks, sampler, marks)
        if args.compare:
            sql = run_pgbench(args, url, state)
            web = sum(1 for r in records if r["status"] == 201 and r["kind"] == "new") / seconds
            print()
            print(f"statements per accepted application: app {sql['orm']}, pgbench script {sql['script']}")
            print(f"pgbench (same transaction in SQL)  {sql['tps']:.1f} tps, failed {sql['failed']}, {sql['latency']}")
            print(f"web intake (new applications 201)  {web:.1f}/s with {args.users} clients")
            print(f"web / pgbench                      {100 * web / sql['tps']:.1f}%")
        if checks.failed:
            print(f"\n{len(checks.failed)} check(s) FAILED; gunicorn log: {work / 'gunicorn.log'}")
            args.keep = True
            return 1
        print("\nall checks passed")
        return 0
    finally:
        if app is not None:
            kill_group(app)
        if args.keep:
            print(f"kept database {db} and {work}")
        else:
            if "django.db" in sys.modules:
                from django.db import connections

                connections.close_all()
            admin_sql(args.pg_url, "DROP DATABASE {} WITH (FORCE)", db)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
