from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.common.bulk import update_where
from apps.common.contracts import Actor
from apps.common.errors import (
    Conflict,
    NotFound,
    Problem,
    ValidationFailed,
    problems_from_django,
)
from apps.common.secrets import generate_secret, hash_secret
from apps.common.services import check_version, upsert, validated_save
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.locations import relay, selectors
from apps.locations.contracts import (
    BootIn,
    ChangeAvailability,
    ChargeStationRecord,
    CommandKind,
    CommandOutcome,
    CommandRequest,
    CommandResult,
    CommandStatus,
    CommandType,
    ConnectionEventIn,
    ConnectionEventKind,
    Connectivity,
    EvseStatusReport,
    GetBaseReport,
    GetChargingProfiles,
    GetDiagnostics,
    LocationRecord,
    OcppVersion,
    RemoteStart,
    RemoteStop,
    Reset,
    SecurityProfile,
    StationCommand,
    UnlockConnector,
    UpdateFirmware,
    to_json,
)
from apps.locations.models import (
    ChargeStation,
    Connector,
    Evse,
    Location,
    RemoteCommand,
    StationConnectionEvent,
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


def charge_station_certificate_issued(*, station_id: int, fingerprint: str) -> None:
    """The station accepted a client certificate this CSMS issued (CertificateSigned): under
    security profile 3 it may connect with it from now on, next to the pinned one."""
    ChargeStation.objects.filter(pk=station_id).update(
        client_cert_fingerprint_next=fingerprint, updated_at=timezone.now()
    )


def charge_station_certificate_in_use(*, station_id: int, fingerprint: str) -> bool:
    """The station connected with its newly issued certificate: that one becomes the pinned
    fingerprint and the old one is no longer admitted. True if this changed the pin."""
    return bool(
        ChargeStation.objects.filter(pk=station_id, client_cert_fingerprint_next=fingerprint)
        .exclude(client_cert_fingerprint_next="")
        .update(
            client_cert_fingerprint=fingerprint,
            client_cert_fingerprint_next="",
            updated_at=timezone.now(),
        )
    )


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


_audit = parties_api.audit


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
    *,
    tenant_id: int,
    country_code: str,
    party_id: str,
    ocpi_id: str,
    values: dict[str, Any],
    actor: Actor,
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
    _audit(tenant_id, actor, "location.create", "location", location.pk, after=values)
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def location_update(
    *,
    tenant_id: int,
    location_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
) -> LocationRecord:
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    check_version(location, if_match)
    changed = [f for f in LOCATION_FIELDS if f in values]
    before = {f: getattr(location, f) for f in changed}
    _set(location, values, LOCATION_FIELDS)
    validated_save(location)
    _audit(
        tenant_id,
        actor,
        "location.update",
        "location",
        location.pk,
        before=before,
        after={f: getattr(location, f) for f in changed},
    )
    return selectors.location_get(tenant_id=tenant_id, location_id=location.pk)


@transaction.atomic
def evse_put(
    *,
    tenant_id: int,
    location_id: int,
    uid: str,
    values: dict[str, Any],
    actor: Actor,
    if_match: str | None = None,
) -> tuple[LocationRecord, bool]:
    """Create or replace one EVSE of a location with its connectors (connectors not named
    stay as they are: OCPI removes equipment by status REMOVED, not by deletion). The EVSE
    is part of its location: `if_match` is the location's version."""
    location = (
        Location.objects.for_tenant(tenant_id).select_for_update().filter(pk=location_id).first()
    )
    if location is None:
        raise NotFound(f"no location {location_id} in this tenant")
    check_version(location, if_match)
    created = not Evse.objects.filter(tenant_id=tenant_id, uid=uid).exists()
    evse, connectors, problems = _evse_tree(tenant_id, location, {**values, "uid": uid}, "$")
    if problems:
        raise ValidationFailed("invalid EVSE", problems=tuple(problems))
    _save_tree(evse, connectors, location)
    Location.objects.filter(pk=location.pk).update(updated_at=timezone.now())
    _audit(
        tenant_id,
        actor,
        "evse.create" if created else "evse.update",
        "evse",
        uid,
        after={"location_id": location.pk, **values},
    )
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
    actor: Actor,
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
    record = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
    _audit(tenant_id, actor, "station.create", "charge_station", station.pk, after=record)
    return record, password


@transaction.atomic
def charge_station_update(
    *,
    tenant_id: int,
    station_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
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
    before = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
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
    record = selectors.charge_station_get(tenant_id=tenant_id, station_id=station.pk)
    _audit(
        tenant_id,
        actor,
        "station.update",
        "charge_station",
        station.pk,
        before=before,
        after=record,
    )
    return record


@transaction.atomic
def charge_station_new_password(*, tenant_id: int, station_id: int, actor: Actor) -> str:
    """A new OCPP Basic-auth password (returned once; the audit entry says only that one
    was set)."""
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    password = charge_station_reset_password(station_id=station_id)
    _audit(tenant_id, actor, "station.password_reset", "charge_station", station_id)
    return password


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


def _update_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, also_match: str = ""
) -> None:
    """UPDATE stations from per-row values in one statement. Each row: the pk, then the values
    of `columns` in order, then (with `also_match`) the value that column must still have.
    `UPDATE ... FROM (VALUES ...)` works on PostgreSQL and SQLite (3.33+); Django's
    bulk_update builds a CASE per row and column and costs ~1 ms of CPU per row, which a
    reconnect storm of 10,000 stations cannot afford."""
    if not rows:
        return
    q = connection.ops.quote_name
    table = q(ChargeStation._meta.db_table)
    width = len(columns) + 1 + bool(also_match)
    values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    assignments = ", ".join(f"{q(c)} = v.column{i + 2}" for i, c in enumerate(columns))
    where = f"{table}.id = v.column1"
    if also_match:
        where += f" AND {table}.{q(also_match)} = v.column{width}"
    sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {where}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


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
    _update_rows(
        _BOOT_COLUMNS,
        [
            (
                b.station_id,
                b.vendor[:50],
                b.model[:50],
                b.serial_number[:50],
                b.firmware_version[:50],
                b.ocpp_version,
                b.at,
                b.at,
                Connectivity.ONLINE.value,
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


# --- Connectivity ----------------------------------------------------------------------------


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
    _update_rows(
        ("connectivity", "gateway_node", "connection_id", "connected_at", "last_seen_at"),
        [
            (
                e.station_id,
                Connectivity.ONLINE.value,
                e.node[:64],
                e.connection_id[:32],
                e.at,
                e.at,
            )
            for e in connects
        ],
    )
    closes = [
        [e for e in es if e.kind is ConnectionEventKind.DISCONNECTED] for es in by_station.values()
    ]
    for round_ in itertools.zip_longest(*closes):
        _update_rows(
            ("connectivity", "gateway_node", "connection_id", "last_seen_at"),
            [
                (e.station_id, Connectivity.OFFLINE.value, "", "", e.at, e.connection_id[:32])
                for e in round_
                if e is not None
            ],
            also_match="connection_id",
        )


# --- Remote commands -------------------------------------------------------------------------


# Commands whose later notifications name them by an integer requestId (2.0.1).
_WITH_REQUEST_ID = UpdateFirmware | GetDiagnostics | GetBaseReport | GetChargingProfiles


def _with_request_id(command: StationCommand, request_id: int) -> StationCommand:
    """2.0.1 needs an integer id on RequestStartTransaction, UpdateFirmware, GetLog,
    GetBaseReport and GetChargingProfiles that later notifications refer to: unless the
    caller chose one, it is the audit row's id."""
    if isinstance(command, RemoteStart) and command.remote_start_id is None:
        return dataclasses.replace(command, remote_start_id=request_id)
    if isinstance(command, _WITH_REQUEST_ID) and command.request_id is None:
        return dataclasses.replace(command, request_id=request_id)
    return command


def _request_id(command: StationCommand) -> int | None:
    if isinstance(command, RemoteStart):
        return command.remote_start_id
    if isinstance(command, _WITH_REQUEST_ID):
        return command.request_id
    return None


def charge_station_command(
    *,
    tenant_id: int,
    station_id: int,
    command: StationCommand,
    requested_by: str = "",
    timeout: float | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> CommandOutcome:
    """Send a remote command to a station and return what became of it.

    The command is recorded first (an audit row, PENDING), then handed through the command
    relay (Redis, or the local socket of the one gateway node: `relay.py`) to the gateway node
    that holds the station's socket, which maps it to the station's OCPP
    version, validates it against the OCPP schema, sends it (one outstanding CALL per station:
    it may queue behind another command) and waits for the answer. The row is completed with
    the outcome: ACCEPTED / REJECTED / NOT_SUPPORTED / FAILED from the station, OFFLINE when
    no live node holds it, TIMEOUT when no answer came within `timeout` seconds
    (STATION_COMMAND_TIMEOUT). Call it outside a database transaction: it waits.

    Raises NotFound (no such station in the tenant), ServiceUnavailable (no relay
    configured, or its Redis unreachable; nothing recorded or sent), ValidationFailed (the
    request breaks the OCPP schema of the station's version; recorded as FAILED, nothing
    sent).

    With an `actor` (a user or an API key asked for it) the audit log gets one entry
    (station.command) once the command is recorded, whatever its outcome; the platform's
    own commands (certificates, tasks) are in the command log only."""
    station = (
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk=station_id)
        .values("pk", "identity")
        .first()
    )
    if station is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    relay.check()  # ServiceUnavailable before anything is recorded
    timeout = float(timeout if timeout is not None else settings.STATION_COMMAND_TIMEOUT)
    row = RemoteCommand.objects.create(
        tenant_id=tenant_id,
        charge_station_id=station_id,
        relay_id=uuid.uuid4().hex,
        kind=command.kind.value,
        request=to_json(command),
        requested_by=requested_by[:150],
        requested_at=now or timezone.now(),
    )
    command = _with_request_id(command, row.pk)
    row.request = to_json(command)
    row.request_id = _request_id(command)
    if row.request_id is not None:
        # Stored before the command goes out: the station's notifications that follow its
        # answer (NotifyReport, ReportChargingProfiles, ...) are matched by this id, and may
        # arrive before the answer has been written below.
        row.save(update_fields=["request", "request_id"])
    reply = relay.send(station["identity"], command, timeout=timeout)
    row.status = reply.status.value
    row.station_status = reply.station_status[:50]
    row.message = reply.message
    row.data = reply.data
    row.protocol = reply.protocol[:8]
    row.gateway_node = reply.node[:64]
    row.ocpp_action = reply.ocpp_action[:50]
    row.ocpp_request = reply.ocpp_request
    row.response = reply.response
    if reply.status not in (CommandStatus.OFFLINE, CommandStatus.TIMEOUT):
        row.answered_at = timezone.now()
    if reply.invalid:
        row.status = CommandStatus.FAILED.value
        row.message = "not sent: the request breaks the OCPP schema: " + "; ".join(reply.invalid)
    # Every field but `progress`: the station's follow-up reports may already have been
    # appended to it (by the gateway node, under a row lock) while this waited.
    row.save(update_fields=_ANSWER_FIELDS)
    if actor is not None:
        _audit(
            tenant_id,
            actor,
            "station.command",
            "charge_station",
            station_id,
            after={
                "command": command.kind.value,
                "request": row.request,
                "command_id": row.pk,
                "status": row.status,
                "station_status": row.station_status,
            },
        )
    if row.request_id is not None:
        row.refresh_from_db(fields=["progress"])
    if reply.invalid:
        raise ValidationFailed(
            f"the {command.kind} command breaks the OCPP {reply.protocol} schema",
            problems=tuple(_problem(text) for text in reply.invalid),
        )
    return selectors.command_outcome(row)


_ANSWER_FIELDS = [
    "request",
    "request_id",
    "status",
    "station_status",
    "message",
    "data",
    "protocol",
    "gateway_node",
    "ocpp_action",
    "ocpp_request",
    "response",
    "answered_at",
    "updated_at",
]


def _problem(text: str) -> Problem:
    path, _, message = text.partition(": ")
    return Problem(path, message) if message else Problem("$", text)


def charge_station_command_progress(
    *,
    station_id: int,
    kind: CommandKind,
    status: str,
    at: datetime,
    request_id: int | None = None,
    by_request_id_only: bool = False,
) -> int | None:
    """Append a later status notification (FirmwareStatusNotification, Diagnostics- /
    LogStatusNotification, a NotifyReport or ReportChargingProfiles part) to the command it
    reports on: the one with its requestId (2.0.1), else, unless `by_request_id_only`, the
    station's newest accepted command of that kind. Returns the row's id, or None when no
    command matches (a station reporting an update nobody sent through here)."""
    rows = RemoteCommand.objects.filter(charge_station_id=station_id, kind=kind.value)
    row = None
    if request_id is not None:
        row = rows.filter(request_id=request_id).first()
    if row is None and by_request_id_only:
        return None
    if row is None:
        row = rows.filter(status=CommandStatus.ACCEPTED.value).order_by("-requested_at").first()
    if row is None:
        return None
    with transaction.atomic():
        row = RemoteCommand.objects.select_for_update().get(pk=row.pk)
        row.progress = [*row.progress, {"status": status[:50], "at": at.isoformat()}]
        row.save(update_fields=["progress", "updated_at"])
    return row.pk


_REST_RESULTS = {
    CommandStatus.ACCEPTED: "ACCEPTED",
    CommandStatus.REJECTED: "REJECTED",
    CommandStatus.NOT_SUPPORTED: "NOT_SUPPORTED",
    CommandStatus.FAILED: "FAILED",
    CommandStatus.OFFLINE: "OFFLINE",
    CommandStatus.TIMEOUT: "TIMEOUT",
    CommandStatus.PENDING: "TIMEOUT",
}


def _evse_ocpp_id(tenant_id: int, station_id: int, evse_uid: str, path: str) -> int:
    evse = (
        Evse.objects.filter(tenant_id=tenant_id, charge_station_id=station_id, uid=evse_uid)
        .values_list("ocpp_evse_id", flat=True)
        .first()
    )
    if evse is None:
        raise ValidationFailed(
            "invalid command",
            problems=(Problem(path, f"no EVSE {evse_uid} mapped to this charge station"),),
        )
    return evse


def _required(params: dict[str, Any], name: str, command_type: CommandType) -> Any:
    if params.get(name) in (None, ""):
        raise ValidationFailed(
            "invalid command", problems=(Problem(f"$.{name}", f"required for {command_type}"),)
        )
    return params[name]


def _rest_command(tenant_id: int, station_id: int, request: CommandRequest) -> StationCommand:
    p, t = request.params, request.type
    evse_uid = p.get("evse_uid")
    evse = _evse_ocpp_id(tenant_id, station_id, evse_uid, "$.evse_uid") if evse_uid else None
    if t is CommandType.START_SESSION:
        return RemoteStart(id_tag=str(_required(p, "token_uid", t)), evse_id=evse)
    if t is CommandType.STOP_SESSION:
        return RemoteStop(transaction_id=str(_required(p, "ocpp_transaction_id", t)))
    if t is CommandType.RESET:
        return Reset(hard=p.get("reset_type") == "HARD")
    if t is CommandType.UNLOCK_CONNECTOR:
        _required(p, "evse_uid", t)
        connector = str(p.get("connector_id") or "1")
        assert evse is not None
        return UnlockConnector(
            evse_id=evse, connector_id=int(connector) if connector.isdigit() else 1
        )
    if t is CommandType.CHANGE_AVAILABILITY:
        return ChangeAvailability(
            operative=_required(p, "availability", t) == "OPERATIVE", evse_id=evse
        )
    raise ValidationFailed("invalid command", problems=(Problem("$.type", f"unknown {t}"),))


def charge_station_command_build(
    *, tenant_id: int, station_id: int, command: CommandRequest
) -> StationCommand:
    """The protocol-neutral command of a REST-style request (OCPI CommandType names and
    parameters), checked against the tenant's station and its EVSEs."""
    if not selectors.charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    return _rest_command(tenant_id, station_id, command)


def charge_station_command_submit(
    *,
    tenant_id: int,
    station_id: int,
    command: CommandRequest,
    actor: Actor,
    requested_by: str = "",
) -> CommandResult:
    """The REST API's commands (OCPI CommandType names and parameters) through
    `charge_station_command`; the result in OCPI CommandResultType words plus OFFLINE."""
    built = charge_station_command_build(
        tenant_id=tenant_id, station_id=station_id, command=command
    )
    outcome = charge_station_command(
        tenant_id=tenant_id,
        station_id=station_id,
        command=built,
        requested_by=requested_by,
        actor=actor,
    )
    return CommandResult(
        id=str(outcome.id),
        type=command.type,
        result=_REST_RESULTS[outcome.status],
        message=outcome.message or outcome.station_status,
    )
