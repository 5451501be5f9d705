"""Statements of the subsidies app that bypass the ORM, in one place (the hot paths: the ORM's query compiler
costs more than the statement, bench/intake.py). Table and column names are the models' own."""

from __future__ import annotations

# --- per-person limits (limits.py) ------------------------------------------------------------------------------

USAGE = "SELECT used FROM subsidies_personusage WHERE programme_id = %s AND applicant_hash = %s AND scope = %s"

# Create the counter with `n`, or add `n` while it stays within the limit; no row back when the limit is reached.
# `n <= limit` is checked before (a new row takes `n` unconditionally).
TAKE = """INSERT INTO subsidies_personusage (programme_id, applicant_hash, scope, used) VALUES (%s, %s, %s, %s)
    ON CONFLICT (programme_id, applicant_hash, scope)
    DO UPDATE SET used = subsidies_personusage.used + excluded.used
    WHERE subsidies_personusage.used + excluded.used <= %s
    RETURNING used"""

# PostgreSQL, a batch chunk: every counter it needs at zero, then all the additions in one conditional update.
CREATE_MANY = """INSERT INTO subsidies_personusage (programme_id, applicant_hash, scope, used)
    SELECT %s, v.h, v.s, 0 FROM unnest(%s::text[], %s::text[]) AS v(h, s) ORDER BY v.h, v.s
    ON CONFLICT (programme_id, applicant_hash, scope) DO NOTHING"""
TAKE_MANY = """UPDATE subsidies_personusage u SET used = u.used + v.n
    FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[]) AS v(h, s, n, lim)
    WHERE u.programme_id = %s AND u.applicant_hash = v.h AND u.scope = v.s AND u.used + v.n <= v.lim"""

# Never below zero: a programme's parameters may have changed since the application took its share (a money cap
# added later), and what was not taken is not given back.
GIVE_BACK = """UPDATE subsidies_personusage SET used = CASE WHEN used > %s THEN used - %s ELSE 0 END
    WHERE programme_id = %s AND applicant_hash = %s AND scope = %s"""

# The counters of a chunk's applicants (`_IN` as bulk._rows rewrites it).
USAGE_OF = "SELECT applicant_hash, scope, used FROM subsidies_personusage WHERE programme_id = %s AND applicant_hash "

# --- the daily quota in stripes (quota.py) ----------------------------------------------------------------------

QUOTA_CREATE = """INSERT INTO subsidies_dailyquotause (programme_id, day, stripe, share, used) VALUES {values}
    ON CONFLICT (programme_id, day, stripe) DO NOTHING"""
QUOTA_TAKE_ONE = """UPDATE subsidies_dailyquotause SET used = used + %s
    WHERE programme_id = %s AND day = %s AND stripe = %s AND used + %s <= share"""
QUOTA_ROWS = (
    "SELECT stripe, share, used FROM subsidies_dailyquotause WHERE programme_id = %s AND day = %s ORDER BY stripe"
)
QUOTA_LOCK_ALL = QUOTA_ROWS + " FOR UPDATE"  # PostgreSQL; SQLite's writers are one at a time anyway
QUOTA_ADD = "UPDATE subsidies_dailyquotause SET used = used + %s WHERE programme_id = %s AND day = %s AND stripe = %s"
QUOTA_USED = "SELECT sum(used) FROM subsidies_dailyquotause WHERE programme_id = %s AND day = %s"
