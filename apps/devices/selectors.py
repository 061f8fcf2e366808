"""Reads of the devices app, tenant-scoped."""

from __future__ import annotations

from apps.devices.contracts import (
    CertificateRequestRecord,
    CertificateRequestStatus,
    DeviceStateRecord,
    DeviceVariableRecord,
    StationEventKind,
    StationEventRecord,
)
from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent


def station_events(
    *,
    tenant_id: int,
    station_id: int,
    kind: StationEventKind | None = None,
    limit: int = 100,
) -> list[StationEventRecord]:
    """A station's events, oldest first (arrival order), the newest `limit` of them."""
    rows = StationEvent.objects.for_tenant(tenant_id).filter(charge_station_id=station_id)
    if kind is not None:
        rows = rows.filter(kind=kind.value)
    newest = list(rows.order_by("-id")[:limit])
    return [
        StationEventRecord(
            id=r.pk,
            station_id=r.charge_station_id,
            kind=StationEventKind(r.kind),
            action=r.action,
            protocol=r.protocol,
            status=r.status,
            request_id=r.request_id,
            evse_ocpp_id=r.evse_ocpp_id,
            station_timestamp=r.station_timestamp,
            received_at=r.received_at,
            details=r.details,
        )
        for r in reversed(newest)
    ]


def device_state(*, tenant_id: int, station_id: int) -> DeviceStateRecord | None:
    row = DeviceState.objects.for_tenant(tenant_id).filter(charge_station_id=station_id).first()
    if row is None:
        return None
    return DeviceStateRecord(
        station_id=row.charge_station_id,
        firmware_status=row.firmware_status,
        firmware_request_id=row.firmware_request_id,
        firmware_status_at=row.firmware_status_at,
        diagnostics_status=row.diagnostics_status,
        diagnostics_status_at=row.diagnostics_status_at,
        log_status=row.log_status,
        log_request_id=row.log_request_id,
        log_status_at=row.log_status_at,
        security_event=row.security_event,
        security_event_at=row.security_event_at,
    )


def device_variables(*, tenant_id: int, station_id: int) -> list[DeviceVariableRecord]:
    return [
        DeviceVariableRecord(
            component=r.component,
            component_instance=r.component_instance,
            evse_id=r.evse_id,
            connector_id=r.connector_id,
            variable=r.variable,
            variable_instance=r.variable_instance,
            attribute_type=r.attribute_type,
            value=r.value,
            mutability=r.mutability,
            persistent=r.persistent,
            constant=r.constant,
            characteristics=r.characteristics,
            reported_at=r.reported_at,
        )
        for r in DeviceVariable.objects.for_tenant(tenant_id).filter(charge_station_id=station_id)
    ]


def certificate_request_record(r: CertificateRequest) -> CertificateRequestRecord:
    return CertificateRequestRecord(
        id=r.pk,
        station_id=r.charge_station_id,
        protocol=r.protocol,
        certificate_type=r.certificate_type,
        csr=r.csr,
        status=CertificateRequestStatus(r.status),
        received_at=r.received_at,
        certificate=r.certificate,
        reason=r.reason,
        decided_at=r.decided_at,
        command_id=r.command_id,
        delivery_status=r.delivery_status,
    )


def certificate_requests(
    *, tenant_id: int, station_id: int | None = None
) -> list[CertificateRequestRecord]:
    rows = CertificateRequest.objects.for_tenant(tenant_id)
    if station_id is not None:
        rows = rows.filter(charge_station_id=station_id)
    return [certificate_request_record(r) for r in rows]
