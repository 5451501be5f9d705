"""Writes of the budget ledger (see docs/budget-ledger.md). Each function is one transaction with its audit event;
refusals are `ValidationError`s with a stable code and a Chinese message, raised before anything is written.

Money moves only by `Entry` rows, and every balance change goes with one. Writers lock the account rows they move
money between in primary-key order (within a stripe: funding, available, reserved, paid, clawed back), and take
the audit log's lock last, so they never wait for each other in a circle; on PostgreSQL a deadlock or a
serialization failure is still retried a few times (`core.retry`) when the caller is not inside a transaction.

`reserve` is the hot path. It tries one stripe with enough money, chosen at random among those no other
transaction holds (`SELECT … FOR UPDATE SKIP LOCKED`); when every such stripe is held (more tills than stripes),
it waits for one of them at random, holding no other stripe; only when no stripe holds enough alone does it lock
every stripe of the programme (blocking, in key order), refuse if the programme as a whole lacks the amount, and
otherwise move the shortfall from the richest stripes into one (`rebalance` entries) before reserving there.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import random
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from huanxin.core import audit, bulkinsert, retry
from huanxin.core.models import Region, User
from huanxin.core.roles import Role, is_authenticated, is_task_force
from huanxin.subsidies import errors, quota
from huanxin.subsidies.models import KIND_ORDER, MAX_STRIPES, Account, Entry, Programme
from huanxin.subsidies.payees import default_payee

logger = logging.getLogger(__name__)

_PICK_ATTEMPTS = 3  # waits for one stripe with enough money before waiting for all of them


class _TooPoor(Exception):
    """The stripe waited for no longer holds enough: roll back the savepoint that locked it."""


SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
STATUS_CHANGES: dict[str, set[str]] = {
    Programme.Status.DRAFT: {Programme.Status.OPEN, Programme.Status.CLOSED},
    Programme.Status.OPEN: {Programme.Status.PAUSED, Programme.Status.CLOSED},
    Programme.Status.PAUSED: {Programme.Status.OPEN, Programme.Status.CLOSED},
    Programme.Status.CLOSED: set(),
}


def _refuse(message: str, code: str, field: str | None = None) -> ValidationError:
    return ValidationError(
        {field: ValidationError(message, code=code)} if field else ValidationError(message, code=code)
    )


def yuan(fen: int) -> str:
    """Fen as yuan for messages: 1234567 → "12,345.67"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


_retrying = retry.retrying  # a conflict retried, then `retry.Busy` (core/retry.py)


def _amount(value: Any, field: str = "amount_fen") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _refuse("金额必须是大于零的整数（单位：分）", "invalid_amount", field)
    return value


def _reference(value: Any) -> str:
    reference = str(value or "").strip()
    if not reference or len(reference) > 64:
        raise _refuse("业务编号不能为空，且不超过 64 个字符", "invalid_reference", "reference")
    return reference


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _accounts(programme: Programme, kind: str) -> Any:
    return Account.objects.filter(programme=programme, kind=kind)


def _account(programme: Programme, stripe: int, kind: str) -> Account:
    return Account.objects.get(programme=programme, stripe=stripe, kind=kind)


def _lock(*accounts: Account) -> list[Account]:
    """Lock the accounts' rows in key order (FOR NO KEY UPDATE: inserts of entries that refer to them still pass)."""
    return list(Account.objects.filter(pk__in=[a.pk for a in accounts]).order_by("pk").select_for_update(no_key=True))


def _move(*, credit: Account | int, debit: Account | int, amount_fen: int) -> None:
    """Keep the balances in step with an entry just written, in one statement (the caller holds both rows, or
    only the credited one and nobody else waits for it while holding the debited one)."""
    credit_id = credit if isinstance(credit, int) else credit.pk
    debit_id = debit if isinstance(debit, int) else debit.pk
    with connection.cursor() as cursor:
        cursor.execute(_MOVE, [credit_id, -amount_fen, amount_fen, credit_id, debit_id])


# The reservation's statements in SQL: they run for every application at every till, and the ORM's query
# compiler costs several times what PostgreSQL takes to run them (bench/intake.py).
_MOVE = """UPDATE subsidies_account SET balance_fen = balance_fen + CASE WHEN id = %s THEN %s ELSE %s END
    WHERE id IN (%s, %s)"""
_FREE_STRIPE = """SELECT a.id, a.stripe, a.balance_fen, r.id FROM subsidies_account a
    JOIN subsidies_account r ON r.programme_id = a.programme_id AND r.stripe = a.stripe AND r.kind = 'reserved'
    WHERE a.programme_id = %s AND a.kind = 'available' AND a.balance_fen >= %s ORDER BY random() LIMIT 1"""
_CURRENT = "SELECT status, opens_on, closes_on, daily_quota_fen, on_exhaustion FROM subsidies_programme WHERE id = %s"


def _current(programme: Programme) -> Programme:
    """A copy of the programme with what a reservation reads of it — status, dates, daily quota, what happens when
    the money runs out — as it stands now, read inside the caller's transaction (it may have been paused since the
    caller loaded it). In SQL: a reservation is made at every sale, and the ORM's compiler costs more than the
    statement."""
    current = copy.copy(programme)
    with connection.cursor() as cursor:
        cursor.execute(_CURRENT, [programme.pk])
        row = cursor.fetchone()
    if row is None:
        raise Programme.DoesNotExist(f"补贴项目 {programme.pk} 不存在")
    current.status, current.opens_on, current.closes_on, current.daily_quota_fen, current.on_exhaustion = row
    return current


def _free_stripe(programme: Programme, amount_fen: int) -> Account | None:
    """An available account with at least `amount_fen` that no other transaction holds, locked, with its stripe's
    reserved account id as `reserved_id`; None if every such stripe is held (or none has enough)."""
    sql = _FREE_STRIPE
    if connection.features.has_select_for_update:  # PostgreSQL; SQLite serialises writers anyway
        sql += " " + connection.ops.for_update_sql(skip_locked=True, of=("a",), no_key=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, [programme.pk, amount_fen])
        row = cursor.fetchone()
    if row is None:
        return None
    account = Account(pk=row[0], programme=programme, stripe=row[1], kind=Account.Kind.AVAILABLE, balance_fen=row[2])
    account.reserved_id = row[3]  # type: ignore[attr-defined]  # as the ORM path annotates it
    return account


def _entry(programme: Programme, kind: str, reference: str) -> Entry | None:
    return (
        Entry.objects.select_related("debit", "credit")
        .filter(programme=programme, kind=kind, reference=reference)
        .first()
    )


# --- who may ----------------------------------------------------------------------------------------------------

FUNDING_ROLES = frozenset({Role.TASK_FORCE, Role.FINANCE_OFFICER})


def may_fund(user: object) -> bool:
    """The task force and finance officers add money to a programme (and promote its queue)."""
    return is_authenticated(user) and (
        getattr(user, "role", None) in FUNDING_ROLES or bool(getattr(user, "is_superuser", False))
    )


def _caller_may(actor: User | None, allowed: bool, message: str) -> None:
    """Programmes and their money are changed by the roles named, checked here and not only in the views;
    `actor=None` is the system itself (the demo, a management command that has checked its operator)."""
    if actor is not None and not allowed:
        raise PermissionDenied(message)


# --- programmes -------------------------------------------------------------------------------------------------


def create_programme(
    *,
    actor: User | None,
    code: str,
    name: str,
    category: str,
    region: Region,
    opens_on: dt.date,
    closes_on: dt.date,
    budget_fen: int = 0,
    on_exhaustion: str = Programme.OnExhaustion.REFUSE,
    daily_quota_fen: int | None = None,
    stripes: int = 32,
    parameters: dict[str, Any] | None = None,
    status: str = Programme.Status.DRAFT,
    payee: str = "",
) -> Programme:
    """A programme with its accounts (every kind in every stripe); `budget_fen`, when given, is funded at once.
    `payee` (whom it pays, `Programme.Payee`) defaults by category: cars and e-bikes the applicant, appliances,
    digital and home the merchant (`payees.default_payee`)."""
    _caller_may(actor, is_task_force(actor), "补贴项目由工作专班设立")
    errors: dict[str, ValidationError] = {}

    def bad(field: str, message: str, code: str) -> None:
        errors[field] = ValidationError(message, code=code)

    if not SLUG.match(code or ""):
        bad("code", "代码只能由小写字母、数字和连字符组成（2–60 个字符）", "invalid_code")
    elif Programme.objects.filter(code=code).exists():
        bad("code", f"代码 {code} 已被使用", "programme_code_taken")
    if not (name or "").strip():
        bad("name", "请填写项目名称", "required")
    if category not in Programme.Category.values:
        bad("category", "类别不在可选范围内", "invalid_choice")
    if on_exhaustion not in Programme.OnExhaustion.values:
        bad("on_exhaustion", "额度用尽时的处理方式不在可选范围内", "invalid_choice")
    if status not in Programme.Status.values:
        bad("status", "状态不在可选范围内", "invalid_choice")
    payee = payee or default_payee(category)
    if payee not in Programme.Payee.values:
        bad("payee", "收款人不在可选范围内（申请人本人或垫付补贴的商户）", "invalid_choice")
    if closes_on < opens_on:
        bad("closes_on", "受理截止日期不能早于开始日期", "dates_out_of_order")
    if isinstance(budget_fen, bool) or not isinstance(budget_fen, int) or budget_fen < 0:
        bad("budget_fen", "额度必须是不小于零的整数（单位：分）", "invalid_amount")
    if daily_quota_fen is not None and (
        isinstance(daily_quota_fen, bool) or not isinstance(daily_quota_fen, int) or daily_quota_fen <= 0
    ):
        bad("daily_quota_fen", "每日额度上限必须是大于零的整数（单位：分），或不设", "invalid_amount")
    if isinstance(stripes, bool) or not isinstance(stripes, int) or not 1 <= stripes <= MAX_STRIPES:
        bad("stripes", f"子额度池数应在 1–{MAX_STRIPES} 之间", "invalid_stripes")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        programme = Programme.objects.create(
            code=code,
            name=name.strip(),
            category=category,
            region=region,
            opens_on=opens_on,
            closes_on=closes_on,
            status=status,
            on_exhaustion=on_exhaustion,
            daily_quota_fen=daily_quota_fen,
            stripes=stripes,
            parameters=parameters or {},
            payee=payee,
        )
        # created stripe by stripe in KIND_ORDER, so key order is the lock order the writers rely on
        Account.objects.bulk_create(
            [Account(programme=programme, stripe=s, kind=kind) for s in range(stripes) for kind in KIND_ORDER]
        )
        if budget_fen:
            _spread(actor=actor, programme=programme, amount_fen=budget_fen, note="初始额度")
            Programme.objects.filter(pk=programme.pk).update(budget_fen=budget_fen)
            programme.budget_fen = budget_fen
        audit.record(
            actor=actor,
            action="subsidies.programme_created",
            target=programme,
            changes={
                "code": code,
                "category": category,
                "region": region.code,
                "opens_on": opens_on,
                "closes_on": closes_on,
                "status": status,
                "budget_fen": budget_fen,
                "daily_quota_fen": daily_quota_fen,
                "on_exhaustion": on_exhaustion,
                "stripes": stripes,
                "payee": payee,
            },
        )
    return programme


def change_status(*, actor: User | None, programme: Programme, status: str, reason: str = "") -> Programme:
    """Open, pause, resume or close a programme. Closing is final."""
    _caller_may(actor, is_task_force(actor), "补贴项目的开放、暂停和结束由工作专班决定")
    with transaction.atomic():
        programme = Programme.objects.select_for_update(no_key=True).get(pk=programme.pk)
        if status == programme.status:
            return programme
        if status not in STATUS_CHANGES.get(programme.status, set()):
            raise _refuse(
                f"项目状态不能从“{programme.get_status_display()}”改为该状态", "invalid_status_change", "status"
            )
        old = programme.status
        programme.status = status
        programme.save(update_fields=["status"])
        audit.record(
            actor=actor,
            action="subsidies.programme_status_changed",
            target=programme,
            changes={"status": [old, status], "reason": reason},
        )
    return programme


# --- funding ----------------------------------------------------------------------------------------------------


def _spread(*, actor: User | None, programme: Programme, amount_fen: int, note: str) -> list[Entry]:
    """funding → available in every stripe: equal shares, the remainder one fen each to the first stripes."""
    share, remainder = divmod(amount_fen, programme.stripes)
    funding = {a.stripe: a for a in _accounts(programme, Account.Kind.FUNDING)}
    available = {a.stripe: a for a in _accounts(programme, Account.Kind.AVAILABLE)}
    entries = []
    for stripe in range(programme.stripes):
        amount = share + (1 if stripe < remainder else 0)
        if not amount:
            continue
        entries.append(
            Entry(
                programme=programme,
                kind=Entry.Kind.FUND,
                debit=available[stripe],
                credit=funding[stripe],
                amount_fen=amount,
                note=note[:200],
                actor=actor,
            )
        )
        _move(credit=funding[stripe], debit=available[stripe], amount_fen=amount)
    Entry.objects.bulk_create(entries)
    return entries


@_retrying
def fund(*, actor: User | None, programme: Programme, amount_fen: int, note: str) -> list[Entry]:
    """Put money into a programme (追加额度), spread over its stripes. Returns the entries, one per stripe."""
    _caller_may(actor, may_fund(actor), "追加额度由工作专班或财务人员办理")
    _amount(amount_fen)
    with transaction.atomic():
        programme = Programme.objects.select_for_update(no_key=True).get(pk=programme.pk)
        if programme.status == Programme.Status.CLOSED:
            raise _refuse("项目已结束，不能再拨入额度", "programme_closed")
        entries = _spread(actor=actor, programme=programme, amount_fen=amount_fen, note=note)
        old = programme.budget_fen
        programme.budget_fen = old + amount_fen
        programme.save(update_fields=["budget_fen"])
        audit.record(
            actor=actor,
            action="subsidies.funded",
            target=programme,
            changes={"amount_fen": amount_fen, "budget_fen": [old, programme.budget_fen], "note": note},
        )
    return entries


# --- reservations -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    reference: str
    amount_fen: int
    stripe: int
    entry: Entry
    created: bool  # False when an earlier call had already reserved for this reference
    status: str = "reserved"  # reserved | paid | clawed_back


def _existing_reservation(programme: Programme, entry: Entry, amount_fen: int) -> Reservation:
    if entry.amount_fen != amount_fen:
        raise _refuse(
            f"业务编号 {entry.reference} 已预留 {yuan(entry.amount_fen)} 元，与本次金额不一致",
            "reference_conflict",
            "reference",
        )
    kinds = set(
        Entry.objects.filter(programme=programme, reference=entry.reference)
        .exclude(kind=Entry.Kind.REBALANCE)
        .values_list("kind", flat=True)
    )
    if Entry.Kind.RELEASE in kinds:
        raise _refuse(f"业务编号 {entry.reference} 的预留已释放，不能再次预留", "reservation_released", "reference")
    status = "clawed_back" if Entry.Kind.CLAWBACK in kinds else "paid" if Entry.Kind.PAY in kinds else "reserved"
    return Reservation(entry.reference, entry.amount_fen, entry.debit.stripe, entry, created=False, status=status)


def _check_open(programme: Programme, now: dt.datetime) -> None:
    today = timezone.localdate(now)
    if programme.status != Programme.Status.OPEN:
        raise _refuse(f"该补贴项目当前{programme.get_status_display()}，不受理申请", "programme_not_open")
    if not programme.opens_on <= today <= programme.closes_on:
        raise _refuse(
            f"该补贴项目的受理期为 {programme.opens_on:%Y-%m-%d} 至 {programme.closes_on:%Y-%m-%d}",
            "programme_not_open",
        )


def _exhausted(programme: Programme, total_fen: int) -> ValidationError:
    if programme.on_exhaustion == Programme.OnExhaustion.QUEUE:
        tail = "申请将排队等待追加额度。"
    else:
        tail = "暂不受理新的申请。"
    return _refuse(f"本批次补贴额度已用完（剩余 {yuan(total_fen)} 元，不足本次申请），{tail}", errors.BUDGET_EXHAUSTED)


def _pick_stripe(
    *, actor: User | None, programme: Programme, amount_fen: int, reference: str, now: dt.datetime
) -> tuple[Account, list[dict[str, int]]]:
    """A locked available account holding at least `amount_fen` (annotated with its stripe's `reserved_id`, which
    saves a query), and the rebalancing moves made to get it."""
    if (account := _free_stripe(programme, amount_fen)) is not None:
        return account, []
    reserved = Account.objects.filter(
        programme=OuterRef("programme"), stripe=OuterRef("stripe"), kind=Account.Kind.RESERVED
    ).values("pk")[:1]
    available = _accounts(programme, Account.Kind.AVAILABLE).annotate(reserved_id=Subquery(reserved))
    # Every stripe with enough is held by another transaction (more tills than stripes): wait for one of them, at
    # random, holding nothing else; in a savepoint, so that if it turns out too poor once ours, rolling back lets
    # it go again. Waiting for one row spreads the waiters; waiting for all (below) would queue them all.
    for _ in range(_PICK_ATTEMPTS):
        ids = list(available.filter(balance_fen__gte=amount_fen).values_list("pk", flat=True))
        if not ids:
            break
        try:
            with transaction.atomic():
                account = available.select_for_update(no_key=True).get(pk=random.choice(ids))  # noqa: S311
                if account.balance_fen < amount_fen:
                    raise _TooPoor
                return account, []
        except _TooPoor:
            continue
    # No stripe has enough alone. If all of them together do not either, the money is gone: say so without
    # queueing behind every stripe (a balance read without a lock can only be a moment old, never an overdraft).
    unlocked_total = sum(available.values_list("balance_fen", flat=True))
    if unlocked_total < amount_fen:
        raise _exhausted(programme, unlocked_total)
    # Look at the whole programme, waiting for the stripes others hold.
    accounts = list(available.order_by("pk").select_for_update(no_key=True))
    total = sum(a.balance_fen for a in accounts)
    if total < amount_fen:
        raise _exhausted(programme, total)
    accounts.sort(key=lambda a: (-a.balance_fen, a.stripe))
    target, moves = accounts[0], []
    for donor in accounts[1:]:
        shortfall = amount_fen - target.balance_fen
        if shortfall <= 0:
            break
        take = min(donor.balance_fen, shortfall)
        Entry.objects.create(
            programme=programme,
            kind=Entry.Kind.REBALANCE,
            debit=target,
            credit=donor,
            amount_fen=take,
            reference=reference,
            note="子池余额不足，自其他子池调剂",
            actor=actor,
            at=now,
        )
        _move(credit=donor, debit=target, amount_fen=take)
        target.balance_fen += take
        moves.append({"from": donor.stripe, "to": target.stripe, "amount_fen": take})
    return target, moves


@_retrying
def _reserve(
    *, actor: User | None, programme: Programme, reference: str, amount_fen: int, now: dt.datetime, fresh: bool
) -> Reservation:
    with transaction.atomic():
        programme = _current(programme)
        first = None if fresh else _entry(programme, Entry.Kind.RESERVE, reference)
        if first is not None:
            return _existing_reservation(programme, first, amount_fen)
        _check_open(programme, now)
        available, moves = _pick_stripe(
            actor=actor, programme=programme, amount_fen=amount_fen, reference=reference, now=now
        )
        if programme.daily_quota_fen is not None:  # after the stripe, as in BulkReservation: one order of locks
            quota.take(programme, timezone.localdate(now), amount_fen)
        reserved_id: int = available.reserved_id  # type: ignore[attr-defined]  # annotated by _pick_stripe
        entry = Entry(
            programme=programme,
            kind=Entry.Kind.RESERVE,
            debit_id=reserved_id,
            credit=available,
            amount_fen=amount_fen,
            reference=reference,
            actor=actor,
            at=now,
        )
        bulkinsert.insert_one(entry)  # one statement; afterwards a saved row, as after save() (so, append-only)
        _move(credit=available, debit=reserved_id, amount_fen=amount_fen)
        changes: dict[str, Any] = {
            "programme": programme.code,
            "reference": reference,
            "amount_fen": amount_fen,
            "stripe": available.stripe,
        }
        if moves:
            changes["rebalanced"] = moves
        audit.record(actor=actor, action="subsidies.reserved", target=entry, changes=changes)
    return Reservation(reference, amount_fen, available.stripe, entry, created=True)


def reserve(
    *,
    actor: User | None,
    programme: Programme,
    reference: str,
    amount_fen: int,
    now: dt.datetime | None = None,
    fresh: bool = False,
) -> Reservation:
    """Set `amount_fen` aside for the application `reference`. A second call with the same reference returns the
    first reservation (`created=False`); with another amount it is refused (`reference_conflict`). `fresh`: the
    caller has just made the reference up, so there is no earlier reservation to look for (the unique index on
    entries still refuses a second one)."""
    reference = _reference(reference)
    _amount(amount_fen)
    at = _now(now)
    try:
        return _reserve(
            actor=actor, programme=programme, reference=reference, amount_fen=amount_fen, now=at, fresh=fresh
        )
    except IntegrityError:
        # A parallel call with the same reference committed first (the unique constraint refused ours, and our
        # whole transaction, rebalancing included, was rolled back): its reservation stands.
        if connection.in_atomic_block:
            raise
        first = _entry(programme, Entry.Kind.RESERVE, reference)
        if first is None:
            raise
        return _existing_reservation(programme, first, amount_fen)


_ENTRY_COLUMNS = ["programme_id", "kind", "debit_id", "credit_id", "amount_fen", "reference", "note", "actor_id", "at"]


class BulkReservation:
    """Reservations of a merchant's batch, made in memory while the caller's transaction holds every stripe of the
    programme, then written at once (`write`): the same rules as `reserve` — a reservation fits in one stripe,
    moving money between stripes when none holds enough alone; refused with `budget_exhausted` when the programme
    as a whole lacks the amount; the daily quota — row by row, in order, so a batch gets exactly what the same rows
    one by one would get. Must run inside the caller's transaction (`transaction.atomic`)."""

    def __init__(self, *, actor: User | None, programme: Programme, now: dt.datetime) -> None:
        if not connection.in_atomic_block:
            raise RuntimeError("BulkReservation must run inside the caller's transaction")
        self.actor, self.programme, self.now = actor, programme, now
        self.actor_id, self.programme_id = actor.pk if actor is not None else None, programme.pk
        self.quota_used: int | None = None
        self.quota_taken = 0  # taken from the day's quota by this batch's rows, held by the database in `write`
        if programme.daily_quota_fen is not None:
            self.quota_used = quota.used_on(programme, timezone.localdate(now))
        reserved = Account.objects.filter(
            programme=OuterRef("programme"), stripe=OuterRef("stripe"), kind=Account.Kind.RESERVED
        ).values("pk")[:1]
        self.accounts = list(
            _accounts(programme, Account.Kind.AVAILABLE)
            .annotate(reserved_id=Subquery(reserved))
            .order_by("pk")
            .select_for_update(no_key=True)
        )
        # by stripe number, in lists side by side: a batch takes thousands a second, and max() and index() over a
        # list of 32 ints are one call each
        by_stripe = sorted(self.accounts, key=lambda a: a.stripe)
        self.stripe_of = [int(a.stripe) for a in by_stripe]
        self.available_ids = [a.pk for a in by_stripe]
        self.reserved_ids: list[int] = [a.reserved_id for a in by_stripe]  # annotated above
        self.balances = [a.balance_fen for a in by_stripe]
        self.total = sum(self.balances)  # kept as the balances change
        self.entries: list[tuple[Any, ...]] = []  # rows of _ENTRY_COLUMNS
        self.stripes: dict[str, int] = {}

    def take(self, reference: str, amount_fen: int) -> int:
        """Reserve `amount_fen` for `reference`; returns the stripe. Refusals as `reserve`'s, nothing taken."""
        _amount(amount_fen)
        limit = self.programme.daily_quota_fen
        if self.quota_used is not None and limit is not None and self.quota_used + amount_fen > limit:
            raise quota.reached(self.programme, self.quota_used)
        if self.total < amount_fen:
            raise _exhausted(self.programme, self.total)
        balances = self.balances
        richest = max(balances)
        target = balances.index(richest)  # the richest stripe, the lowest-numbered of equals
        if richest < amount_fen:  # no stripe holds enough alone: move money into the richest
            for donor in sorted(range(len(balances)), key=lambda i: -balances[i]):  # stable: by stripe among equals
                shortfall = amount_fen - balances[target]
                if shortfall <= 0:
                    break
                if donor == target:
                    continue
                take = min(balances[donor], shortfall)
                self.entries.append(
                    self._entry(
                        Entry.Kind.REBALANCE, self.available_ids[target], self.available_ids[donor], take, reference
                    )
                )
                balances[donor] -= take
                balances[target] += take
        self.entries.append(
            self._entry(
                Entry.Kind.RESERVE, self.reserved_ids[target], self.available_ids[target], amount_fen, reference
            )
        )
        balances[target] -= amount_fen
        self.total -= amount_fen
        if self.quota_used is not None:
            self.quota_used += amount_fen
            self.quota_taken += amount_fen
        stripe = self.stripe_of[target]
        self.stripes[reference] = stripe
        return stripe

    def _entry(self, kind: str, debit_id: int, credit_id: int, amount_fen: int, reference: str) -> tuple[Any, ...]:
        note = "子池余额不足，自其他子池调剂" if kind == Entry.Kind.REBALANCE else ""
        return (self.programme_id, kind, debit_id, credit_id, amount_fen, reference, note, self.actor_id, self.now)

    def write(self) -> None:
        """The entries in one insert, each touched balance in one update, one audit event for the lot."""
        if not self.entries:
            return
        if self.quota_taken:
            try:
                quota.take(self.programme, timezone.localdate(self.now), self.quota_taken)
            except ValidationError:  # tills took the day's room since the batch read it
                raise quota.QuotaTaken("daily quota used meanwhile") from None
            self.quota_taken = 0
        bulkinsert.insert_rows(Entry, _ENTRY_COLUMNS, self.entries)
        delta: dict[int, int] = {}
        for _, _, debit_id, credit_id, amount_fen, *_ in self.entries:
            delta[credit_id] = delta.get(credit_id, 0) - amount_fen
            delta[debit_id] = delta.get(debit_id, 0) + amount_fen
        changes = [(account_id, change) for account_id, change in delta.items() if change]
        cases = " ".join(["WHEN %s THEN %s"] * len(changes))
        ids = ", ".join(["%s"] * len(changes))
        sql = f"UPDATE subsidies_account SET balance_fen = balance_fen + CASE id {cases} ELSE 0 END WHERE id IN ({ids})"  # noqa: S608
        with connection.cursor() as cursor:  # one statement for every touched account, in SQL (no query compiler)
            cursor.execute(
                sql,
                [v for pair in changes for v in pair] + [account_id for account_id, _ in changes],
            )
        reserves = [(e[5], e[4]) for e in self.entries if e[1] == Entry.Kind.RESERVE]  # (reference, amount)
        audit.record(
            actor=self.actor,
            action="subsidies.reserved_batch",
            object_type="subsidies.programme",
            object_id=str(self.programme.pk),
            changes={
                "programme": self.programme.code,
                "reservations": len(reserves),
                "amount_fen": sum(amount for _, amount in reserves),
                "references": [reserves[0][0], reserves[-1][0]] if reserves else [],
                "rebalanced": len(self.entries) - len(reserves),
            },
        )
        self.entries = []


def _reservation_of(programme: Programme, reference: str) -> Entry:
    entry = _entry(programme, Entry.Kind.RESERVE, _reference(reference))
    if entry is None:
        raise _refuse(f"业务编号 {reference} 没有预留额度", "not_reserved", "reference")
    return entry


@_retrying
def release(*, actor: User | None, programme: Programme, reference: str, reason: str = "") -> Entry:
    """Give a reservation back to the available money (the application was withdrawn or refused). Once: a second
    call returns the first release; a paid reservation cannot be released."""
    with transaction.atomic():
        reservation = _reservation_of(programme, reference)
        reserved = reservation.debit
        available = _account(programme, reserved.stripe, Account.Kind.AVAILABLE)
        _lock(available, reserved)
        done = _entry(programme, Entry.Kind.RELEASE, reservation.reference)
        if done is not None:
            return done
        if _entry(programme, Entry.Kind.PAY, reservation.reference) is not None:
            raise _refuse(f"业务编号 {reference} 已兑付，不能释放预留", "already_paid", "reference")
        entry = Entry.objects.create(
            programme=programme,
            kind=Entry.Kind.RELEASE,
            debit=available,
            credit=reserved,
            amount_fen=reservation.amount_fen,
            reference=reservation.reference,
            note=reason[:200],
            actor=actor,
        )
        _move(credit=reserved, debit=available, amount_fen=reservation.amount_fen)
        if _current(programme).daily_quota_fen is not None:  # the day it was reserved on gets it back
            quota.give_back(programme, timezone.localdate(reservation.at), reservation.amount_fen)
        audit.record(
            actor=actor,
            action="subsidies.released",
            target=entry,
            changes={
                "programme": programme.code,
                "reference": reservation.reference,
                "amount_fen": reservation.amount_fen,
                "reason": reason,
            },
        )
    return entry


@_retrying
def pay(*, actor: User | None, programme: Programme, reference: str) -> Entry:
    """Turn a reservation into a payment (reserved → paid). Once: a second call returns the first payment."""
    with transaction.atomic():
        reservation = _reservation_of(programme, reference)
        reserved = reservation.debit
        paid = _account(programme, reserved.stripe, Account.Kind.PAID)
        _lock(reserved, paid)  # parallel calls for one reference queue here, then see the first one's entry
        done = _entry(programme, Entry.Kind.PAY, reservation.reference)
        if done is not None:
            return done
        if _entry(programme, Entry.Kind.RELEASE, reservation.reference) is not None:
            raise _refuse(f"业务编号 {reference} 的预留已释放，不能兑付", "reservation_released", "reference")
        entry = Entry.objects.create(
            programme=programme,
            kind=Entry.Kind.PAY,
            debit=paid,
            credit=reserved,
            amount_fen=reservation.amount_fen,
            reference=reservation.reference,
            actor=actor,
        )
        _move(credit=reserved, debit=paid, amount_fen=reservation.amount_fen)
        audit.record(
            actor=actor,
            action="subsidies.paid",
            target=entry,
            changes={
                "programme": programme.code,
                "reference": reservation.reference,
                "amount_fen": reservation.amount_fen,
            },
        )
    return entry


@_retrying
def clawback(*, actor: User | None, programme: Programme, reference: str, reason: str) -> Entry:
    """Record money recovered after payment (paid → clawed back), with its reason. Once per reference."""
    if not (reason or "").strip():
        raise _refuse("请填写追回原因", "required", "reason")
    with transaction.atomic():
        payment = _entry(programme, Entry.Kind.PAY, _reference(reference))
        if payment is None:
            raise _refuse(f"业务编号 {reference} 尚未兑付，不能追回", "not_paid", "reference")
        paid = payment.debit
        clawed_back = _account(programme, paid.stripe, Account.Kind.CLAWED_BACK)
        _lock(paid, clawed_back)
        done = _entry(programme, Entry.Kind.CLAWBACK, payment.reference)
        if done is not None:
            return done
        entry = Entry.objects.create(
            programme=programme,
            kind=Entry.Kind.CLAWBACK,
            debit=clawed_back,
            credit=paid,
            amount_fen=payment.amount_fen,
            reference=payment.reference,
            note=reason.strip()[:200],
            actor=actor,
        )
        _move(credit=paid, debit=clawed_back, amount_fen=payment.amount_fen)
        audit.record(
            actor=actor,
            action="subsidies.clawed_back",
            target=entry,
            changes={
                "programme": programme.code,
                "reference": payment.reference,
                "amount_fen": payment.amount_fen,
                "reason": reason.strip(),
            },
        )
    return entry
