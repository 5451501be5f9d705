"""Per-person limits held by the database (DESIGN.md: "every rule that limits money or people").

Each limit of a programme is a counter row per person (`PersonUsage`: programme, applicant's look-up hash, scope).
The checks in `applications.prepare` read the counters to give a clear answer early, but they only advise: the
submission then adds its items (or its money) with one conditional upsert per scope — the row is created at zero
or incremented only while `used + n <= limit` — in the same transaction as its claims and its reservation. Two
tills at the same instant for the same person both run that statement; the database serialises them on the row,
and the second finds the limit reached and is refused. The batch does the same for a whole chunk in two statements
(`take_many`); a chunk that finds a counter changed since it looked is done again row by row.

Scopes: an item kind (appliances, digital, home, e-bikes) — items of that kind per person; ``car:<year>`` — cars
per person per calendar year of the application (Asia/Shanghai); ``amount_fen`` — money per person (home
renovation's `per_person_cap_fen`). Rejected and refunded applications give their share back (`give_back`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from huanxin.subsidies import errors, sql

AMOUNT = "amount_fen"  # the scope of a per-person money cap


class Demand(NamedTuple):
    """What one application asks of one limit: `n` more of `scope`, which allows `limit` in all."""

    scope: str
    n: int
    limit: int
    label: str  # "冰箱", "报废更新", or "累计补贴" for money


class LimitTaken(IntegrityError):
    """A batch chunk found a counter filled since it was checked: the chunk is done again row by row."""


def scope_of(category: str, kind: str, today: dt.date) -> str:
    """The counter an item of `kind` counts against: cars per calendar year, everything else per kind."""
    if category in ("car_scrap", "car_replace"):
        return f"car:{today.year}"
    return kind


def merged(demands: Iterable[Demand]) -> list[Demand]:
    """One demand per scope (two refrigerators in one application ask for 2), in scope order — the order every
    writer takes the rows in, so no two wait for each other in a circle."""
    out: dict[str, Demand] = {}
    for d in demands:
        seen = out.get(d.scope)
        out[d.scope] = d if seen is None else seen._replace(n=seen.n + d.n)
    return [out[scope] for scope in sorted(out)]


def _used(programme_id: int, applicant_hash: str, scope: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.USAGE, [programme_id, applicant_hash, scope])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def refusal(demand: Demand, used: int) -> ValidationError:
    """The answer when a limit is reached: which limit, and what is left of it."""
    left = max(0, demand.limit - used)
    if demand.scope == AMOUNT:
        return ValidationError(
            f"每人限额：每人累计补贴上限{demand.limit / 100:.2f}元，已使用{used / 100:.2f}元，"
            f"剩余{left / 100:.2f}元，本次需{demand.n / 100:.2f}元",
            code=errors.PER_PERSON_AMOUNT_LIMIT,
        )
    return ValidationError(
        f"每人限额：{demand.label}每人限补{demand.limit}件，已申请{used}件，剩余{left}件", code=errors.PER_PERSON_LIMIT
    )


def take(programme_id: int, applicant_hash: str, demands: Iterable[Demand]) -> None:
    """Add one application's demands to the person's counters, or refuse (ValidationError naming the limit and
    what is left) — in the caller's transaction, which the refusal must roll back."""
    with connection.cursor() as cursor:
        for d in merged(demands):
            if d.n > d.limit:  # more in one application than the limit allows: no row to ask
                raise refusal(d, _used(programme_id, applicant_hash, d.scope))
            cursor.execute(sql.TAKE, [programme_id, applicant_hash, d.scope, d.n, d.limit])
            if cursor.fetchone() is None:
                raise refusal(d, _used(programme_id, applicant_hash, d.scope))


def take_many(programme_id: int, demands: dict[str, list[Demand]]) -> None:
    """A batch chunk's demands, by applicant hash, each person's already merged and within its limits as the chunk
    was checked. Raises `LimitTaken` when any counter no longer has room (another writer got there first)."""
    keys = [(h, d) for h, ds in sorted(demands.items()) for d in merged(ds)]
    if not keys:
        return
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite: one writer at a time anyway; a statement per counter
            for h, d in keys:
                cursor.execute(sql.TAKE, [programme_id, h, d.scope, d.n, d.limit])
                if cursor.fetchone() is None:
                    raise LimitTaken(f"per-person limit {d.scope} reached meanwhile")
            return
        hashes, scopes = [h for h, _ in keys], [d.scope for _, d in keys]
        cursor.execute(sql.CREATE_MANY, [programme_id, hashes, scopes])
        cursor.execute(
            sql.TAKE_MANY, [hashes, scopes, [d.n for _, d in keys], [d.limit for _, d in keys], programme_id]
        )
        if cursor.rowcount != len(keys):
            raise LimitTaken("per-person limits reached meanwhile")


def give_back(programme_id: int, applicant_hash: str, demands: Iterable[Demand]) -> None:
    """A rejected or refunded application's share, returned to the person's counters."""
    with connection.cursor() as cursor:
        for d in merged(demands):
            cursor.execute(sql.GIVE_BACK, [d.n, d.n, programme_id, applicant_hash, d.scope])
