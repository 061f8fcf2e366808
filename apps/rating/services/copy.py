"""Rated lines written in bulk: COPY on PostgreSQL, `bulk_create` elsewhere (area "bench",
`make bench-rating`, ADR 0033).

`bulk_create` prepares every value of every row through its field (about 40 per line) and
sends one INSERT with all values inlined; for the thousands of lines of a rating batch that
was the largest single cost of rating (docs/benchmarks.md, "Rating"). COPY streams the
rows' values as they are: the same rows, the same constraints and triggers (the foreign
keys, the append-only trigger, the unique (cdr, engine, seq) backstop) checked by
PostgreSQL. Values are what the model holds, with the two things `bulk_create` would add:
`updated_at` (auto_now) set to the batch's clock, and decimals rounded to their column's
places (ROUND_HALF_EVEN, as Django's DecimalField does) when they have more.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

from apps.rating.models import RatedLine


def _columns() -> list[tuple[str, str, int | None, bool]]:
    """(column, attname, decimal places of a DecimalField, auto_now) of every column but
    the id."""
    out = []
    for field in RatedLine._meta.concrete_fields:
        if field.primary_key:
            continue
        places = None
        if isinstance(field, models.DecimalField) and field.decimal_places is not None:
            places = int(field.decimal_places)
        auto = isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add)
        out.append((field.column, field.attname, places, auto))
    return out


_COLUMNS = _columns()


def _value(line: RatedLine, attname: str, places: int | None, auto: Any) -> Any:
    value = getattr(line, attname)
    if places is not None and value is not None:
        value = Decimal(value)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    elif auto is not None and (value is None or attname == "updated_at"):
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
    cols = [(attname, places, now if auto else None) for _, attname, places, auto in _COLUMNS]
    sql = "COPY {} ({}) FROM STDIN".format(
        RatedLine._meta.db_table, ", ".join(f'"{c}"' for c, _, _, _ in _COLUMNS)
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(sql) as copy:
            for line in lines:
                copy.write_row([_value(line, a, q, auto) for a, q, auto in cols])
