"""Keyset pages of a list ordered by (a timestamp, id), oldest first: the OCPI sender lists
(sessions, CDRs, locations, tariffs; issue 19), one mechanism for all of them.

`date_from` is inclusive and `date_to` exclusive on the timestamp. The page starts either
after a cursor, the (timestamp, id) key of the last row the caller saw (what `Link` carries:
a row that changes between two pages moves behind the crawl's position and is seen again,
no row ahead of the position is skipped), or at an `offset`: the offset is first resolved to
the key of the page's first row by a narrow query that reads only the index over
(..., timestamp, id), then the page is a seek from that key
(`(timestamp, id) >= key ORDER BY ... LIMIT n`). Either way, only the page's rows are read
with their joins by the caller, and deep pages cost what the first one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import BigIntegerField, DateTimeField, F, Func, Value
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual


@dataclass(frozen=True)
class KeysetPage:
    """`total`: rows matching the filters (whatever the position); `ids`: the page, in
    order; `last`: the (timestamp, id) of the page's last row when rows follow it (the
    cursor of the next page), None when this page is the last."""

    total: int
    ids: list[int]
    last: tuple[datetime, int] | None


class _Row(Func):
    """A row value, `(a, b)`: PostgreSQL compares it with another in the order of an index
    over (a, b), so the seek is one ordered range read (SQLite 3.15+ has row values too)."""

    template = "(%(expressions)s)"
    output_field = DateTimeField()


def _seek(qs: Any, stamp: str, key: tuple[datetime, int], *, inclusive: bool) -> Any:
    """The rows at or after (`inclusive`), or after, `key` in (`stamp`, id) order:
    `(stamp, id) >= (at, pk)`, not `stamp > at OR (stamp = at AND id > pk)`, which
    PostgreSQL reads as two bitmap scans of everything after the key, then sorts."""
    at, pk = key
    lookup = GreaterThanOrEqual if inclusive else GreaterThan
    return qs.filter(
        lookup(
            _Row(F(stamp), F("id")), _Row(Value(at, DateTimeField()), Value(pk, BigIntegerField()))
        )
    )


def keyset_page(
    qs: Any,
    stamp: str,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> KeysetPage:
    """The page of `qs` in (`stamp`, id) order within [date_from, date_to): after the key
    `after` when given (then `offset` is not used), else from `offset`. One COUNT, at most
    one key lookup, one seek of limit + 1 rows."""
    if date_from is not None:
        qs = qs.filter(**{f"{stamp}__gte": date_from})
    if date_to is not None:
        qs = qs.filter(**{f"{stamp}__lt": date_to})
    total = qs.count()
    if limit <= 0:
        return KeysetPage(total, [], None)
    ordered = qs.order_by(stamp, "id")
    if after is not None:
        page = _seek(ordered, stamp, after, inclusive=False)
    else:
        if offset >= total:
            return KeysetPage(total, [], None)
        first = ordered.values_list(stamp, "id")[offset : offset + 1].first()
        if first is None:
            return KeysetPage(total, [], None)
        page = _seek(ordered, stamp, first, inclusive=True)
    rows = list(page.values_list(stamp, "id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(total, [pk for _, pk in rows], tuple(rows[-1]) if more else None)


def keyset_page_ids(
    qs: Any,
    stamp: str,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[int]]:
    """(total, ids of the page) of `qs` in (`stamp`, id) order, [date_from, date_to), from
    `offset` (`keyset_page` without a cursor)."""
    page = keyset_page(qs, stamp, date_from=date_from, date_to=date_to, offset=offset, limit=limit)
    return page.total, page.ids
