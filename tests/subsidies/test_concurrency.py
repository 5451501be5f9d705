"""Real parallel connections on PostgreSQL: however many requests arrive at once, no pool goes below zero, the
money reserved is exactly what the successful calls reserved, a reference reserves once and is paid once, and
the ledger's invariants (`check_ledger`) hold afterwards."""

from __future__ import annotations

import random
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Count
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.subsidies import ledger
from huanxin.subsidies.models import Account, Entry, Programme
from huanxin.subsidies.selectors import balances, check_ledger
from tests.conftest import postgres_only
from tests.subsidies.conftest import YUAN, make_programme

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

THREADS = 16


def in_parallel(workers: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run each worker in its own thread (and database connection), all starting together."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(work: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:  # collected and checked by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def code(exc: BaseException) -> str | None:
    if not isinstance(exc, ValidationError):
        return None
    errors = next(iter(exc.error_dict.values())) if hasattr(exc, "error_dict") else exc.error_list
    return errors[0].code


def amount_for(reference: str) -> int:
    """100–2,000 yuan, always the same for one reference (a retried request asks for the same amount)."""
    return (100 + zlib.crc32(reference.encode()) % 1_901) * YUAN


def assert_sound(programme: Programme) -> None:
    assert not Account.objects.filter(programme=programme, balance_fen__lt=0).exclude(kind="funding").exists()
    assert balances(programme).balanced
    twice = (
        Entry.objects.filter(programme=programme, kind__in=["reserve", "pay", "release", "clawback"])
        .values("kind", "reference")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not twice.exists()
    # the ledger's own invariants: these references name no application, which the command's reconciliation
    # would report (tests/subsidies/test_ledger_verify.py)
    assert check_ledger(programme).problems == []


@pytest.fixture
def small_pool(plan: Any, boss: Any) -> Programme:
    return make_programme(boss, budget_fen=10_000 * YUAN, stripes=32)


def test_many_parallel_reservations_never_overdraw_a_small_pool(small_pool, finance) -> None:
    programme = small_pool
    per_thread = 25
    outcomes: list[tuple[str, int, str]] = []  # (reference, amount, "created" | "again" | error code)
    lock = threading.Lock()

    def worker(n: int) -> Callable[[], None]:
        def work() -> None:
            rng = random.Random(n)
            # every thread first asks for the same reference at the same moment, then for its own and some shared
            references = ["APP-SAME"] + [
                f"APP-{rng.randrange(60)}" if rng.random() < 0.3 else f"APP-{n}-{i}" for i in range(per_thread)
            ]
            for reference in references:
                amount = amount_for(reference)
                try:
                    r = ledger.reserve(actor=finance, programme=programme, reference=reference, amount_fen=amount)
                    outcome = "created" if r.created else "again"
                except ValidationError as exc:
                    outcome = code(exc) or "?"
                with lock:
                    outcomes.append((reference, amount, outcome))

        return work

    _, errors = in_parallel([worker(n) for n in range(THREADS)])
    assert not errors, errors
    assert len(outcomes) == THREADS * (per_thread + 1)
    assert {o for _, _, o in outcomes} <= {"created", "again", "budget_exhausted"}
    created = [(ref, amount) for ref, amount, o in outcomes if o == "created"]
    assert len(created) == len({ref for ref, _ in created}), "a reference was reserved twice"
    assert [o for ref, _, o in outcomes if ref == "APP-SAME"].count("created") == 1
    b = balances(programme)
    assert b.reserved_fen == sum(amount for _, amount in created)
    assert b.funded_fen == 10_000 * YUAN == b.available_fen + b.reserved_fen
    assert b.available_fen >= 0
    # refused only when the whole programme lacked the amount: money only left the pool, so what is left now is
    # less than every amount refused
    refused = [amount for _, amount, o in outcomes if o == "budget_exhausted"]
    assert refused, "the pool should have run out"
    assert b.available_fen < min(refused)
    reserves = Entry.objects.filter(programme=programme, kind="reserve")
    assert reserves.count() == len(created)
    assert AuditEvent.objects.filter(action="subsidies.reserved").count() == len(created)
    assert_sound(programme)


def test_parallel_reserve_pay_release_keep_the_books_balanced(plan, boss, finance) -> None:
    programme = make_programme(boss, budget_fen=200_000 * YUAN, stripes=32)
    per_thread = 20

    def worker(n: int) -> Callable[[], Counter[str]]:
        def work() -> Counter[str]:
            rng = random.Random(100 + n)
            seen: Counter[str] = Counter()
            for i in range(per_thread):
                reference = f"APP-{n}-{i}"
                try:
                    ledger.reserve(
                        actor=finance, programme=programme, reference=reference, amount_fen=amount_for(reference)
                    )
                except ValidationError as exc:
                    seen[code(exc) or "?"] += 1
                    continue
                choice = rng.random()
                if choice < 0.4:
                    ledger.pay(actor=finance, programme=programme, reference=reference)
                    seen["paid"] += 1
                    if rng.random() < 0.2:
                        ledger.clawback(actor=finance, programme=programme, reference=reference, reason="抽查不合格")
                elif choice < 0.7:
                    ledger.release(actor=finance, programme=programme, reference=reference)
                    seen["released"] += 1
                if rng.random() < 0.05:
                    ledger.fund(actor=boss, programme=programme, amount_fen=1_000 * YUAN, note="追加")
            return seen

        return work

    results, errors = in_parallel([worker(n) for n in range(THREADS)])
    assert not errors, errors
    total = sum(results, Counter())
    assert set(total) <= {"paid", "released", "budget_exhausted"}
    b = balances(programme)
    programme.refresh_from_db()
    assert b.funded_fen == programme.budget_fen
    assert b.paid_fen + b.clawed_back_fen == sum(
        Entry.objects.filter(programme=programme, kind="pay").values_list("amount_fen", flat=True)
    )
    assert_sound(programme)


def test_parallel_payments_of_one_reference_pay_once(small_pool, finance) -> None:
    programme = small_pool
    ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=1_234 * YUAN)
    results, errors = in_parallel(
        [lambda: ledger.pay(actor=finance, programme=programme, reference="APP-1") for _ in range(THREADS)]
    )
    assert not errors, errors
    assert len({entry.pk for entry in results}) == 1
    assert Entry.objects.filter(kind="pay", reference="APP-1").count() == 1
    assert AuditEvent.objects.filter(action="subsidies.paid").count() == 1
    b = balances(programme)
    assert (b.paid_fen, b.reserved_fen) == (1_234 * YUAN, 0)
    assert_sound(programme)


def test_paying_and_releasing_at_once_does_one_of_them(small_pool, finance) -> None:
    programme = small_pool
    ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=500 * YUAN)
    workers: list[Callable[[], Any]] = []
    for _ in range(8):
        workers.append(lambda: ledger.pay(actor=finance, programme=programme, reference="APP-1"))
        workers.append(lambda: ledger.release(actor=finance, programme=programme, reference="APP-1"))
    random.Random(3).shuffle(workers)
    results, errors = in_parallel(workers)
    kinds = {entry.kind for entry in results}
    assert len(kinds) == 1 and len({entry.pk for entry in results}) == 1
    expected = "already_paid" if kinds == {"pay"} else "reservation_released"
    assert [code(e) for e in errors] == [expected] * len(errors)
    assert Entry.objects.filter(reference="APP-1", kind__in=["pay", "release"]).count() == 1
    assert_sound(programme)


def test_parallel_reservations_never_pass_the_daily_quota_and_releases_free_it(plan, boss, finance) -> None:
    """Sixteen reservations at once against a daily quota in stripes: what is reserved today never exceeds the
    quota, each refusal names the quota, and releasing half of them at once frees exactly that much."""
    from huanxin.subsidies import quota
    from huanxin.subsidies.models import DailyQuotaUse

    programme = make_programme(boss, budget_fen=100_000 * YUAN, daily_quota_fen=2_000 * YUAN, stripes=8)
    amounts = [random.Random(n).choice([100, 150, 300, 450]) * YUAN for n in range(THREADS)]
    results, errors = in_parallel(
        [
            lambda n=n: ledger.reserve(actor=finance, programme=programme, reference=f"DQ-{n}", amount_fen=amounts[n])
            for n in range(THREADS)
        ]
    )
    taken = sum(r.amount_fen for r in results)
    assert taken <= 2_000 * YUAN and {code(e) for e in errors} <= {"daily_quota_reached"}
    assert taken == sum(amounts) or taken > 2_000 * YUAN - max(amounts)  # refused only when it no longer fitted
    day = timezone.localdate()
    assert quota.used_on(programme, day) == taken
    assert all(row.used <= row.share for row in DailyQuotaUse.objects.filter(programme=programme))
    halves = results[: len(results) // 2]
    in_parallel([lambda r=r: ledger.release(actor=finance, programme=programme, reference=r.reference) for r in halves])
    assert quota.used_on(programme, day) == taken - sum(r.amount_fen for r in halves)
    assert_sound(programme)
