"""Parallel submissions on PostgreSQL: the same invoice from many tills at once is subsidised once; many
applicants against a small pool never push it below zero, and every reserved fen belongs to an application."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim
from tests.conftest import postgres_only
from tests.factories import OrganisationFactory, UserFactory
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def race(workers: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
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

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _submit(user: Any, programme: Any, n: int, invoice: str) -> Callable[[], Application]:
    return lambda: submit_application(
        actor=user,
        programme=programme,
        applicant_name="申请人",
        applicant_id=user.verified_resident_id,  # a citizen applies in their own verified identity (实名)
        phone="13912345678",
        **payee("申请人"),  # citizens filing alone are paid: the account is required
        items=[ItemIn(kind="tv", invoice_no=invoice, invoice_date=timezone.localdate(), price_fen=3_000_00, grade="1")],
    )


def test_one_invoice_from_many_tills_is_subsidised_once(plan, boss) -> None:
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000_00)
    users = [UserFactory(role=Role.CITIZEN) for _ in range(8)]
    results, errors = race([_submit(u, programme, n, "INV-SAME") for n, u in enumerate(users)])
    assert len(results) == 1 and len(errors) == 7
    assert {e.error_list[0].code for e in errors} <= {"invoice_already_used", "identifier_already_used"}  # type: ignore[attr-defined]
    assert Claim.objects.filter(kind="invoice", value="INV-SAME").count() == 1
    assert selectors.balances(programme).reserved_fen == results[0].amount_fen


def test_a_small_pool_never_goes_below_zero(plan, boss) -> None:
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=3_000_00, stripes=4
    )  # room for five 600-yuan subsidies
    users = [UserFactory(role=Role.CITIZEN) for _ in range(12)]
    results, errors = race([_submit(u, programme, 100 + n, f"INV-{n}") for n, u in enumerate(users)])
    assert len(results) == 5
    assert all(e.error_list[0].code == "budget_exhausted" for e in errors)  # type: ignore[attr-defined]
    balances = selectors.balances(programme)
    assert balances.available_fen == 0 and balances.reserved_fen == sum(a.amount_fen for a in results)
    assert Application.objects.count() == 5 and Claim.objects.count() == 5  # refused ones left nothing
    assert selectors.check_ledger(programme).problems == []


def test_simultaneous_twins_with_one_key_get_one_application(plan, boss) -> None:
    """A till that sends the same request twice at once (same Idempotency-Key): both answers name one application."""
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000_00)
    merchant = UserFactory(role=Role.MERCHANT, organisation=OrganisationFactory())  # a till belongs to its store

    def twin() -> Application:
        return submit_application(
            actor=merchant,
            programme=programme,
            applicant_name="申请人",
            applicant_id=identities.resident_id(random.Random(77)),
            phone="13912345678",
            items=[
                ItemIn(kind="tv", invoice_no="TWIN-1", invoice_date=timezone.localdate(), price_fen=3_000_00, grade="1")
            ],
            idempotency_key="till-twin",
        )

    results, errors = race([twin for _ in range(6)])
    assert errors == [] and len({a.pk for a in results}) == 1
    assert Application.objects.count() == 1 and Claim.objects.count() == 1
    assert selectors.balances(programme).reserved_fen == results[0].amount_fen
