"""Writes of the devices app. Each public function is one database transaction."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, DomainError, NotFound
from apps.devices import ca
from apps.devices.contracts import (
    CertificateRequestRecord,
    CertificateRequestStatus,
    DeviceVariableIn,
    StationEventIn,
    StationEventKind,
)
from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent
from apps.devices.selectors import certificate_request_record as _record_of
from apps.locations import api as locations_api
from apps.locations.contracts import CertificateSigned, CommandStatus
from apps.parties import api as parties_api

log = logging.getLogger(__name__)

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


# --- Signing station certificates (apps.devices.ca; ADR 0014) --------------------------------


def _pem(value: str, path: str, name: str) -> bytes:
    if value:
        return value.encode()
    if not path:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {path}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def _load_ca(
    cert: bytes, key: bytes, password: str, days: int, organization: str
) -> ca.CertificateAuthority:
    try:
        return ca.load(
            certificate_pem=cert,
            key_pem=key,
            validity_days=days,
            organization=organization,
            key_password=password.encode() or None,
        )
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"CSMS_CA_*: the certificate authority is unusable: {exc}"
        ) from None


def configured_ca() -> ca.CertificateAuthority | None:
    """The CA of the settings (CSMS_CA_CERT_FILE / _PEM and CSMS_CA_KEY_FILE / _PEM), or
    None when none is configured. Raises ImproperlyConfigured for half a CA or a bad one."""
    cert = _pem(settings.CSMS_CA_CERT_PEM, settings.CSMS_CA_CERT_FILE, "CSMS_CA_CERT_FILE")
    key = _pem(settings.CSMS_CA_KEY_PEM, settings.CSMS_CA_KEY_FILE, "CSMS_CA_KEY_FILE")
    if not cert and not key:
        return None
    if not cert or not key:
        raise ImproperlyConfigured(
            "CSMS_CA_*: a certificate authority needs both its certificate "
            "(CSMS_CA_CERT_FILE or CSMS_CA_CERT_PEM) and its key (CSMS_CA_KEY_FILE or _PEM)"
        )
    return _load_ca(
        cert,
        key,
        settings.CSMS_CA_KEY_PASSWORD,
        settings.CSMS_CERTIFICATE_VALIDITY_DAYS,
        settings.CSMS_CERTIFICATE_ORGANIZATION,
    )


def certificate_request_sign(
    *,
    request_id: int,
    tenant_id: int | None = None,
    authority: ca.CertificateAuthority | None = None,
    requested_by: str = "certificate authority",
    now: datetime | None = None,
    send: bool = True,
    actor: Actor | None = None,
) -> CertificateRequestRecord:
    """Decide a PENDING request with the CA (`authority`, else the configured one): SIGNED
    with the issued chain, or REJECTED with the reason (ca.check). A signed chain is then
    sent to the station as a CertificateSigned command (`certificate_request_send`; call
    this outside a transaction: it waits for the station). Without a CA the request stays
    PENDING; a request already decided is returned as it is (idempotent). `tenant_id`
    limits the request to one tenant (NotFound otherwise). `actor`: the operator who asked
    (audited, with the sending); None when the CA decides as the station asks."""
    row = _request(request_id, tenant_id)
    if row.status != CertificateRequestStatus.PENDING.value:
        return _record_of(row)  # decided already (a resent CSR): no lock taken
    authority = authority or configured_ca()
    if authority is None:
        return _record_of(row)
    now = now or timezone.now()
    with transaction.atomic():
        row = _request(request_id, tenant_id, lock=True)
        if row.status != CertificateRequestStatus.PENDING.value:
            return _record_of(row)
        station = locations_api.charge_station_get(
            tenant_id=row.tenant_id, station_id=row.charge_station_id
        )
        try:
            csr = ca.check(
                authority,
                csr_pem=row.csr,
                identity=station.identity,
                certificate_type=row.certificate_type,
            )
            row.certificate = ca.issue(authority, csr, now=now)
            row.status = CertificateRequestStatus.SIGNED.value
        except ca.Refused as exc:
            row.status, row.reason = CertificateRequestStatus.REJECTED.value, str(exc)
        row.decided_at = now
        row.save()
        _audit(actor, row, "certificate_request.sign")
    if row.status == CertificateRequestStatus.SIGNED.value and send:
        return certificate_request_send(request_id=row.pk, requested_by=requested_by, actor=actor)
    return _record_of(row)


def _audit(actor: Actor | None, row: CertificateRequest, action: str) -> None:
    """An operator's decision in the audit log (in the caller's transaction)."""
    if actor is None:
        return
    parties_api.audit(
        row.tenant_id,
        actor,
        action,
        "certificate_request",
        row.pk,
        before=None,
        after={
            "status": row.status,
            "reason": row.reason,
            "delivery_status": row.delivery_status,
            "command_id": row.command_id,
        },
    )


def certificate_request_reject(
    *,
    request_id: int,
    reason: str,
    actor: Actor,
    tenant_id: int | None = None,
    now: datetime | None = None,
) -> CertificateRequestRecord:
    """An operator refuses a PENDING request (Conflict when it was decided already);
    audited with `actor`."""
    with transaction.atomic():
        row = _request(request_id, tenant_id, lock=True)
        if row.status != CertificateRequestStatus.PENDING.value:
            raise Conflict(f"certificate request {request_id} is {row.status}, not PENDING")
        row.status, row.reason = CertificateRequestStatus.REJECTED.value, reason
        row.decided_at = now or timezone.now()
        row.save()
        _audit(actor, row, "certificate_request.reject")
    return _record_of(row)


def certificate_request_send(
    *,
    request_id: int,
    tenant_id: int | None = None,
    requested_by: str = "",
    actor: Actor | None = None,
) -> CertificateRequestRecord:
    """Send a SIGNED request's chain to its station (CertificateSigned, through the command
    relay: it is in the command log) and record the command and its outcome. Sending again
    (the station was offline) is allowed; each attempt is its own command. `actor`: the
    operator who asked (audited with the outcome); None when sent on the CA's decision."""
    row = _request(request_id, tenant_id)
    if row.status != CertificateRequestStatus.SIGNED.value:
        raise Conflict(f"certificate request {request_id} is {row.status}, not SIGNED")
    two = row.protocol.startswith("2.")
    command = CertificateSigned(
        certificate_chain=row.certificate,
        certificate_type="ChargingStationCertificate" if two else "",
    )
    try:
        outcome = locations_api.charge_station_command(
            tenant_id=row.tenant_id,
            station_id=row.charge_station_id,
            command=command,
            requested_by=requested_by,
        )
    except DomainError as exc:  # no relay (ServiceUnavailable), a chain over the OCPP limit
        log.warning("certificate request %s: CertificateSigned not sent: %s", request_id, exc)
        CertificateRequest.objects.filter(pk=row.pk).update(
            delivery_status="NOT_SENT", updated_at=timezone.now()
        )
    else:
        CertificateRequest.objects.filter(pk=row.pk).update(
            command_id=outcome.id, delivery_status=outcome.status.value, updated_at=timezone.now()
        )
        if outcome.status is CommandStatus.ACCEPTED:
            # Security profile 3: the station may reconnect with its new certificate (the
            # chain's first, the station's own); the first such connection pins it.
            locations_api.charge_station_certificate_issued(
                station_id=row.charge_station_id, fingerprint=ca.leaf_fingerprint(row.certificate)
            )
    with transaction.atomic():
        row = _request(row.pk, None)
        _audit(actor, row, "certificate_request.send")
    return _record_of(row)


def _request(request_id: int, tenant_id: int | None, *, lock: bool = False) -> CertificateRequest:
    rows = CertificateRequest.objects.all()
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    if lock:
        rows = rows.select_for_update()
    row = rows.filter(pk=request_id).first()
    if row is None:
        raise NotFound(f"no certificate request {request_id}")
    return row


def certificate_authority_configured() -> bool:
    return configured_ca() is not None
