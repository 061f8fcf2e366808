"""`/api/v1/partners` (ADR 0027): a tenant's counterparties, scope `partners`, audited."""

from __future__ import annotations

from typing import Any

import pytest

from apps.parties.models import AuditEntry, Operator, Party
from apps.tokens.models import Token
from tests.api.conftest import World, key_with

pytestmark = pytest.mark.django_db

NEW = {"role": "EMSP", "country_code": "be", "party_id": "xyz", "name": "Xyz Mobility"}


def test_create_get_list_patch_and_the_audit(world_a: World) -> None:
    client = world_a.client()
    created = client.post("/api/v1/partners", {**NEW, "vat_rate": 21}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("role", "country_code", "party_id", "name", "vat_rate")} == {
        "role": "EMSP",
        "country_code": "BE",
        "party_id": "XYZ",
        "name": "Xyz Mobility",
        "vat_rate": 21.0,
    }
    assert body["marketplace_tenant"] is False
    pid = body["id"]
    assert Party.objects.get(pk=pid).kind == "PARTNER"
    got = client.get(f"/api/v1/partners/{pid}")
    assert got.status_code == 200 and got.json()["name"] == "Xyz Mobility"
    listed = client.get("/api/v1/partners?role=EMSP").json()["data"]
    assert [(p["country_code"], p["party_id"]) for p in listed] == [("DE", "RMG"), ("BE", "XYZ")]
    assert client.get("/api/v1/partners?role=CPO").json()["data"] == []
    patched = client.patch(
        f"/api/v1/partners/{pid}",
        {"name": "Xyz", "vat_rate": None},
        format="json",
        HTTP_IF_MATCH=got["ETag"],
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["vat_rate"]) == ("Xyz", None)
    stale = client.patch(
        f"/api/v1/partners/{pid}", {"name": "again"}, format="json", HTTP_IF_MATCH=got["ETag"]
    )
    assert stale.status_code == 412
    entries = AuditEntry.objects.filter(object_type="party", object_id=str(pid)).order_by("id")
    assert [e.action for e in entries] == ["partner.create", "partner.update"]
    assert entries[1].before["name"] == "Xyz Mobility" and entries[1].after["name"] == "Xyz"
    assert all(e.actor_name.startswith("API key ") for e in entries)


def test_a_partner_duplicating_an_own_identity_or_a_partner_is_a_conflict(world_a: World) -> None:
    client = world_a.client()
    own = {"role": "EMSP", "country_code": "NL", "party_id": "AAA", "name": "me"}
    response = client.post("/api/v1/partners", own, format="json")
    assert response.status_code == 409
    assert "one of its own identities" in response.json()["detail"]
    again = {"role": "EMSP", "country_code": "DE", "party_id": "RMG", "name": "dup"}
    assert client.post("/api/v1/partners", again, format="json").status_code == 409
    # The same identity in another role is another party.
    as_cpo = {**again, "role": "CPO"}
    assert client.post("/api/v1/partners", as_cpo, format="json").status_code == 201


def test_another_tenants_own_identity_may_be_a_partner_and_says_marketplace(
    world_a: World, world_b: World
) -> None:
    Operator.objects.filter(pk=world_b.tenant.pk).update(marketplace=True)
    b_emsp = {"role": "EMSP", "country_code": "NL", "party_id": "BBB", "name": "tenant B"}
    response = world_a.client().post("/api/v1/partners", b_emsp, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["marketplace_tenant"] is True
    # Tenant B's own identity is untouched and still its own.
    assert Party.objects.get(pk=world_b.emsp.pk).kind == "OWN"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**NEW, "role": "KING"}, "role"),
        ({**NEW, "country_code": "B"}, "country_code"),
        ({**NEW, "party_id": "TOOLONG"}, "party_id"),
        ({**NEW, "vat_rate": 100}, "vat_rate"),
        ({**NEW, "website": "not a url"}, "website"),
    ],
)
def test_bad_input_names_the_field(world_a: World, body: dict[str, Any], path: str) -> None:
    response = world_a.client().post("/api/v1/partners", body, format="json")
    assert response.status_code == 422, response.content
    assert path in {e["path"].removeprefix("$.") for e in response.json()["errors"]}
    assert not Party.objects.filter(country_code="BE").exists()


def test_the_partners_scope_is_required(world_a: World) -> None:
    key = key_with(world_a.tenant.pk, "tokens:read")
    response = world_a.client(key).get("/api/v1/partners")
    assert response.status_code == 403
    key = key_with(world_a.tenant.pk, "partners:read")
    assert world_a.client(key).get("/api/v1/partners").status_code == 200
    assert world_a.client(key).post("/api/v1/partners", NEW, format="json").status_code == 403


def test_a_cpo_tenant_stores_the_tokens_of_a_partner_emsp(world_a: World) -> None:
    """`PUT /tokens/{country_code}/{party_id}/{uid}` accepts the tenant's partner eMSP as the
    issuer (`party_pk_for_tenant` answers own identities and partners alike)."""
    body = {"contract_id": "DE-RMG-C00000001-X", "issuer": "Roaming GmbH", "type": "RFID"}
    response = world_a.client().put("/api/v1/tokens/DE/RMG/04RMG0001", body, format="json")
    assert response.status_code == 201, response.content
    token = Token.objects.get(uid="04RMG0001")
    assert (token.tenant_id, token.party_id) == (world_a.tenant.pk, world_a.ids["partner_id"])
    assert Party.objects.get(pk=token.party_id).kind == "PARTNER"


def test_two_tenants_both_know_one_roaming_emsp_each_its_own_row(
    world_a: World, world_b: World
) -> None:
    a = world_a.client().get("/api/v1/partners").json()["data"]
    b = world_b.client().get("/api/v1/partners").json()["data"]
    assert [(p["country_code"], p["party_id"], p["role"]) for p in a] == [("DE", "RMG", "EMSP")]
    assert [(p["country_code"], p["party_id"], p["role"]) for p in b] == [("DE", "RMG", "EMSP")]
    assert (a[0]["id"], b[0]["id"]) == (world_a.ids["partner_id"], world_b.ids["partner_id"])
    assert a[0]["id"] != b[0]["id"]
    # B renaming its row leaves A's as it was.
    world_b.client().patch(f"/api/v1/partners/{b[0]['id']}", {"name": "B's name"}, format="json")
    assert world_a.client().get(f"/api/v1/partners/{a[0]['id']}").json()["name"] == "Roaming GmbH"
    assert world_a.client().get(f"/api/v1/partners/{b[0]['id']}").status_code == 404
