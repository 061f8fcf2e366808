"""Station connectivity from the gateway's batches: websocket connects and disconnects,
BootNotifications, and "seen" marks. Set-based: a reconnect storm of 10,000 stations costs a
few statements per batch of 200, not one per station (docs/benchmarks.md, gateway)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from apps.common.bulk import update_where
from apps.locations.contracts import BootIn, ConnectionEventIn, ConnectionEventKind, Connectivity
from apps.locations.models import ChargeStation, StationConnectionEvent


def _stations_update(
    columns: Sequence[str], rows: Sequence[Sequence[object]], *, also_match: str = ""
) -> None:
    """Per-row values of `columns` on stations, in one statement per batch: each row the
    values, then the pk, then (with `also_match`) the value that column must still have.
    Connectivity is not a change of the station's record: its `updated_at` (the ETag) stays."""
    update_where(
        ChargeStation,
        set_fields=columns,
        where_fields=["id", also_match] if also_match else ["id"],
        rows=rows,
        stamp=False,
        one_statement=True,
        convert=False,  # str, int and aware datetimes: what the driver takes
    )


_BOOT_COLUMNS = (
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "ocpp_version",
    "last_boot_at",
    "last_seen_at",
    "connectivity",
)


@transaction.atomic
def charge_station_boots_record(*, boots: Sequence[BootIn]) -> None:
    """Record BootNotifications: the station's facts (one statement per batch; the last boot
    of a station in the batch wins) and a BOOTED entry in its connection history each."""
    last = {b.station_id: b for b in boots}
    tenants = dict(ChargeStation.objects.filter(pk__in=last).values_list("pk", "tenant_id"))
    StationConnectionEvent.objects.bulk_create(
        [
            StationConnectionEvent(
                tenant_id=tenants[b.station_id],
                charge_station_id=b.station_id,
                kind=ConnectionEventKind.BOOTED.value,
                at=b.at,
                protocol=b.ocpp_version[:8],
            )
            for b in boots
            if b.station_id in tenants
        ]
    )
    _stations_update(
        _BOOT_COLUMNS,
        [
            (
                b.vendor[:50],
                b.model[:50],
                b.serial_number[:50],
                b.firmware_version[:50],
                b.ocpp_version,
                b.at,
                b.at,
                Connectivity.ONLINE.value,
                b.station_id,
            )
            for b in last.values()
        ],
    )


def charge_stations_seen(*, station_ids: list[int], at: datetime) -> None:
    """Mark stations online and seen at `at` (one statement for a whole batch). Connects and
    disconnects are recorded by `charge_station_connections_record`."""
    if station_ids:
        ChargeStation.objects.filter(pk__in=station_ids).update(
            last_seen_at=at, connectivity=Connectivity.ONLINE.value
        )


@transaction.atomic
def charge_station_connections_record(*, events: Sequence[ConnectionEventIn]) -> None:
    """Record websocket connects and disconnects (in order) and the station's connectivity.

    A connect makes its connection the one the station is known by (node, connection id,
    online). A disconnect marks the station offline only if it closes that connection: when a
    station moved to another node, the old node's close may be recorded after the new
    connect, and must not undo it."""
    if not events:
        return
    StationConnectionEvent.objects.bulk_create(
        [
            StationConnectionEvent(
                tenant_id=e.tenant_id,
                charge_station_id=e.station_id,
                kind=e.kind.value,
                at=e.at,
                node=e.node[:64],
                connection_id=e.connection_id[:32],
                protocol=e.protocol[:8],
                close_code=e.close_code,
                reason=e.reason[:123],
            )
            for e in events
        ]
    )
    # Per station, what precedes its last connect in this batch is history only. What is left
    # is set-based: the connects in one UPDATE, then each station's later
    # closes in one conditional UPDATE per round (usually one): a reconnect storm costs a
    # few statements per batch, not one per station.
    by_station: dict[int, list[ConnectionEventIn]] = {}
    for e in events:
        if e.kind is ConnectionEventKind.CONNECTED:
            by_station[e.station_id] = [e]
        else:
            by_station.setdefault(e.station_id, []).append(e)
    connects = [es[0] for es in by_station.values() if es[0].kind is ConnectionEventKind.CONNECTED]
    _stations_update(
        ("connectivity", "gateway_node", "connection_id", "connected_at", "last_seen_at"),
        [
            (Connectivity.ONLINE.value, e.node[:64], e.connection_id[:32], e.at, e.at, e.station_id)
            for e in connects
        ],
    )
    closes = [
        [e for e in es if e.kind is ConnectionEventKind.DISCONNECTED] for es in by_station.values()
    ]
    for round_ in itertools.zip_longest(*closes):
        _stations_update(
            ("connectivity", "gateway_node", "connection_id", "last_seen_at"),
            [
                (Connectivity.OFFLINE.value, "", "", e.at, e.station_id, e.connection_id[:32])
                for e in round_
                if e is not None
            ],
            also_match="connection_id",
        )
