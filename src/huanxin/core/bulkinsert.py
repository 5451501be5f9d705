"""Rows into one table without building ORM queries: PostgreSQL's COPY (psycopg's `Cursor.copy`) for the large
inserts of a batch import, where building an INSERT of thousands of rows costs Django more than the database; a
plain multi-row INSERT for a few rows and on SQLite (Django's query compiler costs about 0.3 ms a statement, the
statement itself a tenth of that). Values are adapted by each field (`get_db_prep_save`: encryption, JSON, dates
as the database stores them), as the ORM would. Nothing is read back: ids the caller has set are kept, the others
are the table's."""

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
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM:
        _insert(model, fields, [[getattr(obj, f.attname) for f in fields] for obj in objs])
        return
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


def insert_one(obj: models.Model) -> None:
    """Insert one new model instance (its primary key unset) in one plain statement and read its id back: what
    `save(force_insert=True)` does for a new row, without the ORM's query compiler, which costs more than the
    statement itself for the submissions a till makes at every sale. Values adapted by each field as the ORM would
    (`get_db_prep_save`); no `pre_save` (so no auto_now fields) and no signals — for models that have neither.
    Afterwards the instance is a saved row, as after `save()`."""
    model = type(obj)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    pk = connection.ops.quote_name(str(model._meta.pk.column))
    values = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}", values)  # noqa: S608 - names from the model
        obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias


def insert_rows(
    model: type[models.Model],
    attnames: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_fields: frozenset[str] | set[str] = frozenset(),
    stored: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Insert plain values (ints, strings, dates, booleans, foreign key ids) without making model instances;
    a JSON field's value is given as its JSON text (`json_fields`); `stored` names fields whose values are given
    as the column stores them (ciphertext the caller made with `pii.encrypt`), passed on untouched."""
    if not rows:
        return
    field_of = {f.attname: f for f in model._meta.concrete_fields}
    fields = [field_of[name] for name in attnames]
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM:
        decode = [name in json_fields for name in attnames]
        _insert(
            model,
            fields,
            [[json.loads(v) if d else v for v, d in zip(row, decode, strict=True)] for row in rows],
            stored=stored,
        )
        return
    _copy(model, [str(f.column) for f in fields], rows)


def _insert(
    model: type[models.Model], fields: Sequence[Any], rows: Sequence[Sequence[Any]], *, stored: Iterable[str] = ()
) -> None:
    """A plain multi-row INSERT, each value adapted by its field for this database (what `bulk_create` does,
    without building a query object: a tenth of the time for the one to ten rows a service writes)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    as_is = [f.attname in stored for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            params = [
                v if keep else f.get_db_prep_save(v, connection)
                for row in batch
                for f, v, keep in zip(fields, row, as_is, strict=True)
            ]
            values = ", ".join([one] * len(batch))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608 - names from the model


def _copy(model: type[models.Model], columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN"
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
