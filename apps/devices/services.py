"""Writes of the devices app. Each public function is one database transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from apps.devices.contracts import (
    CertificateRequestStatus,
    DeviceVariableIn,
    StationEventIn,
    StationEventKind,
)
from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent

# Which fields of DeviceState an event of a kind sets: (status, request id, time).
_STATE_FIELDS: dict[StationEventKind, tuple[str, str | None, str]] = {
    StationEventKind.FIRMWARE: ("firmware_status", "firmware_request_id", "firmware_status_at"),
    StationEventKind.DIAGNOSTICS: ("diagnostics_status", None, "diagnostics_status_at"),
    StationEventKind.LOG: ("log_status", "log_request_id", "log_status_at"),
    StationEventKind.SECURITY: ("security_event", None, "security_event_at"),
}
# Publishing firmware to local stations (2.0.1 PublishFirmwareStatusNotification) is not the
# station's own firmware: logged, not its state.
_NOT_STATE_ACTIONS = frozenset({"PublishFirmwareStatusNotification"})


def _row(event: StationEventIn) -> StationEvent:
    return StationEvent(
        tenant_id=event.tenant_id,
        charge_station_id=event.station_id,
        kind=event.kind.value,
        action=event.action[:40],
        protocol=event.protocol,
        status=event.status[:64],
        request_id=event.request_id,
        evse_ocpp_id=event.evse_ocpp_id,
        station_timestamp=event.station_timestamp,
        received_at=event.received_at,
        details=event.details,
        frame=event.frame,
    )


def _set_state(tenant_id: int, station_id: int, values: dict[str, Any]) -> None:
    if DeviceState.objects.filter(charge_station_id=station_id).update(**values):
        return
    try:
        with transaction.atomic():
            DeviceState.objects.create(tenant_id=tenant_id, charge_station_id=station_id, **values)
    except IntegrityError:  # created concurrently (the station reconnected to another node)
        DeviceState.objects.filter(charge_station_id=station_id).update(**values)


def station_events_record(*, events: Sequence[StationEventIn]) -> list[int]:
    """Append the events in order; the latest firmware / diagnostics / log / security report
    of each station becomes its `DeviceState`. Returns the new rows' ids."""
    if not events:
        return []
    with transaction.atomic():
        rows = StationEvent.objects.bulk_create([_row(e) for e in events])
        state: dict[tuple[int, int], dict[str, Any]] = {}
        for e in events:
            fields = _STATE_FIELDS.get(e.kind)
            if fields is None or e.action in _NOT_STATE_ACTIONS:
                continue
            status_field, request_field, at_field = fields
            values = state.setdefault((e.tenant_id, e.station_id), {})
            values[status_field] = e.status[:64]
            values[at_field] = e.station_timestamp or e.received_at
            if request_field is not None:
                values[request_field] = e.request_id
        for (tenant_id, station_id), values in state.items():
            _set_state(tenant_id, station_id, values)
    return [row.pk for row in rows if row.pk is not None]


def station_event_record(*, event: StationEventIn) -> int | None:
    ids = station_events_record(events=[event])
    return ids[0] if ids else None


_REPORTED_FIELDS = [
    "value",
    "mutability",
    "persistent",
    "constant",
    "characteristics",
    "report_request_id",
    "reported_at",
    "updated_at",
]
_UNIQUE = [
    "charge_station",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
]


def device_variables_report(
    *,
    tenant_id: int,
    station_id: int,
    variables: Sequence[DeviceVariableIn],
    reported_at: datetime,
    request_id: int | None = None,
    values_only: bool = False,
    events: Sequence[StationEventIn] = (),
) -> int:
    """Upsert reported device-model attributes (one statement per 500); with `values_only`
    (a NotifyEvent) only the value of an existing attribute changes, its mutability and
    characteristics stay as the last full report said. `events` are logged in the same
    transaction. Returns how many attributes were written."""
    latest: dict[tuple[Any, ...], DeviceVariable] = {}
    for v in variables:
        row = DeviceVariable(
            tenant_id=tenant_id,
            charge_station_id=station_id,
            component=v.component[:50],
            component_instance=v.component_instance[:50],
            evse_id=max(v.evse_id, 0),
            connector_id=max(v.connector_id, 0),
            variable=v.variable[:50],
            variable_instance=v.variable_instance[:50],
            attribute_type=v.attribute_type[:8],
            value=v.value,
            mutability=v.mutability[:10],
            persistent=v.persistent,
            constant=v.constant,
            characteristics=v.characteristics,
            report_request_id=request_id,
            reported_at=reported_at,
        )
        # One row per key in a statement (PostgreSQL refuses to upsert the same key twice).
        key = tuple(
            getattr(row, f if f != "charge_station" else "charge_station_id") for f in _UNIQUE
        )
        latest[key] = row
    update = ["value", "reported_at", "updated_at"] if values_only else _REPORTED_FIELDS
    with transaction.atomic():
        DeviceVariable.objects.bulk_create(
            list(latest.values()),
            batch_size=500,
            update_conflicts=True,
            unique_fields=_UNIQUE,
            update_fields=update,
        )
        station_events_record(events=events)
    return len(latest)


def certificate_request_record(
    *,
    tenant_id: int,
    station_id: int,
    protocol: str,
    certificate_type: str,
    csr: str,
    event: StationEventIn,
) -> int:
    """Keep a station's certificate signing request for a CA (a resent CSR is stored once)
    and log it. Returns the request's id."""
    digest = hashlib.sha256(csr.encode()).hexdigest()
    with transaction.atomic():
        request, _ = CertificateRequest.objects.get_or_create(
            charge_station_id=station_id,
            csr_sha256=digest,
            defaults={
                "tenant_id": tenant_id,
                "protocol": protocol,
                "certificate_type": certificate_type[:40],
                "csr": csr,
                "status": CertificateRequestStatus.PENDING.value,
                "received_at": event.received_at,
            },
        )
        details = {**event.details, "certificate_request_id": request.pk}
        station_events_record(
            events=[
                StationEventIn(
                    tenant_id=event.tenant_id,
                    station_id=event.station_id,
                    kind=event.kind,
                    action=event.action,
                    protocol=event.protocol,
                    received_at=event.received_at,
                    status=event.status,
                    details=details,
                    frame=event.frame,
                )
            ]
        )
    return request.pk
