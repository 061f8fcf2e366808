"""REST API of contract versions, retail packages, user groups, CPO contracts, payees and
home-charger flags (issue 17, area "cust"): exact answers, refusals with their paths, and
nothing of another tenant seen or changed."""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.customers.models import Contract
from apps.locations.models import ChargeStation
from apps.parties.models import AuditEntry
from apps.rating.models import CpoContractVersion, PayeeAssignment
from apps.tokens.models import Token
from tests.api.conftest import World, key_with
from tests.factories import TokenFactory


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_billing_resources_need_the_billing_scope(world_a: World) -> None:
    client = _client(key_with(world_a.tenant.pk, "customers:read", "customers:write"))
    assert client.get("/api/v1/payees").status_code == 403
    response = client.post("/api/v1/hcc-flags", {"items": []}, format="json")
    assert response.status_code == 403 and "billing:write" in response.json()["detail"]
    reader = _client(key_with(world_a.tenant.pk, "billing:read"))
    assert reader.get("/api/v1/cpo-contracts").status_code == 200
    assert reader.post("/api/v1/user-groups", {"name": "X"}, format="json").status_code == 403


def test_contract_patch_is_a_new_version_and_get_lists_the_versions(world_a: World) -> None:
    client = world_a.client()
    contract_id = world_a.ids["contract_id"]
    package_id = world_a.ids["package_id"]
    response = client.patch(
        f"/api/v1/contracts/{contract_id}",
        {"retail_package_id": package_id, "effective_from": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200, response.content
    new = response.json()
    assert new["id"] != contract_id
    assert (new["version"], new["retail_package_id"], new["valid_from"]) == (
        2,
        package_id,
        "2099-01-01T00:00:00Z",
    )
    assert [(v["version"], v["valid_until"]) for v in new["versions"]] == [
        (1, "2099-01-01T00:00:00Z"),
        (2, None),
    ]
    old = client.get(f"/api/v1/contracts/{contract_id}").json()
    assert old["valid_until"] == "2099-01-01T00:00:00Z" and old["retail_package_id"] is None
    # The past is not rewritten.
    refused = client.patch(
        f"/api/v1/contracts/{contract_id}",
        {"user_group_id": world_a.ids["group_id"], "effective_from": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "$.effective_from"
    assert Contract.objects.filter(tenant=world_a.tenant).count() == 2


def test_an_overlapping_contract_is_refused_naming_the_one_it_overlaps(world_a: World) -> None:
    response = world_a.client().post(
        "/api/v1/contracts",
        {
            "customer_id": world_a.ids["customer_id"],
            "token_id": world_a.ids["token_id"],
            "reference": "SECOND",
            "valid_from": "2027-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 409
    ref = Contract.objects.get(pk=world_a.ids["contract_id"]).reference
    assert f"under contract '{ref}' version 1" in response.json()["detail"]
    assert not Contract.objects.filter(reference="SECOND").exists()


def test_a_contract_cannot_name_another_tenants_package(world_a: World, world_b: World) -> None:
    response = world_a.client().patch(
        f"/api/v1/contracts/{world_a.ids['contract_id']}",
        {"retail_package_id": world_b.ids["package_id"]},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "path": "$.retail_package_id",
            "message": f"no retail package {world_b.ids['package_id']} in this tenant",
        }
    ]


def test_cpo_contract_terms_are_checked_and_versions_append(world_a: World) -> None:
    client = world_a.client()
    cpo = world_a.cpo
    bad = client.post(
        "/api/v1/cpo-contracts",
        {
            "country_code": cpo.country_code,
            "party_id": cpo.party_id,
            "reference": "X",
            "effective_from": "2026-01-01T00:00:00Z",
            "vat_rate": 101,
            "payee_iban": "NL91 ABNA 0417 1643 01",
        },
        format="json",
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"$.vat_rate"}
    url = f"/api/v1/cpo-contracts/{world_a.ids['cpo_contract_id']}/versions"
    response = client.post(
        url,
        {
            "effective_from": "2099-01-01T00:00:00Z",
            "payee_iban": "nl91 abna 0417 1643 00",
            "rounding_mode": "ROUND_HALF_EVEN",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    versions = response.json()["versions"]
    assert [
        (v["version"], v["vat_rate"], v["rounding_mode"], v["payee_iban"]) for v in versions
    ] == [
        (1, 21.0, "ROUND_HALF_UP", ""),
        (2, 21.0, "ROUND_HALF_EVEN", "NL91ABNA0417164300"),
    ]
    bad_iban = client.post(url, {"payee_iban": "NL91ABNA0417164301"}, format="json")
    assert bad_iban.status_code == 422
    assert bad_iban.json()["errors"] == [
        {
            "path": "$.payee_iban",
            "message": "the IBAN's check digits do not match (ISO 13616 mod 97)",
        }
    ]
    assert CpoContractVersion.objects.filter(tenant=world_a.tenant).count() == 2


def test_station_payee_put_get_and_idempotent(world_a: World, world_b: World) -> None:
    client = world_a.client()
    url = f"/api/v1/charge-stations/{world_a.ids['station_id']}/payee"
    assert client.get(url).json() == {
        "charge_station_id": world_a.ids["station_id"],
        "payee_id": None,
        "history": [],
    }
    body = {"payee_id": world_a.ids["payee_id"]}
    first = client.put(url, body, format="json").json()
    assert first["payee_id"] == world_a.ids["payee_id"] and len(first["history"]) == 1
    assert client.put(url, body, format="json").json()["history"] == first["history"]
    assert PayeeAssignment.objects.count() == 1
    foreign = client.put(url, {"payee_id": world_b.ids["payee_id"]}, format="json")
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["path"] == "$.payee_id"
    gone = client.put(
        url, {"payee_id": None, "effective_from": "2099-01-01T00:00:00Z"}, format="json"
    ).json()
    assert gone["payee_id"] == world_a.ids["payee_id"]  # still in force now
    assert [h["payee_id"] for h in gone["history"]] == [world_a.ids["payee_id"], None]


def test_hcc_flags_all_or_nothing_with_per_row_errors(world_a: World, world_b: World) -> None:
    client = world_a.client()
    station = world_a.ids["station_id"]
    response = client.post(
        "/api/v1/hcc-flags",
        {
            "items": [
                {"charge_station": station, "hcc": "HCC_E"},  # fine
                {"charge_station": 999999999, "hcc": "HCC_V"},  # unknown station
                {"token": world_b.ids["uid"], "hcc": "HCC_E"},  # another tenant's token
                {"token": world_a.ids["uid"], "hcc": "HCC_X"},  # bad flag
            ]
        },
        format="json",
    )
    assert response.status_code == 422
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert errors["$.items[1].charge_station"] == "no charge station 999999999 in this tenant"
    assert errors["$.items[2].token"] == f"no token {world_b.ids['uid']!r} in this tenant"
    assert "$.items[3].hcc" in errors
    assert ChargeStation.objects.get(pk=station).hcc == ""
    assert not AuditEntry.objects.filter(action__endswith="hcc_set").exists()

    good = {
        "items": [
            {"charge_station": station, "hcc": "HCC_E"},
            {"token": world_a.ids["uid"], "hcc": "HCC_V"},
        ]
    }
    answer = client.post("/api/v1/hcc-flags", good, format="json").json()
    assert answer == {
        "rows": 2,
        "charge_stations_changed": [station],
        "tokens_changed": [world_a.ids["token_id"]],
    }
    again = client.post("/api/v1/hcc-flags", good, format="json").json()
    assert again == {"rows": 2, "charge_stations_changed": [], "tokens_changed": []}
    assert ChargeStation.objects.get(pk=station).hcc == "HCC_E"
    assert Token.objects.get(pk=world_a.ids["token_id"]).hcc == "HCC_V"
    assert Token.objects.get(uid=world_b.ids["uid"]).hcc == ""
    assert AuditEntry.objects.filter(action__endswith="hcc_set").count() == 2
    cleared = client.post(
        "/api/v1/hcc-flags", {"items": [{"charge_station": station, "hcc": None}]}, format="json"
    ).json()
    assert cleared["charge_stations_changed"] == [station]
    assert ChargeStation.objects.get(pk=station).hcc == ""


def test_hcc_flags_refuse_an_ambiguous_uid(world_a: World) -> None:
    token = Token.objects.get(pk=world_a.ids["token_id"])
    TokenFactory(tenant=world_a.tenant, party=token.party, uid=token.uid, type="APP_USER")
    response = world_a.client().post(
        "/api/v1/hcc-flags", {"items": [{"token": token.uid, "hcc": "HCC_E"}]}, format="json"
    )
    assert response.status_code == 422
    assert "names 2 tokens" in response.json()["errors"][0]["message"]


def test_payee_iban_checked_and_normalized(world_a: World) -> None:
    client = world_a.client()
    ok = client.post(
        "/api/v1/payees",
        {"kind": "SITE_HOST", "name": "Hotel", "iban": "de89 3704 0044 0532 0130 00"},
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["iban"] == "DE89370400440532013000"
    bad = client.post(
        "/api/v1/payees",
        {"kind": "HOME", "name": "X", "iban": "DE8937040044053201300"},
        format="json",
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"path": "$.iban", "message": "an IBAN of DE has 22 characters, not 21"}
    ]
