"""The budget ledger's services: funding, reservations, releases, payments, clawbacks, and their refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.subsidies import ledger
from huanxin.subsidies.models import Account, Entry, Programme
from huanxin.subsidies.selectors import balances
from tests.conftest import postgres_only
from tests.factories import user_with_role
from tests.subsidies.conftest import YUAN

pytestmark = pytest.mark.django_db


def code_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    error = exc.value
    if hasattr(error, "error_dict"):
        return next(iter(error.error_dict.values()))[0].code  # type: ignore[return-value]
    return error.error_list[0].code  # type: ignore[return-value]


def available(programme: Programme) -> list[int]:
    return list(
        Account.objects.filter(programme=programme, kind="available")
        .order_by("stripe")
        .values_list("balance_fen", flat=True)
    )


# --- programmes and funding -------------------------------------------------------------------------------------


def test_a_programme_has_every_account_in_every_stripe_and_its_budget_spread(programme_factory) -> None:
    programme = programme_factory(stripes=4, budget_fen=10_000 * YUAN)
    assert Account.objects.filter(programme=programme).count() == 4 * 5
    assert available(programme) == [2_500 * YUAN] * 4
    assert (
        list(Account.objects.filter(programme=programme, kind="funding").values_list("balance_fen", flat=True))
        == [-2_500 * YUAN] * 4
    )
    assert Entry.objects.filter(programme=programme, kind="fund").count() == 4
    b = balances(programme)
    assert (b.funded_fen, b.available_fen, b.reserved_fen, b.paid_fen) == (10_000 * YUAN, 10_000 * YUAN, 0, 0)
    assert programme.budget_fen == 10_000 * YUAN
    assert AuditEvent.objects.filter(action="subsidies.programme_created", object_id=str(programme.pk)).exists()


def test_funding_spreads_the_remainder_fen_by_fen(programme_factory, finance) -> None:
    programme = programme_factory(stripes=3, budget_fen=0)
    entries = ledger.fund(actor=finance, programme=programme, amount_fen=100, note="第二批追加")
    assert [e.amount_fen for e in entries] == [34, 33, 33]
    assert available(programme) == [34, 33, 33]
    ledger.fund(actor=finance, programme=programme, amount_fen=2, note="零头")
    assert available(programme) == [35, 34, 33]
    programme.refresh_from_db()
    assert programme.budget_fen == 102 == balances(programme).funded_fen
    event = AuditEvent.objects.filter(action="subsidies.funded").last()
    assert event is not None and event.changes["budget_fen"] == [100, 102]


@pytest.mark.parametrize("amount", [0, -1, 100.0, True, "100"])
def test_funding_takes_positive_integer_fen_only(programme_factory, finance, amount: Any) -> None:
    programme = programme_factory()
    with pytest.raises(ValidationError) as exc:
        ledger.fund(actor=finance, programme=programme, amount_fen=amount, note="")
    assert code_of(exc) == "invalid_amount"


def test_a_closed_programme_takes_no_more_money(programme_factory, boss, finance) -> None:
    programme = programme_factory()
    ledger.change_status(actor=boss, programme=programme, status="closed", reason="到期")
    with pytest.raises(ValidationError) as exc:
        ledger.fund(actor=finance, programme=programme, amount_fen=100, note="")
    assert code_of(exc) == "programme_closed"
    with pytest.raises(ValidationError) as exc:
        ledger.change_status(actor=boss, programme=programme, status="open")
    assert code_of(exc) == "invalid_status_change"


def test_create_programme_refuses_bad_input(programme_factory) -> None:
    programme_factory(code="taken")
    with pytest.raises(ValidationError) as exc:
        programme_factory(
            code="taken",
            opens_on=dt.date(2025, 2, 1),
            closes_on=dt.date(2025, 1, 1),
            stripes=0,
            budget_fen=1.5,
            category="boats",
        )
    codes = {field: errors[0].code for field, errors in exc.value.error_dict.items()}
    assert codes == {
        "code": "programme_code_taken",
        "closes_on": "dates_out_of_order",
        "stripes": "invalid_stripes",
        "budget_fen": "invalid_amount",
        "category": "invalid_choice",
    }


# --- reservations -----------------------------------------------------------------------------------------------


def test_reserve_moves_money_from_available_to_reserved(programme_factory, finance) -> None:
    programme = programme_factory(stripes=4, budget_fen=10_000 * YUAN)
    r = ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=500 * YUAN)
    assert r.created and r.amount_fen == 500 * YUAN and r.status == "reserved"
    assert r.entry.kind == "reserve" and r.entry.credit.kind == "available" and r.entry.debit.kind == "reserved"
    assert r.entry.credit.stripe == r.entry.debit.stripe == r.stripe
    b = balances(programme)
    assert (b.available_fen, b.reserved_fen, b.funded_fen) == (9_500 * YUAN, 500 * YUAN, 10_000 * YUAN)
    assert sorted(available(programme)) == [2_000 * YUAN, 2_500 * YUAN, 2_500 * YUAN, 2_500 * YUAN]
    event = AuditEvent.objects.get(action="subsidies.reserved")
    assert event.changes == {
        "programme": "appliance-2025",
        "reference": "APP-1",
        "amount_fen": 50_000,
        "stripe": r.stripe,
    }


def test_reserving_again_returns_the_first_reservation(programme_factory, finance) -> None:
    programme = programme_factory()
    first = ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=300 * YUAN)
    again = ledger.reserve(actor=finance, programme=programme, reference=" APP-1 ", amount_fen=300 * YUAN)
    assert not again.created and again.entry.pk == first.entry.pk and again.stripe == first.stripe
    assert balances(programme).reserved_fen == 300 * YUAN
    assert Entry.objects.filter(kind="reserve").count() == 1
    assert AuditEvent.objects.filter(action="subsidies.reserved").count() == 1
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=301 * YUAN)
    assert code_of(exc) == "reference_conflict"
    ledger.pay(actor=finance, programme=programme, reference="APP-1")
    assert ledger.reserve(actor=finance, programme=programme, reference="APP-1", amount_fen=300 * YUAN).status == "paid"


@pytest.mark.parametrize("amount", [0, -100, 99.5, False])
def test_reserve_takes_positive_integer_fen_only(programme_factory, finance, amount: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme_factory(), reference="APP-1", amount_fen=amount)
    assert code_of(exc) == "invalid_amount"


def test_release_gives_the_money_back_once(programme_factory, finance) -> None:
    programme = programme_factory()
    r = ledger.reserve(actor=finance, programme=programme, reference="APP-7", amount_fen=800 * YUAN)
    entry = ledger.release(actor=finance, programme=programme, reference="APP-7", reason="申请人撤回")
    assert entry.kind == "release" and entry.amount_fen == 800 * YUAN and entry.debit.stripe == r.stripe
    b = balances(programme)
    assert (b.available_fen, b.reserved_fen) == (10_000 * YUAN, 0)
    assert ledger.release(actor=finance, programme=programme, reference="APP-7").pk == entry.pk
    assert balances(programme).available_fen == 10_000 * YUAN
    for call in (
        lambda: ledger.reserve(actor=finance, programme=programme, reference="APP-7", amount_fen=800 * YUAN),
        lambda: ledger.pay(actor=finance, programme=programme, reference="APP-7"),
    ):
        with pytest.raises(ValidationError) as exc:
            call()
        assert code_of(exc) == "reservation_released"


def test_pay_once(programme_factory, finance) -> None:
    programme = programme_factory()
    ledger.reserve(actor=finance, programme=programme, reference="APP-2", amount_fen=1_500 * YUAN)
    paid = ledger.pay(actor=finance, programme=programme, reference="APP-2")
    assert paid.kind == "pay" and paid.amount_fen == 1_500 * YUAN
    assert ledger.pay(actor=finance, programme=programme, reference="APP-2").pk == paid.pk
    b = balances(programme)
    assert (b.available_fen, b.reserved_fen, b.paid_fen) == (8_500 * YUAN, 0, 1_500 * YUAN)
    assert Entry.objects.filter(kind="pay").count() == 1
    assert AuditEvent.objects.filter(action="subsidies.paid").count() == 1
    with pytest.raises(ValidationError) as exc:
        ledger.release(actor=finance, programme=programme, reference="APP-2")
    assert code_of(exc) == "already_paid"
    with pytest.raises(ValidationError) as exc:
        ledger.pay(actor=finance, programme=programme, reference="APP-404")
    assert code_of(exc) == "not_reserved"


def test_clawback_once_with_a_reason(programme_factory, finance) -> None:
    programme = programme_factory()
    ledger.reserve(actor=finance, programme=programme, reference="APP-3", amount_fen=2_000 * YUAN)
    with pytest.raises(ValidationError) as exc:
        ledger.clawback(actor=finance, programme=programme, reference="APP-3", reason="虚假交易")
    assert code_of(exc) == "not_paid"
    ledger.pay(actor=finance, programme=programme, reference="APP-3")
    with pytest.raises(ValidationError) as exc:
        ledger.clawback(actor=finance, programme=programme, reference="APP-3", reason=" ")
    assert code_of(exc) == "required"
    entry = ledger.clawback(actor=finance, programme=programme, reference="APP-3", reason="虚假交易")
    assert entry.note == "虚假交易" and entry.amount_fen == 2_000 * YUAN
    assert ledger.clawback(actor=finance, programme=programme, reference="APP-3", reason="又一次").pk == entry.pk
    b = balances(programme)
    assert (b.funded_fen, b.available_fen, b.reserved_fen, b.paid_fen, b.clawed_back_fen) == (
        10_000 * YUAN,
        8_000 * YUAN,
        0,
        0,
        2_000 * YUAN,
    )
    assert b.balanced


# --- exhaustion, stripes, quotas, dates -------------------------------------------------------------------------


def test_refused_only_when_the_whole_programme_lacks_the_amount(programme_factory, finance) -> None:
    programme = programme_factory(stripes=4, budget_fen=1_000 * YUAN)  # 250 yuan a stripe
    ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=600 * YUAN)  # needs rebalancing
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="B", amount_fen=500 * YUAN)
    assert code_of(exc) == "budget_exhausted"
    assert "本批次补贴额度已用完" in exc.value.messages[0]
    assert not Entry.objects.filter(reference="B").exists()
    ledger.reserve(actor=finance, programme=programme, reference="C", amount_fen=400 * YUAN)  # exactly what is left
    assert available(programme) == [0, 0, 0, 0]
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="D", amount_fen=1)
    assert code_of(exc) == "budget_exhausted"
    ledger.fund(actor=finance, programme=programme, amount_fen=100 * YUAN, note="追加")
    ledger.reserve(actor=finance, programme=programme, reference="D", amount_fen=100 * YUAN)
    assert balances(programme).reserved_fen == 1_100 * YUAN


def test_a_queueing_programme_says_the_application_waits(programme_factory, finance) -> None:
    programme = programme_factory(budget_fen=100 * YUAN, on_exhaustion="queue")
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=200 * YUAN)
    assert code_of(exc) == "budget_exhausted" and "排队等待追加额度" in exc.value.messages[0]


def test_an_empty_stripe_borrows_from_the_others(programme_factory, finance) -> None:
    programme = programme_factory(stripes=3, budget_fen=300 * YUAN)  # 100 yuan a stripe
    first = ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=100 * YUAN)
    assert available(programme)[first.stripe] == 0
    second = ledger.reserve(actor=finance, programme=programme, reference="B", amount_fen=150 * YUAN)
    moves = Entry.objects.filter(kind="rebalance", reference="B")
    assert moves.count() == 1
    move = moves.get()
    assert move.debit.stripe == second.stripe != move.credit.stripe and move.amount_fen == 50 * YUAN
    assert move.debit.kind == move.credit.kind == "available"
    assert sorted(available(programme)) == [0, 0, 50 * YUAN]
    b = balances(programme)
    assert (b.available_fen, b.reserved_fen, b.funded_fen) == (50 * YUAN, 250 * YUAN, 300 * YUAN)
    event = AuditEvent.objects.get(action="subsidies.reserved", changes__reference="B")
    assert event.changes["rebalanced"] == [{"from": move.credit.stripe, "to": second.stripe, "amount_fen": 5_000}]


def test_a_reservation_larger_than_any_stripe_gathers_from_several(programme_factory, finance) -> None:
    programme = programme_factory(stripes=4, budget_fen=1_000 * YUAN)
    r = ledger.reserve(actor=finance, programme=programme, reference="BIG", amount_fen=700 * YUAN)
    assert Entry.objects.filter(kind="rebalance", reference="BIG").count() == 2
    assert sum(Entry.objects.filter(kind="rebalance").values_list("amount_fen", flat=True)) == 450 * YUAN
    assert available(programme)[r.stripe] == 0 and sum(available(programme)) == 300 * YUAN


def test_daily_quota(programme_factory, finance) -> None:
    programme = programme_factory(daily_quota_fen=1_000 * YUAN)
    today = timezone.localtime().replace(hour=9, minute=0)
    ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=600 * YUAN, now=today)
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="B", amount_fen=500 * YUAN, now=today)
    assert code_of(exc) == "daily_quota_reached" and "今日补贴额度已用完" in exc.value.messages[0]
    ledger.reserve(actor=finance, programme=programme, reference="C", amount_fen=400 * YUAN, now=today)
    # the next day in Shanghai starts at midnight local time
    tomorrow = today.replace(hour=0, minute=5) + dt.timedelta(days=1)
    ledger.reserve(actor=finance, programme=programme, reference="B", amount_fen=500 * YUAN, now=tomorrow)
    late = today.replace(hour=23, minute=59)
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="D", amount_fen=1, now=late)
    assert code_of(exc) == "daily_quota_reached"


def test_a_reservation_reads_the_programme_as_it_stands_not_as_the_caller_loaded_it(
    programme_factory, boss, finance
) -> None:
    programme = programme_factory(status="open")
    loaded = Programme.objects.get(pk=programme.pk)  # a till loaded the programme a moment ago
    ledger.change_status(actor=boss, programme=programme, status="paused", reason="核查")
    assert loaded.status == "open"
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=loaded, reference="STALE", amount_fen=100)
    assert code_of(exc) == "programme_not_open" and "暂停" in exc.value.messages[0]
    assert loaded.status == "open"  # the caller's object is left as it was
    Programme.objects.filter(pk=programme.pk).update(status="open", on_exhaustion="queue")
    assert ledger.reserve(actor=finance, programme=loaded, reference="NOW", amount_fen=100).created


def test_only_an_open_programme_within_its_dates_reserves(programme_factory, boss, finance) -> None:
    programme = programme_factory(status="draft")

    def attempt(**kwargs: Any) -> str:
        with pytest.raises(ValidationError) as exc:
            ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=100, **kwargs)
        return code_of(exc)

    assert attempt() == "programme_not_open"
    ledger.change_status(actor=boss, programme=programme, status="open")
    ledger.change_status(actor=boss, programme=programme, status="paused", reason="核查")
    assert attempt() == "programme_not_open"
    ledger.change_status(actor=boss, programme=programme, status="open")
    before = timezone.make_aware(dt.datetime.combine(programme.opens_on - dt.timedelta(days=1), dt.time(12)))
    after = timezone.make_aware(dt.datetime.combine(programme.closes_on + dt.timedelta(days=1), dt.time(0, 1)))
    assert attempt(now=before) == "programme_not_open"
    assert attempt(now=after) == "programme_not_open"
    ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=100)
    # paying goes on after intake closes
    ledger.change_status(actor=boss, programme=programme, status="closed")
    ledger.pay(actor=finance, programme=programme, reference="A")
    statuses = AuditEvent.objects.filter(action="subsidies.programme_status_changed").values_list("changes", flat=True)
    assert [c["status"] for c in statuses] == [
        ["draft", "open"],
        ["open", "paused"],
        ["paused", "open"],
        ["open", "closed"],
    ]


# --- the data's own guards --------------------------------------------------------------------------------------


def test_entries_are_never_changed_or_deleted(programme_factory, finance) -> None:
    programme = programme_factory()
    entry = ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=100).entry
    entry.amount_fen = 1
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()


@postgres_only
def test_postgresql_refuses_updates_and_deletes_of_entries(programme_factory, finance) -> None:
    programme = programme_factory()
    ledger.reserve(actor=finance, programme=programme, reference="A", amount_fen=100)
    for statement in (
        lambda: Entry.objects.filter(reference="A").update(amount_fen=1),
        lambda: Entry.objects.filter(reference="A")._raw_delete(Entry.objects.db),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    assert Entry.objects.get(reference="A").amount_fen == 100


def test_the_database_refuses_a_negative_balance_and_an_empty_entry(programme_factory, finance) -> None:
    programme = programme_factory()
    account = Account.objects.filter(programme=programme, kind="reserved").first()
    assert account is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance_fen=-1)
    other = Account.objects.filter(programme=programme, kind="available").first()
    assert other is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(programme=programme, kind="pay", debit=account, credit=other, amount_fen=0)


# --- who sees what ----------------------------------------------------------------------------------------------


def test_visibility(programme_factory, boss, finance) -> None:
    draft = programme_factory(code="draft", status="draft")
    published = programme_factory(code="open")
    citizen = user_with_role(Role.CITIZEN)
    merchant = user_with_role(Role.MERCHANT)
    for user in (citizen, merchant):
        assert list(Programme.objects.visible_to(user)) == [published]
        assert not Account.objects.visible_to(user).exists()
        assert not Entry.objects.visible_to(user).exists()
    for role in (Role.TASK_FORCE, Role.FINANCE_OFFICER, Role.AUDITOR, Role.REVIEWER):
        user = user_with_role(role)
        assert set(Programme.objects.visible_to(user)) == {draft, published}
        assert Entry.objects.visible_to(user).count() == Entry.objects.count()
    assert set(Programme.objects.visible_to(user_with_role(Role.DEPARTMENT_OFFICER))) == {published}
    for model in (Programme, Account, Entry):
        assert not model.objects.visible_to(AnonymousUser()).exists()  # type: ignore[attr-defined]


def test_the_daily_quota_is_striped_and_a_release_gives_its_share_back(programme_factory, finance) -> None:
    """The quota's rows each hold a share; an amount larger than any share is taken from several; the day never
    goes past the quota; a released reservation frees its amount on the day it was reserved."""
    from huanxin.subsidies import quota
    from huanxin.subsidies.models import DailyQuotaUse

    programme = programme_factory(daily_quota_fen=1_000 * YUAN, stripes=4)
    now = timezone.localtime().replace(hour=10, minute=0)
    day = timezone.localdate(now)
    ledger.reserve(actor=finance, programme=programme, reference="Q1", amount_fen=700 * YUAN, now=now)  # > a share
    rows = DailyQuotaUse.objects.filter(programme=programme, day=day)
    assert sorted(r.share for r in rows) == [250 * YUAN] * 4 and sum(r.used for r in rows) == 700 * YUAN
    with pytest.raises(ValidationError) as exc:
        ledger.reserve(actor=finance, programme=programme, reference="Q2", amount_fen=301 * YUAN, now=now)
    assert code_of(exc) == "daily_quota_reached" and "今日已预留 700.00 元" in exc.value.messages[0]
    ledger.release(actor=finance, programme=programme, reference="Q1", reason="申请撤回")
    assert quota.used_on(programme, day) == 0
    ledger.reserve(actor=finance, programme=programme, reference="Q2", amount_fen=1_000 * YUAN, now=now)
    assert quota.used_on(programme, day) == 1_000 * YUAN
    assert all(r.used <= r.share for r in DailyQuotaUse.objects.filter(programme=programme))
