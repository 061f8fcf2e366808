"""Idempotency-Key on POST, optimistic concurrency with ETag / If-Match, problem+json."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.tokens.models import Token
from tests.api.conftest import World, build_world

pytestmark = pytest.mark.django_db

NEW_TOKEN = {
    "country_code": "NL",
    "party_id": "AAA",
    "uid": "NEW-1",
    "type": "RFID",
    "contract_id": "NL-AAA-C1",
    "issuer": "A",
}


def test_same_key_same_body_gives_the_same_response_once(world_a: World) -> None:
    client = world_a.client()
    first = client.post("/api/v1/tokens", NEW_TOKEN, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/tokens", NEW_TOKEN, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert Token.objects.filter(uid="NEW-1").count() == 1
    # Without the key the same POST is a new request: the token exists now.
    assert client.post("/api/v1/tokens", NEW_TOKEN, format="json").status_code == 409


def test_same_key_other_body_is_409(world_a: World) -> None:
    client = world_a.client()
    client.post("/api/v1/tokens", NEW_TOKEN, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = {**NEW_TOKEN, "uid": "NEW-2"}
    response = client.post("/api/v1/tokens", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 409
    assert response.json()["type"] == "urn:evcharge:problem:idempotency_key_reused"
    assert not Token.objects.filter(uid="NEW-2").exists()


def test_a_validation_failure_is_replayed_too(world_a: World) -> None:
    client = world_a.client()
    bad = {**NEW_TOKEN, "type": "NOPE"}
    first = client.post("/api/v1/tokens", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    again = client.post("/api/v1/tokens", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert first.status_code == again.status_code == 422
    assert again.content == first.content


def test_idempotency_keys_are_per_tenant(world_a: World, world_b: World) -> None:
    a = world_a.client().post(
        "/api/v1/tokens", NEW_TOKEN, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    b_body = {**NEW_TOKEN, "party_id": "BBB"}
    b = world_b.client().post(
        "/api/v1/tokens", b_body, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["party_id"] == "AAA" and b.json()["party_id"] == "BBB"


def test_etag_and_if_match(world_a: World) -> None:
    client = world_a.client()
    url = f"/api/v1/tokens/{world_a.ids['token_id']}"
    etag = client.get(url)["ETag"]
    first = client.patch(url, {"issuer": "first"}, format="json", HTTP_IF_MATCH=etag)
    second = client.patch(url, {"issuer": "second"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    assert first["ETag"] != etag
    assert second.status_code == 412
    assert second["Content-Type"] == "application/problem+json"
    assert client.get(url).json()["issuer"] == "first"
    # With the new ETag the second writer succeeds.
    assert (
        client.patch(url, {"issuer": "second"}, format="json", HTTP_IF_MATCH=first["ETag"])
    ).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_updates_with_one_etag_one_wins_one_gets_412() -> None:
    world = build_world("race", "RCE")
    url = f"/api/v1/customers/{world.ids['customer_id']}"
    etag = world.client().get(url)["ETag"]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def update(name: str) -> None:
        try:
            barrier.wait()
            response = world.client().patch(url, {"name": name}, format="json", HTTP_IF_MATCH=etag)
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=update, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412]


def test_validation_errors_list_every_field_path(world_a: World) -> None:
    body = {
        "country_code": "NL",
        "party_id": "AAA",
        "id": "LOC-X",
        "address": "x" * 46,
        "city": "Utrecht",
        "country": "nld",
        "coordinates": {"latitude": "91.000000", "longitude": "5.1"},
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": "E1",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                    },
                    {
                        "id": "2",
                        "standard": "NOPE",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 0,
                        "max_amperage": 32,
                    },
                ],
            }
        ],
    }
    response = world_a.client().post("/api/v1/locations", body, format="json")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:evcharge:problem:validation_failed"
    assert {e["path"] for e in problem["errors"]} == {
        "$.address",
        "$.country",
        "$.coordinates.longitude",
        "$.evses[0].connectors[1].standard",
        "$.evses[0].connectors[1].max_voltage",
    }


def test_domain_validation_paths_reach_the_client(world_a: World) -> None:
    body = {
        "country_code": "NL",
        "party_id": "AAA",
        "id": "LOC-Y",
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.000000", "longitude": "5.100000"},
        "time_zone": "Mars/Olympus_Mons",
    }
    response = world_a.client().post("/api/v1/locations", body, format="json")
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["$.time_zone"]
