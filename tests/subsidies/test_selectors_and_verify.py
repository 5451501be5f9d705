"""Balances, burn rate and forecast; and `huanxin ledger verify` on good and tampered ledgers."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from huanxin.subsidies import ledger
from huanxin.subsidies.models import Account, Entry
from huanxin.subsidies.selectors import balances, burn_rate, check_ledger, forecast, visible_programme
from tests.subsidies.conftest import YUAN

pytestmark = pytest.mark.django_db


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_balances_sum_over_stripes(programme_factory, finance) -> None:
    programme = programme_factory(stripes=8, budget_fen=10_000 * YUAN)
    for n in range(5):
        ledger.reserve(actor=finance, programme=programme, reference=f"APP-{n}", amount_fen=(n + 1) * 100 * YUAN)
    ledger.pay(actor=finance, programme=programme, reference="APP-4")
    ledger.pay(actor=finance, programme=programme, reference="APP-3")
    ledger.release(actor=finance, programme=programme, reference="APP-0")
    ledger.clawback(actor=finance, programme=programme, reference="APP-3", reason="重复申领")
    b = balances(programme)
    assert b.funded_fen == 10_000 * YUAN
    assert b.reserved_fen == (200 + 300) * YUAN
    assert b.paid_fen == 500 * YUAN
    assert b.clawed_back_fen == 400 * YUAN
    assert b.available_fen == (10_000 - 1_400) * YUAN
    assert b.balanced and b.committed_fen == 1_400 * YUAN


def test_burn_rate_and_the_day_the_money_runs_out(programme_factory, finance) -> None:
    today = timezone.localdate()
    programme = programme_factory(budget_fen=10_000 * YUAN, opens_on=today - dt.timedelta(days=60))
    assert burn_rate(programme, days=10, today=today) == 0
    assert forecast(programme, days=10, today=today).runs_out_on is None
    ledger.reserve(
        actor=finance, programme=programme, reference="OLD", amount_fen=5_000 * YUAN, now=at(today - dt.timedelta(40))
    )
    for n, days_ago in enumerate([9, 5, 0]):
        ledger.reserve(
            actor=finance,
            programme=programme,
            reference=f"A{n}",
            amount_fen=400 * YUAN,
            now=at(today - dt.timedelta(days=days_ago)),
        )
    ledger.pay(actor=finance, programme=programme, reference="A0")  # paid money stays spent
    ledger.reserve(actor=finance, programme=programme, reference="GONE", amount_fen=900 * YUAN, now=at(today, 8))
    ledger.release(actor=finance, programme=programme, reference="GONE")  # released money does not count
    # 1,200 yuan over the last 10 days (the reservation 40 days ago is outside the window)
    assert burn_rate(programme, days=10, today=today) == 120 * YUAN
    result = forecast(programme, days=10, today=today)
    assert result.balances.available_fen == 3_800 * YUAN
    assert result.burn_fen_per_day == 120 * YUAN
    assert result.runs_out_on == today + dt.timedelta(days=32)  # 3,800 / 120 = 31.7 → the 32nd day
    with pytest.raises(ValueError):
        burn_rate(programme, days=0)


def test_visible_programme(programme_factory, finance) -> None:
    from django.contrib.auth.models import AnonymousUser

    from huanxin.subsidies.models import Programme

    programme = programme_factory(status="draft")
    assert visible_programme(finance, programme.code) == programme
    with pytest.raises(Programme.DoesNotExist):
        visible_programme(AnonymousUser(), programme.code)


def busy_programme(programme_factory, finance):
    programme = programme_factory(stripes=4, budget_fen=2_000 * YUAN)
    for n in range(6):
        ledger.reserve(actor=finance, programme=programme, reference=f"APP-{n}", amount_fen=(n + 1) * 90 * YUAN)
    ledger.pay(actor=finance, programme=programme, reference="APP-1")
    ledger.pay(actor=finance, programme=programme, reference="APP-2")
    ledger.release(actor=finance, programme=programme, reference="APP-3")
    ledger.clawback(actor=finance, programme=programme, reference="APP-2", reason="虚报价格")
    return programme


def test_verify_passes_on_a_good_ledger(programme_factory, finance) -> None:
    """The ledger's own invariants hold; the command also wants an application behind every reference, which
    these bare references lack (tests/subsidies/test_ledger_verify.py reconciles a ledger written by real
    applications)."""
    busy = busy_programme(programme_factory, finance)
    assert check_ledger(busy).problems == []
    programme_factory(code="empty", budget_fen=0)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="校验未通过：1 个项目有问题（共校验 2 个）"):
        call_command("ledger", "verify", stdout=out, stderr=err)
    assert "appliance-2025（2025年家电以旧换新补贴）" in out.getvalue() and "拨入 2,000.00 元" in out.getvalue()
    assert "业务编号 APP-0 的分录（预留）没有对应的补贴申请" in err.getvalue()
    out = StringIO()
    call_command("ledger", "verify", "--programme", "empty", stdout=out, stderr=StringIO())
    assert "补贴额度台账校验通过：1 个项目" in out.getvalue()


def test_verify_fails_when_a_balance_was_tampered_with(programme_factory, finance) -> None:
    programme = busy_programme(programme_factory, finance)
    account = Account.objects.filter(programme=programme, kind="available").order_by("stripe").first()
    assert account is not None
    Account.objects.filter(pk=account.pk).update(balance_fen=account.balance_fen + 100 * YUAN)
    err = StringIO()
    with pytest.raises(CommandError, match="校验未通过：1 个项目"):
        call_command("ledger", "verify", "--programme", programme.code, stdout=StringIO(), stderr=err)
    problems = err.getvalue()
    assert "子池0·可用额度 余额" in problems and "按分录重算应为" in problems
    assert "拨入 2,000.00 元 ≠ 可用" in problems


def test_verify_finds_entries_written_around_the_services(programme_factory, finance) -> None:
    programme = busy_programme(programme_factory, finance)
    stripe0 = {a.kind: a for a in Account.objects.filter(programme=programme, stripe=0)}
    stripe1 = {a.kind: a for a in Account.objects.filter(programme=programme, stripe=1)}
    # a payment of a reference never reserved, and one moving money across stripes between the wrong accounts
    Entry.objects.create(
        programme=programme, kind="pay", debit=stripe0["paid"], credit=stripe0["reserved"], amount_fen=1, reference="X"
    )
    Entry.objects.create(
        programme=programme, kind="reserve", debit=stripe1["paid"], credit=stripe0["available"], amount_fen=1
    )
    problems = check_ledger(programme).problems
    assert "业务编号 X 未预留却已兑付" in problems
    assert any("的科目不符" in p for p in problems)
    assert any("按分录重算应为" in p for p in problems)
    with pytest.raises(CommandError):
        call_command("ledger", "verify", stdout=StringIO(), stderr=StringIO())


def test_verify_names_an_unknown_programme(db) -> None:
    with pytest.raises(CommandError, match="没有代码为 nope 的补贴项目"):
        call_command("ledger", "verify", "--programme", "nope", stdout=StringIO())
