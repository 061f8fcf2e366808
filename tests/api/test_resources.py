"""Locations, charge stations, customers and contracts, tariffs, sessions and CDRs, commands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.common.secrets import verify_secret
from apps.locations.models import ChargeStation, RemoteCommand
from tests.api.conftest import World
from tests.factories import CdrFactory, ChargingSessionFactory
from tests.relay_fixtures import Relay

pytestmark = pytest.mark.django_db

CONNECTOR = {
    "id": "1",
    "standard": "IEC_62196_T2_COMBO",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 920,
    "max_amperage": 500,
    "max_electric_power": 300000,
}
LOCATION = {
    "country_code": "NL",
    "party_id": "AAA",
    "id": "UTR-1",
    "name": "Utrecht hub",
    "address": "Stationsplein 9",
    "city": "Utrecht",
    "postal_code": "3511ED",
    "country": "NLD",
    "coordinates": {"latitude": "52.0894440", "longitude": "5.1101000"},
    "time_zone": "Europe/Amsterdam",
    "evses": [{"uid": "UTR-1-E1", "evse_id": "NL*AAA*E1", "connectors": [CONNECTOR]}],
}


def test_register_a_location_and_a_station(world_a: World) -> None:
    client = world_a.client()
    location = client.post("/api/v1/locations", LOCATION, format="json")
    assert location.status_code == 201, location.content
    loc = location.json()
    assert loc["coordinates"] == {"latitude": "52.0894440", "longitude": "5.1101000"}
    assert loc["evses"][0]["connectors"][0]["standard"] == "IEC_62196_T2_COMBO"
    station = client.post(
        "/api/v1/charge-stations",
        {
            "identity": "UTR-CS-1",
            "location_id": loc["platform_id"],
            "security_profile": 2,
            "ocpp_version": "2.0.1",
            "evses": [{"evse_uid": "UTR-1-E1", "ocpp_evse_id": 1}],
        },
        format="json",
    )
    assert station.status_code == 201, station.content
    body = station.json()
    password = body["password"]
    assert len(password) >= 16
    stored = ChargeStation.objects.get(identity="UTR-CS-1")
    assert password not in stored.password_hash and verify_secret(password, stored.password_hash)
    got = client.get(f"/api/v1/charge-stations/{body['id']}").json()
    assert "password" not in got
    assert got["evses"] == [{"evse_uid": "UTR-1-E1", "ocpp_evse_id": 1}]
    # The password can be reset (shown once again), and the profile can only go up.
    reset = client.post(f"/api/v1/charge-stations/{body['id']}/password")
    assert reset.status_code == 201 and reset.json()["password"] != password
    lower = client.patch(
        f"/api/v1/charge-stations/{body['id']}", {"security_profile": 1}, format="json"
    )
    assert lower.status_code == 409


def test_evse_upsert_on_a_location(world_a: World) -> None:
    client = world_a.client()
    loc = client.post("/api/v1/locations", LOCATION, format="json").json()
    url = f"/api/v1/locations/{loc['platform_id']}/evses/UTR-1-E2"
    created = client.put(url, {"connectors": [CONNECTOR], "status": "AVAILABLE"}, format="json")
    assert created.status_code == 201
    updated = client.put(url, {"connectors": [CONNECTOR], "status": "BLOCKED"}, format="json")
    assert updated.status_code == 200
    evses = {e["uid"]: e["status"] for e in updated.json()["evses"]}
    assert evses == {"UTR-1-E1": "UNKNOWN", "UTR-1-E2": "BLOCKED"}


def test_provision_a_customer_with_a_contract(world_a: World) -> None:
    client = world_a.client()
    customer = client.post(
        "/api/v1/customers",
        {
            "country_code": "NL",
            "party_id": "AAA",
            "kind": "person",
            "name": "Ada",
            "external_ref": "CRM-1",
        },
        format="json",
    )
    assert customer.status_code == 201
    contract = client.post(
        "/api/v1/contracts",
        {
            "customer_id": customer.json()["id"],
            "token_id": world_a.ids["token_id"],
            "reference": "K-1",
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2025-01-01T00:00:00Z",
        },
        format="json",
    )
    assert contract.status_code == 422
    assert contract.json()["errors"] == [
        {"path": "$.valid_until", "message": "must be after valid_from"}
    ]
    dup = client.post(
        "/api/v1/customers",
        {
            "country_code": "NL",
            "party_id": "AAA",
            "kind": "person",
            "name": "Ada",
            "external_ref": "CRM-1",
        },
        format="json",
    )
    assert dup.status_code == 409


def test_tariff_create_validates_with_json_paths(world_a: World) -> None:
    client = world_a.client()
    tariff = {
        "country_code": "NL",
        "party_id": "AAA",
        "id": "T-NEW",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.1234, "step_size": 1},
                    {"type": "TIME", "price": -1, "step_size": 60},
                ]
            }
        ],
    }
    bad = client.post("/api/v1/tariffs", tariff, format="json")
    assert bad.status_code == 422
    assert [e["path"] for e in bad.json()["errors"]] == ["$.elements[0].price_components[1].price"]
    tariff["elements"][0]["price_components"][1]["price"] = 2.4
    ok = client.post("/api/v1/tariffs", tariff, format="json")
    assert ok.status_code == 201, ok.content
    assert b'"price":0.1234' in ok.content and b'"price":2.4' in ok.content
    version = client.post(
        f"/api/v1/tariffs/{ok.json()['platform_id']}/versions?effective_from=2099-01-01T00:00:00Z",
        {
            **tariff,
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
        },
        format="json",
    )
    assert version.status_code == 201, version.content
    assert [v["version"] for v in version.json()["versions"]] == [1, 2]
    assert version.json()["current_version"] == 1


def test_cdrs_money_is_exact_and_filters_work(world_a: World) -> None:
    client = world_a.client()
    cdr = CdrFactory(
        session__connector__tenant=world_a.tenant,
        session__connector__evse__tenant=world_a.tenant,
        session__connector__evse__charge_station__tenant=world_a.tenant,
        session__connector__evse__charge_station__location__party=world_a.cpo,
        session__connector__evse__charge_station__location__tenant=world_a.tenant,
        tenant=world_a.tenant,
        party=world_a.cpo,
        end_date_time=datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
        # 14 significant digits: SQLite (the embedded default) keeps decimals as REAL, exact
        # to 15 digits; PostgreSQL's numeric(18, 4) is exact to the end.
        total_cost_excl_vat=Decimal("1234567890.1234"),
        total_cost_incl_vat=Decimal("0.1000"),
        data={
            "charging_periods": [
                {
                    "start_date_time": "2026-03-03T11:00:00Z",
                    "dimensions": [{"type": "ENERGY", "volume": "10.1234"}],
                }
            ]
        },
    )
    page = client.get("/api/v1/cdrs?date_from=2026-03-03T00:00:00Z&date_to=2026-03-04T00:00:00Z")
    assert page.status_code == 200
    data = page.json()["data"]
    assert [c["platform_id"] for c in data] == [cdr.pk]
    assert b'"total_cost":{"excl_vat":1234567890.1234,"incl_vat":0.1000}' in page.content
    assert data[0]["end_date_time"] == "2026-03-03T12:00:00Z"
    assert data[0]["charging_periods"][0]["dimensions"][0]["type"] == "ENERGY"
    station = world_a.ids["station_id"]
    assert client.get(f"/api/v1/cdrs?charge_station_id={station}").json()["data"]
    assert client.get("/api/v1/cdrs?party_id=ZZZ").json()["data"] == []


def test_sessions_show_the_live_cost(world_a: World) -> None:
    from apps.charging.models import ChargingSession

    ChargingSession.objects.filter(pk=world_a.ids["session_id"]).update(
        live_cost_excl_vat=Decimal("1.2300"),
        live_cost_incl_vat=Decimal("1.4883"),
        currency="EUR",
    )
    response = world_a.client().get(f"/api/v1/sessions/{world_a.ids['session_id']}")
    assert b'"total_cost":{"excl_vat":1.2300,"incl_vat":1.4883}' in response.content
    assert response.json()["status"] == "ACTIVE"


def test_sessions_have_the_ocpi_session_shape(world_a: World) -> None:
    from apps.charging.models import ChargingSession

    periods = [
        {
            "start_date_time": "2026-03-02T08:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 1.5}, {"type": "TIME", "volume": 0.25}],
        }
    ]
    ChargingSession.objects.filter(pk=world_a.ids["session_id"]).update(
        live_charging_periods=periods, energy_wh=Decimal("1500"), currency="EUR"
    )
    client = world_a.client()
    one = client.get(f"/api/v1/sessions/{world_a.ids['session_id']}").json()
    ocpi_required = {
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "kwh",
        "cdr_token",
        "auth_method",
        "location_id",
        "evse_uid",
        "connector_id",
        "currency",
        "charging_periods",
        "status",
        "last_updated",
    }
    assert ocpi_required <= set(one)
    assert (one["country_code"], one["party_id"]) == (world_a.cpo.country_code, "AAA")
    assert one["auth_method"] == "WHITELIST" and one["kwh"] == 1.5
    assert one["charging_periods"] == periods
    assert set(one["cdr_token"]) == {"country_code", "party_id", "uid", "type", "contract_id"}
    listed = client.get("/api/v1/sessions").json()["data"][0]
    assert "charging_periods" not in listed  # lists: only with expand
    expanded = client.get("/api/v1/sessions?expand=charging_periods").json()["data"][0]
    assert expanded == one
    assert client.get("/api/v1/sessions?expand=meter_values").status_code == 400


def test_commands_without_any_relay_say_so(world_a: World, settings: Any) -> None:
    settings.RELAY_REDIS_URL = settings.RELAY_SOCKET = ""  # neither Redis nor the local socket
    client = world_a.client()
    url = f"/api/v1/charge-stations/{world_a.ids['station_id']}/commands"
    response = client.post(url, {"type": "RESET", "reset_type": "SOFT"}, format="json")
    assert response.status_code == 503
    assert "no command relay is configured" in response.json()["detail"]
    assert not RemoteCommand.objects.exists()  # nothing recorded, nothing sent


def test_a_command_to_an_offline_station_is_200_offline_and_logged(
    world_a: World, relay: Relay
) -> None:
    client = world_a.client()
    station_id = world_a.ids["station_id"]
    url = f"/api/v1/charge-stations/{station_id}/commands"
    response = client.post(url, {"type": "RESET", "reset_type": "HARD"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["type"], body["result"]) == ("RESET", "OFFLINE")
    assert "not connected" in body["message"]
    row = RemoteCommand.objects.get(pk=int(body["id"]))
    assert (row.charge_station_id, row.kind, row.status) == (station_id, "RESET", "OFFLINE")
    assert row.request == {"hard": True, "evse_id": None}
    assert row.requested_by.startswith("api-key:")
    assert row.tenant_id == world_a.tenant.pk


def test_command_parameters_are_checked(world_a: World, world_b: World, relay: Relay) -> None:
    client = world_a.client()
    url = f"/api/v1/charge-stations/{world_a.ids['station_id']}/commands"
    response = client.post(url, {"type": "UNLOCK_CONNECTOR"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.evse_uid"
    response = client.post(url, {"type": "UNLOCK_CONNECTOR", "evse_uid": "NOT-HERE"}, format="json")
    assert response.status_code == 422
    response = client.post(url, {"type": "START_SESSION"}, format="json")
    assert response.status_code == 422
    # A session of tenant B is not found; one of this tenant on another station is refused.
    response = client.post(
        url, {"type": "STOP_SESSION", "session_id": world_b.ids["session_id"]}, format="json"
    )
    assert response.status_code == 404
    other = ChargingSessionFactory(tenant=world_a.tenant)  # another station's session
    response = client.post(url, {"type": "STOP_SESSION", "session_id": other.pk}, format="json")
    assert response.status_code == 422
    assert not RemoteCommand.objects.exists()


def test_schema_and_docs_are_served_without_a_key(client: object, settings: object) -> None:
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    schema = client.get("/api/v1/schema/")  # type: ignore[attr-defined]
    assert schema.status_code == 200
    assert b"/api/v1/cdrs" in schema.content
    docs = client.get("/api/v1/docs/")  # type: ignore[attr-defined]
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content
    assert b"cdn" not in docs.content.lower()


def test_the_schema_generates_without_warnings(tmp_path: Any) -> None:
    """drf-spectacular's warnings (an enum name collision, an unresolvable field) reach the
    web process's console at the first schema request: there must be none."""
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))  # SystemExit on a warning
    text = out.read_text()
    assert "CustomerKindEnum:" in text and "ConnectionEventKindEnum:" in text
    assert "Kind503Enum" not in text and "KindA" not in text
