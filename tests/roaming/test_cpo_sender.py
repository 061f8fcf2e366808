"""Our CPO sender interfaces over HTTP (roaming.ocpi.views.cpo): pagination headers and
Link, [date_from, date_to), stable order under inserts, the publishing rules (home
chargers, unpublished, per-connection lists, other tenants), sessions / CDRs of the
calling eMSP's tokens only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from apps.common.cursors import encode_time_cursor
from apps.roaming import transport
from apps.roaming.models import OcpiPublishedLocation
from tests.factories import (
    T0,
    CdrFactory,
    ChargeStationFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    OperatorFactory,
    TokenFactory,
)
from tests.roaming.cpo_fixtures import connect, own_cpo, partner_emsp, stamp

pytestmark = pytest.mark.django_db

TOKEN = "partner-token-0123456789abcdef0123456789"


def _location(party: Any, ocpi_id: str, minute: int, *, hcc: str = "", publish: bool = True) -> Any:
    """A location with one station, EVSE and connector, all last updated at T0 + minute."""
    loc = LocationFactory(party=party, ocpi_id=ocpi_id, publish=publish)
    station = ChargeStationFactory(location=loc, hcc=hcc)
    evse = EvseFactory(charge_station=station, uid=f"{ocpi_id}-E1")
    conn = ConnectorFactory(evse=evse)
    at = T0 + timedelta(minutes=minute)
    for row in (loc, evse, conn):
        stamp(row, at)
    return loc


def _get(client: Client, path: str, token: str = TOKEN, **headers: str) -> Any:
    return client.get(path, HTTP_AUTHORIZATION=f"Token {token}", **headers)


def _ids(resp: Any) -> list[str]:
    body = transport.loads(resp.content)
    assert body["status_code"] == 1000, body
    return [o["id"] for o in body["data"]]


@pytest.fixture
def cpo() -> Any:
    tenant = OperatorFactory()
    party = own_cpo(tenant)
    connect(tenant, token=TOKEN)
    return party


def test_pagination_headers_link_keeps_filters_and_date_to_is_exclusive(
    client: Client, cpo: Any, settings: Any
) -> None:
    settings.OCPI_PAGE_LIMIT = 3
    locs = [_location(cpo, f"L{i}", minute=i) for i in range(6)]
    date_from = transport.iso(T0 + timedelta(minutes=1))  # inclusive: L1 in
    date_to = transport.iso(T0 + timedelta(minutes=5))  # exclusive: L5 out
    url = f"/ocpi/2.2.1/cpo/locations?date_from={date_from}&date_to={date_to}&limit=2"
    first = _get(client, url)
    assert first.status_code == 200
    assert _ids(first) == ["L1", "L2"]
    assert first["X-Total-Count"] == "4"
    assert first["X-Limit"] == "3"
    target = transport.parse_next_link(first["Link"])
    assert target is not None
    query = parse_qs(urlsplit(target).query)
    assert query == {
        "date_from": [date_from],
        "date_to": [date_to],
        "offset": ["2"],
        "limit": ["2"],
        # the keyset position after the page's last location, L2 (last updated T0 + 2 min)
        "cursor": [encode_time_cursor(T0 + timedelta(minutes=2), locs[2].pk)],
    }
    second = _get(client, target)
    assert _ids(second) == ["L3", "L4"]
    assert "Link" not in second  # nothing more


def test_limit_is_capped_by_the_server(client: Client, cpo: Any, settings: Any) -> None:
    settings.OCPI_PAGE_LIMIT = 2
    locs = [_location(cpo, f"L{i}", minute=i) for i in range(3)]
    resp = _get(client, "/ocpi/2.2.1/cpo/locations?limit=50")
    assert _ids(resp) == ["L0", "L1"]
    assert (resp["X-Limit"], resp["X-Total-Count"]) == ("2", "3")
    query = parse_qs(urlsplit(transport.parse_next_link(resp["Link"]) or "").query)
    cursor = encode_time_cursor(T0 + timedelta(minutes=1), locs[1].pk)
    assert query == {"offset": ["2"], "limit": ["2"], "cursor": [cursor]}


def test_order_is_stable_under_inserts_while_crawling(client: Client, cpo: Any) -> None:
    for i in range(4):
        _location(cpo, f"L{i}", minute=i)
    first = _get(client, "/ocpi/2.2.1/cpo/locations?limit=2")
    assert _ids(first) == ["L0", "L1"]
    _location(cpo, "NEW", minute=30)  # newer: lands at the end, shifts nothing ahead
    second = _get(client, transport.parse_next_link(first["Link"]) or "")
    assert _ids(second) == ["L2", "L3"]
    assert second["X-Total-Count"] == "5"
    third = _get(client, transport.parse_next_link(second["Link"]) or "")
    assert _ids(third) == ["NEW"]


def test_bad_parameters_get_2001_naming_the_parameter(client: Client, cpo: Any) -> None:
    resp = _get(client, "/ocpi/2.2.1/cpo/locations?date_from=yesterday")
    body = transport.loads(resp.content)
    assert (resp.status_code, body["status_code"]) == (400, 2001)
    assert "date_from" in body["status_message"]
    resp = _get(client, "/ocpi/2.2.1/cpo/locations?offset=-1")
    assert transport.loads(resp.content)["status_code"] == 2001


def test_home_chargers_and_unpublished_locations_are_never_published(
    client: Client, cpo: Any
) -> None:
    _location(cpo, "PUBLIC", minute=0)
    _location(cpo, "HOME", minute=1, hcc="HCC_E")  # only a home charger: not published
    _location(cpo, "HIDDEN", minute=2, publish=False)
    mixed = _location(cpo, "MIXED", minute=3)
    home_station = ChargeStationFactory(location=mixed, hcc="HCC_V")
    ConnectorFactory(evse=EvseFactory(charge_station=home_station, uid="MIXED-HOME"))
    resp = _get(client, "/ocpi/2.2.1/cpo/locations")
    assert _ids(resp) == ["PUBLIC", "MIXED"]
    mixed_obj = transport.loads(resp.content)["data"][1]
    assert [e["uid"] for e in mixed_obj["evses"]] == ["MIXED-E1"]
    for path in ("HOME", "HIDDEN", "MIXED/MIXED-HOME", "MIXED/MIXED-HOME/1"):
        single = _get(client, f"/ocpi/2.2.1/cpo/locations/{path}")
        body = transport.loads(single.content)
        assert (single.status_code, body["status_code"]) == (404, 2003), path
        assert "data" not in body


def test_single_location_evse_connector(client: Client, cpo: Any) -> None:
    _location(cpo, "L1", minute=0)
    loc = transport.loads(_get(client, "/ocpi/2.2.1/cpo/locations/L1").content)["data"]
    evse = transport.loads(_get(client, "/ocpi/2.2.1/cpo/locations/L1/L1-E1").content)["data"]
    conn = transport.loads(_get(client, "/ocpi/2.2.1/cpo/locations/L1/L1-E1/1").content)["data"]
    assert loc["evses"] == [evse]
    assert evse["connectors"] == [conn]
    assert conn["id"] == "1" and conn["max_voltage"] == 230


def test_a_connection_without_publish_all_sees_only_its_list(client: Client, cpo: Any) -> None:
    _location(cpo, "L1", minute=0)
    listed = _location(cpo, "L2", minute=1)
    conn = connect(cpo.tenant, token=TOKEN + "x", publish_all=False)
    OcpiPublishedLocation.objects.create(tenant=cpo.tenant, connection=conn, location=listed)
    assert _ids(_get(client, "/ocpi/2.2.1/cpo/locations", token=TOKEN + "x")) == ["L2"]
    assert _get(client, "/ocpi/2.2.1/cpo/locations/L1", token=TOKEN + "x").status_code == 404
    assert _ids(_get(client, "/ocpi/2.2.1/cpo/locations")) == ["L1", "L2"]


def test_another_tenants_rows_are_never_visible(client: Client, cpo: Any) -> None:
    other = OperatorFactory()
    other_party = own_cpo(other, party_id="OTH")
    _location(other_party, "THEIRS", minute=0)
    emsp_other = partner_emsp(other)
    token = TokenFactory(party=emsp_other, uid="THEIRTOKEN")
    session = ChargingSessionFactory(
        connector__evse__charge_station__location__party=other_party,
        token=token,
        emsp_party=emsp_other,
    )
    CdrFactory(session=session, party=other_party, emsp_party=emsp_other)
    connect(other, token="other-tenant-token-000000000000000000000")
    _location(cpo, "OURS", minute=0)
    assert _ids(_get(client, "/ocpi/2.2.1/cpo/locations")) == ["OURS"]
    assert _get(client, "/ocpi/2.2.1/cpo/locations/THEIRS").status_code == 404
    for module in ("sessions", "cdrs"):
        assert _ids(_get(client, f"/ocpi/2.2.1/cpo/{module}")) == []


def _session_of(cpo: Any, emsp: Any, uid: str, minute: int) -> Any:
    loc = _location(cpo, f"S{uid}", minute=0)
    token = TokenFactory(party=emsp, tenant=cpo.tenant, uid=uid, contract_id=f"C-{uid}")
    session = ChargingSessionFactory(
        connector=loc.evses.get().connectors.get(),
        token=token,
        emsp_party=emsp,
        energy_wh=Decimal("12500.000"),
        currency="EUR",
        live_cost_excl_vat=Decimal("3.1250"),
    )
    stamp(session, T0 + timedelta(minutes=minute))
    return session


def test_sessions_and_cdrs_only_of_the_callers_tokens(client: Client, cpo: Any) -> None:
    ours = partner_emsp(cpo.tenant)  # DE*EMS: the connection's EMSP role
    stranger = partner_emsp(cpo.tenant, party_id="XYZ")
    mine = _session_of(cpo, ours, "MINE", minute=1)
    theirs = _session_of(cpo, stranger, "THEIRS", minute=2)
    cdr = CdrFactory(session=mine, party=cpo, emsp_party=ours, ocpi_id="CDR-MINE")
    CdrFactory(session=theirs, party=cpo, emsp_party=stranger, ocpi_id="CDR-THEIRS")
    sessions = transport.loads(_get(client, "/ocpi/2.2.1/cpo/sessions").content)["data"]
    assert [s["id"] for s in sessions] == [str(mine.pk)]
    assert sessions[0]["cdr_token"] == {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": "MINE",
        "type": "RFID",
        "contract_id": "C-MINE",
    }
    assert sessions[0]["kwh"] == Decimal("12.5000")
    cdrs = _get(client, "/ocpi/2.2.1/cpo/cdrs")
    assert _ids(cdrs) == [cdr.ocpi_id]
    assert cdrs["X-Total-Count"] == "1"


def test_2_1_1_session_embeds_the_location_used(client: Client, cpo: Any) -> None:
    ours = partner_emsp(cpo.tenant)
    session = _session_of(cpo, ours, "MINE", minute=1)
    data = transport.loads(_get(client, "/ocpi/2.1.1/cpo/sessions").content)["data"]
    assert [s["id"] for s in data] == [str(session.pk)]
    loc = data[0]["location"]
    assert loc["id"] == "SMINE" and loc["type"] == "UNKNOWN"
    assert [e["uid"] for e in loc["evses"]] == ["SMINE-E1"]
    assert loc["evses"][0]["connectors"][0]["voltage"] == 230
    assert data[0]["auth_id"] == "C-MINE"


def test_tariffs_are_the_wholesale_ones_with_a_version(client: Client, cpo: Any) -> None:
    from tests.factories import TariffFactory, TariffVersionFactory

    station_price = TariffFactory(party=cpo, ocpi_id="T-STATION")
    TariffVersionFactory(tariff=station_price)
    TariffVersionFactory(tariff=TariffFactory(party=cpo, ocpi_id="T-RETAIL", engine="RETAIL"))
    TariffFactory(party=cpo, ocpi_id="T-EMPTY")  # no version: nothing to publish
    other = own_cpo(OperatorFactory(), party_id="OTH")
    TariffVersionFactory(tariff=TariffFactory(party=other, ocpi_id="T-OTHER"))
    resp = _get(client, "/ocpi/2.2.1/cpo/tariffs")
    assert _ids(resp) == ["T-STATION"]
    [tariff] = transport.loads(resp.content)["data"]
    assert tariff["elements"] == [
        {"price_components": [{"type": "ENERGY", "price": Decimal("0.2500"), "step_size": 1}]}
    ]
    assert (tariff["country_code"], tariff["party_id"], tariff["currency"]) == ("NL", "CPO", "EUR")


def test_session_pages_follow_the_link_to_the_end(client: Client, cpo: Any) -> None:
    ours = partner_emsp(cpo.tenant)
    made = [_session_of(cpo, ours, f"U{i}", minute=10 - i) for i in range(5)]  # newest first
    expected = [str(s.pk) for s in reversed(made)]  # oldest last_updated first
    seen: list[str] = []
    url: str | None = "/ocpi/2.2.1/cpo/sessions?limit=2&offset=0"
    while url:
        resp = _get(client, url)
        assert resp["X-Total-Count"] == "5"
        seen += _ids(resp)
        url = transport.parse_next_link(resp.get("Link"))
    assert seen == expected
    deep = _get(client, "/ocpi/2.2.1/cpo/sessions?offset=4&limit=2")
    assert _ids(deep) == expected[4:]
    assert _ids(_get(client, "/ocpi/2.2.1/cpo/sessions?offset=9")) == []
