"""Reads of the locations app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.common.errors import NotFound
from apps.common.services import version_tag
from apps.locations.contracts import (
    ChargeStationRecord,
    CommandKind,
    CommandOutcome,
    CommandStatus,
    ConnectionEventKind,
    ConnectionEventRecord,
    Connectivity,
    ConnectivityReport,
    ConnectorFormat,
    ConnectorRecord,
    ConnectorRef,
    ConnectorStandard,
    EvseMapping,
    EvseRecord,
    EvseStatus,
    LocationRecord,
    LocationRow,
    PowerType,
    SecurityProfile,
    StationContext,
    StationDetail,
    StationRow,
    StationState,
    answer_from_json,
)
from apps.locations.models import (
    ChargeStation,
    Connector,
    Evse,
    Location,
    RemoteCommand,
    StationConnectionEvent,
)


def _connector(c: Connector) -> ConnectorRecord:
    return ConnectorRecord(
        id=c.connector_id,
        standard=c.standard,
        format=c.format,
        power_type=c.power_type,
        max_voltage=c.max_voltage,
        max_amperage=c.max_amperage,
        max_electric_power=c.max_electric_power,
        last_updated=c.updated_at,
    )


def _evse(e: Evse) -> EvseRecord:
    return EvseRecord(
        uid=e.uid,
        evse_id=e.evse_id,
        status=e.status,
        capabilities=tuple(e.capabilities or ()),
        floor_level=e.floor_level,
        physical_reference=e.physical_reference,
        charge_station_id=e.charge_station_id,
        ocpp_evse_id=e.ocpp_evse_id,
        connectors=tuple(_connector(c) for c in e.connectors.all()),
        last_updated=e.updated_at,
    )


def _location(loc: Location) -> LocationRecord:
    evses = tuple(_evse(e) for e in loc.evses.all())
    # The stored OCPI last_updated (what the partners' pulls order and filter by) is the
    # latest of the whole tree, home chargers' EVSEs included: never below what is shown.
    last = max([loc.updated_at, loc.last_updated, *(e.last_updated for e in evses)])
    return LocationRecord(
        platform_id=loc.pk,
        country_code=loc.party.country_code,
        party_id=loc.party.party_id,
        id=loc.ocpi_id,
        publish=loc.publish,
        name=loc.name,
        address=loc.address,
        city=loc.city,
        postal_code=loc.postal_code,
        state=loc.state,
        country=loc.country,
        latitude=loc.latitude,
        longitude=loc.longitude,
        time_zone=loc.time_zone,
        parking_type=loc.parking_type,
        opening_times=loc.opening_times,
        charging_when_closed=loc.charging_when_closed,
        evses=evses,
        last_updated=last,
        etag=version_tag(loc),
    )


def _locations() -> QuerySet[Location]:
    return Location.objects.select_related("party").prefetch_related(
        Prefetch(
            "evses",
            queryset=Evse.objects.order_by("uid").prefetch_related(
                Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
            ),
        )
    )


def location_get(*, tenant_id: int, location_id: int) -> LocationRecord:
    loc = _locations().filter(tenant_id=tenant_id, pk=location_id).first()
    if loc is None:
        raise NotFound(f"no location {location_id} in this tenant")
    return _location(loc)


def location_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    country_code: str | None = None,
    party_id: str | None = None,
    updated_since: datetime | None = None,
) -> list[LocationRecord]:
    qs = _locations().filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if country_code:
        qs = qs.filter(party__country_code=country_code.upper())
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return [_location(loc) for loc in qs.order_by("id")[:limit]]


def _station(s: ChargeStation, unstable: bool = False) -> ChargeStationRecord:
    return ChargeStationRecord(
        id=s.pk,
        identity=s.identity,
        location_id=s.location_id,
        vendor=s.vendor,
        model=s.model,
        serial_number=s.serial_number,
        firmware_version=s.firmware_version,
        ocpp_version=s.ocpp_version,
        security_profile=SecurityProfile(s.security_profile),
        enabled=s.enabled,
        connectivity=Connectivity(s.connectivity),
        last_seen_at=s.last_seen_at,
        evses=tuple(
            EvseMapping(evse_uid=e.uid, ocpp_evse_id=e.ocpp_evse_id)
            for e in s.evses.all()
            if e.ocpp_evse_id is not None
        ),
        last_updated=s.updated_at,
        etag=version_tag(s),
        unstable=unstable,
    )


def _stations() -> QuerySet[ChargeStation]:
    evses: QuerySet[Evse] = Evse.objects.order_by("ocpp_evse_id", "uid")
    by_ocpp_id = Prefetch("evses", queryset=evses)
    # django-stubs' plugin refuses this Prefetch of `evses` on ChargeStation (it accepts the
    # same on Location, which has a reverse relation of that name too); the tests cover it.
    return ChargeStation.objects.prefetch_related(by_ocpp_id)  # type: ignore[arg-type]


def charge_station_get(*, tenant_id: int, station_id: int) -> ChargeStationRecord:
    s = _stations().filter(tenant_id=tenant_id, pk=station_id).first()
    if s is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    return _station(s, unstable=s.pk in unstable_station_ids(station_ids=[s.pk]))


def charge_station_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    location_id: int | None = None,
    identity: str | None = None,
) -> list[ChargeStationRecord]:
    qs = _stations().filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if identity:
        qs = qs.filter(identity=identity)
    stations = list(qs.order_by("id")[:limit])
    unstable = unstable_station_ids(station_ids=[s.pk for s in stations])
    return [_station(s, unstable=s.pk in unstable) for s in stations]


def connector_pk(*, tenant_id: int, station_id: int, evse_uid: str, connector_id: str) -> int:
    """The pk of a connector of this station, addressed as the integrator knows it."""
    pk = (
        Connector.objects.filter(
            tenant_id=tenant_id,
            evse__charge_station_id=station_id,
            evse__uid=evse_uid,
            connector_id=connector_id,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise NotFound(f"no connector {evse_uid}/{connector_id} on charge station {station_id}")
    return pk


def charge_station_exists(*, tenant_id: int, station_id: int) -> bool:
    return ChargeStation.objects.filter(tenant_id=tenant_id, pk=station_id).exists()


def connector_resolve(
    *, station_id: int, evse_ocpp_id: int | None, connector_ocpp_id: int | None
) -> ConnectorRef | None:
    """The connector a station means by its OCPP ids.

    OCPP 1.x sends a connectorId only: it is the EVSE's `ocpp_evse_id` (one connector per
    EVSE). OCPP 2.0.1 sends evse.id and evse.connectorId; a missing connectorId means the
    EVSE's only connector. None when the station reported something we do not know.
    """
    if evse_ocpp_id is None:
        return None
    connectors = list(
        Connector.objects.filter(
            evse__charge_station_id=station_id, evse__ocpp_evse_id=evse_ocpp_id
        )
        .select_related("evse")
        .order_by("connector_id")
    )
    return _pick(connectors, connector_ocpp_id)


def connectors_resolve(
    *, keys: Iterable[tuple[int, int | None, int | None]]
) -> dict[tuple[int, int | None, int | None], ConnectorRef | None]:
    """`connector_resolve` for many (station, evse OCPP id, connector OCPP id) in one query."""
    wanted = set(keys)
    by_evse: dict[tuple[int, int], list[Connector]] = {}
    stations = {station for station, evse, _ in wanted if evse is not None}
    if stations:
        for c in (
            Connector.objects.filter(evse__charge_station_id__in=stations)
            .select_related("evse")
            .order_by("connector_id")
        ):
            by_evse.setdefault((c.evse.charge_station_id, c.evse.ocpp_evse_id), []).append(c)
    return {
        (station, evse, connector): (
            None if evse is None else _pick(by_evse.get((station, evse), []), connector)
        )
        for station, evse, connector in wanted
    }


def _pick(connectors: list[Connector], connector_ocpp_id: int | None) -> ConnectorRef | None:
    if connector_ocpp_id is not None and len(connectors) > 1:
        connectors = [c for c in connectors if c.connector_id == str(connector_ocpp_id)]
    if len(connectors) != 1:
        return None
    c = connectors[0]
    return ConnectorRef(
        id=c.pk,
        connector_id=c.connector_id,
        evse_id=c.evse_id,
        evse_uid=c.evse.uid,
        location_id=c.evse.location_id,
        standard=ConnectorStandard(c.standard),
        power_type=PowerType(c.power_type),
        max_electric_power=c.max_electric_power,
        evse_ocpi_evse_id=c.evse.evse_id or c.evse.uid,
        format=ConnectorFormat(c.format),
    )


def station_context(*, station_id: int) -> StationContext:
    return _context(ChargeStation.objects.select_related("location__party").get(pk=station_id))


_CONTEXT_COLUMNS = (
    "pk",
    "tenant_id",
    "identity",
    "location_id",
    "location__ocpi_id",
    "location__name",
    "location__address",
    "location__city",
    "location__postal_code",
    "location__country",
    "location__latitude",
    "location__longitude",
    "location__time_zone",
    "location__party_id",
    "location__party__country_code",
    "location__party__party_id",
)


def station_contexts(*, station_ids: Iterable[int]) -> dict[int, StationContext]:
    """`station_context` of many stations in one query (unknown ids are left out): plain
    rows, no model instances (the rating engines read thousands per batch)."""
    out = {}
    rows = ChargeStation.objects.filter(pk__any=station_ids).values_list(*_CONTEXT_COLUMNS)
    for (
        pk,
        tenant_id,
        identity,
        location_id,
        ocpi_id,
        name,
        address,
        city,
        postal_code,
        country,
        latitude,
        longitude,
        time_zone,
        party_id,
        country_code,
        party_code,
    ) in rows:
        cdr_location: dict[str, object] | None = None
        if location_id is not None:
            cdr_location = {
                "id": ocpi_id,
                "name": name,
                "address": address,
                "city": city,
                "postal_code": postal_code,
                "country": country,
                "coordinates": {"latitude": str(latitude), "longitude": str(longitude)},
            }
        out[pk] = StationContext(
            station_id=pk,
            tenant_id=tenant_id,
            identity=identity,
            location_id=location_id,
            time_zone=time_zone if location_id is not None else None,
            cpo_party_id=party_id,
            country_code=country_code or "",
            party_code=party_code or "",
            cdr_location=cdr_location,
        )
    return out


def _context(station: ChargeStation) -> StationContext:
    location = station.location
    party = location.party if location else None
    cdr_location: dict[str, object] | None = None
    if location is not None:
        cdr_location = {
            "id": location.ocpi_id,
            "name": location.name,
            "address": location.address,
            "city": location.city,
            "postal_code": location.postal_code,
            "country": location.country,
            "coordinates": {
                "latitude": str(location.latitude),
                "longitude": str(location.longitude),
            },
        }
    return StationContext(
        station_id=station.pk,
        tenant_id=station.tenant_id,
        identity=station.identity,
        location_id=location.pk if location else None,
        time_zone=location.time_zone if location else None,
        cpo_party_id=party.pk if party else None,
        country_code=party.country_code if party else "",
        party_code=party.party_id if party else "",
        cdr_location=cdr_location,
        roaming=station.roaming,
        hcc=station.hcc,
    )


# --- Station and location lists, with derived state (operator views, any interface) ---------


def _station_rows_qs(tenant_id: int, now: datetime) -> QuerySet[Any]:
    """Stations annotated with `state`, `connects_in_window` and their EVSE counts (the
    annotations are filtered on: typed `Any`, django-stubs knows model fields only)."""
    since = now - timedelta(seconds=settings.STATION_UNSTABLE_WINDOW_SECONDS)
    connects = (
        StationConnectionEvent.objects.filter(
            charge_station_id=OuterRef("pk"),
            kind=ConnectionEventKind.CONNECTED.value,
            at__gte=since,
        )
        .order_by()
        .values("charge_station_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        ChargeStation.objects.filter(tenant_id=tenant_id)
        .annotate(
            evses_total=Count("evses"),
            evses_charging=Count("evses", filter=Q(evses__status=EvseStatus.CHARGING.value)),
            evses_faulted=Count(
                "evses",
                filter=Q(
                    evses__status__in=[EvseStatus.OUTOFORDER.value, EvseStatus.INOPERATIVE.value]
                ),
            ),
        )
        .annotate(
            state=Case(
                When(~Q(connectivity=Connectivity.ONLINE.value), then=Value("offline")),
                When(evses_faulted__gt=0, then=Value("faulted")),
                When(evses_charging__gt=0, then=Value("charging")),
                default=Value("available"),
                output_field=CharField(),
            ),
            connects_in_window=Coalesce(Subquery(connects), 0),
        )
    )


_ROW_FIELDS = (
    "id",
    "identity",
    "location_id",
    "location__name",
    "vendor",
    "model",
    "firmware_version",
    "ocpp_version",
    "security_profile",
    "connectivity",
    "last_seen_at",
    "state",
    "connects_in_window",
    "evses_total",
    "evses_charging",
    "evses_faulted",
)


def _row(r: dict[str, Any]) -> StationRow:
    return StationRow(
        id=r["id"],
        identity=r["identity"],
        location_id=r["location_id"],
        location_name=r["location__name"] or "",
        vendor=r["vendor"],
        model=r["model"],
        firmware_version=r["firmware_version"],
        ocpp_version=r["ocpp_version"],
        security_profile=r["security_profile"],
        connectivity=r["connectivity"],
        last_seen_at=r["last_seen_at"],
        state=StationState(r["state"]),
        unstable=r["connects_in_window"] > settings.STATION_UNSTABLE_CONNECTS,
        connects_in_window=r["connects_in_window"],
        evses_total=r["evses_total"],
        evses_charging=r["evses_charging"],
        evses_faulted=r["evses_faulted"],
    )


def station_rows(
    *,
    tenant_id: int,
    now: datetime,
    limit: int,
    after_identity: str | None = None,
    before_identity: str | None = None,
    search: str | None = None,
    state: str | None = None,
    unstable: bool = False,
    location_id: int | None = None,
    station_ids: Iterable[int] | None = None,
) -> list[StationRow]:
    """Stations by identity, with their derived state. Keyset: the first `limit` after
    `after_identity`, or the last `limit` before `before_identity` (a previous page), always
    in identity order."""
    qs = _station_rows_qs(tenant_id, now)
    if after_identity:
        qs = qs.filter(identity__gt=after_identity)
    if before_identity:
        qs = qs.filter(identity__lt=before_identity)
    if search:
        qs = qs.filter(
            Q(identity__icontains=search)
            | Q(location__name__icontains=search)
            | Q(serial_number__icontains=search)
            | Q(vendor__icontains=search)
        )
    if state:
        qs = qs.filter(state=state)
    if unstable:
        qs = qs.filter(connects_in_window__gt=settings.STATION_UNSTABLE_CONNECTS)
    if location_id is not None:
        qs = qs.filter(location_id=location_id)
    if station_ids is not None:
        qs = qs.filter(pk__in=list(station_ids))
    if before_identity:
        rows = list(qs.order_by("-identity").values(*_ROW_FIELDS)[:limit])[::-1]
    else:
        rows = list(qs.order_by("identity").values(*_ROW_FIELDS)[:limit])
    return [_row(r) for r in rows]


def station_status_summary(*, tenant_id: int, now: datetime) -> dict[str, int]:
    """Stations per state, plus `unstable` and `total`."""
    counts = {s.value: 0 for s in StationState}
    qs = _station_rows_qs(tenant_id, now)
    for r in qs.order_by().values("state", "connects_in_window"):
        counts[r["state"]] += 1
        if r["connects_in_window"] > settings.STATION_UNSTABLE_CONNECTS:
            counts["unstable"] = counts.get("unstable", 0) + 1
    counts.setdefault("unstable", 0)
    counts["total"] = sum(counts[s.value] for s in StationState)
    return counts


def station_detail(*, tenant_id: int, station_id: int, now: datetime) -> StationDetail:
    rows = station_rows(tenant_id=tenant_id, now=now, limit=1, station_ids=[station_id])
    if not rows:
        raise NotFound(f"no charge station {station_id} in this tenant")
    s = ChargeStation.objects.select_related("location").get(pk=station_id)
    evses = (
        Evse.objects.filter(charge_station_id=station_id)
        .order_by("ocpp_evse_id", "uid")
        .prefetch_related(
            Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
        )
    )
    history = StationConnectionEvent.objects.filter(charge_station_id=station_id).order_by(
        "-at", "-id"
    )[:50]
    loc = s.location
    return StationDetail(
        row=rows[0],
        serial_number=s.serial_number,
        enabled=s.enabled,
        last_boot_at=s.last_boot_at,
        time_zone=loc.time_zone if loc else None,
        address=f"{loc.address}, {loc.postal_code} {loc.city}" if loc else "",
        evses=tuple(_evse(e) for e in evses),
        history=tuple(_connection_event(e) for e in history),
    )


def station_ids_by_identity(*, tenant_id: int, identities: Iterable[str]) -> dict[str, int]:
    return dict(
        ChargeStation.objects.filter(
            tenant_id=tenant_id, identity__in=list(identities)
        ).values_list("identity", "pk")
    )


def location_rows(
    *,
    tenant_id: int,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
    search: str | None = None,
) -> list[LocationRow]:
    """Locations by id: the first `limit` after `after_id`, or the last `limit` before
    `before_id` (a previous page), always in id order."""
    qs = Location.objects.filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(address__icontains=search)
            | Q(city__icontains=search)
            | Q(ocpi_id__icontains=search)
            | Q(postal_code__icontains=search)
        )
    qs = qs.annotate(
        n_evses=Count("evses", distinct=True), n_stations=Count("stations", distinct=True)
    )
    rows = qs.order_by("-id" if before_id is not None else "id").values(
        "id",
        "ocpi_id",
        "name",
        "address",
        "postal_code",
        "city",
        "country",
        "time_zone",
        "party__country_code",
        "party__party_id",
        "n_evses",
        "n_stations",
    )[:limit]
    if before_id is not None:
        rows = list(rows)[::-1]
    return [
        LocationRow(
            id=r["id"],
            ocpi_id=r["ocpi_id"],
            name=r["name"],
            address=r["address"],
            postal_code=r["postal_code"],
            city=r["city"],
            country=r["country"],
            time_zone=r["time_zone"],
            party=f"{r['party__country_code']}*{r['party__party_id']}",
            evses=r["n_evses"],
            stations=r["n_stations"],
        )
        for r in rows
    ]


# --- Connectivity ----------------------------------------------------------------------------


def _connection_event(e: StationConnectionEvent) -> ConnectionEventRecord:
    return ConnectionEventRecord(
        kind=ConnectionEventKind(e.kind),
        at=e.at,
        node=e.node,
        protocol=e.protocol,
        close_code=e.close_code,
        reason=e.reason,
    )


def connects_in_window(
    *, station_ids: Iterable[int], now: datetime | None = None
) -> dict[int, int]:
    """Connections opened per station within the last STATION_UNSTABLE_WINDOW_SECONDS (one
    query for all; stations without any are left out)."""
    ids = list(station_ids)
    if not ids:
        return {}
    since = (now or timezone.now()) - timedelta(seconds=settings.STATION_UNSTABLE_WINDOW_SECONDS)
    rows = (
        StationConnectionEvent.objects.filter(
            charge_station_id__in=ids, kind=ConnectionEventKind.CONNECTED.value, at__gte=since
        )
        .values("charge_station_id")
        .annotate(n=Count("id"))
    )
    return {r["charge_station_id"]: r["n"] for r in rows}


def unstable_station_ids(*, station_ids: Iterable[int], now: datetime | None = None) -> set[int]:
    """The stations whose websocket opened more than STATION_UNSTABLE_CONNECTS times within
    the last STATION_UNSTABLE_WINDOW_SECONDS (connections counted, as the setting says)."""
    limit = settings.STATION_UNSTABLE_CONNECTS
    return {
        sid for sid, n in connects_in_window(station_ids=station_ids, now=now).items() if n > limit
    }


def charge_station_connectivity(
    *, tenant_id: int, station_id: int, history: int = 50, now: datetime | None = None
) -> ConnectivityReport:
    """Online / offline, last seen, the node holding it, the unstable badge and the newest
    `history` connect / disconnect events."""
    s = (
        ChargeStation.objects.for_tenant(tenant_id)
        .filter(pk=station_id)
        .values("pk", "identity", "connectivity", "last_seen_at", "connected_at", "gateway_node")
        .first()
    )
    if s is None:
        raise NotFound(f"no charge station {station_id} in this tenant")
    connects = connects_in_window(station_ids=[station_id], now=now).get(station_id, 0)
    events = StationConnectionEvent.objects.filter(charge_station_id=station_id).order_by(
        "-at", "-id"
    )[:history]
    return ConnectivityReport(
        station_id=s["pk"],
        identity=s["identity"],
        connectivity=Connectivity(s["connectivity"]),
        last_seen_at=s["last_seen_at"],
        connected_at=s["connected_at"],
        gateway_node=s["gateway_node"],
        unstable=connects > settings.STATION_UNSTABLE_CONNECTS,
        connects_in_window=connects,
        window_seconds=settings.STATION_UNSTABLE_WINDOW_SECONDS,
        unstable_threshold=settings.STATION_UNSTABLE_CONNECTS,
        history=tuple(_connection_event(e) for e in events),
    )


# --- Remote commands -------------------------------------------------------------------------


def command_outcome(row: RemoteCommand) -> CommandOutcome:
    return CommandOutcome(
        id=row.pk,
        station_id=row.charge_station_id,
        kind=CommandKind(row.kind),
        status=CommandStatus(row.status),
        station_status=row.station_status,
        message=row.message,
        data=answer_from_json(row.data),
        request=row.request,
        ocpp_action=row.ocpp_action,
        ocpp_request=row.ocpp_request,
        response=row.response,
        protocol=row.protocol,
        gateway_node=row.gateway_node,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        answered_at=row.answered_at,
        progress=tuple(row.progress or ()),
    )


def charge_station_commands(
    *,
    tenant_id: int,
    station_id: int,
    limit: int = 50,
    after_id: int | None = None,
    newest_first: bool = False,
    before_id: int | None = None,
) -> list[CommandOutcome]:
    """The station's command log: oldest first after `after_id` (the API's keyset pages), or
    newest first before `before_id` (the portal)."""
    if not charge_station_exists(tenant_id=tenant_id, station_id=station_id):
        raise NotFound(f"no charge station {station_id} in this tenant")
    qs = RemoteCommand.objects.filter(tenant_id=tenant_id, charge_station_id=station_id)
    if newest_first:
        if before_id is not None:
            qs = qs.filter(pk__lt=before_id)
        qs = qs.order_by("-id")
    else:
        if after_id is not None:
            qs = qs.filter(pk__gt=after_id)
        qs = qs.order_by("id")
    return [command_outcome(r) for r in qs[:limit]]


def charge_station_command_get(*, tenant_id: int, command_id: int) -> CommandOutcome:
    row = RemoteCommand.objects.filter(tenant_id=tenant_id, pk=command_id).first()
    if row is None:
        raise NotFound(f"no command {command_id} in this tenant")
    return command_outcome(row)
