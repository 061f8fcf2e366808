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
