"""Per-person limits held by the database (limits.py), idempotency keys that name one request, and conflicts
retried whole. The concurrency tests run on PostgreSQL with real parallel connections: many tills for one
person, a batch file and tills for the same people, a money cap raced; on both databases, a rejected
application gives its place back."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.db.models import Count, Sum
from django.test import Client
from django.utils import timezone

from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.retry import Busy
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import bulk, errors, limits, rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, ApplicationItem, PersonUsage
from huanxin.subsidies.review import decide
from tests.conftest import postgres_only
from tests.factories import UserFactory, user_with_role
from tests.subsidies.conftest import YUAN, make_programme
from tests.subsidies.test_application_concurrency import race


def appliances(boss: Any, **kwargs: Any) -> Any:
    values = {"parameters": {**rules.DEFAULTS["appliance"], "sample_pct": 0}, "budget_fen": 1_000_000 * YUAN, **kwargs}
    return make_programme(boss, **values)


def person(seed: int) -> str:
    return identities.resident_id(random.Random(seed))


def fridge(invoice: str, kind: str = "refrigerator", price_yuan: int = 4_000) -> ItemIn:
    return ItemIn(
        kind=kind, invoice_no=invoice, invoice_date=timezone.localdate(), price_fen=price_yuan * YUAN, grade="1"
    )


def till_sale(merchant: Any, programme: Any, resident_id: str, invoice: str, **kwargs: Any) -> Application:
    return submit_application(
        actor=merchant,
        programme=programme,
        applicant_name="申请人",
        applicant_id=resident_id,
        phone="13912345678",
        items=[fridge(invoice, **kwargs)],
    )


def merchant_user() -> Any:
    store = Organisation.objects.create(name="限额商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def code(exc: BaseException) -> str:
    assert isinstance(exc, ValidationError), exc
    return exc.error_list[0].code or ""


def counted(programme: Any, applicant_id: str, scope: str) -> int:
    """What the person's counter holds, and — the invariant — what their applications that count add up to."""
    from huanxin.core import pii

    applicant_hash = pii.lookup_hash(applicant_id, purpose="resident_id")
    usage = PersonUsage.objects.filter(programme=programme, applicant_hash=applicant_hash, scope=scope).first()
    items = ApplicationItem.objects.filter(
        application__programme=programme, application__applicant_hash=applicant_hash, kind=scope
    ).exclude(application__status__in=["rejected", "refunded"])
    assert (usage.used if usage else 0) == items.count()
    return usage.used if usage else 0


# --- on both databases ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_item_is_refused_naming_the_limit_and_what_is_left(plan, boss) -> None:
    programme = appliances(boss)
    merchant, resident = merchant_user(), person(1)
    till_sale(merchant, programme, resident, "L-1")
    with pytest.raises(ValidationError) as refused:
        till_sale(merchant, programme, resident, "L-2")
    assert code(refused.value) == errors.PER_PERSON_LIMIT
    assert refused.value.messages[0] == "每人限额：冰箱每人限补1件，已申请1件，剩余0件"
    # air conditioners: three per person, the fourth refused
    for n in range(3):
        till_sale(merchant, programme, resident, f"AC-{n}", kind="air_conditioner")
    with pytest.raises(ValidationError) as fourth:
        till_sale(merchant, programme, resident, "AC-3", kind="air_conditioner")
    assert "空调每人限补3件，已申请3件，剩余0件" in fourth.value.messages[0]
    assert counted(programme, resident, "refrigerator") == 1 and counted(programme, resident, "air_conditioner") == 3


@pytest.mark.django_db
def test_a_rejected_application_gives_its_place_back(plan, boss) -> None:
    programme = appliances(boss)
    merchant, resident = merchant_user(), person(2)
    first = till_sale(merchant, programme, resident, "R-1")
    assert counted(programme, resident, "refrigerator") == 1
    decide(actor=user_with_role(Role.REVIEWER), application=first, decision="reject", reason="发票信息不符")
    assert counted(programme, resident, "refrigerator") == 0
    second = till_sale(merchant, programme, resident, "R-2")
    assert second.status == Application.Status.RESERVED
    assert counted(programme, resident, "refrigerator") == 1


@pytest.mark.django_db
def test_the_database_refuses_what_the_checks_did_not_see(plan, boss) -> None:
    """The counters hold even when the early, advisory read is wrong (as it is for a till racing another): the
    conditional upsert refuses, and the refusal leaves nothing behind."""
    programme = appliances(boss)
    merchant, resident = merchant_user(), person(3)
    till_sale(merchant, programme, resident, "D-1")
    demand = limits.Demand("refrigerator", 1, 1, "冰箱")
    from huanxin.core import pii

    with pytest.raises(ValidationError) as refused:
        limits.take(programme.pk, pii.lookup_hash(resident, purpose="resident_id"), [demand])
    assert code(refused.value) == errors.PER_PERSON_LIMIT and "剩余0件" in refused.value.messages[0]


@pytest.mark.django_db
def test_the_same_key_with_another_sale_is_refused_and_a_long_key_is_not_cut(plan, boss) -> None:
    programme = appliances(boss)
    merchant = merchant_user()
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    till = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(invoice: str, idempotency_key: str, kind: str = "refrigerator") -> Any:
        payload = {
            "programme": programme.code,
            "applicant_name": "林芳",
            "applicant_id": person(4),
            "phone": "13912345678",
            "items": [
                {
                    "kind": kind,
                    "invoice_no": invoice,
                    "invoice_date": timezone.localdate().isoformat(),
                    "price_fen": 4_000_00,
                    "grade": "1",
                }
            ],
        }
        url = "/api/v1/subsidies/applications"
        return till.post(
            url, json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=idempotency_key
        )

    first = post("K-1", "till-0001")
    assert first.status_code == 201
    assert post("K-1", "till-0001").json()["number"] == first.json()["number"]  # a true retry: the first answer
    reused = post("K-2", "till-0001")  # another sale under the same key
    assert reused.status_code == 409 and reused.json()["code"] == errors.IDEMPOTENCY_KEY_REUSED
    assert first.json()["number"] in reused.json()["message"] and "新的键" in reused.json()["message"]
    long_key = "k" * 65
    too_long = post("K-3", long_key, "tv")
    assert too_long.status_code == 422 and too_long.json()["code"] == errors.IDEMPOTENCY_KEY_TOO_LONG
    assert post("K-3", long_key[:64], "tv").status_code == 201  # the cut key is a key of its own, not the long one's
    assert Application.objects.count() == 2


def _deadlock(*args: Any, **kwargs: Any) -> None:
    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected")
    except psycopg.errors.DeadlockDetected as exc:
        raise OperationalError("deadlock detected") from exc


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_inside_a_submission_retries_the_whole_submission(plan, boss, monkeypatch) -> None:
    programme = appliances(boss)
    merchant = merchant_user()
    real_take, calls = limits.take, []

    def take_once_aborted(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # PostgreSQL aborts the first attempt after its claims and reservation went in
            _deadlock()
        real_take(*args, **kwargs)

    monkeypatch.setattr(limits, "take", take_once_aborted)
    application = till_sale(merchant, programme, person(5), "DL-1")
    assert len(calls) == 2 and application.status == Application.Status.RESERVED
    assert Application.objects.count() == 1  # the aborted attempt left nothing
    assert selectors.check_ledger(programme).problems == []
    assert selectors.balances(programme).reserved_fen == application.amount_fen


@pytest.mark.django_db(transaction=True)
def test_a_conflict_that_keeps_recurring_answers_503_with_retry_after(plan, boss, monkeypatch) -> None:
    programme = appliances(boss)
    merchant = merchant_user()
    monkeypatch.setattr(limits, "take", _deadlock)
    monkeypatch.setattr("huanxin.core.retry.time.sleep", lambda _: None)
    with pytest.raises(Busy):
        till_sale(merchant, programme, person(6), "DL-2")
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    till = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    payload = {
        "programme": programme.code,
        "applicant_name": "林芳",
        "applicant_id": person(6),
        "phone": "13912345678",
        "items": [
            {"kind": "tv", "invoice_no": "DL-3", "invoice_date": timezone.localdate().isoformat(), "price_fen": 100_000}
            | {"grade": "1"}
        ],
    }
    answer = till.post("/api/v1/subsidies/applications", json.dumps(payload), content_type="application/json")
    assert answer.status_code == 503 and answer["Retry-After"] == "2"
    assert answer.json()["code"] == "busy_retry" and "请稍后重试" in answer.json()["message"]
    assert Application.objects.count() == 0 and selectors.balances(programme).reserved_fen == 0


# --- PostgreSQL: real parallel connections ---------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_eight_tills_at_once_for_one_person_subsidise_one_refrigerator(plan, boss) -> None:
    programme = appliances(boss, stripes=8)
    store = Organisation.objects.create(name="八台收银", kind="merchant", region=Region.objects.get(code="130702"))
    tills = [UserFactory(role=Role.MERCHANT, organisation=store) for _ in range(8)]
    resident = person(7)
    results, failures = race(
        [lambda m=m, n=n: till_sale(m, programme, resident, f"EIGHT-{n}") for n, m in enumerate(tills)]
    )
    assert len(results) == 1 and len(failures) == 7
    assert {code(f) for f in failures} == {errors.PER_PERSON_LIMIT}
    assert all("剩余0件" in f.messages[0] for f in failures)  # type: ignore[attr-defined]
    assert counted(programme, resident, "refrigerator") == 1
    assert selectors.balances(programme).reserved_fen == results[0].amount_fen
    assert selectors.check_ledger(programme).problems == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_batch_file_and_tills_at_once_give_each_person_one_refrigerator(plan, boss) -> None:
    programme = appliances(boss, stripes=8)
    store = Organisation.objects.create(name="批量与收银", kind="merchant", region=Region.objects.get(code="130702"))
    batcher, *tills = [UserFactory(role=Role.MERCHANT, organisation=store) for _ in range(3)]
    people = [person(100 + n) for n in range(60)]

    def batch() -> Any:
        rows = [
            bulk.RowIn(
                line=n,
                order=f"B-{n}",
                programme=programme,
                applicant_name="申请人",
                applicant_id=resident,
                phone="13912345678",
                items=[fridge(f"BATCH-{n}")],
            )
            for n, resident in enumerate(people)
        ]
        return bulk.submit_rows(actor=batcher, rows=rows)

    def till(t: int) -> Callable[[], int]:
        def work() -> int:
            accepted = 0
            for n, resident in enumerate(people):
                try:
                    till_sale(tills[t], programme, resident, f"TILL{t}-{n}")
                except ValidationError:
                    continue
                accepted += 1
            return accepted

        return work

    _, failures = race([batch, till(0), till(1)])
    assert failures == []
    per_person = (
        Application.objects.filter(programme=programme)
        .exclude(status="rejected")
        .values("applicant_hash")
        .annotate(n=Count("id"))
    )
    assert len(per_person) == 60 and {row["n"] for row in per_person} == {1}
    assert PersonUsage.objects.filter(programme=programme).aggregate(total=Sum("used"))["total"] == 60
    assert selectors.check_ledger(programme).problems == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_money_cap_raced_by_tills_never_pays_one_person_more_than_the_cap(plan, boss) -> None:
    parameters = {**rules.DEFAULTS["home"], "sample_pct": 0, "per_person_cap_fen": 1_000 * YUAN}
    programme = make_programme(
        boss, code="home-cap", category="home", parameters=parameters, budget_fen=1_000_000 * YUAN, stripes=8
    )
    store = Organisation.objects.create(name="家装商行", kind="merchant", region=Region.objects.get(code="130702"))
    tills = [UserFactory(role=Role.MERCHANT, organisation=store) for _ in range(6)]
    resident = person(8)
    kinds = ["shower_room", "bathroom_cabinet", "cabinet", "flooring", "anti_slip", "care_bed"]
    # each 15–30% of 4,000 yuan = 600–1,200 yuan, capped per item; one person's total capped at 1,000 yuan
    results, failures = race(
        [
            lambda m=m, k=k, n=n: till_sale(m, programme, resident, f"HOME-{n}", kind=k)
            for n, (m, k) in enumerate(zip(tills, kinds, strict=True))
        ]
    )
    assert results and {code(f) for f in failures} <= {errors.PER_PERSON_AMOUNT_LIMIT}
    granted = sum(a.amount_fen for a in results)
    assert granted <= 1_000 * YUAN
    from huanxin.core import pii

    usage = PersonUsage.objects.get(
        programme=programme, applicant_hash=pii.lookup_hash(resident, purpose="resident_id"), scope=limits.AMOUNT
    )
    assert usage.used == granted
