"""`huanxin ledger verify` reconciles the ledger with what its entries stand for: an entry changed together with both
of its balances adds up, and is still caught. Runs on SQLite and on PostgreSQL (where the entries' append-only
trigger is switched off for the tampering, as a superuser could)."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.subsidies import refunds
from huanxin.subsidies.models import Account, Application, Entry, Programme
from huanxin.subsidies.payments import clawback, create_batch, export_bank_file, import_bank_result
from huanxin.subsidies.reconcile import reconcile
from huanxin.subsidies.review import decide
from huanxin.subsidies.selectors import check_ledger
from tests.core.test_audit import tampering
from tests.factories import UserFactory, user_with_role
from tests.subsidies.test_payments import approved, result_file
from tests.subsidies.test_refunds import merchant, sell  # noqa: F401  (merchant: a fixture)
from tests.subsidies.test_review import appliance_programme, apply, item

pytestmark = pytest.mark.django_db


@dataclass
class Ledger:
    programme: Programme
    paid: Application
    clawed_back: Application
    holding: Application
    rejected: Application
    refunded: Application


@pytest.fixture
def written(boss: User, finance: User, merchant: User) -> Ledger:  # noqa: F811
    """A programme whose ledger the services wrote: paid, paid then clawed back, approved and waiting, rejected,
    returned before payment."""
    programme = appliance_programme(boss)
    paid, clawed, holding = approved(programme, 3)
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    rows = [
        [paid.number, "成功", "B1", ""],
        [clawed.number, "成功", "B2", ""],
        [holding.number, "失败", "", "户名不符"],
    ]
    import_bank_result(actor=finance, batch=batch, data=result_file(rows))
    clawback(actor=finance, application=clawed, reason="经核查系虚假交易")
    citizen = UserFactory(role=Role.CITIZEN, verified_name="王芳")
    rejected = decide(
        actor=user_with_role(Role.REVIEWER),
        application=apply(citizen, programme, [item()], applicant_name="王芳"),
        decision="reject",
        reason="发票与商品不符",
    )
    sold = sell(merchant, programme, invoice="RF-9")
    refunds.report_refund(actor=merchant, application=sold, reason="顾客七日无理由退货")
    for application in (paid, clawed, holding, rejected, sold):
        application.refresh_from_db()
    return Ledger(programme, paid, clawed, holding, rejected, sold)


def _verify() -> str:
    """The command's complaints; fails the test if it passes."""
    err = StringIO()
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("ledger", "verify", stdout=StringIO(), stderr=err)
    return err.getvalue()


def _account(programme: Programme, stripe: int, kind: str) -> Account:
    return Account.objects.get(programme=programme, stripe=stripe, kind=kind)


def _shift(account: Account, fen: int) -> None:
    Account.objects.filter(pk=account.pk).update(balance_fen=account.balance_fen + fen)


def _entry(programme: Programme, kind: str, reference: str) -> Entry:
    return Entry.objects.select_related("debit", "credit").get(programme=programme, kind=kind, reference=reference)


def test_a_ledger_written_by_the_services_reconciles(written: Ledger) -> None:
    statuses = {a.status for a in vars(written).values() if isinstance(a, Application)}
    assert statuses == {"paid", "clawed_back", "approved", "rejected", "refunded"}
    assert reconcile(written.programme) == []
    out = StringIO()
    call_command("ledger", "verify", stdout=out, stderr=StringIO())
    assert "分录与申请和发放记录相符" in out.getvalue()


def test_a_reservation_changed_with_both_balances_is_caught(written: Ledger) -> None:
    """100 yuan moved out of a waiting application's reservation back to the available money: the entry and both
    balances agree, so the recomputation passes; the application's amount does not."""
    programme, victim = written.programme, written.holding
    entry = _entry(programme, "reserve", victim.number)
    with tampering():
        Entry.objects.filter(pk=entry.pk).update(amount_fen=entry.amount_fen - 100_00)
        _shift(entry.debit, -100_00)  # reserved
        _shift(entry.credit, +100_00)  # available
    assert check_ledger(programme).problems == []  # a consistent edit: the entries still add up
    problems = _verify()
    assert f"申请 {victim.number} 的预留分录为" in problems and "申请金额为" in problems
    assert "已预留合计" in problems and "可用额度合计" in problems


def test_a_payment_changed_with_both_balances_is_caught(written: Ledger) -> None:
    """50 yuan less reserved and paid for a paid application, every balance moved to match."""
    programme, victim = written.programme, written.paid
    reserve, pay = _entry(programme, "reserve", victim.number), _entry(programme, "pay", victim.number)
    with tampering():
        Entry.objects.filter(pk__in=[reserve.pk, pay.pk]).update(amount_fen=reserve.amount_fen - 50_00)
        _shift(reserve.credit, +50_00)  # available
        _shift(pay.debit, -50_00)  # paid; the reserved account is unchanged (50 less in, 50 less out)
    assert check_ledger(programme).problems == []
    problems = _verify()
    assert f"申请 {victim.number} 的兑付分录" in problems and "与到账金额" in problems
    assert f"申请 {victim.number} 的预留分录为" in problems
    assert "已兑付合计" in problems and "可用额度合计" in problems


def test_a_forged_payment_with_its_balances_is_caught(written: Ledger) -> None:
    """A pay entry for the approved, unpaid application, with the balances moved to match."""
    programme, victim = written.programme, written.holding
    reserve = _entry(programme, "reserve", victim.number)
    paid = _account(programme, reserve.debit.stripe, "paid")
    with tampering():
        Entry.objects.create(
            programme=programme, kind="pay", debit=paid, credit=reserve.debit, amount_fen=reserve.amount_fen,
            reference=victim.number,
        )  # fmt: skip
        _shift(reserve.debit, -reserve.amount_fen)
        _shift(paid, +reserve.amount_fen)
    assert check_ledger(programme).problems == []
    problems = _verify()
    assert f"申请 {victim.number}（审核通过）的分录为 预留、兑付，应为 预留" in problems
    assert f"申请 {victim.number} 有兑付分录却没有已到账的发放记录" in problems
    assert "已预留合计" in problems and "已兑付合计" in problems


def test_an_erased_clawback_with_its_balances_is_caught(written: Ledger) -> None:
    programme, victim = written.programme, written.clawed_back
    entry = _entry(programme, "clawback", victim.number)
    with tampering():
        Entry.objects.filter(pk=entry.pk).delete()
        _shift(entry.debit, -entry.amount_fen)  # clawed back
        _shift(entry.credit, +entry.amount_fen)  # paid
    assert check_ledger(programme).problems == []
    problems = _verify()
    assert f"申请 {victim.number}（已追回）的分录为 预留、兑付，应为 预留、兑付、追回" in problems
    assert "已追回合计" in problems


def test_inflated_funding_with_its_balances_and_budget_is_caught(written: Ledger) -> None:
    """Funding has no application behind it; the audit log's funding events are its record."""
    programme = written.programme
    fund = Entry.objects.select_related("debit", "credit").filter(programme=programme, kind="fund").first()
    assert fund is not None
    with tampering():
        Entry.objects.filter(pk=fund.pk).update(amount_fen=fund.amount_fen + 1_000_00)
        _shift(fund.credit, -1_000_00)  # funding
        _shift(fund.debit, +1_000_00)  # available
        Programme.objects.filter(pk=programme.pk).update(budget_fen=programme.budget_fen + 1_000_00)
    assert check_ledger(Programme.objects.get(pk=programme.pk)).problems == []
    problems = _verify()
    assert "按审计日志记载的拨入额度应为" in problems and "可用额度合计" in problems


def test_an_entry_no_application_stands_for_is_reported(written: Ledger) -> None:
    programme = written.programme
    reserve = _entry(programme, "reserve", written.holding.number)
    with tampering():
        Entry.objects.filter(pk=reserve.pk).update(reference="APP-FORGED")
    problems = _verify()
    assert "业务编号 APP-FORGED 的分录（预留）没有对应的补贴申请" in problems
    assert f"申请 {written.holding.number}（审核通过）的分录为 无，应为 预留" in problems
