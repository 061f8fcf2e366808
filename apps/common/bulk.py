"""Set-based writes for the hot batch paths (the charging workers, the gateway's station
batches), cheaper than the ORM's.

`insert_rows`, `update_rows` and `update_where` send one parameterised statement, executed for
every row with the driver's `executemany` (psycopg 3 pipelines it: one round trip for the
batch; SQLite runs it in-process); `update_where(one_statement=True)` sends every row in one
`UPDATE ... FROM (VALUES ...)` instead. Values go through each field's own `pre_save` /
`get_db_prep_save`, as `Model.save()` does. Why not `bulk_create` / `bulk_update`: on
PostgreSQL, Django 5.2's `bulk_create` sends every column as an array (`UNNEST`), which
psycopg's client-side binding escapes character by character in Python (a CDR's JSON
document costs milliseconds), and `bulk_update` compiles a `CASE WHEN` expression per row and
field. Measured with `bench/worker_cost.py` (docs/benchmarks.md, CDR pipeline) and
`bench/bench_gateway.py` (the reconnect storm).

No model `save()` runs: no signals, no per-instance checks. Use for rows whose checks the
caller has made (new append-only rows, derived columns of locked rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone


def _columns(model: type[models.Model], names: Sequence[str]) -> list[models.Field[Any, Any]]:
    return [model._meta.get_field(name) for name in names]  # type: ignore[misc]


def insert_rows(
    model: type[models.Model], objs: Sequence[models.Model], *, ignore_conflicts: bool = False
) -> None:
    """INSERT every object (all concrete fields but an auto primary key). With
    `ignore_conflicts`, a row that violates a unique constraint is skipped (ON CONFLICT DO
    NOTHING) and the others are inserted. Primary keys are not read back."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({}){}".format(
        qn(model._meta.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
        " ON CONFLICT DO NOTHING" if ignore_conflicts else "",
    )
    rows = [[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in objs]
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def update_rows(
    model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]
) -> None:
    """UPDATE `fields` of every object, by primary key, to the values on the object."""
    pk = model._meta.pk
    assert pk is not None
    attnames = [f.attname for f in _columns(model, fields)]
    update_where(
        model,
        set_fields=fields,
        where_fields=[pk.name],
        rows=[[*(getattr(obj, a) for a in attnames), obj.pk] for obj in objs],
        stamp=False,
    )


def update_where(
    model: type[models.Model],
    *,
    set_fields: Sequence[str],
    where_fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    stamp: bool = True,
    one_statement: bool = False,
    convert: bool = True,
) -> None:
    """UPDATE `set_fields` of the rows matching `where_fields` (equality), once per row of
    values (`set_fields` values then `where_fields` values, as the fields would store them).
    With `stamp`, a model with `updated_at` gets it set to now. With `convert=False` the values
    are sent as given, without the fields' `get_db_prep_save` (for values the driver takes as
    they are, str, int, aware datetime, on a hot path: ~13 µs a row of 6 values).

    Two ways to send it, measured per caller (docs/benchmarks.md):

    - by default one short statement executed per row (`executemany`: psycopg 3 pipelines
      it, one round trip; the statement is parsed once): the charging workers' batches;
    - `one_statement`: `UPDATE ... FROM (VALUES (...), ...)` with every row in one statement
      (PostgreSQL, SQLite 3.33+): the gateway's station batches (a reconnect storm of
      10,000 stations, 200 rows a batch).
    """
    if not rows:
        return
    sets = _columns(model, set_fields)
    wheres = _columns(model, where_fields)
    stamped: list[models.Field[Any, Any]] = []
    names = {f.name for f in model._meta.concrete_fields}
    if stamp and "updated_at" in names and "updated_at" not in set_fields:
        stamped = _columns(model, ["updated_at"])
    now = [f.get_db_prep_save(timezone.now(), connection) for f in stamped]
    n = len(sets)
    params: Sequence[Sequence[Any]]
    if not convert:
        params = rows if not now else [[*row[:n], *now, *row[n:]] for row in rows]
    else:
        params = [
            [
                *(f.get_db_prep_save(v, connection) for f, v in zip(sets, row[:n], strict=True)),
                *now,
                *(f.get_db_prep_save(v, connection) for f, v in zip(wheres, row[n:], strict=True)),
            ]
            for row in rows
        ]
    if one_statement:
        _update_from_values(model, [*sets, *stamped, *wheres], len(wheres), params)
        return
    qn = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {}".format(
        qn(model._meta.db_table),
        ", ".join(f"{qn(f.column)} = %s" for f in [*sets, *stamped]),
        " AND ".join(f"{qn(f.column)} = %s" for f in wheres),
    )
    with connection.cursor() as cur:
        cur.executemany(sql, params)


def _cast(field: models.Field[Any, Any]) -> str:
    return str(field.db_type(connection)).split("(", 1)[0]


# PostgreSQL takes at most 65,535 parameters in one statement.
_MAX_PARAMS = 65_535


def _update_from_values(
    model: type[models.Model],
    columns: Sequence[models.Field[Any, Any]],
    n_where: int,
    params: Sequence[Sequence[Any]],
) -> None:
    """`UPDATE t SET a = v.column1, ... FROM (VALUES ...) AS v WHERE t.k = v.columnN ...`:
    the last `n_where` columns match, the others are set. Django's `bulk_update` builds a
    CASE per row and column instead (~1 ms of CPU per row, measured on a reconnect storm)."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    width = len(columns)
    n_set = width - n_where
    assignments = ", ".join(
        f"{qn(f.column)} = v.column{i + 1}" for i, f in enumerate(columns[:n_set])
    )
    where = " AND ".join(
        f"{table}.{qn(f.column)} = v.column{n_set + i + 1}" for i, f in enumerate(columns[n_set:])
    )
    size = max(1, min(connection.ops.bulk_batch_size(list(columns), params), _MAX_PARAMS // width))
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    first_sql = row_sql
    if connection.vendor == "postgresql":
        # The first row names each column's type: a column of NULLs (or of strings, sent
        # untyped) would otherwise be `text`. Without a length: too long still fails.
        first_sql = "(" + ", ".join(f"%s::{_cast(f)}" for f in columns) + ")"
    with connection.cursor() as cur:
        for i in range(0, len(params), size):
            chunk = params[i : i + size]
            values = ", ".join([first_sql] + [row_sql] * (len(chunk) - 1))
            cur.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {where}",
                [value for row in chunk for value in row],
            )


def insert_rows_returning(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERT every object and set its primary key from the database. Unlike Django 5.2's
    `bulk_create` on PostgreSQL, the values are not sent as arrays (`UNNEST`), so large text
    (an OCPP frame, a JSON document) is escaped by libpq, not character by character in
    Python. PostgreSQL: one short `INSERT ... RETURNING` executed per row, pipelined by
    psycopg (one round trip; the short statement is parsed once, where a long multi-row
    statement would be split anew for every batch); SQLite: multi-row `VALUES ... RETURNING`."""
    if not objs:
        return
    pk = model._meta.pk
    assert pk is not None
    if not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    qn = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields)
    )
    row_sql = "({})".format(", ".join(["%s"] * len(fields)))
    returning = f" RETURNING {qn(pk.column)}"
    rows = [[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in objs]
    ids: list[Any] = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            raw = cur.cursor  # psycopg's own cursor: `executemany(returning=True)`
            with connection.wrap_database_errors:  # IntegrityError etc., as Django raises them
                raw.executemany(head + row_sql + returning, rows, returning=True)
                while True:
                    ids.extend(r[0] for r in raw.fetchall())
                    if not raw.nextset():
                        break
        else:
            size = max(1, connection.ops.bulk_batch_size(fields, objs))
            for i in range(0, len(rows), size):
                chunk = rows[i : i + size]
                cur.execute(
                    head + ", ".join([row_sql] * len(chunk)) + returning,
                    [v for row in chunk for v in row],
                )
                ids.extend(r[0] for r in cur.fetchall())
    for obj, value in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, value)
        obj._state.adding = False
        obj._state.db = connection.alias
