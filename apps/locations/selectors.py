from __future__ import annotations

from collections.abc import Iterable

from apps.locations.contracts import ConnectorRef, ConnectorStandard, PowerType, StationContext
from apps.locations.models import ChargeStation, Connector


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
    )


def station_context(*, station_id: int) -> StationContext:
    return _context(ChargeStation.objects.select_related("location__party").get(pk=station_id))


def station_contexts(*, station_ids: Iterable[int]) -> dict[int, StationContext]:
    """`station_context` of many stations in one query (unknown ids are left out)."""
    return {
        station.pk: _context(station)
        for station in ChargeStation.objects.select_related("location__party").filter(
            pk__in=set(station_ids)
        )
    }


def _context(station: ChargeStation) -> StationContext:
    location = station.location
    party = location.party if location else None
    cdr_location = None
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
    )
