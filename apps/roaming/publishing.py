"""What a partner may see of us as CPO (the sender interfaces and the pushes), read per
connection and always scoped by the connection's tenant:

- locations: the tenant's published locations (`Location.publish`), all of them or, when
  the connection's `publish_all_locations` is off, those listed in `OcpiPublishedLocation`;
  home chargers (stations with an HCC flag) never: their EVSEs are left out and a location
  with only home chargers is not published at all (apps.locations.api.ocpi_location_*);
- tariffs: the tenant's WHOLESALE tariffs (the station price);
- sessions and CDRs: only those of the partner's own tokens, i.e. whose eMSP is one of the
  connection's EMSP roles (through a hub: the role the request names in its routing
  headers, when it names one).

Pages are `(total, objects)`, rendered for the connection's version (apps.roaming.objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.charging import api as charging_api
from apps.charging.contracts import CdrRecord, SessionRecord
from apps.locations import api as locations_api
from apps.locations.contracts import LocationRecord
from apps.roaming import objects
from apps.roaming.contracts import OcpiRole
from apps.roaming.models import OcpiConnection, OcpiPartyRole, OcpiPublishedLocation
from apps.tariffs import api as tariffs_api


@dataclass(frozen=True)
class PageQuery:
    """A sender GET's filters: [date_from, date_to) on last_updated, offset, limit (capped
    by the caller); `after`: the (last_updated, id) cursor the previous page's Link carries
    (then the page starts after it, and `offset` only numbers the position)."""

    date_from: datetime | None
    date_to: datetime | None
    offset: int
    limit: int
    after: tuple[datetime, int] | None = None


@dataclass(frozen=True)
class SenderPage:
    """A sender list's page: `total` matching the filters, the objects, and where the next
    page starts: `after` (a cursor, keyset lists) or `more` alone (offset lists)."""

    total: int
    items: list[dict[str, Any]]
    more: bool
    after: tuple[datetime, int] | None = None


def _connection(tenant_id: int, connection_id: int) -> OcpiConnection:
    return OcpiConnection.objects.get(tenant_id=tenant_id, pk=connection_id)


def visible_location_ids(conn: OcpiConnection) -> list[int] | None:
    """The platform ids of the locations this connection may see; None: every published."""
    if conn.publish_all_locations:
        return None
    return list(
        OcpiPublishedLocation.objects.filter(tenant_id=conn.tenant_id, connection=conn).values_list(
            "location_id", flat=True
        )
    )


def emsp_parties(
    conn: OcpiConnection, routing: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The connection's EMSP roles (country_code, party_id); narrowed to the one the
    request's `OCPI-from-*` headers name when they name one of them (a hub relaying an
    eMSP's GET)."""
    roles = [
        (r.country_code.upper(), r.party_id.upper())
        for r in OcpiPartyRole.objects.filter(
            tenant_id=conn.tenant_id, connection=conn, role=OcpiRole.EMSP.value
        )
    ]
    if routing:
        named = (
            routing.get("OCPI-from-country-code", "").upper(),
            routing.get("OCPI-from-party-id", "").upper(),
        )
        if named in roles:
            return [named]
    return roles


def used_location(
    tenant_id: int, record: SessionRecord | CdrRecord, version: str
) -> LocationRecord | None:
    """2.1.1 embeds the Location a session / CDR happened at: its record (None for 2.2.1)."""
    if version != objects.V211:
        return None
    if isinstance(record, SessionRecord):
        ocpi_id = record.location_id
    else:
        ocpi_id = (record.data.get("cdr_location") or {}).get("id")
    if not ocpi_id:
        return None
    return locations_api.location_by_ocpi_id(
        tenant_id=tenant_id, ocpi_id=str(ocpi_id), party_id=record.party_id
    )


def sender_locations(
    *, tenant_id: int, connection_id: int, version: str, query: PageQuery
) -> SenderPage:
    conn = _connection(tenant_id, connection_id)
    total, records, after = locations_api.ocpi_location_page(
        tenant_id=tenant_id,
        location_ids=visible_location_ids(conn),
        date_from=query.date_from,
        date_to=query.date_to,
        offset=query.offset,
        limit=query.limit,
        after=query.after,
    )
    items = [objects.location_object(r, version=version) for r in records]
    return SenderPage(total, items, more=after is not None, after=after)


def published_location(
    *, tenant_id: int, connection_id: int, location_id: str
) -> LocationRecord | None:
    """One location as this connection may see it, by its OCPI id; None when it may not."""
    conn = _connection(tenant_id, connection_id)
    return locations_api.ocpi_location_get(
        tenant_id=tenant_id, ocpi_id=location_id, location_ids=visible_location_ids(conn)
    )


def sender_location(
    *,
    tenant_id: int,
    connection_id: int,
    version: str,
    location_id: str,
    evse_uid: str | None = None,
    connector_id: str | None = None,
) -> dict[str, Any] | None:
    """The Location, one of its EVSEs, or one of that EVSE's connectors; None when the
    connection may not see it or it does not exist."""
    record = published_location(
        tenant_id=tenant_id, connection_id=connection_id, location_id=location_id
    )
    if record is None:
        return None
    if evse_uid is None:
        return objects.location_object(record, version=version)
    evse = next((e for e in record.evses if e.uid == evse_uid), None)
    if evse is None:
        return None
    if connector_id is None:
        return objects.evse_object(evse, version=version)
    connector = next((c for c in evse.connectors if c.id == connector_id), None)
    return None if connector is None else objects.connector_object(connector, version=version)


def sender_tariffs(
    *, tenant_id: int, connection_id: int, version: str, query: PageQuery, now: datetime
) -> SenderPage:
    _connection(tenant_id, connection_id)  # the caller's connection must be this tenant's
    total, records, after = tariffs_api.ocpi_tariff_page(
        tenant_id=tenant_id,
        at=now,
        date_from=query.date_from,
        date_to=query.date_to,
        offset=query.offset,
        limit=query.limit,
        after=query.after,
    )
    items = [objects.tariff_object(r, version=version) for r in records]
    return SenderPage(total, items, more=after is not None, after=after)


def sender_sessions(
    *,
    tenant_id: int,
    connection_id: int,
    version: str,
    query: PageQuery,
    routing: Mapping[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    conn = _connection(tenant_id, connection_id)
    total, records = charging_api.ocpi_session_page(
        tenant_id=tenant_id,
        emsp_parties=emsp_parties(conn, routing),
        date_from=query.date_from,
        date_to=query.date_to,
        offset=query.offset,
        limit=query.limit,
    )
    return total, [
        objects.session_object(r, version=version, location=used_location(tenant_id, r, version))
        for r in records
    ]


def sender_cdrs(
    *,
    tenant_id: int,
    connection_id: int,
    version: str,
    query: PageQuery,
    routing: Mapping[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    conn = _connection(tenant_id, connection_id)
    total, records = charging_api.ocpi_cdr_page(
        tenant_id=tenant_id,
        emsp_parties=emsp_parties(conn, routing),
        date_from=query.date_from,
        date_to=query.date_to,
        offset=query.offset,
        limit=query.limit,
    )
    return total, [
        objects.cdr_object(r, version=version, location=used_location(tenant_id, r, version))
        for r in records
    ]
