"""Regressions of issue 15 (an independent schemathesis run and OCPI object model): the API
does what its schema says, and the schema says what the API enforces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from django.test import Client

from apps.locations import api as locations_api
from apps.locations.contracts import ConnectionEventIn, ConnectionEventKind
from apps.locations.models import Connector, Evse, RemoteCommand
from apps.tokens.models import Token
from tests.api.conftest import World

pytestmark = pytest.mark.django_db

CONNECTOR = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}


def openapi() -> dict[str, Any]:
    response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _inline(node: Any, components: dict[str, Any]) -> Any:
    """The schema with every $ref replaced by its component and OpenAPI 3.0's `nullable`
    spelled as JSON Schema, so jsonschema can check a body against it."""
    if isinstance(node, list):
        return [_inline(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {k: _inline(v, components) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    content = spec["paths"][path][method]["responses"][str(status)]["content"]
    return _inline(content["application/json"]["schema"], spec["components"]["schemas"])


def request_schema(spec: dict[str, Any], path: str, method: str) -> Any:
    body = spec["paths"][path][method]["requestBody"]
    return body, _inline(
        body["content"]["application/json"]["schema"], spec["components"]["schemas"]
    )


# --- item 5: every write with an ETag answers 412 on a stale If-Match --------------------------


def test_evse_put_with_a_stale_if_match_is_412_and_writes_nothing(world_a: World) -> None:
    client = world_a.client()
    location = f"/api/v1/locations/{world_a.ids['location_id']}"
    stale = client.get(location)["ETag"]
    assert client.patch(location, {"name": "moved on"}, format="json").status_code == 200
    response = client.put(
        f"{location}/evses/E-NEW",
        {"connectors": [CONNECTOR]},
        format="json",
        HTTP_IF_MATCH=stale,
    )
    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    assert not Evse.objects.filter(uid="E-NEW").exists()
    current = client.get(location)["ETag"]
    response = client.put(
        f"{location}/evses/E-NEW", {"connectors": [CONNECTOR]}, format="json", HTTP_IF_MATCH=current
    )
    assert response.status_code == 201
    assert Connector.objects.filter(evse__uid="E-NEW").count() == 1


# --- item 7: STOP_SESSION names the API's own field ---------------------------------------------


def test_stop_session_without_session_id_names_session_id(world_a: World) -> None:
    url = f"/api/v1/charge-stations/{world_a.ids['station_id']}/commands"
    response = world_a.client().post(url, {"type": "STOP_SESSION"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"path": "$.session_id", "message": "required for STOP_SESSION"}
    ]
    assert not RemoteCommand.objects.exists()


# --- item 8: connectivity history kinds are in the schema's enum --------------------------------


def test_connectivity_history_conforms_to_its_schema_with_every_kind(world_a: World) -> None:
    station_id = world_a.ids["station_id"]
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    locations_api.charge_station_connections_record(
        events=[
            ConnectionEventIn(
                station_id=station_id,
                tenant_id=world_a.tenant.pk,
                kind=kind,
                at=at,
                node="n1",
                connection_id="c1",
            )
            for kind in ConnectionEventKind
        ]
    )
    response = world_a.client().get(f"/api/v1/charge-stations/{station_id}/connectivity")
    assert response.status_code == 200
    body = response.json()
    assert sorted(e["kind"] for e in body["history"]) == sorted(
        k.value for k in ConnectionEventKind
    )
    schema = response_schema(
        openapi(), "/api/v1/charge-stations/{station_id}/connectivity", "get", 200
    )
    jsonschema.validate(body, schema)


# --- item 6: wrong JSON types are refused, never converted ---------------------------------------


NEW_TOKEN = {
    "country_code": "NL",
    "party_id": "AAA",
    "uid": "STRICT-1",
    "type": "RFID",
    "contract_id": "NL-AAA-C1",
    "issuer": "A",
}


def _errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return sorted(response.json()["errors"], key=lambda e: e["path"])


def test_post_tokens_refuses_wrong_json_types_listing_every_path(world_a: World) -> None:
    body = {**NEW_TOKEN, "issuer": 5, "valid": "yes", "uid": 7, "whitelist": "NOPE"}
    errors = _errors(world_a.client().post("/api/v1/tokens", body, format="json"))
    assert errors == [
        {"path": "$.issuer", "message": "must be a string, not a number"},
        {"path": "$.uid", "message": "must be a string, not a number"},
        {"path": "$.valid", "message": "must be true or false, not a string"},
        {"path": "$.whitelist", "message": '"NOPE" is not a valid choice.'},
    ]
    assert not Token.objects.filter(uid__in=["STRICT-1", "7"]).exists()


def test_patch_tokens_refuses_wrong_json_types(world_a: World) -> None:
    url = f"/api/v1/tokens/{world_a.ids['token_id']}"
    before = Token.objects.get(pk=world_a.ids["token_id"])
    response = world_a.client().patch(url, {"issuer": 5, "valid": "yes"}, format="json")
    assert _errors(response) == [
        {"path": "$.issuer", "message": "must be a string, not a number"},
        {"path": "$.valid", "message": "must be true or false, not a string"},
    ]
    after = Token.objects.get(pk=world_a.ids["token_id"])
    assert (after.issuer, after.valid, after.updated_at) == (
        before.issuer,
        before.valid,
        before.updated_at,
    )


def test_post_customers_and_patch_locations_refuse_wrong_json_types(world_a: World) -> None:
    client = world_a.client()
    body = {"country_code": "NL", "party_id": "AAA", "kind": "person", "name": 5}
    assert _errors(client.post("/api/v1/customers", body, format="json")) == [
        {"path": "$.name", "message": "must be a string, not a number"}
    ]
    url = f"/api/v1/locations/{world_a.ids['location_id']}"
    response = client.patch(url, {"publish": "yes", "coordinates": {"latitude": 52}}, format="json")
    assert _errors(response) == [
        {"path": "$.coordinates.latitude", "message": "must be a string, not a number"},
        {"path": "$.coordinates.longitude", "message": "This field is required."},
        {"path": "$.publish", "message": "must be true or false, not a string"},
    ]


def test_unknown_keys_and_a_missing_body_are_refused(world_a: World) -> None:
    client = world_a.client()
    url = f"/api/v1/tokens/{world_a.ids['token_id']}"
    assert _errors(client.patch(url, {"uid": "OTHER", "issuer": "x"}, format="json")) == [
        {"path": "$.uid", "message": "unknown field"}
    ]
    assert _errors(client.patch(url)) == [{"path": "$", "message": "a JSON object is required"}]
    assert Token.objects.get(pk=world_a.ids["token_id"]).uid == world_a.ids["uid"]


# --- item 9: unset optional fields are left out, not sent as "" ----------------------------------


def test_unset_optional_enums_are_omitted_and_responses_conform(world_a: World) -> None:
    client = world_a.client()
    spec = openapi()
    token = client.get(f"/api/v1/tokens/{world_a.ids['token_id']}").json()
    assert "default_profile_type" not in token and "language" not in token
    jsonschema.validate(token, response_schema(spec, "/api/v1/tokens/{token_id}", "get", 200))
    location = client.get(f"/api/v1/locations/{world_a.ids['location_id']}").json()
    assert "parking_type" not in location
    schema = response_schema(spec, "/api/v1/locations/{location_id}", "get", 200)
    jsonschema.validate(location, schema)
    # Set, they are there (and the token PUT's own builder answers the same).
    url = f"/api/v1/tokens/{world_a.emsp.country_code}/{world_a.emsp.party_id}/OPT-1"
    body = {"contract_id": "C", "issuer": "I", "language": "nl", "default_profile_type": "FAST"}
    put = client.put(url, body, format="json").json()
    assert (put["language"], put["default_profile_type"]) == ("nl", "FAST")
    assert client.put(url, {"contract_id": "C", "issuer": "I"}, format="json").json().keys() == (
        token.keys()
    )


# --- item 10: the schema says what the server enforces -------------------------------------------


def _path_of(template: str, w: World) -> str:
    out = template
    for name, value in w.ids.items():
        out = out.replace("{" + name + "}", str(value))
    return out


def _strict_writes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method in ("post", "put", "patch") and "requestBody" in op:
                body, schema = request_schema(spec, path, method)
                assert body["required"] is True, (method, path)
                if schema.get("additionalProperties") is False:
                    out.append((method, path))
    return out


def test_every_request_body_is_required_and_refused_when_missing(world_a: World) -> None:
    spec = openapi()
    client = world_a.client()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert op["requestBody"]["required"] is True, (method, path)
                response = getattr(client, method)(_path_of(path, world_a))
                assert response.status_code == 422, (method, path, response.content)


def test_an_unknown_key_is_refused_wherever_the_schema_says_so(world_a: World) -> None:
    spec = openapi()
    strict = _strict_writes(spec)
    assert ("patch", "/api/v1/tokens/{token_id}") in strict
    assert ("put", "/api/v1/tokens/{country_code}/{party_id}/{uid}") not in strict  # OCPI object
    client = world_a.client()
    for method, path in strict:
        response = getattr(client, method)(_path_of(path, world_a), {"zz": 1}, format="json")
        assert response.status_code == 422, (method, path, response.content)
        assert {"path": "$.zz", "message": "unknown field"} in response.json()["errors"]


def test_schema_limits_are_the_servers(world_a: World) -> None:
    spec = openapi()
    client = world_a.client()
    post = spec["paths"]["/api/v1/tokens"]["post"]
    (key,) = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    response = client.post(
        "/api/v1/tokens", NEW_TOKEN, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 422
    assert not Token.objects.filter(uid=NEW_TOKEN["uid"]).exists()

    _, bulk = request_schema(spec, "/api/v1/tokens/bulk", "post")
    assert (bulk["properties"]["items"]["minItems"], bulk["properties"]["items"]["maxItems"]) == (
        1,
        10_000,
    )
    assert client.post("/api/v1/tokens/bulk", {"items": []}, format="json").status_code == 422

    evse_put = "/api/v1/locations/{location_id}/evses/{evse_uid}"
    _, evse = request_schema(spec, evse_put, "put")
    assert evse["properties"]["connectors"]["minItems"] == 1
    (uid,) = [p for p in spec["paths"][evse_put]["put"]["parameters"] if p["name"] == "evse_uid"]
    assert uid["schema"]["pattern"] == r"^[\x21-\x7e]{1,36}$"
    location = f"/api/v1/locations/{world_a.ids['location_id']}"
    assert client.put(f"{location}/evses/E9", {"connectors": []}, format="json").status_code == 422
    bad_uid = client.put(f"{location}/evses/a%20b", {"connectors": [CONNECTOR]}, format="json")
    assert bad_uid.status_code == 422
    assert not Evse.objects.filter(uid__in=["E9", "a b"]).exists()

    _, token_in = request_schema(spec, "/api/v1/tokens", "post")
    patterns = [alt.get("pattern") for alt in token_in["properties"]["language"]["oneOf"]]
    assert r"^[A-Za-z]{2}$" in patterns
    for language in ("e", "e1", "éé", "eng"):
        for response in (
            client.post("/api/v1/tokens", {**NEW_TOKEN, "language": language}, format="json"),
            client.put(
                "/api/v1/tokens/NL/AAA/LANG-1",
                {"contract_id": "C", "issuer": "I", "language": language},
                format="json",
            ),
        ):
            assert response.status_code == 422, (language, response.content)
            assert response.json()["errors"][0]["path"] == "$.language"


def test_token_put_and_bulk_refuse_values_of_the_wrong_type(world_a: World) -> None:
    """Found by schemathesis' negative bodies: falsy values of the wrong type were taken as
    "not set" (`{}` stored as "{}", `""` as no energy contract)."""
    client = world_a.client()
    body = {
        "contract_id": "C",
        "issuer": "I",
        "default_profile_type": {},
        "language": {},
        "energy_contract": "",
    }
    response = client.put("/api/v1/tokens/NL/AAA/TYPES-1", body, format="json")
    assert _errors(response) == [
        {"path": "$.default_profile_type", "message": "must be one of CHEAP, FAST, GREEN, REGULAR"},
        {"path": "$.energy_contract", "message": "must be an object (OCPI EnergyContract)"},
        {"path": "$.language", "message": "an ISO 639-1 code of two letters"},
    ]
    item = {**NEW_TOKEN, "language": {}}
    response = client.post("/api/v1/tokens/bulk", {"items": [item]}, format="json")
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["$.items[0].language"]
    assert not Token.objects.filter(uid__in=["TYPES-1", NEW_TOKEN["uid"]]).exists()
