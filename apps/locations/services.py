from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from apps.common.errors import Conflict, NotFound
from apps.common.secrets import generate_secret, hash_secret
from apps.common.services import upsert
from apps.locations.contracts import Connectivity, SecurityProfile
from apps.locations.models import ChargeStation, Connector, Evse, Location


@transaction.atomic
def charge_station_reset_password(*, station_id: int) -> str:
    """Give the station a new Basic-auth password; returns it once, stores only its hash."""
    station = ChargeStation.objects.select_for_update().filter(pk=station_id).first()
    if station is None:
        raise NotFound(f"no charge station {station_id}")
    password = generate_secret(24)  # 32 characters, within OCPP's 16..40
    station.password_hash = hash_secret(password)
    station.save(update_fields=["password_hash", "updated_at"])
    return password


@transaction.atomic
def charge_station_set_security_profile(
    *, station_id: int, profile: SecurityProfile, client_cert_fingerprint: str = ""
) -> None:
    """Raise a station's security profile. Never lowers it: OCPP forbids a downgrade, which
    would let an attacker who can block TLS fall back to an unencrypted connection."""
    station = ChargeStation.objects.select_for_update().filter(pk=station_id).first()
    if station is None:
        raise NotFound(f"no charge station {station_id}")
    if profile < station.security_profile:
        raise Conflict(
            f"charge station {station.identity}: security profile {station.security_profile} "
            f"cannot be lowered to {int(profile)}"
        )
    if profile == SecurityProfile.TLS_CLIENT_CERT and not (
        client_cert_fingerprint or station.client_cert_fingerprint
    ):
        raise Conflict(
            f"charge station {station.identity}: profile 3 needs a client certificate fingerprint"
        )
    station.security_profile = int(profile)
    if client_cert_fingerprint:
        station.client_cert_fingerprint = client_cert_fingerprint
    station.save(update_fields=["security_profile", "client_cert_fingerprint", "updated_at"])


@transaction.atomic
def location_upsert(*, tenant_id: int, party_id: int, ocpi_id: str, **values: object) -> int:
    return upsert(
        Location,
        lookup={"party_id": party_id, "ocpi_id": ocpi_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


@transaction.atomic
def charge_station_upsert(*, tenant_id: int, identity: str, **values: object) -> int:
    return upsert(
        ChargeStation, lookup={"identity": identity}, values={"tenant_id": tenant_id, **values}
    ).pk


@transaction.atomic
def evse_upsert(*, tenant_id: int, uid: str, **values: object) -> int:
    return upsert(Evse, lookup={"tenant_id": tenant_id, "uid": uid}, values=values).pk


@transaction.atomic
def connector_upsert(*, tenant_id: int, evse_id: int, connector_id: str, **values: object) -> int:
    return upsert(
        Connector,
        lookup={"evse_id": evse_id, "connector_id": connector_id},
        values={"tenant_id": tenant_id, **values},
    ).pk


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


def charge_station_record_boot(
    *,
    station_id: int,
    vendor: str,
    model: str,
    serial_number: str,
    firmware_version: str,
    ocpp_version: str,
    at: datetime,
) -> None:
    ChargeStation.objects.filter(pk=station_id).update(
        vendor=vendor[:50],
        model=model[:50],
        serial_number=serial_number[:50],
        firmware_version=firmware_version[:50],
        ocpp_version=ocpp_version,
        last_boot_at=at,
        last_seen_at=at,
        connectivity=Connectivity.ONLINE.value,
    )


def charge_stations_seen(*, station_ids: list[int], at: datetime) -> None:
    """Mark stations online and seen at `at` (one statement for a whole batch)."""
    if station_ids:
        ChargeStation.objects.filter(pk__in=station_ids).update(
            last_seen_at=at, connectivity=Connectivity.ONLINE.value
        )


def charge_stations_disconnected(*, station_ids: list[int], at: datetime) -> None:
    """Mark stations offline, last seen at `at` (one statement for a whole batch)."""
    if station_ids:
        ChargeStation.objects.filter(pk__in=station_ids).update(
            connectivity=Connectivity.OFFLINE.value, last_seen_at=at
        )


def charge_station_disconnected(*, station_id: int, at: datetime) -> None:
    ChargeStation.objects.filter(pk=station_id).update(
        connectivity=Connectivity.OFFLINE.value, last_seen_at=at
    )


def evse_statuses_record(*, updates: Sequence[tuple[int, int, str]]) -> None:
    """`evse_status_record` for many (station, OCPP EVSE id, OCPP status) in order: the last
    status of each EVSE wins; one UPDATE per distinct OCPI status."""
    last: dict[tuple[int, int], str] = {}
    for station_id, evse_ocpp_id, ocpp_status in updates:
        last[(station_id, evse_ocpp_id)] = _OCPP_TO_OCPI_STATUS.get(ocpp_status, "UNKNOWN")
    by_status: dict[str, list[tuple[int, int]]] = {}
    for key, status in last.items():
        by_status.setdefault(status, []).append(key)
    for status, keys in sorted(by_status.items()):
        match = Q()
        for station_id, evse_ocpp_id in keys:
            match |= Q(charge_station_id=station_id, ocpp_evse_id=evse_ocpp_id)
        Evse.objects.filter(match).update(status=status)


def evse_status_record(*, station_id: int, evse_ocpp_id: int, ocpp_status: str) -> None:
    """Map an OCPP connector status onto the OCPI status of the station's EVSE."""
    status = _OCPP_TO_OCPI_STATUS.get(ocpp_status, "UNKNOWN")
    Evse.objects.filter(charge_station_id=station_id, ocpp_evse_id=evse_ocpp_id).update(
        status=status
    )
