"""Many rows into one table at once: PostgreSQL's COPY (psycopg's `Cursor.copy`) for the large inserts of a batch
import, where building an INSERT of thousands of rows costs Django more than the database; `bulk_create` for a
few rows and on SQLite. Nothing is read back: ids the caller has set are kept, the others are the table's."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

COPY_FROM = 50  # fewer rows than this: a plain INSERT is as quick
_PLAIN = (
    models.BigIntegerField,  # and the other integer fields below: stored as they are
    models.IntegerField,
    models.SmallIntegerField,
    models.PositiveSmallIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.CharField,
    models.DateField,  # DateTimeField too
    models.ForeignKey,
)


def _is_plain(field: Any) -> bool:
    """Django's own fields whose Python value is what the column stores (not JSON, not our encrypted text)."""
    return isinstance(field, _PLAIN) and type(field).__module__.startswith("django.db.models")


def insert(objs: Sequence[models.Model]) -> None:
    """Insert model instances (all of one model). Values go through each field's `get_db_prep_save` where a
    field stores something other than its Python value (encrypted personal data, JSON)."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM:
        model._default_manager.bulk_create(objs, batch_size=1000)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    prep = [None if _is_plain(f) else f for f in fields]
    _copy(
        model,
        [str(f.column) for f in fields],
        (
            [
                getattr(obj, f.attname) if p is None else p.get_db_prep_save(getattr(obj, f.attname), connection)
                for f, p in zip(fields, prep, strict=True)
            ]
            for obj in objs
        ),
    )


def insert_rows(
    model: type[models.Model],
    attnames: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_fields: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Insert plain values (ints, strings, dates, booleans, foreign key ids) without making model instances;
    a JSON field's value is given as its JSON text (`json_fields`)."""
    if not rows:
        return
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM:
        decode = [name in json_fields for name in attnames]
        model._default_manager.bulk_create(
            [
                model(**{n: json.loads(v) if d else v for n, v, d in zip(attnames, row, decode, strict=True)})
                for row in rows
            ],
            batch_size=1000,
        )
        return
    column_of = {f.attname: str(f.column) for f in model._meta.concrete_fields}
    columns = [column_of[name] for name in attnames]
    _copy(model, columns, rows)


def _copy(model: type[models.Model], columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN"
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
