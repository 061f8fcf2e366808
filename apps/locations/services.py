from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from apps.common.bulk import update_where
from apps.common.errors import (
    Conflict,
    NotFound,
    Problem,
    ServiceUnavailable,
    ValidationFailed,
    problems_from_django,
)
from apps.common.secrets import generate_secret, hash_secret
from apps.common.services import check_version, upsert, validated_save
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.locations import selectors
from apps.locations.contracts import (
    ChargeStationRecord,
    CommandRequest,
    CommandResult,
    Connectivity,
    EvseStatusReport,
    LocationRecord,
    OcppVersion,
    SecurityProfile,
)
from apps.locations.models import (
    ChargeStation,
    ConnectivityEvent,
    Connector,
    Evse,
    Location,
)
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole


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


def charge_station_set_ocpp_versions(*, station_id: int, versions: Sequence[str]) -> None:
    """Limit the OCPP versions a station may connect with (empty: any the gateway enables).
    The gateway offers the station its first preference among them at the handshake."""
    allowed = [v.value for v in OcppVersion]
    unknown = [v for v in versions if v not in allowed]
    if unknown:
        raise ValidationFailed(
            "unknown OCPP version",
            problems=tuple(
                Problem("ocpp_versions", f"{v!r} is not one of {', '.join(allowed)}")
                for v in unknown
            ),
        )
    value = ",".join(v for v in allowed if v in versions)
    if not ChargeStation.objects.filter(pk=station_id).update(ocpp_versions=value):
        raise NotFound(f"no charge station {station_id}")


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


# --- Provisioning (REST API) ----------------------------------------------------------------

LOCATION_FIELDS = (
    "publish",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "parking_type",
    "opening_times",
    "charging_when_closed",
)
EVSE_FIELDS = ("evse_id", "status", "capabilities", "floor_level", "physical_reference")
CONNECTOR_FIELDS = (
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
)
STATION_FIELDS = (
    "client_cert_fingerprint",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "ocpp_version",
    "enabled",
)


def _problems(obj: Any, prefix: str, exclude: list[str]) -> list[Problem]:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        return [
            Problem(prefix if p.path == "$" else f"{prefix}.{p.path}", p.message)
            for p in problems_from_django(exc)
        ]
    return []


def _set(obj: Any, values: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in values:
            setattr(obj, field, values[field])


def _evse_tree(
    tenant_id: int, location: Location, evse_data: dict[str, Any], path: str
) -> tuple[Evse, list[Connector], list[Problem]]:
    evse = (
        Evse.objects.select_for_update().filter(tenant_id=tenant_id, uid=evse_data["uid"]).first()
    )
    problems: list[Problem] = []
    if evse is None:
        evse = Evse(tenant_id=tenant_id, uid=evse_data["uid"], location=location)
    elif evse.location_id != location.pk:
        problems.append(Problem(f"{path}.uid", "this EVSE uid belongs to another location"))
    _set(evse, evse_data, EVSE_FIELDS)
    problems += _problems(evse, path, ["location", "charge_station", "tenant"])
    connectors = []
    seen = set()
    for j, conn in enumerate(evse_data.get("connectors", [])):
        cpath = f"{path}.connectors[{j}]"
        if conn["id"] in seen:
            problems.append(Problem(f"{cpath}.id", "duplicate connector id in this EVSE"))
        seen.add(conn["id"])
        connector = None
        if evse.pk:
            connector = Connector.objects.filter(evse=evse, connector_id=conn["id"]).first()
        if connector is None:
            connector = Connector(tenant_id=tenant_id, connector_id=conn["id"])
        _set(connector, conn, CONNECTOR_FIELDS)
        problems += _problems(connector, cpath, ["evse", "tenant"])
        connectors.append(connector)
    return evse, connectors, problems


def _save_tree(evse: Evse, connectors: list[Connector], location: Location) -> None:
    evse.location = location
    evse.save()
    for connector in connectors:
        connector.evse = evse
        connector.save()


@transaction.atomic
def location_create(
    *, tenant_id: int, country_code: str, party_id: str, ocpi_id: str, values: dict[str, Any]
) -> LocationRecord:
    """Create a location with its EVSEs and connectors (OCPI Location), all or nothing."""
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=country_code,
        party_id=party_id,
        role=PartyRole.CPO,
        path="$.party_id",
    )
    if Location.objects.filter(party_id=party_pk, ocpi_id=ocpi_id).exists():
        raise Conflict(f"location {ocpi_id} of {country_code}*{party_id} exists")
    location = Location(tenant_id=tenant_id, party_id=party_pk, ocpi_id=ocpi_id)
    _set(location, values, LOCATION_FIELDS)
    problems = _problems(location, "$", ["party", "tenant"])
    trees = []
    uids = set()
    for i, evse_data in enumerate(values.get("evses", [])):
        path = f"$.evses[{i}]"
        if evse_data["uid"] in uids:
            problems.append(Problem(f"{path}.uid", "duplicate EVSE uid in this location"))
        uids.add(evse_data["uid"])
        if Evse.objects.filter(tenant_id=tenant_id, uid=evse_data["uid"]).exists():
            problems.append(Problem(f"{path}.uid", "an EVSE with this uid exists"))
            continue
        evse, connectors, evse_problems = _evse_tree(tenant_id, location, evse_data, path)
        problems += evse_problems
        trees.append((evse, connectors))
    if problems:
        raise ValidationFailed("invalid location", problems=tuple(problems))
    location.save()
    for evse, connectors in trees:
        _save_tree(evse, connectors, location)
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def location_update(
    *, tenant_id: int, location_id: int, if_match: str | None, values: dict[str, Any]
) -> LocationRecord:
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    check_version(location, if_match)
    _set(location, values, LOCATION_FIELDS)
    validated_save(location)
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def evse_put(
    *, tenant_id: int, location_id: int, uid: str, values: dict[str, Any]
) -> tuple[LocationRecord, bool]:
    """Create or replace one EVSE of a location with its connectors (connectors not named
    stay as they are: OCPI removes equipment by status REMOVED, not by deletion)."""
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    created = not Evse.objects.filter(tenant_id=tenant_id, uid=uid).exists()
    evse, connectors, problems = _evse_tree(tenant_id, location, {**values, "uid": uid}, "$")
    if problems:
        raise ValidationFailed("invalid EVSE", problems=tuple(problems))
    _save_tree(evse, connectors, location)
    Location.objects.filter(pk=location.pk).update(updated_at=timezone.now())
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk), created


def _map_evses(
    tenant_id: int, station: ChargeStation, mappings: list[dict[str, Any]]
) -> list[Problem]:
    problems = []
    seen: set[int] = set()
    for i, m in enumerate(mappings):
        path = f"$.evses[{i}]"
        evse = Evse.objects.filter(tenant_id=tenant_id, uid=m["evse_uid"]).first()
        if evse is None:
            problems.append(Problem(f"{path}.evse_uid", f"no EVSE {m['evse_uid']} in this tenant"))
            continue
        if station.location_id is not None and evse.location_id != station.location_id:
            problems.append(Problem(f"{path}.evse_uid", "EVSE is at another location"))
            continue
        if m["ocpp_evse_id"] in seen:
            problems.append(Problem(f"{path}.ocpp_evse_id", "used twice"))
            continue
        seen.add(m["ocpp_evse_id"])
        if evse.charge_station_id not in (None, station.pk):
            problems.append(Problem(f"{path}.evse_uid", "EVSE is mapped to another station"))
            continue
    if problems:
        return problems
    Evse.objects.filter(charge_station=station).update(charge_station=None, ocpp_evse_id=None)
    for m in mappings:
        Evse.objects.filter(tenant_id=tenant_id, uid=m["evse_uid"]).update(
            charge_station=station, ocpp_evse_id=m["ocpp_evse_id"]
        )
    return []


def _location_pk(tenant_id: int, location_id: int | None) -> int | None:
    if location_id is None:
        return None
    if not Location.objects.for_tenant(tenant_id).filter(pk=location_id).exists():
        raise ValidationFailed(
            "invalid charge station",
            problems=(Problem("$.location_id", f"no location {location_id} in this tenant"),),
        )
    return location_id


@transaction.atomic
def charge_station_create(
    *,
    tenant_id: int,
    identity: str,
    location_id: int | None,
    security_profile: SecurityProfile,
    values: dict[str, Any],
    evses: list[dict[str, Any]],
    client_cert_fingerprint: str = "",
) -> tuple[ChargeStationRecord, str | None]:
    """Register a station by its OCPP identity. For security profiles 1 and 2 a Basic-auth
    password is generated and returned once (only its hash is kept)."""
    if ChargeStation.objects.filter(identity=identity).exists():
        raise Conflict(f"the OCPP identity {identity!r} is already registered")
    if security_profile == SecurityProfile.TLS_CLIENT_CERT and not client_cert_fingerprint:
        raise ValidationFailed(
            "invalid charge station",
            problems=(Problem("$.client_cert_fingerprint", "required for security profile 3"),),
        )
    station = ChargeStation(
        tenant_id=tenant_id,
        identity=identity,
        location_id=_location_pk(tenant_id, location_id),
        security_profile=int(security_profile),
        client_cert_fingerprint=client_cert_fingerprint,
    )
    _set(station, values, STATION_FIELDS)
    password = None
    if security_profile != SecurityProfile.TLS_CLIENT_CERT:
        password = generate_secret(24)
        station.password_hash = hash_secret(password)
    validated_save(station)
    problems = _map_evses(tenant_id, station, evses)
    if problems:
        raise ValidationFailed("invalid charge station", problems=tuple(problems))
    return selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk), password


@transaction.atomic
def charge_station_update(
    *,
    tenant_id: int,
    station_id: int,
    if_match: str | None,
    values: dict[str, Any],
    evses: list[dict[str, Any]] | None = None,
) -> ChargeStationRecord:
    station = (
        ChargeStation.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=station_id)
        .first()
    )
    if station is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    check_version(station, if_match)
    if "location_id" in values:
        station.location_id = _location_pk(tenant_id, values["location_id"])
    if "security_profile" in values:
        charge_station_set_security_profile(
            station_id=station.pk,
            profile=SecurityProfile(values["security_profile"]),
            client_cert_fingerprint=values.get("client_cert_fingerprint", ""),
        )
        station.refresh_from_db(fields=["security_profile", "client_cert_fingerprint"])
    _set(station, values, STATION_FIELDS)
    validated_save(station)
    if evses is not None:
        problems = _map_evses(tenant_id, station, evses)
        if problems:
            raise ValidationFailed("invalid charge station", problems=tuple(problems))
    return selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)


def charge_station_new_password(*, tenant_id: int, station_id: int) -> str:
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    return charge_station_reset_password(station_id=station_id)


def charge_station_command_submit(
    *, tenant_id: int, station_id: int, command: CommandRequest
) -> CommandResult:
    """Send a remote command to a station through the gateway node that holds its socket.

    NOT AVAILABLE YET: the command relay (Redis -> the gateway node holding the websocket)
    arrives with the gateway issue. Until then every command for an existing station is
    refused with `ServiceUnavailable`; nothing pretends the station accepted it."""
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    raise ServiceUnavailable(
        "station command relay not available: commands need the OCPP gateway's relay, which "
        "is not deployed yet; nothing was sent to the station"
    )


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
    station = list(ChargeStation.objects.filter(pk=station_id).values_list("pk", "tenant_id"))
    _connectivity_events(station, ConnectivityEvent.BOOTED, at)
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
        # Those not online until now (re)connected: one history row each.
        back = list(
            ChargeStation.objects.filter(pk__in=station_ids)
            .exclude(connectivity=Connectivity.ONLINE.value)
            .values_list("pk", "tenant_id")
        )
        _connectivity_events(back, ConnectivityEvent.CONNECTED, at)
        ChargeStation.objects.filter(pk__in=station_ids).update(
            last_seen_at=at, connectivity=Connectivity.ONLINE.value
        )


def charge_stations_disconnected(*, station_ids: list[int], at: datetime) -> None:
    """Mark stations offline, last seen at `at` (one statement for a whole batch)."""
    if station_ids:
        gone = list(
            ChargeStation.objects.filter(pk__in=station_ids)
            .exclude(connectivity=Connectivity.OFFLINE.value)
            .values_list("pk", "tenant_id")
        )
        _connectivity_events(gone, ConnectivityEvent.DISCONNECTED, at)
        ChargeStation.objects.filter(pk__in=station_ids).update(
            connectivity=Connectivity.OFFLINE.value, last_seen_at=at
        )


def charge_station_disconnected(*, station_id: int, at: datetime) -> None:
    charge_stations_disconnected(station_ids=[station_id], at=at)


def _connectivity_events(stations: list[tuple[int, int]], kind: str, at: datetime) -> None:
    if stations:
        ConnectivityEvent.objects.bulk_create(
            ConnectivityEvent(charge_station_id=pk, tenant_id=tenant_id, kind=kind, at=at)
            for pk, tenant_id in stations
        )


def evse_statuses_record(*, updates: Sequence[tuple[int, int, str]]) -> None:
    """`evse_status_record` for many (station, OCPP EVSE id, OCPP status) in order: the last
    status of each EVSE wins; one statement for all (executed per EVSE, pipelined)."""
    last: dict[tuple[int, int], str] = {}
    for station_id, evse_ocpp_id, ocpp_status in updates:
        last[(station_id, evse_ocpp_id)] = _OCPP_TO_OCPI_STATUS.get(ocpp_status, "UNKNOWN")
    update_where(
        Evse,
        set_fields=["status"],
        where_fields=["charge_station_id", "ocpp_evse_id"],
        rows=[[status, station, evse] for (station, evse), status in sorted(last.items())],
    )


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def evse_status_reports_record(*, reports: Sequence[EvseStatusReport]) -> None:
    """`evse_statuses_record` for a batch of StatusNotifications, plus the
    `station.status_changed` webhook event for every OCPI status change of an EVSE (and for
    every report about the whole station, connector 0), in the caller's transaction.

    Tenants without a subscription for the event cost one query per batch and nothing else.
    With one: the EVSEs' current statuses are read once before the update, each report is
    compared with the status before it, and the events go out in one INSERT. The event key
    is (EVSE, station time, status): the same notification sent again changes nothing and
    delivers nothing twice."""
    emit = _status_events_prepare(reports)  # reads the statuses before the update
    evse_statuses_record(updates=[(r.station_id, r.evse_ocpp_id, r.ocpp_status) for r in reports])
    if emit is not None:
        emit()


_STATUS_EVENT = WebhookEventType.STATION_STATUS_CHANGED


def _status_events_prepare(reports: Sequence[EvseStatusReport]) -> Any:
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


def evse_status_record(*, station_id: int, evse_ocpp_id: int, ocpp_status: str) -> None:
    """Map an OCPP connector status onto the OCPI status of the station's EVSE."""
    status = _OCPP_TO_OCPI_STATUS.get(ocpp_status, "UNKNOWN")
    Evse.objects.filter(charge_station_id=station_id, ocpp_evse_id=evse_ocpp_id).update(
        status=status
    )
