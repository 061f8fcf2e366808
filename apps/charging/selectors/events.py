"""The OCPP transaction event log as the worker reads it: thousands of rows per task, as
light read-only tuples with the attribute names of `OcppEvent`."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from typing import Any

from apps.charging.models import OcppEvent

# The transaction log's columns processing reads (not the verbatim frame, not the row's
# bookkeeping).
EVENT_FIELDS = tuple(
    f.attname
    for f in OcppEvent._meta.concrete_fields
    if f.name not in ("frame", "created_at", "updated_at", "idempotency_key")
)


class EventRow(namedtuple("EventRow", EVENT_FIELDS)):  # type: ignore[misc]
    """One stored transaction message, read-only, with the attribute names of `OcppEvent`
    (processing reads thousands per task: a tuple costs a fraction of a model instance,
    whose constructor sets every field and foreign key through descriptors). Typed as
    `OcppEvent` where it is used: it has the same attributes (namedtuple with a field list
    computed at import: mypy cannot see its fields, hence the ignore above)."""

    __slots__ = ()

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[attr-defined]


def events_by_transaction(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], list[OcppEvent]]:
    """The events of these (station, transaction) pairs (as `EventRow`s), in one query."""
    wanted = set(pairs)
    out: dict[tuple[int, str], list[Any]] = {key: [] for key in pairs}
    make = EventRow._make
    for row in OcppEvent.objects.filter(
        charge_station_id__in={station for station, _ in wanted},
        ocpp_transaction_id__in={txid for _, txid in wanted},
    ).values_list(*EVENT_FIELDS):
        e: Any = make(row)
        key = (e.charge_station_id, e.ocpp_transaction_id)
        if key in wanted:
            out[key].append(e)
    return out


def events_by_ids(ids: Iterable[int]) -> list[OcppEvent]:
    """These events (as `EventRow`s), in one query."""
    make = EventRow._make
    rows: list[Any] = [
        make(row) for row in OcppEvent.objects.filter(pk__in=list(ids)).values_list(*EVENT_FIELDS)
    ]
    return rows
