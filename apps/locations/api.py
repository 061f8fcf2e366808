"""Public functions of the locations app."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from apps.common.errors import NotFound
from apps.locations import published, selectors
from apps.locations.contracts import ChargeStationAuth, SecurityProfile
from apps.locations.models import ChargeStation, Evse, Location
from apps.locations.services import commands, connectivity, hcc, locations, stations, status

charge_station_reset_password = stations.charge_station_reset_password
charge_station_set_security_profile = stations.charge_station_set_security_profile
charge_station_set_ocpp_versions = stations.charge_station_set_ocpp_versions
charge_station_certificate_issued = stations.charge_station_certificate_issued
charge_station_certificate_in_use = stations.charge_station_certificate_in_use
charge_station_upsert = locations.charge_station_upsert
location_upsert = locations.location_upsert
evse_upsert = locations.evse_upsert
connector_upsert = locations.connector_upsert
connector_resolve = selectors.connector_resolve
connectors_resolve = selectors.connectors_resolve
charge_station_boots_record = connectivity.charge_station_boots_record
charge_stations_seen = connectivity.charge_stations_seen
evse_status_record = status.evse_status_record
evse_statuses_record = status.evse_statuses_record
evse_status_reports_record = status.evse_status_reports_record
station_context = selectors.station_context
station_contexts = selectors.station_contexts


_AUTH_FIELDS = (
    "id",
    "tenant_id",
    "identity",
    "security_profile",
    "password_hash",
    "client_cert_fingerprint",
    "enabled",
    "ocpp_versions",
    "client_cert_fingerprint_next",
)


def _auth(row: dict[str, Any]) -> ChargeStationAuth:
    row["security_profile"] = SecurityProfile(row["security_profile"])
    row["ocpp_versions"] = tuple(v for v in str(row["ocpp_versions"]).split(",") if v)
    return ChargeStationAuth(**row)


def charge_station_auth(*, identity: str) -> ChargeStationAuth | None:
    """What the OCPP gateway checks at the handshake; None for an unknown identity."""
    row = ChargeStation.objects.filter(identity=identity).values(*_AUTH_FIELDS).first()
    return None if row is None else _auth(row)


def charge_station_auths(*, identities: Sequence[str]) -> list[ChargeStationAuth | None]:
    """`charge_station_auth` of many identities in one query (a reconnect storm), in order."""
    rows = ChargeStation.objects.filter(identity__in=set(identities)).values(*_AUTH_FIELDS)
    found = {row["identity"]: _auth(row) for row in rows}
    return [found.get(identity) for identity in identities]


def charge_station_roaming(*, tenant_id: int, station_id: int) -> bool | None:
    """Whether roaming is active at this station of this tenant (None: no such station)."""
    return (
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk=station_id)
        .values_list("roaming", flat=True)
        .first()
    )


def charge_station_ids_of_tenant(*, tenant_id: int, station_ids: Sequence[int]) -> set[int]:
    """Those of `station_ids` that are charge stations of this tenant."""
    return set(
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk__in=set(station_ids))
        .values_list("pk", flat=True)
    )


location_create = locations.location_create
location_update = locations.location_update
location_get = selectors.location_get
location_list = selectors.location_list
evse_put = locations.evse_put
charge_station_create = stations.charge_station_create
charge_station_update = stations.charge_station_update
charge_station_new_password = stations.charge_station_new_password
charge_station_get = selectors.charge_station_get
charge_station_list = selectors.charge_station_list
charge_station_command_submit = commands.charge_station_command_submit
connector_pk = selectors.connector_pk

# Station and location lists with their derived state (the portal shows them).
station_rows = selectors.station_rows
station_status_summary = selectors.station_status_summary
station_detail = selectors.station_detail
station_ids_by_identity = selectors.station_ids_by_identity
location_rows = selectors.location_rows

# Remote commands (docs/gateway.md "Remote commands") and connectivity.
charge_station_command = commands.charge_station_command
charge_station_command_build = commands.charge_station_command_build
charge_station_command_progress = commands.charge_station_command_progress
charge_station_commands = selectors.charge_station_commands
charge_station_command_get = selectors.charge_station_command_get
charge_station_connections_record = connectivity.charge_station_connections_record
charge_station_connectivity = selectors.charge_station_connectivity
unstable_station_ids = selectors.unstable_station_ids


# rules (issue 17): what a billing rule's CPO scopes name, in one query each.
def location_scope_facts(
    *, tenant_id: int, location_ids: Iterable[int]
) -> dict[int, tuple[str, int]]:
    """Location id -> (its ISO 3166-1 alpha-3 country, its CPO party id), for those of
    `location_ids` that are locations of this tenant."""
    rows = Location.objects.for_tenant(tenant_id).filter(pk__in=set(location_ids))
    return {
        pk: (country, party) for pk, country, party in rows.values_list("pk", "country", "party_id")
    }


def station_scope_facts(
    *, tenant_id: int, station_ids: Iterable[int]
) -> dict[int, tuple[int | None, str, int | None, str]]:
    """Station id -> (location id, the location's country, its CPO party id, its time zone)
    for those of `station_ids` that are charge stations of this tenant (a station without a
    location: None, "", None, "")."""
    rows = (
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk__in=set(station_ids))
        .values_list(
            "pk", "location_id", "location__country", "location__party_id", "location__time_zone"
        )
    )
    return {pk: (loc, country or "", party, tz or "") for pk, loc, country, party, tz in rows}


# Home-charger flags of charge stations (issue 17, area "cust").
charge_stations_hcc_set = hcc.charge_stations_hcc_set


# -- roaming (issue 19, area "cpo-receiver"): the station an OCPI command names ------------


def ocpi_command_target(
    *,
    tenant_id: int,
    location_id: str,
    evse_uid: str | None = None,
    cpo: tuple[str, str] | None = None,
) -> tuple[int, int | None]:
    """(charge station id, OCPP evse id or None) of this tenant's OCPI location `location_id`
    and EVSE `evse_uid`, both compared case-insensitively (OCPI CiString); `cpo` narrows the
    location to one of the tenant's CPO identities (country code, party id). Without an EVSE
    the location must have exactly one charge station (evse id None: the station chooses).
    NotFound saying which id is unknown or why no station can be named."""
    locations = Location.objects.for_tenant(tenant_id).filter(ocpi_id__iexact=location_id)
    if cpo is not None:
        locations = locations.filter(
            party__country_code__iexact=cpo[0], party__party_id__iexact=cpo[1]
        )
    location_pks = list(locations.values_list("pk", flat=True)[:2])
    if not location_pks:
        raise NotFound(f"unknown location {location_id}")
    if len(location_pks) > 1:
        raise NotFound(f"location {location_id} is ambiguous: name the CPO (OCPI-to headers)")
    evses = Evse.objects.for_tenant(tenant_id).filter(location_id=location_pks[0])
    if evse_uid:
        row = evses.filter(uid__iexact=evse_uid).values("charge_station_id", "ocpp_evse_id").first()
        if row is None:
            raise NotFound(f"unknown EVSE {evse_uid} at location {location_id}")
        if row["charge_station_id"] is None or row["ocpp_evse_id"] is None:
            raise NotFound(f"EVSE {evse_uid} is not mapped to a charge station")
        return row["charge_station_id"], row["ocpp_evse_id"]
    stations = set(
        evses.exclude(charge_station_id=None).values_list("charge_station_id", flat=True)
    )
    if len(stations) != 1:
        raise NotFound(
            f"location {location_id} has {len(stations)} charge stations: name the EVSE (evse_uid)"
        )
    return stations.pop(), None


# Published to roaming partners (issue 19, area "cpo"): home chargers never leave the platform.
ocpi_location_page = published.ocpi_location_page
ocpi_location_get = published.ocpi_location_get
ocpi_location_of_evse = published.ocpi_location_of_evse
is_home_charger_evse = published.is_home_charger_evse
location_by_ocpi_id = published.location_by_ocpi_id
