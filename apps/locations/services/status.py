"""EVSE statuses from the stations' StatusNotifications (the gateway's batches), and the
`station.status_changed` webhook event of each change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import connection
from django.utils import timezone

from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.locations.contracts import EvseStatusReport
from apps.locations.models import ChargeStation, Evse, Location, touch_locations

_OCPP_TO_OCPI_STATUS = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}


def evse_statuses_record(
    *, updates: Sequence[tuple[int, int, str]], now: datetime | None = None
) -> None:
    """`evse_status_record` for many (station, OCPP EVSE id, OCPP status) in order: the last
    status of each EVSE wins. An EVSE whose OCPI status changes gets it with `updated_at` =
    `now` (one statement executed per EVSE, pipelined); a status it already has changes
    nothing (a station repeats its statuses at every boot). Then one UPDATE raises the OCPI
    `last_updated` of the locations of the EVSEs that changed to `now`."""
    last: dict[tuple[int, int], str] = {}
    for station_id, evse_ocpp_id, ocpp_status in updates:
        last[(station_id, evse_ocpp_id)] = _OCPP_TO_OCPI_STATUS.get(ocpp_status, "UNKNOWN")
    if not last:
        return
    at = now or timezone.now()
    stamp = Evse._meta.get_field("updated_at").get_db_prep_save(at, connection)  # SQLite: text
    with connection.cursor() as cur:
        cur.executemany(
            _STATUS_UPDATE,
            [
                [status, stamp, station, evse, status]
                for (station, evse), status in sorted(last.items())
            ],
        )
    # The EVSEs just changed are those of these stations stamped `at` (a station's EVSEs are
    # all at its location): their locations, in one statement.
    touch_locations(
        Location.objects.filter(
            pk__in=Evse.objects.filter(
                charge_station_id__in={station for station, _ in last}, updated_at=at
            ).values("location_id")
        ),
        at,
    )


_STATUS_UPDATE = (
    "UPDATE locations_evse SET status = %s, updated_at = %s"
    " WHERE charge_station_id = %s AND ocpp_evse_id = %s AND status <> %s"
)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def evse_status_reports_record(
    *, reports: Sequence[EvseStatusReport], now: datetime | None = None
) -> None:
    """`evse_statuses_record` for a batch of StatusNotifications, plus the
    `station.status_changed` webhook event for every OCPI status change of an EVSE (and for
    every report about the whole station, connector 0), in the caller's transaction.

    Tenants without a subscription for the event cost one query per batch and nothing else.
    With one: the EVSEs' current statuses are read once before the update, each report is
    compared with the status before it, and the events go out in one INSERT. The event key
    is (EVSE, station time, status): the same notification sent again changes nothing and
    delivers nothing twice."""
    emit = _status_events_prepare(reports)  # reads the statuses before the update
    evse_statuses_record(
        updates=[(r.station_id, r.evse_ocpp_id, r.ocpp_status) for r in reports], now=now
    )
    if emit is not None:
        emit()


_STATUS_EVENT = WebhookEventType.STATION_STATUS_CHANGED


def _status_events_prepare(
    reports: Sequence[EvseStatusReport],
) -> Callable[[], None] | None:
    interest = integrations_api.webhook_interest(tenant_ids={r.tenant_id for r in reports})
    wanted = [r for r in reports if _STATUS_EVENT.value in interest.get(r.tenant_id, ())]
    if not wanted:
        return None
    stations = {r.station_id for r in wanted}
    evses = {
        (row["charge_station_id"], row["ocpp_evse_id"]): row
        for row in Evse.objects.filter(charge_station_id__in=stations).values(
            "id",
            "charge_station_id",
            "ocpp_evse_id",
            "uid",
            "status",
            "location__ocpi_id",
        )
    }
    identities = dict(ChargeStation.objects.filter(pk__in=stations).values_list("pk", "identity"))

    def emit() -> None:
        current = {key: row["status"] for key, row in evses.items()}
        events = []
        for r in wanted:
            status = _OCPP_TO_OCPI_STATUS.get(r.ocpp_status, "UNKNOWN")
            row = evses.get((r.station_id, r.evse_ocpp_id))
            previous = current.get((r.station_id, r.evse_ocpp_id))
            if row is not None:
                if previous == status:
                    continue
                current[(r.station_id, r.evse_ocpp_id)] = status
            elif r.evse_ocpp_id != 0:
                continue  # an EVSE the platform does not know (flagged by the charging app)
            at = _iso(r.station_timestamp)
            events.append(
                WebhookEventIn(
                    tenant_id=r.tenant_id,
                    type=_STATUS_EVENT,
                    key=f"status:{r.station_id}:{r.evse_ocpp_id}:{at}:{r.ocpp_status}",
                    occurred_at=r.station_timestamp,
                    data={
                        "charge_station_id": r.station_id,
                        "identity": identities.get(r.station_id, ""),
                        "location_id": row["location__ocpi_id"] if row else None,
                        "evse_uid": row["uid"] if row else None,
                        "ocpp_evse_id": r.evse_ocpp_id,
                        "ocpp_connector_id": r.connector_ocpp_id,
                        "ocpp_status": r.ocpp_status,
                        "status": status,
                        "previous_status": previous,
                        "timestamp": at,
                    },
                )
            )
        integrations_api.webhook_events_emit(events=events, now=timezone.now())

    return emit


def evse_status_record(
    *, station_id: int, evse_ocpp_id: int, ocpp_status: str, now: datetime | None = None
) -> None:
    """Map an OCPP connector status onto the OCPI status of the station's EVSE (and its
    location's `last_updated`, when the status changes)."""
    evse_statuses_record(updates=[(station_id, evse_ocpp_id, ocpp_status)], now=now)
