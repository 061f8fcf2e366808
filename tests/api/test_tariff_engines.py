"""Tariffs say which billing engine they serve (issue 17, ADR 0027): a retail tariff belongs
to an eMSP identity, wholesale and reimbursement tariffs to a CPO identity, and only wholesale
tariffs go on stations through tariff codes."""

from __future__ import annotations

from typing import Any

from apps.tariffs.models import Tariff, TariffCode
from tests.api.conftest import World


def _tariff(ocpi_id: str, party_id: str = "AAA") -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": party_id,
        "id": ocpi_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.31, "step_size": 1}]}],
    }


def test_a_tariff_is_created_for_the_engine_asked_and_wholesale_by_default(world_a: World) -> None:
    client = world_a.client()
    plain = client.post("/api/v1/tariffs", _tariff("T-W"), format="json")
    assert plain.status_code == 201, plain.content
    assert plain.json()["engine"] == "WHOLESALE"
    retail = client.post("/api/v1/tariffs?engine=RETAIL", _tariff("T-R"), format="json")
    assert retail.status_code == 201, retail.content
    assert retail.json()["engine"] == "RETAIL"
    owner = client.post("/api/v1/tariffs?engine=REIMBURSEMENT", _tariff("T-O"), format="json")
    assert owner.status_code == 201, owner.content
    new = Tariff.objects.filter(tenant=world_a.tenant, ocpi_id__in=["T-W", "T-R", "T-O"])
    stored = dict(new.values_list("ocpi_id", "engine"))
    assert stored == {"T-W": "WHOLESALE", "T-R": "RETAIL", "T-O": "REIMBURSEMENT"}
    # The retail tariff belongs to the tenant's eMSP identity, the others to its CPO identity.
    roles = dict(new.values_list("ocpi_id", "party__role"))
    assert roles == {"T-W": "CPO", "T-R": "EMSP", "T-O": "CPO"}
    listed = client.get("/api/v1/tariffs?engine=RETAIL").json()["data"]
    assert [t["id"] for t in listed] == ["T-R"]


def test_a_retail_tariff_needs_an_emsp_identity_of_the_tenant(world_a: World) -> None:
    bad = world_a.client().post(
        "/api/v1/tariffs?engine=RETAIL", _tariff("T-R", party_id="ZZZ"), format="json"
    )
    assert bad.status_code == 422
    assert [e["path"] for e in bad.json()["errors"]] == ["$.party_id"]
    assert "EMSP party NL*ZZZ" in bad.json()["errors"][0]["message"]
    unknown = world_a.client().post("/api/v1/tariffs?engine=SOMETHING", _tariff("T-X"))
    assert unknown.status_code in (400, 422)
    assert not Tariff.objects.filter(ocpi_id__in=["T-R", "T-X"]).exists()


def test_a_tariff_code_names_only_a_wholesale_tariff(world_a: World) -> None:
    client = world_a.client()
    retail = client.post("/api/v1/tariffs?engine=RETAIL", _tariff("T-R"), format="json").json()
    refused = client.post(
        "/api/v1/tariff-codes",
        {"code": "RETAIL-CODE", "tariff_id": retail["platform_id"]},
        format="json",
    )
    assert refused.status_code == 422
    [problem] = refused.json()["errors"]
    assert problem["path"] == "$.tariff_id"
    assert "serves the RETAIL engine" in problem["message"]
    assert not TariffCode.objects.filter(code="RETAIL-CODE").exists()
    wholesale = client.post("/api/v1/tariffs", _tariff("T-W"), format="json").json()
    ok = client.post(
        "/api/v1/tariff-codes",
        {"code": "W-CODE", "tariff_id": wholesale["platform_id"]},
        format="json",
    )
    assert ok.status_code == 201, ok.content
