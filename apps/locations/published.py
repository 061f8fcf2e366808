"""The locations a roaming partner may see (issue 19, area "cpo"): published ones only, home
chargers never (read by apps.roaming through the api)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import BigIntegerField, Exists, F, Func, Lookup, OuterRef, Q
from django.db.models.lookups import In
from django.utils.dateparse import parse_datetime

from apps.common.keyset import keyset_page
from apps.common.services import version_tag_of
from apps.locations.contracts import ConnectorRecord, EvseRecord, LocationRecord
from apps.locations.models import ChargeStation, Connector, Evse, Location


def _home_stations(tenant_id: int) -> dict[int, int | None]:
    """The tenant's home chargers (stations with an HCC flag): station id -> location id.
    Few, and none for most CPOs: one small read per page instead of joins in every query."""
    return dict(
        ChargeStation.objects.filter(tenant_id=tenant_id)
        .exclude(hcc="")
        .values_list("pk", "location_id")
    )


def _published(
    tenant_id: int, location_ids: Collection[int] | None, home: dict[int, int | None]
) -> Any:
    """The tenant's locations a roaming partner may see. Never: an unpublished location, a
    location whose stations are all home chargers (`home`). Those home-only locations are
    found among the home chargers' locations and left out by id, so the count and the pages
    are plain range reads of the partial index (tenant, last_updated, id) WHERE publish."""
    qs = Location.objects.filter(tenant_id=tenant_id, publish=True)
    home_locations = {loc for loc in home.values() if loc is not None}
    if home_locations:
        public_evse = Evse.objects.filter(location=OuterRef("pk")).filter(
            Q(charge_station__isnull=True) | Q(charge_station__hcc="")
        )
        home_only = list(
            Location.objects.filter(pk__in=home_locations)
            .exclude(Exists(public_evse))
            .values_list("pk", flat=True)
        )
        if home_only:
            qs = qs.exclude(pk__in=home_only)
    if location_ids is not None:
        qs = qs.filter(pk__in=list(location_ids))
    return qs


def _without_home_chargers(
    records: list[LocationRecord], home: dict[int, int | None]
) -> list[LocationRecord]:
    if not home or not any(e.charge_station_id in home for r in records for e in r.evses):
        return records
    return [
        replace(r, evses=tuple(e for e in r.evses if e.charge_station_id not in home))
        for r in records
    ]


def ocpi_location_page(
    *,
    tenant_id: int,
    location_ids: Collection[int] | None,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> tuple[int, list[LocationRecord], tuple[datetime, int] | None]:
    """(total, page, cursor of the next page or None) of the locations published to a
    partner (`location_ids`: the ones it may see, None: all), by the stored `last_updated`
    then id, oldest first (apps.common.keyset: after the cursor `after`, else from
    `offset`); home chargers' EVSEs left out."""
    home = _home_stations(tenant_id)
    page = keyset_page(
        _published(tenant_id, location_ids, home),
        "last_updated",
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
        after=after,
    )
    records = location_records(tenant_id=tenant_id, ids=page.ids)
    return page.total, _without_home_chargers(records, home), page.last


def ocpi_location_get(
    *, tenant_id: int, ocpi_id: str, location_ids: Collection[int] | None
) -> LocationRecord | None:
    """One published location by its OCPI id (as `ocpi_location_page` shows it), or None."""
    home = _home_stations(tenant_id)
    pk = (
        _published(tenant_id, location_ids, home)
        .filter(ocpi_id=ocpi_id)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if pk is None:
        return None
    records = location_records(tenant_id=tenant_id, ids=[pk])
    return _without_home_chargers(records, home)[0]


def ocpi_location_of_evse(*, tenant_id: int, evse_uid: str) -> int | None:
    """The platform id of the location an EVSE (by uid) belongs to."""
    return (
        Evse.objects.filter(tenant_id=tenant_id, uid=evse_uid)
        .values_list("location_id", flat=True)
        .first()
    )


def is_home_charger_evse(*, tenant_id: int, evse_uid: str) -> bool:
    """Whether the EVSE sits at a home charger (never published)."""
    return (
        Evse.objects.filter(tenant_id=tenant_id, uid=evse_uid)
        .exclude(charge_station__hcc="")
        .filter(charge_station__isnull=False)
        .exists()
    )


def location_by_ocpi_id(
    *, tenant_id: int, ocpi_id: str, party_id: str | None = None
) -> LocationRecord | None:
    """A location of the tenant by its OCPI id (published or not: a 2.1.1 session or CDR
    embeds the location it happened at), or None."""
    qs = Location.objects.filter(tenant_id=tenant_id, ocpi_id=ocpi_id)
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    pk = qs.order_by("id").values_list("id", flat=True).first()
    return None if pk is None else location_records(tenant_id=tenant_id, ids=[pk])[0]


# --- the page's records, as plain rows -----------------------------------------------------


_LOCATION_VALUES = (
    "id",
    "party__country_code",
    "party__party_id",
    "ocpi_id",
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
    "updated_at",
    "last_updated",
)
_EVSE_VALUES = (
    "id",
    "location_id",
    "uid",
    "evse_id",
    "status",
    "capabilities",
    "floor_level",
    "physical_reference",
    "charge_station_id",
    "ocpp_evse_id",
    "updated_at",
)
_CONNECTOR_VALUES = (
    "evse_id",
    "connector_id",
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
    "updated_at",
)


class _Micros(Func):
    """A timestamp as integer microseconds since the epoch on PostgreSQL: read as an int
    by psycopg's C loader, where Django's timestamptz loader parses each text value in
    Python (1,100 timestamps a page of locations: most of the page's reading time).
    Elsewhere the column itself. `_at` turns either into the aware datetime."""

    output_field = BigIntegerField()
    template = "%(expressions)s"

    @property
    def convert_value(self) -> Any:  # the value as read: `_at` makes the datetime
        return _as_read

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint",
            **extra_context,
        )


def _as_read(value: Any, expression: Any, connection: Any) -> Any:
    return value


class _AnyOf(Lookup):
    """`column IN (ids)` as `column = ANY(%s)` on PostgreSQL: one array parameter instead
    of one placeholder per id (500 for a page's connectors), which psycopg parses out of the
    statement text for every query. Elsewhere Django's IN."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)

    def as_postgresql(self, compiler: Any, connection: Any) -> Any:
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(value: Any) -> Any:
    if isinstance(value, int):
        return _EPOCH + timedelta(microseconds=value)
    if isinstance(value, str):
        value = parse_datetime(value)
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite: naive UTC
        return value.replace(tzinfo=UTC)
    return value


def location_records(*, tenant_id: int, ids: list[int]) -> list[LocationRecord]:
    """These locations of the tenant (with EVSEs and connectors) in the order of `ids`: the
    records `location_get` gives, read as plain rows in three queries (a partner's page of
    100 locations is 1,100 rows: no model instances, no per-row prefetch querysets)."""
    locs = list(
        Location.objects.filter(_AnyOf(F("pk"), ids), tenant_id=tenant_id).values(*_LOCATION_VALUES)
    )
    if not locs:
        return []
    # EVSEs, then their connectors by EVSE id (the unique index (evse, connector_id): a
    # join of the two made PostgreSQL hash all 50,000 connectors of the bench, 8 ms)
    by_location: dict[int, list[EvseRecord]] = {}
    evse_rows = {
        row[0]: row
        for row in Evse.objects.filter(_AnyOf(F("location_id"), [r["id"] for r in locs]))
        .annotate(at=_Micros("updated_at"))
        .order_by("location_id", "uid", "id")
        .values_list(*_EVSE_VALUES[:-1], "at")
    }
    connectors: dict[int, list[ConnectorRecord]] = {}
    for c in (
        Connector.objects.filter(_AnyOf(F("evse_id"), list(evse_rows)))
        .annotate(at=_Micros("updated_at"))
        .order_by("evse_id", "connector_id")
        .values_list(*_CONNECTOR_VALUES[:-1], "at")
    ):
        connectors.setdefault(c[0], []).append(
            ConnectorRecord(
                id=c[1],
                standard=c[2],
                format=c[3],
                power_type=c[4],
                max_voltage=c[5],
                max_amperage=c[6],
                max_electric_power=c[7],
                last_updated=_at(c[8]),
            )
        )
    for e in evse_rows.values():
        by_location.setdefault(e[1], []).append(
            EvseRecord(
                uid=e[2],
                evse_id=e[3],
                status=e[4],
                capabilities=tuple(e[5] or ()),
                floor_level=e[6],
                physical_reference=e[7],
                charge_station_id=e[8],
                ocpp_evse_id=e[9],
                connectors=tuple(connectors.get(e[0], ())),
                last_updated=_at(e[10]),
            )
        )
    found = {}
    for r in locs:
        location_evses = tuple(by_location.get(r["id"], ()))
        found[r["id"]] = LocationRecord(
            platform_id=r["id"],
            country_code=r["party__country_code"],
            party_id=r["party__party_id"],
            id=r["ocpi_id"],
            publish=r["publish"],
            name=r["name"],
            address=r["address"],
            city=r["city"],
            postal_code=r["postal_code"],
            state=r["state"],
            country=r["country"],
            latitude=r["latitude"],
            longitude=r["longitude"],
            time_zone=r["time_zone"],
            parking_type=r["parking_type"],
            opening_times=r["opening_times"],
            charging_when_closed=r["charging_when_closed"],
            evses=location_evses,
            last_updated=max(
                [r["updated_at"], r["last_updated"], *(e.last_updated for e in location_evses)]
            ),
            etag=version_tag_of(r["id"], r["updated_at"]),
        )
    return [found[i] for i in ids if i in found]
