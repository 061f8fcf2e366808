"""Locations and tariffs pulls page by keyset over the stored (last_updated, id) (issue 19):
ties in last_updated, objects changing between two pages (none skipped, none repeated but
the changed one), [date_from, date_to) on the stored value, both versions; the stored value
kept by every write of the locations app (the status path at the exact instant it is given);
the page's queries read the partial index and do not grow with the offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.common.contracts import Actor, HccFlag
from apps.common.cursors import encode_time_cursor
from apps.locations import api as locations_api
from apps.locations.contracts import EvseStatusReport
from apps.locations.models import (
    ChargeStation,
    Connector,
    Evse,
    Location,
    refresh_last_updated,
    tree_last_updated,
)
from apps.locations.services import locations as location_services
from apps.roaming import transport
from tests.factories import (
    T0,
    ChargeStationFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    OperatorFactory,
    TariffFactory,
    TariffVersionFactory,
)
from tests.roaming.cpo_fixtures import connect, own_cpo, stamp

pytestmark = pytest.mark.django_db

LATER = datetime(2030, 1, 1, tzinfo=UTC)
TOKEN = "partner-token-keyset-0123456789abcdef012"
ACTOR = Actor(name="test")


def _location(party: Any, ocpi_id: str, minute: int) -> Location:
    """A location with one station, EVSE (OCPP EVSE 1) and connector, all at T0 + minute."""
    loc = LocationFactory(party=party, ocpi_id=ocpi_id)
    station = ChargeStationFactory(location=loc)
    evse = EvseFactory(charge_station=station, uid=f"{ocpi_id}-E1", status="AVAILABLE")
    conn = ConnectorFactory(evse=evse)
    at = T0 + timedelta(minutes=minute)
    for row in (loc, evse, conn):
        stamp(row, at)
    loc.refresh_from_db()
    assert loc.last_updated == at
    return loc


def _get(client: Client, path: str) -> Any:
    resp = client.get(path, HTTP_AUTHORIZATION=f"Token {TOKEN}")
    assert resp.status_code == 200, resp.content
    return resp


def _body(resp: Any) -> list[dict[str, Any]]:
    body = transport.loads(resp.content)
    assert body["status_code"] == 1000, body
    return list(body["data"])


def _crawl(client: Client, url: str) -> tuple[list[str], list[str]]:
    """Every page from `url` following Link: (ids in order, X-Total-Count of each page)."""
    ids: list[str] = []
    totals: list[str] = []
    next_url: str | None = url
    while next_url:
        resp = _get(client, next_url)
        ids += [o["id"] for o in _body(resp)]
        totals.append(resp["X-Total-Count"])
        next_url = transport.parse_next_link(resp.get("Link"))
    return ids, totals


def _status(loc: Location, ocpp_status: str, minute: int) -> None:
    """A StatusNotification for the location's EVSE, recorded as the gateway does, at
    T0 + minute."""
    station = loc.stations.get()
    locations_api.evse_status_reports_record(
        reports=[
            EvseStatusReport(
                tenant_id=loc.tenant_id,
                station_id=station.pk,
                evse_ocpp_id=1,
                connector_ocpp_id=1,
                ocpp_status=ocpp_status,
                station_timestamp=T0 + timedelta(minutes=minute),
            )
        ],
        now=T0 + timedelta(minutes=minute),
    )


@pytest.fixture
def cpo() -> Any:
    tenant = OperatorFactory()
    party = own_cpo(tenant)
    connect(tenant, token=TOKEN)
    return party


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
def test_ties_in_last_updated_are_ordered_by_id_on_every_page(
    client: Client, cpo: Any, version: str
) -> None:
    made = [_location(cpo, f"TIE{i}", minute=7) for i in (3, 1, 4, 0, 2)]  # one instant
    expected = [loc.ocpi_id for loc in sorted(made, key=lambda loc: loc.pk)]
    ids, totals = _crawl(client, f"/ocpi/{version}/cpo/locations?limit=2")
    assert ids == expected
    assert totals == ["5", "5", "5"]
    # the Link names the last location of the page by (last_updated, id): the tie is cut
    first = _get(client, f"/ocpi/{version}/cpo/locations?limit=2")
    link = transport.parse_next_link(first["Link"]) or ""
    second = sorted(made, key=lambda loc: loc.pk)[1]
    assert f"cursor={encode_time_cursor(T0 + timedelta(minutes=7), second.pk)}" in link


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1"])
def test_objects_changing_between_pages_none_skipped_none_repeated_but_the_changed(
    client: Client, cpo: Any, version: str
) -> None:
    locs = {f"L{i}": _location(cpo, f"L{i}", minute=i) for i in range(6)}
    first = _get(client, f"/ocpi/{version}/cpo/locations?limit=2")
    assert [o["id"] for o in _body(first)] == ["L0", "L1"]
    # Between the pages: L0 (already seen) and L3 (not yet) change status: both move to the
    # end. With an offset, the next page would start at the third of [L1, L2, L4, L5, L0, L3]
    # and L2 would never be seen.
    _status(locs["L0"], "Charging", minute=30)
    _status(locs["L3"], "Faulted", minute=31)
    rest, totals = _crawl(client, transport.parse_next_link(first["Link"]) or "")
    assert rest == ["L2", "L4", "L5", "L0", "L3"]
    assert set(totals) == {"6"}
    # L0 is seen again in its new state; the others exactly once
    last = _get(client, f"/ocpi/{version}/cpo/locations?date_from=2026-03-02T08:30:00Z")
    data = _body(last)
    assert [o["id"] for o in data] == ["L0", "L3"]
    assert [o["evses"][0]["status"] for o in data] == ["CHARGING", "OUTOFORDER"]
    assert [o["last_updated"] for o in data] == ["2026-03-02T08:30:00Z", "2026-03-02T08:31:00Z"]


def test_date_from_and_date_to_filter_the_stored_last_updated(client: Client, cpo: Any) -> None:
    locs = [_location(cpo, f"L{i}", minute=i) for i in range(4)]
    _status(locs[0], "Charging", minute=10)  # L0 now last updated at T0 + 10 min
    url = "/ocpi/2.2.1/cpo/locations?date_from=2026-03-02T08:02:00Z&date_to=2026-03-02T08:10:00Z"
    resp = _get(client, url)
    assert [o["id"] for o in _body(resp)] == ["L2", "L3"]  # L0 at 08:10 excluded (date_to)
    assert resp["X-Total-Count"] == "2"
    resp = _get(client, "/ocpi/2.2.1/cpo/locations?date_from=2026-03-02T08:10:00Z")
    assert [o["id"] for o in _body(resp)] == ["L0"]
    assert resp["X-Total-Count"] == "1"


def test_a_status_change_raises_last_updated_to_its_instant_and_a_repeat_does_not(
    cpo: Any,
) -> None:
    loc = _location(cpo, "L1", minute=0)
    other = _location(cpo, "L2", minute=0)
    _status(loc, "Charging", minute=10)
    loc.refresh_from_db()
    evse = loc.evses.get()
    assert (evse.status, evse.updated_at) == ("CHARGING", T0 + timedelta(minutes=10))
    assert loc.last_updated == T0 + timedelta(minutes=10)
    _status(loc, "Preparing", minute=20)  # OCPI CHARGING again: no change
    loc.refresh_from_db()
    assert loc.last_updated == T0 + timedelta(minutes=10)
    assert loc.evses.get().updated_at == T0 + timedelta(minutes=10)
    _status(loc, "Available", minute=5)  # an instant before: never lowered
    loc.refresh_from_db()
    assert loc.evses.get().status == "AVAILABLE"
    assert loc.last_updated == T0 + timedelta(minutes=10)
    other.refresh_from_db()
    assert other.last_updated == T0  # another location: untouched


def test_a_status_batch_is_two_statements_whatever_its_size(cpo: Any) -> None:
    locs = [_location(cpo, f"L{i}", minute=0) for i in range(5)]
    stations = [loc.stations.get().pk for loc in locs]
    at = T0 + timedelta(minutes=3)
    with CaptureQueriesContext(connection) as queries:
        locations_api.evse_statuses_record(updates=[(s, 1, "Charging") for s in stations], now=at)
    # the EVSE updates (one statement executed per EVSE, pipelined) and one location UPDATE
    assert len(queries) == 2
    assert [loc.last_updated for loc in Location.objects.filter(pk__in=[x.pk for x in locs])] == [
        at
    ] * 5


def _stored_is_the_tree(loc_pk: int) -> None:
    row = Location.objects.filter(pk=loc_pk).annotate(tree=tree_last_updated()).get()
    assert row.last_updated == row.tree


def test_every_write_of_the_locations_app_keeps_last_updated_the_latest_of_the_tree(
    cpo: Any,
) -> None:
    connector = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
    }
    values = {
        "address": "Dam 1",
        "city": "Amsterdam",
        "country": "NLD",
        "latitude": "52.3731",
        "longitude": "4.8926",
        "time_zone": "Europe/Amsterdam",
        "evses": [{"uid": "W-E1", "connectors": [connector]}],
    }
    record = location_services.location_create(
        tenant_id=cpo.tenant_id,
        country_code="NL",
        party_id="CPO",
        ocpi_id="W1",
        values=values,
        actor=ACTOR,
    )
    pk = record.platform_id
    _stored_is_the_tree(pk)
    for write in (
        lambda: location_services.location_update(
            tenant_id=cpo.tenant_id,
            location_id=pk,
            if_match=None,
            values={"name": "n"},
            actor=ACTOR,
        ),
        lambda: location_services.evse_put(
            tenant_id=cpo.tenant_id,
            location_id=pk,
            uid="W-E2",
            values={"connectors": [connector]},
            actor=ACTOR,
        ),
        lambda: Connector.objects.get(evse__uid="W-E1").save(),  # the admin's save
        lambda: Evse.objects.get(uid="W-E2").save(),
    ):
        Location.objects.filter(pk=pk).update(last_updated=T0)  # stale: each write must lift it
        write()
        _stored_is_the_tree(pk)


def test_home_charger_flag_and_evse_mapping_move_the_locations_last_updated(cpo: Any) -> None:
    loc = _location(cpo, "L1", minute=0)
    station = loc.stations.get()
    locations_api.charge_stations_hcc_set(
        tenant_id=cpo.tenant_id, flags={station.pk: HccFlag.HCC_E}, actor=ACTOR
    )
    loc.refresh_from_db()
    station = ChargeStation.objects.get(pk=station.pk)
    assert loc.last_updated == station.updated_at  # no longer published: partners must see it


def test_refresh_recomputes_from_the_rows(cpo: Any) -> None:
    loc = _location(cpo, "L1", minute=5)
    Location.objects.filter(pk=loc.pk).update(last_updated=T0 + timedelta(days=1))
    assert refresh_last_updated(Location.objects.filter(pk=loc.pk)) == 1
    loc.refresh_from_db()
    assert loc.last_updated == T0 + timedelta(minutes=5)


def test_tariffs_page_by_keyset_with_ties(client: Client, cpo: Any) -> None:
    made = []
    for i in range(3):
        tariff = TariffFactory(party=cpo, ocpi_id=f"T{i}")
        TariffVersionFactory(tariff=tariff)
        made.append(tariff)
    from apps.tariffs.models import Tariff

    # one instant, later than their versions (append-only, created now): a tie of the three
    Tariff.objects.filter(pk__in=[t.pk for t in made]).update(updated_at=LATER)
    for version in ("2.2.1", "2.1.1"):
        ids, totals = _crawl(client, f"/ocpi/{version}/cpo/tariffs?limit=1")
        assert ids == [t.ocpi_id for t in sorted(made, key=lambda t: t.pk)]
        assert totals == ["3", "3", "3"]


def _many_locations(party: Any, n: int) -> None:
    """`n` published locations without equipment, last updated one second apart."""
    Location.objects.bulk_create(
        Location(
            tenant_id=party.tenant_id,
            party=party,
            ocpi_id=f"BULK{i:05d}",
            address="Dam 1",
            city="Amsterdam",
            country="NLD",
            latitude=0,
            longitude=0,
            time_zone="Europe/Amsterdam",
            last_updated=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    )
    with connection.cursor() as cur:
        cur.execute("ANALYZE locations_location")


def test_a_page_reads_the_partial_index_and_costs_the_same_at_any_offset(
    client: Client, cpo: Any
) -> None:
    _many_locations(cpo, 3000)
    LocationFactory(party=cpo, ocpi_id="HIDDEN", publish=False)
    other = own_cpo(OperatorFactory(), party_id="OTH")
    _many_locations(other, 3000)  # another tenant's: never in our pages
    counts = []
    sql: dict[str, list[str]] = {}
    for name, url in (
        ("first", "/ocpi/2.2.1/cpo/locations?limit=50"),
        ("deep", "/ocpi/2.2.1/cpo/locations?limit=50&offset=2900"),
    ):
        with CaptureQueriesContext(connection) as queries:
            resp = _get(client, url)
        assert resp["X-Total-Count"] == "3000"
        data = _body(resp)
        assert len(data) == 50
        counts.append(len(queries))
        sql[name] = [q["sql"] for q in queries.captured_queries]
    assert [o["id"] for o in data][:2] == ["BULK02900", "BULK02901"]
    with CaptureQueriesContext(connection) as queries:  # following Link: a seek, no lookup
        after = _get(client, transport.parse_next_link(resp["Link"]) or "")
    assert [o["id"] for o in _body(after)] == [f"BULK{i:05d}" for i in range(2950, 3000)]
    sql["link"] = [q["sql"] for q in queries.captured_queries]
    assert counts[0] == counts[1]  # offset 0 and 2,900: the same queries
    assert len(queries) == counts[0] - 1  # the cursor needs no key lookup
    # the first page's key lookup and seek, and the Link's seek, read location_ocpi_page
    # in its order (no sort); the counts read an index too
    keyed = 'SELECT "locations_location"."last_updated"'
    checked = [q for q in sql["first"] + sql["link"] if q.startswith(keyed)]
    assert len(checked) == 3
    counted = [q for qs in sql.values() for q in qs if q.startswith("SELECT COUNT(*)")]
    assert len(counted) == 3
    with connection.cursor() as cur:
        for query in checked + counted:
            cur.execute("EXPLAIN " + query)
            plan = "\n".join(r[0] for r in cur.fetchall())
            assert "Seq Scan on locations_location" not in plan, plan
            if query in checked:
                assert "location_ocpi_page" in plan and "Sort" not in plan, plan


def test_the_pages_records_are_the_ones_location_get_reads(cpo: Any) -> None:
    """`location_records` (plain rows: locations, EVSEs, connectors) builds what the
    model-based `location_get` does: EVSEs by uid, connectors by id, one without any."""
    from apps.locations import published, selectors

    loc = _location(cpo, "L1", minute=0)
    station = loc.stations.get()
    evse = EvseFactory(
        charge_station=station, uid="L1-A0", ocpp_evse_id=2, capabilities=["RFID_READER"]
    )
    ConnectorFactory(evse=evse, connector_id="2", max_electric_power=None)
    ConnectorFactory(evse=evse, connector_id="1", standard="IEC_62196_T2_COMBO", power_type="DC")
    EvseFactory(charge_station=station, uid="L1-Z9", ocpp_evse_id=3)  # no connector
    [record] = published.location_records(tenant_id=cpo.tenant_id, ids=[loc.pk])
    assert record == selectors.location_get(tenant_id=cpo.tenant_id, location_id=loc.pk)
    assert [e.uid for e in record.evses] == ["L1-A0", "L1-E1", "L1-Z9"]
    assert [c.id for c in record.evses[0].connectors] == ["1", "2"]
    assert record.evses[2].connectors == ()
