"""Rated lines written in bulk: COPY on PostgreSQL, `bulk_create` elsewhere (area "bench",
`make bench-rating`, ADR 0033).

`bulk_create` prepares every value of every row through its field (about 40 per line) and
sends one INSERT with all values inlined; for the thousands of lines of a rating batch that
was the largest single cost of rating (docs/benchmarks.md, "Rating"). COPY streams the
rows' values as they are: the same rows, the same constraints and triggers (the foreign
keys, the append-only trigger, the unique (cdr, engine, seq) backstop) checked by
PostgreSQL. Values are what the model holds, as `bulk_create` sends them on PostgreSQL:
`updated_at` (auto_now) set to the batch's clock; a decimal as it is (PostgreSQL fits it to
its column, as it does for the INSERT), a float made a decimal as Django's DecimalField
does.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context
from typing import Any

from django.db import connection, models
from django.utils import timezone

from apps.rating.models import RatedLine


def _columns() -> list[tuple[str, str, Context | None, bool]]:
    """(column, attname, a DecimalField's context, auto_now) of every column but the id."""
    out = []
    for field in RatedLine._meta.concrete_fields:
        if field.primary_key:
            continue
        context = None
        if isinstance(field, models.DecimalField):
            context = Context(prec=field.max_digits)  # DecimalField.to_python's for floats
        auto = isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add)
        out.append((field.column, field.attname, context, auto))
    return out


_COLUMNS = _columns()


def _value(line: RatedLine, attname: str, context: Context | None, auto: Any) -> Any:
    value = getattr(line, attname)
    if context is not None and isinstance(value, float):
        value = context.create_decimal_from_float(value)
    elif auto is not None:  # auto_now / auto_now_add: bulk_create's pre_save sets them
        value = auto
    return value


def rated_lines_insert(lines: Sequence[RatedLine]) -> None:
    """Insert `lines` (new, unsaved) in one COPY; their ids are not read back."""
    if not lines:
        return
    if connection.vendor != "postgresql":
        RatedLine.objects.bulk_create(lines, batch_size=1000)
        return
    now = timezone.now()
    cols = [(attname, ctx, now if auto else None) for _, attname, ctx, auto in _COLUMNS]
    sql = "COPY {} ({}) FROM STDIN".format(
        RatedLine._meta.db_table, ", ".join(f'"{c}"' for c, _, _, _ in _COLUMNS)
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(sql) as copy:
            for line in lines:
                copy.write_row([_value(line, a, q, auto) for a, q, auto in cols])
