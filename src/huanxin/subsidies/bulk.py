"""A merchant's batch at speed: every row goes through the very checks of `submit_application`
(`applications.prepare`), in file order, with the same outcome the rows would get one by one; only the reading and
the writing are done a chunk of rows at a time.

- Reading: `BatchLookups` answers the checks' questions (an applicant's earlier items, identifiers already
  claimed, a model's recent prices) for a whole chunk from a few queries, and remembers what the batch itself has
  accepted so far, so a duplicate inside the file is refused like one across files.
- Identifiers, then money, in this order as in `submit_application`: the chunk's claims go in first (the
  database refuses any already held), then `ledger.BulkReservation` holds every stripe of the programme and
  reserves row by row in memory — a row the money no longer covers is refused (its claims let go) or queued, as
  the programme says. One difference from one by one: a row refused for money still counts, for the rows after it
  in the same file, as having used its invoice and its place in the per-person limit.
- Writing: one insert per table per chunk; the application numbers come from ids drawn from the table's sequence
  beforehand. One audit event per application, one for the chunk's reservations.

A chunk is one transaction: it lands whole or not at all. If the database refuses it (another writer claimed one
of its identifiers a moment ago), the chunk is done again row by row through `submit_application`, which gives each
row its own answer.

On PostgreSQL the writing is a writer thread's, on a connection of its own (`_ThreadWriter`), while this thread
reads and checks the next chunks; the chunks it has not settled yet are known to the checks from memory, and those
queued behind a refused chunk are checked again (`submit_rows`).
"""

from __future__ import annotations

import datetime as dt
import json
from bisect import bisect_left, insort
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import islice
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from huanxin.core import audit, bulkinsert, pii, retry
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.subsidies import errors, ledger, limits, payees, rules, sql
from huanxin.subsidies.applications import (
    APPLICATION_FIELDS,
    ITEM_COLUMNS,
    MAX_KEY,
    PRICE_WINDOW,
    Check,
    ItemIn,
    Lookups,
    Prepared,
    application_number,
    application_values,
    check_programme_open,
    fingerprint,
    prepare,
    status_note,
    submit_application,
    submitted_changes,
)
from huanxin.subsidies.models import Application, ApplicationEvent, ApplicationItem, Claim, Programme

CHUNK = 2000
MAX_ORDER = MAX_KEY - len("batch:")


@dataclass
class RowIn:
    line: int
    order: str  # the merchant's 订单号: the row's idempotency key
    programme: Programme
    applicant_name: str
    applicant_id: str
    phone: str
    items: list[ItemIn]
    asked: str | None = None  # its fingerprint, once made (`_fingerprint`)
    payee: payees.Payee = payees.NO_PAYEE  # the applicant's account (收款户名, 收款账号, 开户行, 联行号) as given

    @property
    def key(self) -> str:
        return f"batch:{self.order}"  # batch.py refuses a 订单号 longer than MAX_ORDER


@dataclass
class Outcome:
    line: int
    order: str
    ok: bool
    number: str = ""
    message: str = ""
    amount_fen: int = 0
    status: str = ""
    existed: bool = False


_IN = "= ANY(%s)"  # PostgreSQL: one array parameter; `_rows` rewrites it for SQLite
_SEP = "\x1f"  # the ASCII unit separator, which no identifier, key or hash contains


def _rows(sql: str, params: list[Any], values: set[str]) -> list[tuple[Any, ...]]:
    """Run a look-up whose last condition is `… {_IN}` over `values` (thousands of them for a chunk): on PostgreSQL
    one parameter — the values joined by a separator and split by the server (`string_to_array`), a tenth of the
    time psycopg takes to quote an array of thousands item by item; an array after all if a value holds the
    separator. On SQLite, an IN list, in slices under its limit on parameters."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            joined = _SEP.join(values)
            if joined.count(_SEP) == len(values) - 1 and "" not in values:
                cursor.execute(sql.replace(_IN, "= ANY(string_to_array(%s, E'\\x1f'))"), [*params, joined])
            else:
                cursor.execute(sql, [*params, list(values)])
            return list(cursor.fetchall())
        out: list[tuple[Any, ...]] = []
        ordered = sorted(values)
        for start in range(0, len(ordered), 500):
            part = ordered[start : start + 500]
            cursor.execute(sql.replace(_IN, f"IN ({', '.join(['%s'] * len(part))})"), [*params, *part])
            out += cursor.fetchall()
        return out


def refusal(exc: ValidationError | PermissionDenied) -> str:
    """A row's reason, as the merchant reads it in the result file."""
    return "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def _compacted(applicant_id: str) -> str:
    """A resident ID as `prepare` will have it once valid (ric.compact's form), without validating it here: an
    invalid ID is refused by `prepare`, and a hash nobody has costs nothing."""
    return applicant_id.strip().upper()


class _PriceWindow:
    """A model's newest prices (at most `PRICE_WINDOW`), kept in arrival order and sorted, so that the median is one
    look-up however many of the batch's rows add to it."""

    def __init__(self, newest_first: list[int]) -> None:
        self.order = deque(reversed(newest_first[:PRICE_WINDOW]), maxlen=PRICE_WINDOW)
        self.sorted = sorted(self.order)

    def add(self, price: int) -> None:
        if len(self.order) == PRICE_WINDOW:
            del self.sorted[bisect_left(self.sorted, self.order[0])]  # the oldest leaves as the newest comes
        self.order.append(price)
        insort(self.sorted, price)

    def median(self) -> tuple[int, float]:
        n = len(self.sorted)
        if n == 0:
            return 0, 0
        middle = n // 2
        return n, self.sorted[middle] if n % 2 else (self.sorted[middle - 1] + self.sorted[middle]) / 2


class BatchLookups(Lookups):
    """`Lookups` answered from a chunk's prefetched rows plus what the batch has accepted so far. A question about
    something not prefetched falls through to the database, one query, as in the single path."""

    def __init__(self, programme: Programme) -> None:
        super().__init__(programme)
        self.hashes: set[str] = set()
        self.hash_of: dict[str, str] = {}  # compacted resident ID → its look-up hash, made once per row
        self.used: Counter[tuple[str, str]] = Counter()  # (applicant hash, limit scope) → used (limits.py)
        self.loaded: set[tuple[str, str]] = set()  # the (kind, value) pairs whose claims are known
        self.claims: set[tuple[str, str]] = set()
        self.prices: dict[str, _PriceWindow] = {}

    def load(self, rows: list[RowIn]) -> None:
        hashes = set()
        for row in rows:
            resident_id = _compacted(row.applicant_id)
            if (applicant_hash := self.hash_of.get(resident_id)) is None:
                applicant_hash = self.hash_of[resident_id] = super().applicant_hash(resident_id)
            hashes.add(applicant_hash)
        hashes -= self.hashes
        if hashes:
            # each applicant's per-person counters (advisory here: `_take_limits` has the database hold them)
            for applicant_hash, scope, used in _rows(sql.USAGE_OF + _IN, [self.programme.pk], hashes):
                self.used[(applicant_hash, scope)] += used
            self.hashes |= hashes
        invoices, serials = set(), set()
        for row in rows:
            for item in row.items:
                invoices.add(item.invoice_no.strip().upper())
                if item.serial.strip():
                    serials.add(f"{item.kind}:{item.serial.strip().upper()}")
        for kind, wanted in ((Claim.Kind.INVOICE, invoices), (Claim.Kind.SERIAL, serials)):
            pairs = {(kind, value) for value in wanted} - self.loaded
            if pairs:  # by kind and value: along the unique index (kind, value) of active claims
                query = f"SELECT value FROM subsidies_claim WHERE active = %s AND kind = %s AND value {_IN}"  # noqa: S608
                found = _rows(query, [True, kind], {value for _, value in pairs})
                self.claims |= {(kind, value) for (value,) in found}
                self.loaded |= pairs

    def applicant_hash(self, resident_id: str) -> str:
        if (known := self.hash_of.get(resident_id)) is not None:
            return known
        return super().applicant_hash(resident_id)

    def used_before(self, applicant_hash: str, scope: str) -> int:
        if applicant_hash not in self.hashes:
            return super().used_before(applicant_hash, scope)
        return self.used[(applicant_hash, scope)]

    def claimed(self, kind: str, value: str) -> bool:
        if (kind, value) not in self.loaded:
            return super().claimed(kind, value)
        return (kind, value) in self.claims

    def model_median(self, brand_model: str) -> tuple[int, float]:
        window = self.prices.get(brand_model)
        if window is None:
            window = self.prices[brand_model] = _PriceWindow(super().model_prices(brand_model))
        return window.median()

    def accept(self, prepared: Prepared) -> None:
        """Remember an accepted row: its items count against the applicant's limits, its identifiers are taken."""
        applicant_hash = prepared.applicant_hash
        for demand in prepared.demands:
            self.used[(applicant_hash, demand.scope)] += demand.n
        for item in prepared.items:
            if (window := self.prices.get(item.brand_model)) is not None:
                window.add(item.price_fen)
        for kind, value in prepared.claims:
            self.claims.add((kind, value))
            self.loaded.add((kind, value))


def _allocate_ids(n: int) -> list[int]:
    """`n` fresh ids of subsidies_application, so that numbers are known before the insert."""
    if n == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('subsidies_application', 'id')) FROM generate_series(1, %s)",
                [n],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite: every write transaction is IMMEDIATE (settings), so nobody else inserts until we commit
    start = (Application.objects.aggregate(top=Max("id"))["top"] or 0) + 1
    return list(range(start, start + n))


@dataclass
class _Accepted:
    row: RowIn
    prepared: Prepared
    pk: int
    stored: list[Any]  # its row of subsidies_application, as stored (APPLICATION_COLUMNS); the status set by `_write`
    items: list[tuple[Any, ...]]  # its rows of subsidies_applicationitem
    stripe: int = -1  # the ledger stripe its money was reserved in; -1: queued


@dataclass
class _Chunk:
    actor: User
    now: dt.datetime
    lookups: dict[int, BatchLookups]
    params: dict[int, Any]
    first_of_key: dict[str, tuple[int, str]]  # the batch's 订单号 so far → the line that first had it, its fingerprint
    accepted: list[_Accepted] = field(default_factory=list)
    reservations: dict[int, ledger.BulkReservation] = field(default_factory=dict)
    copies: list[tuple[RowIn, int]] = field(default_factory=list)  # a row repeating an earlier row's 订单号
    claims: list[tuple[str, str, int, bool]] = field(default_factory=list)  # rows of subsidies_claim, in one order
    # a batch run again after its worker died: applications written since then are this batch's own, not "此前已提交"
    resumed_since: dt.datetime | None = None


def _check_rows(chunk: _Chunk, rows: list[RowIn], outcomes: dict[int, Outcome]) -> None:
    today = timezone.localdate(chunk.now)
    params: list[Any] = [chunk.actor.pk]
    ours = "0 = 1"  # written by an earlier run of this same batch (`resumed_since`): answered as accepted now
    if chunk.resumed_since is not None:
        ours = "created_at >= %s"
        params.insert(0, connection.ops.adapt_datetimefield_value(chunk.resumed_since))
    query = f"""SELECT idempotency_key, number, amount_fen, status, fingerprint, {ours} FROM subsidies_application
        WHERE created_by_id = %s AND idempotency_key {_IN}"""  # noqa: S608 - _IN and `ours` are constants
    existing = {
        key: (number, amount, status, asked, bool(mine))
        for key, number, amount, status, asked, mine in _rows(query, params, {row.key for row in rows})
    }
    by_programme: dict[int, list[RowIn]] = {}
    for row in rows:
        if row.key not in existing:  # a row submitted before is answered from `existing`: nothing to look up
            by_programme.setdefault(row.programme.id, []).append(row)
    for pk, group in by_programme.items():
        programme = group[0].programme
        if pk not in chunk.lookups:
            chunk.lookups[pk] = BatchLookups(programme)
            chunk.params[pk] = rules.validate(programme.category, programme.parameters)
        chunk.lookups[pk].load(group)
    ids = iter(_allocate_ids(sum(len(group) for group in by_programme.values())))
    for row in rows:
        if row.key in existing:
            number, amount, status, asked, mine = existing[row.key]
            if asked and asked != _fingerprint(row):
                message = f"订单号{row.order}已用于另一笔申请（{number}），内容不同，未重复受理"
                outcomes[row.line] = Outcome(row.line, row.order, False, message=message)
            else:
                outcomes[row.line] = Outcome(row.line, row.order, True, number, "", amount, status, existed=not mine)
            continue
        if (first := chunk.first_of_key.get(row.key)) is not None:  # the same 订单号 twice in one file: its answer
            line, asked = first
            if asked != _fingerprint(row):
                message = f"订单号{row.order}在本文件中已出现，但两行的销售内容不同，未受理"
                outcomes[row.line] = Outcome(row.line, row.order, False, message=message)
            else:
                chunk.copies.append((row, line))  # once the first row's money is settled (`_copy_answers`)
            continue
        try:
            outcome = _check_row(chunk, row, next(ids), today)
        except (ValidationError, PermissionDenied) as exc:
            outcome = Outcome(row.line, row.order, False, message=refusal(exc))
        outcomes[row.line] = outcome
        chunk.first_of_key[row.key] = (row.line, _fingerprint(row))
    chunk.claims = sorted(  # one order for every writer: no circle of waits between them
        (kind, value, a.pk, True) for a in chunk.accepted for kind, value in a.prepared.claims
    )


def _fingerprint(row: RowIn) -> str:
    """What the row asks for (`applications.fingerprint`), made once per row."""
    if row.asked is None:
        row.asked = fingerprint(row.programme, row.applicant_name, row.applicant_id, row.phone, row.items, row.payee)
    return row.asked


def _check_row(chunk: _Chunk, row: RowIn, pk: int, today: dt.date) -> Outcome:
    programme = row.programme
    check_programme_open(programme, today)
    lookups = chunk.lookups[programme.id]
    prepared = prepare(
        programme=programme,
        params=chunk.params[programme.id],
        applicant_name=row.applicant_name,
        applicant_id=row.applicant_id,
        phone=row.phone,
        items=row.items,
        today=today,
        lookups=lookups,
        # a merchant's row: the applicant is paid only where the programme pays applicants (cars, e-bikes)
        payee=row.payee if programme.payee == Programme.Payee.APPLICANT else None,
    )
    prepared.number = application_number(pk, today)
    lookups.accept(prepared)
    items = [item.row(pk) for item in prepared.items]
    chunk.accepted.append(_Accepted(row, prepared, pk, _stored(chunk, row, prepared, pk), items))
    return Outcome(row.line, row.order, True, prepared.number, "", prepared.amount_fen)


def _claim(chunk: _Chunk) -> None:
    """The identifiers first, as `submit_application` does (claims, then money), so a batch and a till never wait
    for each other in a circle. The claims' key to their application is checked at commit, so they can go in
    before the applications. Raises IntegrityError when someone else holds one of them."""
    with transaction.atomic():
        bulkinsert.insert_rows(Claim, ["kind", "value", "application_id", "active"], chunk.claims)


def _reserve(chunk: _Chunk, outcomes: dict[int, Outcome]) -> None:
    """The money, row by row in file order; a row it no longer covers is queued or refused (and its claims let go)."""
    kept: list[_Accepted] = []
    dropped: list[int] = []
    for accepted in chunk.accepted:
        row, prepared, programme = accepted.row, accepted.prepared, accepted.row.programme
        if programme.pk not in chunk.reservations:
            chunk.reservations[programme.pk] = ledger.BulkReservation(
                actor=chunk.actor, programme=programme, now=chunk.now
            )
        try:
            accepted.stripe = chunk.reservations[programme.pk].take(prepared.number, prepared.amount_fen)
        except ValidationError as exc:
            queue = programme.on_exhaustion == Programme.OnExhaustion.QUEUE
            if exc.error_list[0].code != errors.BUDGET_EXHAUSTED or not queue:
                outcomes[row.line] = Outcome(row.line, row.order, False, message=refusal(exc))
                dropped.append(accepted.pk)
                continue
            prepared.status = Application.Status.QUEUED
        if prepared.status == Application.Status.RESERVED and prepared.risk_reasons:
            prepared.status = Application.Status.IN_REVIEW
        outcomes[row.line].status = str(prepared.status)
        kept.append(accepted)
    if dropped:
        Claim.objects.filter(application_id__in=dropped).delete()
    chunk.accepted = kept


def _take_limits(chunk: _Chunk) -> None:
    """The per-person limits of the rows that kept their place (reserved, in review or queued), held by the
    database (`limits.take_many`), after the claims and the money as in `submit_application`. Raises
    `limits.LimitTaken` (an IntegrityError) when a till took a counter's room since the chunk was checked."""
    by_programme: dict[int, dict[str, list[limits.Demand]]] = {}
    for accepted in chunk.accepted:
        people = by_programme.setdefault(accepted.row.programme.pk, {})
        people.setdefault(accepted.prepared.applicant_hash, []).extend(accepted.prepared.demands)
    for programme_id, demands in sorted(by_programme.items()):
        limits.take_many(programme_id, demands)


def _copy_answers(chunk: _Chunk, outcomes: dict[int, Outcome]) -> None:
    for row, line in chunk.copies:
        first = outcomes[line]
        outcomes[row.line] = replace(first, line=row.line, order=row.order, existed=first.ok)


APPLICATION_COLUMNS = ["id", "number", *APPLICATION_FIELDS]


_STATUS = APPLICATION_COLUMNS.index("status")


def _json_list(values: list[str]) -> str:
    return _list_text(tuple(values))


# The same few lists recur row after row (no risk; all checks passed; one flag), so each one's JSON text is made once.
@lru_cache(maxsize=1024)
def _list_text(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


@lru_cache(maxsize=1024)
def _checks_text(checks: tuple[Check, ...]) -> str:
    return json.dumps([check._asdict() for check in checks], ensure_ascii=False)


def _encrypted(value: str) -> str:
    return pii.encrypt(value) if value else ""  # "" stays "", as the field stores it


# how the batch stores the values that are not stored as they are: personal data encrypted, JSON as text
_STORE: dict[str, Any] = {
    "applicant_name": pii.encrypt,
    "applicant_id": pii.encrypt,
    "phone": pii.encrypt,
    "payee_name": _encrypted,
    "payee_account": _encrypted,
    "risk_reasons": _json_list,
    "checks": _checks_text,
}


def _stored(chunk: _Chunk, row: RowIn, prepared: Prepared, pk: int) -> list[Any]:
    """An accepted row's application as the table stores it — the one definition of the row
    (`applications.application_values`), each value as its field stores it — made while the chunk is checked (on
    PostgreSQL, beside the writer), without a model instance: at thousands of rows a second their making is the
    cost. The status is set once the money is settled (`_write`)."""
    values = application_values(
        prepared,
        programme=row.programme,
        actor=chunk.actor,
        channel=Application.Channel.BATCH,
        key=row.key,
        asked=_fingerprint(row),
        now=chunk.now,
    )
    values["status"] = ""
    return [pk, prepared.number, *(_STORE[f](v) if f in _STORE else v for f, v in values.items())]


def _write(chunk: _Chunk) -> None:
    """Every table's rows of the chunk, one insert each."""
    actor, actor_id, now = chunk.actor, chunk.actor.pk, chunk.now
    applications, items, events, pending = [], [], [], []
    for accepted in chunk.accepted:
        prepared, pk = accepted.prepared, accepted.pk
        accepted.stored[_STATUS] = prepared.status
        applications.append(accepted.stored)
        items += accepted.items
        events.append((pk, prepared.status, actor_id, now, status_note(prepared.status, prepared.risk_reasons)))
        changes = submitted_changes(prepared, accepted.row.programme)
        if accepted.stripe >= 0:
            changes["stripe"] = accepted.stripe
        pending.append(
            audit.Pending(
                action="subsidies.application_submitted",
                object_type="subsidies.application",
                object_id=str(pk),
                object_repr=prepared.number,
                changes=changes,
            )
        )
    bulkinsert.insert_rows(
        Application,
        APPLICATION_COLUMNS,
        applications,
        json_fields={"risk_reasons", "checks"},
        stored={"applicant_name", "applicant_id", "phone", "payee_name", "payee_account"},
    )
    bulkinsert.insert_rows(ApplicationItem, ITEM_COLUMNS, items, json_fields={"details"})
    bulkinsert.insert_rows(ApplicationEvent, ["application_id", "status", "actor_id", "at", "note"], events)
    for reservation in chunk.reservations.values():
        reservation.write()
    audit.record_many(pending, actor=actor, native=True)  # numbers, codes, amounts, statuses, lists of them


def _one_by_one(chunk: _Chunk, rows: list[RowIn], outcomes: dict[int, Outcome]) -> None:
    actor = chunk.actor
    for row in rows:
        before = Application.objects.filter(created_by=actor, idempotency_key=row.key)
        if chunk.resumed_since is not None:
            before = before.filter(created_at__lt=chunk.resumed_since)
        existed = before.exists()
        try:
            application = submit_application(
                actor=actor,
                programme=row.programme,
                applicant_name=row.applicant_name,
                applicant_id=row.applicant_id,
                phone=row.phone,
                items=row.items,
                idempotency_key=row.key,
                channel=Application.Channel.BATCH,
                payee_name=row.payee.name,
                payee_account=row.payee.account,
                payee_bank=row.payee.bank,
                payee_bank_code=row.payee.bank_code,
            )
        except (ValidationError, PermissionDenied) as exc:
            outcomes[row.line] = Outcome(row.line, row.order, False, message=refusal(exc))
        else:
            outcomes[row.line] = Outcome(
                row.line,
                row.order,
                True,
                application.number,
                "",
                application.amount_fen,
                str(application.status),
                existed=existed,
            )


def _settle(chunk: _Chunk, outcomes: dict[int, Outcome], *, flush: bool = True) -> bool:
    """The claims, the money and the writes of a checked chunk, in one transaction. False when the database refused
    the chunk — someone else claimed one of its identifiers or submitted one of its keys since we looked, or
    PostgreSQL broke a deadlock by aborting us: then nothing of it was written (the caller submits its rows one at a
    time instead, `_after`).

    `flush=False` (a pipelined batch's chunks) commits without waiting for the disk (`synchronous_commit = off` for
    this transaction); the batch's last transaction (`_flush_log`) waits for it, and with it for every earlier
    commit (the write-ahead log is flushed in order), before any answer leaves. A crash before that loses only
    chunks nobody has been told about, which the merchant's retry then submits (the 订单号 are idempotency keys)."""
    try:
        with transaction.atomic():
            if not flush:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            _claim(chunk)
            _reserve(chunk, outcomes)
            _take_limits(chunk)
            _write(chunk)
    except (IntegrityError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and not retry.is_conflict(exc):
            raise
        return False
    return True


def _after(chunk: _Chunk, rows: list[RowIn], outcomes: dict[int, Outcome], settled: bool) -> None:
    """A settled chunk's rows that repeat an earlier 订单号 get that row's answer; a refused chunk's rows are
    submitted one by one, each with its own answer."""
    if settled:
        _copy_answers(chunk, outcomes)
    else:
        _one_by_one(chunk, rows, outcomes)


IN_FLIGHT = 2  # chunks handed to the writer and not yet answered: the writer always has the next one at hand


class _ThreadWriter:
    """Settles chunks in order on a thread of this process with its own connection. After a chunk the database
    refused, it skips the chunks queued behind it (they were checked against what that one would have written)
    until `reset`."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
        self.futures: deque[Future[str]] = deque()
        self.broken = False

    def _run(self, chunk: _Chunk, outcomes: dict[int, Outcome]) -> str:
        if self.broken:
            return "skipped"
        try:
            settled = _settle(chunk, outcomes, flush=False)
        except BaseException:
            self.broken = True  # nothing queued behind a chunk that failed is written
            raise
        if settled:
            return "settled"
        self.broken = True
        return "refused"

    def submit(self, chunk: _Chunk, outcomes: dict[int, Outcome]) -> None:
        self.futures.append(self.pool.submit(self._run, chunk, outcomes))

    def result(self) -> str:
        """The oldest queued chunk's end: settled, refused (its rows to be done one by one) or skipped."""
        return self.futures.popleft().result()

    def reset(self) -> None:
        self.broken = False

    def flush(self) -> None:
        self.pool.submit(_flush_log).result()

    def close(self) -> None:
        wait(self.futures)  # never leave the writer mid-chunk, whatever went wrong here
        self.pool.submit(_close_connection).result()  # the writer thread's own connection
        self.pool.shutdown()


def _close_connection() -> None:
    connection.close()  # `connection` is per thread: this closes the calling thread's own


def _pipelined() -> bool:
    """Whether a second connection may write while this one checks: on PostgreSQL, and only when the caller holds
    no transaction of its own (the writer's connection could not see what that transaction wrote)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _flush_log() -> None:
    """A transaction that waits for the write-ahead log to reach the disk, and with it every commit before it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")  # a transaction id: its commit is a flush


def submit_rows(
    *,
    actor: User,
    rows: Iterable[RowIn],
    now: dt.datetime | None = None,
    resumed_since: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Submit a batch's rows in order; one outcome per row, in the same order. `rows` may be lazy (a parser's
    generator): it is read a chunk at a time.

    On PostgreSQL two connections share the work: this thread reads and checks the next chunks while a writer
    thread settles the chunks handed to it (claims, money, writes, commit), at most `IN_FLIGHT` of them queued, so
    the checks' Python and the database's work on the writes run side by side. The writer settles the chunks one at
    a time in file order; a chunk checked before the ones ahead of it were settled knows their rows from memory
    (`BatchLookups.accept`). If the database refuses a chunk, its rows are submitted one by one, the writer skips
    the chunks queued behind it, and those are checked again from scratch. The chunks commit without waiting for
    the disk; a last transaction waits for all of them (`_flush_log`) before the answers leave.

    `progress(line)` is told the last line of each chunk once it is answered. `resumed_since`: this batch ran before
    and its worker died; applications of its keys written since then are reported as accepted by this batch."""
    if actor.role != Role.MERCHANT or not actor.organisation_id:
        raise PermissionDenied("批量申请由关联了商户单位的商户账号提交")
    outcomes: dict[int, Outcome] = {}
    lookups: dict[int, BatchLookups] = {}
    params: dict[int, Any] = {}
    first_of_key: dict[str, tuple[int, str]] = {}
    taken: list[RowIn] = []
    source = iter(rows)

    def next_chunk() -> list[RowIn]:
        chunk_rows = list(islice(source, CHUNK))
        taken.extend(chunk_rows)
        return chunk_rows

    def check(chunk_rows: list[RowIn]) -> _Chunk:
        chunk = _Chunk(actor, now or timezone.now(), lookups, params, first_of_key, resumed_since=resumed_since)
        _check_rows(chunk, chunk_rows, outcomes)
        return chunk

    if not _pipelined():
        while chunk_rows := next_chunk():
            with transaction.atomic():  # on SQLite the ids drawn by the checks hold only inside the write transaction
                chunk = check(chunk_rows)
                settled = _settle(chunk, outcomes)
            _after(chunk, chunk_rows, outcomes, settled)
            if not settled:
                lookups.clear()
            if progress is not None:
                progress(chunk_rows[-1].line)
        return [outcomes[row.line] for row in taken]

    writer = _ThreadWriter()
    in_flight: deque[tuple[_Chunk, list[RowIn]]] = deque()

    def answer_oldest() -> None:
        chunk, chunk_rows = in_flight.popleft()
        settled = writer.result() == "settled"
        _after(chunk, chunk_rows, outcomes, settled)
        if progress is not None:
            progress(chunk_rows[-1].line)
        if settled:
            return
        # refused, its rows done one by one: the writer skipped the chunks behind it, checked again and resent here
        behind = [in_flight.popleft() for _ in range(len(in_flight))]
        for _ in behind:
            writer.result()  # skipped
        writer.reset()
        lookups.clear()
        for _, queued_rows in behind:
            for row in queued_rows:
                if first_of_key.get(row.key, (None, ""))[0] == row.line:
                    del first_of_key[row.key]
        for _, queued_rows in behind:
            send(check(queued_rows), queued_rows)

    def send(chunk: _Chunk, chunk_rows: list[RowIn]) -> None:
        writer.submit(chunk, outcomes)
        in_flight.append((chunk, chunk_rows))

    try:
        while chunk_rows := next_chunk():
            send(check(chunk_rows), chunk_rows)
            while len(in_flight) > IN_FLIGHT:
                answer_oldest()
        while in_flight:
            answer_oldest()
        writer.flush()
    finally:
        writer.close()
    return [outcomes[row.line] for row in taken]
