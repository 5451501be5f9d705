"""A programme's daily quota (每日额度上限) held by the database, in stripes.

The day's quota is split into `stripes_for(programme)` rows (`DailyQuotaUse`), each with a share; a check
constraint keeps every row's `used` within its share, so the day never goes past the quota whatever the
concurrency. A reservation adds to one stripe chosen at random with one conditional update (`used + n <= share`):
reservations at the same instant mostly touch different rows instead of queueing on one lock. When no single
stripe has room, the amount is taken from several, rows locked in stripe order (one order for every writer);
if all of them together lack it, the quota is reached. A release gives its amount back to the day it was reserved
on. The rows of a day are made by the first reservation of that day.

Before this, the quota took one advisory lock per programme and summed the day's entries at every reservation,
and released reservations still counted.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from huanxin.subsidies import errors, sql
from huanxin.subsidies.models import Programme

MAX_STRIPES = 16  # more rows spread contention further, but the slow path reads all of them


class QuotaTaken(IntegrityError):
    """A batch chunk found the day's quota used since it was checked: the chunk is done again row by row."""


def stripes_for(programme: Programme) -> int:
    return max(1, min(programme.stripes, MAX_STRIPES))


def _shares(quota: int, n: int) -> list[int]:
    base, extra = divmod(quota, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def _lock_all() -> str:
    return sql.QUOTA_LOCK_ALL if connection.vendor == "postgresql" else sql.QUOTA_ROWS


def _ensure_rows(programme: Programme, day: dt.date) -> None:
    assert programme.daily_quota_fen is not None
    n = stripes_for(programme)
    rows = [(programme.pk, day, i, share, 0) for i, share in enumerate(_shares(programme.daily_quota_fen, n))]
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * n)
    with connection.cursor() as cursor:
        cursor.execute(sql.QUOTA_CREATE.format(values=values), [v for row in rows for v in row])


def used_on(programme: Programme, day: dt.date) -> int:
    """What the day's reservations hold of the quota (a read without locks: a moment old at most)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.QUOTA_USED, [programme.pk, day])
        return int(cursor.fetchone()[0] or 0)


def reached(programme: Programme, used_fen: int) -> ValidationError:
    quota = (programme.daily_quota_fen or 0) / 100
    return ValidationError(
        f"今日补贴额度已用完（每日上限 {quota:,.2f} 元，今日已预留 {used_fen / 100:,.2f} 元），请明日再申请",
        code=errors.DAILY_QUOTA_REACHED,
    )


def take(programme: Programme, day: dt.date, amount_fen: int) -> None:
    """Add `amount_fen` to the day's use, or refuse (`daily_quota_reached`) — in the caller's transaction."""
    n = stripes_for(programme)
    with connection.cursor() as cursor:
        for attempt in range(2):
            cursor.execute(sql.QUOTA_TAKE_ONE, [amount_fen, programme.pk, day, random.randrange(n), amount_fen])  # noqa: S311
            if cursor.rowcount == 1:
                return
            cursor.execute(_lock_all(), [programme.pk, day])
            rows = cursor.fetchall()
            if rows or attempt:
                break
            _ensure_rows(programme, day)  # the day's first reservation
        room = sum(share - used for _, share, used in rows)
        if room < amount_fen:
            raise reached(programme, sum(used for _, _, used in rows))
        left = amount_fen
        for stripe, share, used in rows:
            part = min(share - used, left)
            if part > 0:
                cursor.execute(sql.QUOTA_ADD, [part, programme.pk, day, stripe])
                left -= part
            if left == 0:
                return


def give_back(programme: Programme, day: dt.date, amount_fen: int) -> None:
    """A released reservation's amount, returned to the quota of the day it was reserved on."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_all(), [programme.pk, day])
        left = amount_fen
        for stripe, _, used in cursor.fetchall():
            part = min(used, left)
            if part > 0:
                cursor.execute(sql.QUOTA_ADD, [-part, programme.pk, day, stripe])
                left -= part
            if left == 0:
                return
