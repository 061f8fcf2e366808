"""Tokens: upsert by uid, bulk upsert (atomic, per-item report), block / unblock, filters."""

from __future__ import annotations

import base64

import pytest

from apps.tokens.models import Token
from tests.api.conftest import World

pytestmark = pytest.mark.django_db


def _token(uid: str, **extra: object) -> dict[str, object]:
    return {
        "country_code": "NL",
        "party_id": "AAA",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-AAA-{uid}",
        "issuer": "A",
        **extra,
    }


def test_put_by_uid_creates_then_updates(world_a: World) -> None:
    client = world_a.client()
    url = "/api/v1/tokens/NL/AAA/CARD-1"
    body = {"contract_id": "NL-AAA-C9", "issuer": "A", "type": "RFID"}
    created = client.put(url, body, format="json")
    assert created.status_code == 201
    updated = client.put(url, {**body, "valid": False}, format="json")
    assert updated.status_code == 200
    assert updated.json()["platform_id"] == created.json()["platform_id"]
    assert updated.json()["valid"] is False
    assert client.put("/api/v1/tokens/NL/XXX/CARD-1", body, format="json").status_code == 404


def test_bulk_upsert_creates_and_updates_with_a_report(world_a: World) -> None:
    client = world_a.client()
    existing_uid = Token.objects.get(pk=world_a.ids["token_id"]).uid
    items = [_token(f"B{i:05d}") for i in range(300)] + [_token(existing_uid, issuer="new")]
    response = client.post("/api/v1/tokens/bulk", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["created"], report["updated"]) == (300, 1)
    assert report["items"][-1]["result"] == "updated"
    assert report["items"][0]["result"] == "created"
    assert report["items"][-1]["platform_id"] == world_a.ids["token_id"]
    assert Token.objects.get(pk=world_a.ids["token_id"]).issuer == "new"
    assert Token.objects.filter(uid__startswith="B").count() == 300


def test_bulk_upsert_is_all_or_nothing(world_a: World) -> None:
    client = world_a.client()
    items = [_token(f"C{i:05d}") for i in range(50)]
    items[7]["type"] = "NOPE"
    items[31]["uid"] = ""
    items[40] = _token("C00001")  # the same token twice in one request
    before = Token.objects.count()
    response = client.post("/api/v1/tokens/bulk", {"items": items}, format="json")
    assert response.status_code == 422
    problem = response.json()
    assert {i["index"] for i in problem["items"]} == {7, 31, 40}
    assert {e["path"] for e in problem["errors"]} == {
        "$.items[7].type",
        "$.items[31].uid",
        "$.items[40].uid",
    }
    assert Token.objects.count() == before


def test_bulk_item_with_a_malformed_energy_contract_is_a_422_not_a_500(world_a: World) -> None:
    # Found by schemathesis: a list where the OCPI EnergyContract object belongs.
    client = world_a.client()
    items = [_token("E00001"), _token("E00002")]
    items[1]["energy_contract"] = [[86], {"supplier_name": "x"}]
    before = Token.objects.count()
    response = client.post("/api/v1/tokens/bulk", {"items": items}, format="json")
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["$.items[1].energy_contract"]
    assert Token.objects.count() == before


def test_bulk_item_with_non_text_fields_is_a_422_not_a_500(world_a: World) -> None:
    # Found by schemathesis: a number where the ISO 639-1 language code belongs.
    client = world_a.client()
    items = [_token("L00001"), _token("L00002"), _token("L00003")]
    items[1]["language"] = 12.5
    items[2]["default_profile_type"] = {"x": 1}
    before = Token.objects.count()
    response = client.post("/api/v1/tokens/bulk", {"items": items}, format="json")
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == [
        "$.items[1].language",
        "$.items[2].default_profile_type",
    ]
    assert Token.objects.count() == before


def test_block_and_unblock(world_a: World) -> None:
    client = world_a.client()
    tid = world_a.ids["token_id"]
    assert client.post(f"/api/v1/tokens/{tid}/block").json()["valid"] is False
    assert client.get("/api/v1/tokens?valid=false").json()["data"][0]["platform_id"] == tid
    assert client.post(f"/api/v1/tokens/{tid}/unblock").json()["valid"] is True
    assert client.get("/api/v1/tokens?valid=false").json()["data"] == []


def test_cursor_pagination_walks_every_token_once(world_a: World) -> None:
    client = world_a.client()
    client.post(
        "/api/v1/tokens/bulk", {"items": [_token(f"P{i:03d}") for i in range(25)]}, format="json"
    )
    seen: list[int] = []
    url = "/api/v1/tokens?limit=10"
    while url:
        page = client.get(url)
        body = page.json()
        seen += [t["platform_id"] for t in body["data"]]
        if body["next_cursor"]:
            assert 'rel="next"' in page["Link"]
            # A token added while paging appears on a later page, nothing shifts.
            client.post("/api/v1/tokens", _token(f"LATE{len(seen)}"), format="json")
            url = f"/api/v1/tokens?limit=10&cursor={body['next_cursor']}"
        else:
            url = ""
    assert len(seen) == len(set(seen)) == Token.objects.filter(tenant=world_a.tenant).count()


def test_a_forged_cursor_is_400(world_a: World) -> None:
    response = world_a.client().get("/api/v1/tokens?cursor=bm9wZQ")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "$.cursor"


def test_a_cursor_handed_out_before_the_codecs_became_one_still_reads(world_a: World) -> None:
    client = world_a.client()
    client.post(
        "/api/v1/tokens/bulk", {"items": [_token(f"Q{i:03d}") for i in range(5)]}, format="json"
    )
    ids = sorted(Token.objects.filter(tenant=world_a.tenant).values_list("id", flat=True))
    # base64url("v1:<id>") without padding: what restapi.pagination wrote since issue 7.
    old = base64.urlsafe_b64encode(f"v1:{ids[1]}".encode()).decode().rstrip("=")
    page = client.get(f"/api/v1/tokens?limit=2&cursor={old}").json()
    assert [t["platform_id"] for t in page["data"]] == ids[2:4]
    assert page["next_cursor"] == base64.urlsafe_b64encode(f"v1:{ids[3]}".encode()).decode().rstrip(
        "="
    )
