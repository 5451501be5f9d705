"""The budget ledger reconciled with what its entries stand for (`huanxin ledger verify`).

`selectors.check_ledger` recomputes balances from entries: an entry changed together with both of its balances
still adds up there. So each entry is also checked against the record it stands for, which a consistent edit of
the ledger does not touch: a reservation against its application's amount and status, a payment against the
bank's confirmed payment, a clawback against the application clawed back or the refund; and every total against
the same sums taken from those records — reserved = the applications still holding money, paid = confirmed
payments less what was clawed back, funded = what the audit log (itself hash-chained and anchored) says was put
in. Read inside the caller's snapshot: `check_programme` opens it, for the command and the daily job alike.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction

from huanxin.core.models import AuditEvent
from huanxin.subsidies.ledger import yuan
from huanxin.subsidies.models import Account, Application, Entry, Payment, Programme, Refund
from huanxin.subsidies.selectors import LedgerCheck, balances, check_ledger

Kind = Entry.Kind
Status = Application.Status

# What each status leaves in the ledger, as the set of entry kinds its number has (one or the other shape).
HOLDING = frozenset({Kind.RESERVE})
_NONE: frozenset[str] = frozenset()
_RELEASED = frozenset({Kind.RESERVE, Kind.RELEASE})
_PAID = frozenset({Kind.RESERVE, Kind.PAY})
_CLAWED = frozenset({Kind.RESERVE, Kind.PAY, Kind.CLAWBACK})
EXPECTED: dict[str, tuple[frozenset[str], ...]] = {
    Status.RESERVED: (HOLDING,),
    Status.IN_REVIEW: (HOLDING,),
    Status.APPROVED: (HOLDING,),
    Status.QUEUED: (_NONE,),
    Status.REJECTED: (_RELEASED, _NONE),  # rejected from the queue: nothing was reserved
    Status.PAID: (_PAID,),
    Status.CLAWED_BACK: (_CLAWED,),
}
HOLDS_MONEY = (Status.RESERVED, Status.IN_REVIEW, Status.APPROVED)
_KINDS = (Kind.RESERVE, Kind.RELEASE, Kind.PAY, Kind.CLAWBACK)


def _kinds_text(kinds: frozenset[str] | set[str]) -> str:
    return "、".join(Kind(k).label for k in _KINDS if k in kinds) or "无"


def funded_by_audit(programme: Programme) -> int:
    """What the audit log says was put into the programme: its opening budget and every later funding."""
    total = 0
    events = AuditEvent.objects.filter(
        object_type="subsidies.programme",
        object_id=str(programme.pk),
        action__in=["subsidies.programme_created", "subsidies.funded"],
    ).values_list("action", "changes")
    for action, changes in events:
        key = "budget_fen" if action == "subsidies.programme_created" else "amount_fen"
        value = (changes or {}).get(key) or 0
        total += value if isinstance(value, int) else 0
    return total


def check_programme(programme: Programme) -> LedgerCheck:
    """One programme in one snapshot, so writes going on meanwhile do not show up as differences: the entries
    against the balances (`check_ledger`), then against the records they stand for (`reconcile`). Used by
    `huanxin ledger verify` and by the daily `ledger_verify` job."""
    nested = connection.in_atomic_block  # inside a caller's transaction (a test), its snapshot rules
    with transaction.atomic():
        if connection.vendor == "postgresql" and not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        programme.refresh_from_db()
        result = check_ledger(programme)
        result.problems.extend(reconcile(programme))
        return result


def reconcile(programme: Programme) -> list[str]:
    """Every discrepancy between `programme`'s entries and balances and the records they stand for, in Chinese."""
    problems: list[str] = []
    entries: dict[str, dict[str, int]] = defaultdict(dict)  # number → {kind: amount}
    rows = Entry.objects.filter(programme=programme, kind__in=_KINDS).values_list("reference", "kind", "amount_fen")
    for reference, kind, amount in rows.iterator(chunk_size=5000):
        entries[reference][kind] = entries[reference].get(kind, 0) + amount  # twice is check_ledger's to report
    paid: dict[str, list[int]] = defaultdict(list)
    for number, amount in Payment.objects.filter(
        application__programme=programme, status=Payment.Status.PAID
    ).values_list("application__number", "amount_fen"):
        paid[number].append(amount)
    refunds = {
        number: (clawed_back, amount)
        for number, clawed_back, amount in Refund.objects.filter(application__programme=programme).values_list(
            "application__number", "clawed_back", "amount_fen"
        )
    }
    holding = paid_total = clawed_total = 0
    seen: set[str] = set()
    applications = Application.objects.filter(programme=programme).values_list("number", "status", "amount_fen")
    for number, status, amount in applications.iterator(chunk_size=5000):
        seen.add(number)
        moves = entries.get(number, {})
        refund = refunds.get(number)
        if status == Status.REFUNDED:
            if refund is None:
                problems.append(f"申请 {number} 已退货，却没有退货记录")
                shapes: tuple[frozenset[str], ...] = (_RELEASED, _NONE, _CLAWED)
            else:
                shapes = (_CLAWED,) if refund[0] else (_RELEASED, _NONE)
                if refund[1] != amount:
                    problems.append(f"申请 {number} 的退货记录涉及 {yuan(refund[1])} 元，申请金额为 {yuan(amount)} 元")
        else:
            shapes = EXPECTED.get(status, ())
            if refund is not None:
                problems.append(f"申请 {number} 有退货记录，状态却为“{Status(status).label}”")
        if set(moves) not in shapes:
            expected = " 或 ".join(_kinds_text(shape) for shape in shapes) or "（未知状态）"
            problems.append(
                f"申请 {number}（{Status(status).label}）的分录为 {_kinds_text(set(moves))}，应为 {expected}"
            )
        for kind, moved in moves.items():
            if moved != amount:
                problems.append(
                    f"申请 {number} 的{Kind(kind).label}分录为 {yuan(moved)} 元，申请金额为 {yuan(amount)} 元"
                )
        confirmed = paid.get(number, [])
        if len(confirmed) > 1:
            problems.append(f"申请 {number} 有 {len(confirmed)} 笔已到账的发放记录")
        if (Kind.PAY in moves) != bool(confirmed):
            problems.append(
                f"申请 {number} 有兑付分录却没有已到账的发放记录"
                if Kind.PAY in moves
                else f"申请 {number} 有已到账的发放记录却没有兑付分录"
            )
        elif confirmed and confirmed[0] != moves[Kind.PAY]:
            problems.append(
                f"申请 {number} 的兑付分录 {yuan(moves[Kind.PAY])} 元与到账金额 {yuan(confirmed[0])} 元不符"
            )
        if status in HOLDS_MONEY:
            holding += amount
        paid_total += sum(confirmed)
        if status == Status.CLAWED_BACK or (status == Status.REFUNDED and refund is not None and refund[0]):
            clawed_total += amount
    for reference in sorted(set(entries) - seen):
        problems.append(f"业务编号 {reference} 的分录（{_kinds_text(set(entries[reference]))}）没有对应的补贴申请")
    problems += _totals(programme, holding=holding, paid=paid_total, clawed=clawed_total)
    return problems


def _totals(programme: Programme, *, holding: int, paid: int, clawed: int) -> list[str]:
    """The balances, summed over stripes, against the same sums from the records."""
    current = balances(programme)
    funded = funded_by_audit(programme)
    expected = {
        Account.Kind.FUNDING: (current.funded_fen, funded, "审计日志记载的拨入额度"),
        Account.Kind.RESERVED: (current.reserved_fen, holding, "已受理、审核中和待发放申请的金额合计"),
        Account.Kind.PAID: (current.paid_fen, paid - clawed, "已到账发放减去追回的合计"),
        Account.Kind.CLAWED_BACK: (current.clawed_back_fen, clawed, "已追回和已发放后退货的申请金额合计"),
        Account.Kind.AVAILABLE: (current.available_fen, funded - holding - paid, "拨入减去预留和已到账发放"),
    }
    return [
        f"{Account.Kind(kind).label}合计 {yuan(actual)} 元，按{basis}应为 {yuan(should)} 元"
        for kind, (actual, should, basis) in expected.items()
        if actual != should
    ]
