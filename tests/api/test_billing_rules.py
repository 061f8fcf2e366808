"""REST API: billing rules (scope `billing`): list (active only by default), create with
problems named by field, overlaps refused with 409 naming the rules unless confirmed,
versions, retire, copy, the overlap check and the tester; audited as the API key."""

from __future__ import annotations

from typing import Any

import pytest

from apps.parties.models import AuditEntry
from apps.rating.models import BillingRule
from tests.api.conftest import World, key_with
from tests.factories import ChargeStationFactory, TariffFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/billing-rules"


def post(world: World, url: str, body: dict[str, Any], key: str | None = None) -> Any:
    return world.client(key).post(url, body, format="json")


def test_the_fixture_rule_is_listed_with_its_version(world_a: World) -> None:
    response = world_a.client().get(URL)
    assert response.status_code == 200
    (rule,) = response.json()["data"]
    assert rule["id"] == world_a.ids["rule_id"]
    assert (rule["engine"], rule["name"], rule["active"], rule["current_version"]) == (
        "WHOLESALE",
        "Every session",
        True,
        1,
    )
    (v1,) = rule["versions"]
    assert v1["tariff_id"] == world_a.ids["tariff_id"]
    assert (v1["cpo_scope"], v1["emsp_scope"], v1["weekdays"], v1["currency"]) == (
        "ANY",
        "ANY",
        127,
        "EUR",
    )
    assert v1["effective_until"] is None and v1["exceptions"] == []


def test_create_overlap_confirm_version_retire_copy(world_a: World) -> None:
    station = world_a.ids["station_id"]
    body = {
        "engine": "WHOLESALE",
        "name": "Station A evenings",
        "tariff_id": world_a.ids["tariff_id"],
        "cpo_scope": "STATION",
        "cpo_scope_value": str(station),
        "time_from": "18:00",
        "time_until": "23:00",
        "effective_from": "2026-01-01T00:00:00Z",
    }
    refused = post(world_a, URL, body)
    assert refused.status_code == 409, refused.content
    problem = refused.json()
    assert problem["type"] == "urn:evcharge:problem:conflict"
    (error,) = problem["errors"]
    assert error["path"] == "$.confirm_overlaps"
    assert error["message"].startswith(f"rule {world_a.ids['rule_id']} 'Every session' version 1")
    assert BillingRule.objects.filter(tenant=world_a.tenant).count() == 1

    created = post(world_a, URL, {**body, "confirm_overlaps": True})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["versions"][0]["time_from"] == "18:00:00"
    entry = AuditEntry.objects.get(action="billing_rule.create", object_id=str(rule["id"]))
    assert entry.actor_api_key_id is not None and entry.actor_id is None

    rule_url = f"{URL}/{rule['id']}"
    version = post(
        world_a,
        f"{rule_url}/versions",
        {
            "tariff_id": world_a.ids["tariff_id"],
            "cpo_scope": "STATION",
            "cpo_scope_value": str(station),
            "weekdays": 96,
            "effective_from": "2030-01-01T00:00:00Z",
            "confirm_overlaps": True,
            "reason": "weekends from 2030",
        },
    )
    assert version.status_code == 201, version.content
    versions = version.json()["versions"]
    assert [(v["version"], v["effective_until"]) for v in versions] == [
        (1, "2030-01-01T00:00:00Z"),
        (2, None),
    ]
    assert versions[1]["weekdays"] == 96 and versions[1]["time_from"] is None

    copied = post(
        world_a,
        f"{rule_url}/copy",
        {"name": "Evenings, no station", "cpo_scope": "ANY", "cpo_scope_value": ""},
    )
    assert copied.status_code == 409  # ANY evenings overlap "Every session"
    copied = post(
        world_a,
        f"{rule_url}/copy",
        {
            "name": "Evenings everywhere",
            "cpo_scope": "ANY",
            "cpo_scope_value": "",
            "confirm_overlaps": True,
        },
    )
    assert copied.status_code == 201, copied.content
    (c1,) = copied.json()["versions"]
    assert (c1["cpo_scope"], c1["time_from"], c1["time_until"]) == ("ANY", "18:00:00", "23:00:00")

    retired = post(world_a, f"{URL}/{copied.json()['id']}/retire", {"reason": "a mistake"})
    assert retired.status_code == 200, retired.content
    assert retired.json()["active"] is False
    again = post(world_a, f"{URL}/{copied.json()['id']}/retire", {})
    assert again.status_code == 409

    active = [r["id"] for r in world_a.client().get(URL).json()["data"]]
    assert active == [world_a.ids["rule_id"], rule["id"]]
    everything = world_a.client().get(URL, {"include_retired": "true"}).json()["data"]
    assert [r["id"] for r in everything] == [
        world_a.ids["rule_id"],
        rule["id"],
        copied.json()["id"],
    ]
    page = world_a.client().get(URL, {"limit": 1}).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    second = world_a.client().get(URL, {"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [r["id"] for r in second["data"]] == [rule["id"]]
    assert world_a.client().get(URL, {"engine": "RETAIL"}).json()["data"] == []


def test_problems_name_their_fields(world_a: World, world_b: World) -> None:
    theirs = ChargeStationFactory(location__party=world_b.cpo)
    response = post(
        world_a,
        URL,
        {
            "engine": "REIMBURSEMENT",
            "name": "Owners",
            "tariff_id": world_a.ids["tariff_id"],  # a WHOLESALE tariff
            "cpo_scope": "STATION",
            "cpo_scope_value": str(theirs.pk),
            "weekdays": 0,
            "margin_per_kwh": 0.02,
            "exceptions": [{"side": "cpo", "scope": "ANY", "value": ""}],
        },
    )
    assert response.status_code == 422, response.content
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors == {
        "$.tariff_id": "a WHOLESALE tariff; this is a REIMBURSEMENT rule",
        "$.cpo_scope_value": f"no station {theirs.pk} in this tenant",
        "$.weekdays": "a bit mask of weekdays from 1 to 127 (Monday 1 ... Sunday 64)",
        "$.exceptions[0].scope": "one of COUNTRY, CPO_PARTY, LOCATION, STATION, TARIFF_CODE",
    }
    bad_shape = post(world_a, URL, {"engine": "SOMETHING", "name": "x", "weekdays": "all"})
    assert bad_shape.status_code == 422
    assert {e["path"] for e in bad_shape.json()["errors"]} >= {"$.engine", "$.weekdays"}


def test_overlaps_and_tester_store_nothing(world_a: World) -> None:
    before = AuditEntry.objects.count()
    overlaps = post(
        world_a,
        f"{URL}/overlaps",
        {"engine": "WHOLESALE", "tariff_id": world_a.ids["tariff_id"], "weekdays": 1},
    )
    assert overlaps.status_code == 200, overlaps.content
    (o,) = overlaps.json()["overlaps"]
    assert (o["rule_id"], o["rule_name"], o["version"]) == (
        world_a.ids["rule_id"],
        "Every session",
        1,
    )
    none = post(
        world_a,
        f"{URL}/overlaps",
        {"engine": "RETAIL", "tariff_id": None, "pricing": "COST_PLUS", "markup_percent": 5},
    )
    assert none.json() == {"overlaps": []}

    tested = post(
        world_a,
        f"{URL}/test",
        {
            "station_id": world_a.ids["station_id"],
            "token_id": world_a.ids["token_id"],
            "at": "2026-06-01T12:00:00Z",
        },
    )
    assert tested.status_code == 200, tested.content
    wholesale, retail, reimbursement = tested.json()["results"]
    assert (wholesale["engine"], wholesale["rule_id"], wholesale["reason"]) == (
        "WHOLESALE",
        world_a.ids["rule_id"],
        None,
    )
    assert (retail["rule_id"], retail["reason"]) == (None, "NO_RULE")
    assert reimbursement["reason"] == "NO_RULE"
    facts = {f["name"]: f["value"] for f in tested.json()["facts"]}
    assert facts["station"] == str(world_a.ids["station_id"])
    assert facts["contract"] == str(world_a.ids["contract_id"])
    assert AuditEntry.objects.count() == before


def test_the_tester_refuses_another_tenants_station(world_a: World, world_b: World) -> None:
    response = post(
        world_a,
        f"{URL}/test",
        {
            "station_id": world_b.ids["station_id"],
            "token_id": world_a.ids["token_id"],
            "at": "2026-06-01T12:00:00Z",
        },
    )
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["$.station_id"]


def test_a_key_without_the_billing_scope_is_refused(world_a: World) -> None:
    tariffs_only = key_with(world_a.tenant.pk, "tariffs:read", "tariffs:write")
    assert world_a.client(tariffs_only).get(URL).status_code == 403
    read_only = key_with(world_a.tenant.pk, "billing:read")
    assert world_a.client(read_only).get(URL).status_code == 200
    refused = post(world_a, URL, {"engine": "WHOLESALE", "name": "x"}, key=read_only)
    assert refused.status_code == 403
    assert BillingRule.objects.filter(name="x").count() == 0
    # A tariff of another engine is refused even with the scope.
    retail = TariffFactory(party=world_a.emsp, engine="RETAIL")
    response = post(
        world_a, URL, {"engine": "WHOLESALE", "name": "y", "tariff_id": retail.pk, "weekdays": 1}
    )
    assert response.status_code == 422
