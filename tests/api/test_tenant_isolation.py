"""A key of tenant A gets 404 for every object of tenant B, on every route of the API.

The routes are enumerated from the URL configuration, so a new endpoint is covered the day
it is added: a route whose path parameter has no tenant-B object here fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, get_resolver

from tests.api.conftest import World

PUBLIC = {"schema", "docs", "redoc"}
METHODS = ("get", "post", "put", "patch", "delete")

# Bodies that pass input validation, so that a write reaches the tenant lookup (a body that
# fails validation first would be refused with 422 and prove nothing).
CONNECTOR = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}
TARIFF = {
    "country_code": "NL",
    "party_id": "BBB",
    "id": "T1",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "token-upsert"): {"contract_id": "C-1", "issuer": "A", "type": "RFID"},
    ("put", "location-evse"): {"connectors": [CONNECTOR]},
    ("post", "charge-station-commands"): {"type": "RESET"},
    ("post", "tariff-versions"): TARIFF,
    ("post", "billing-rule-copy"): {"name": "A copy"},
    ("patch", "retail-package"): {"name": "X"},
    ("patch", "user-group"): {"name": "X"},
    ("post", "cpo-contract-versions"): {"vat_rate": 9},
    ("put", "charge-station-payee"): {"payee_id": None},
    ("post", "document-discard"): {"reason": "x"},
    ("post", "document-credit-notes"): {"reason": "x"},
    ("post", "roaming-command-send"): {"command": "STOP_SESSION", "session_id": "S1"},
}


def _routes() -> list[tuple[str, URLPattern]]:
    resolver = get_resolver()
    api = next(p for p in resolver.url_patterns if getattr(p, "namespace", "") == "restapi")
    return [(p.name, p) for p in api.url_patterns if p.name not in PUBLIC]


def _methods(pattern: URLPattern) -> list[str]:
    cls = pattern.callback.cls  # type: ignore[attr-defined]
    return [m for m in METHODS if hasattr(cls, m)]


DETAIL_ROUTES = [
    (name, method)
    for name, pattern in _routes()
    if pattern.pattern.converters  # type: ignore[attr-defined]
    for method in _methods(pattern)
]


def test_every_route_is_covered() -> None:
    names = {name for name, _ in _routes()}
    assert len(names) >= 20
    assert {n for n, _ in DETAIL_ROUTES} >= {"token", "cdr", "session", "location", "webhook"}


@pytest.mark.parametrize(("name", "method"), DETAIL_ROUTES)
def test_objects_of_another_tenant_are_not_found(
    world_a: World, world_b: World, name: str, method: str
) -> None:
    pattern = dict(_routes())[name]
    params = pattern.pattern.converters  # type: ignore[attr-defined]
    missing = [p for p in params if p not in world_b.ids]
    assert not missing, f"route {name}: add a tenant-B object for {missing} to the fixtures"
    url = "/api/v1/" + str(pattern.pattern)
    for param in params:
        for conv in ("id", "str"):
            url = url.replace(f"<{conv}:{param}>", str(world_b.ids[param]))
    before = _snapshot(world_b)
    client = world_a.client()
    body = BODIES.get((method, name), {})
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 404, (method, url, response.content)
    assert response["Content-Type"] == "application/problem+json"
    assert _snapshot(world_b) == before, f"{method} {url} changed tenant B's data"


def _snapshot(world: World) -> list[bytes]:
    client = world.client()
    return [
        client.get(f"/api/v1/{what}").content
        for what in (
            "tokens",
            "customers",
            "contracts",
            "locations",
            "charge-stations",
            "tariffs",
            "webhooks",
            "retail-packages",
            "user-groups",
            "cpo-contracts",
            "payees",
            "partners",
        )
    ]


LISTS = [
    "tokens",
    "customers",
    "contracts",
    "locations",
    "charge-stations",
    "tariffs",
    "tariff-codes",
    "tariff-assignments",
    "sessions",
    "cdrs",
    "webhooks",
    "retail-packages",
    "user-groups",
    "cpo-contracts",
    "payees",
    "partners",
]


@pytest.mark.parametrize("what", LISTS)
def test_lists_hold_only_the_callers_objects(world_a: World, world_b: World, what: str) -> None:
    a = world_a.client().get(f"/api/v1/{what}").json()["data"]
    b = world_b.client().get(f"/api/v1/{what}").json()["data"]
    assert a and b
    ident = "platform_id" if "platform_id" in a[0] else "id"
    assert not {x[ident] for x in a} & {x[ident] for x in b}


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/api/v1/contracts?customer_id={}", "customer_id"),
        ("/api/v1/contracts?token_id={}", "token_id"),
        ("/api/v1/charge-stations?location_id={}", "location_id"),
        ("/api/v1/sessions?charge_station_id={}", "station_id"),
        ("/api/v1/cdrs?charge_station_id={}", "station_id"),
        ("/api/v1/tariff-assignments?charge_station_id={}", "station_id"),
    ],
)
def test_filters_by_another_tenants_ids_find_nothing(
    world_a: World, world_b: World, url: str, key: str
) -> None:
    response = world_a.client().get(url.format(world_b.ids[key]))
    assert response.status_code == 200
    assert response.json()["data"] == []


def test_creates_cannot_link_to_another_tenants_objects(world_a: World, world_b: World) -> None:
    client = world_a.client()
    b = world_b.ids
    cases = [
        (
            "contracts",
            {
                "customer_id": b["customer_id"],
                "token_id": b["token_id"],
                "reference": "X",
                "valid_from": "2026-01-01T00:00:00Z",
            },
            {"$.customer_id", "$.token_id"},
        ),
        (
            "charge-stations",
            {"identity": "NEW-1", "location_id": b["location_id"]},
            {"$.location_id"},
        ),
        ("tariff-codes", {"code": "X", "tariff_id": b["tariff_id"]}, {"$.tariff_id"}),
        (
            "tariff-assignments",
            {"charge_station_id": b["station_id"], "tariff_code": "CODE0"},
            {"$.charge_station_id", "$.tariff_code"},
        ),
        (
            "tokens",
            {
                "country_code": "NL",
                "party_id": "BBB",
                "uid": "U",
                "type": "RFID",
                "contract_id": "C",
                "issuer": "I",
            },
            {"$.party_id"},
        ),
        ("tariffs", TARIFF, {"$.party_id"}),
    ]
    for what, body, paths in cases:
        response = client.post(f"/api/v1/{what}", body, format="json")
        assert response.status_code == 422, (what, response.content)
        assert {e["path"] for e in response.json()["errors"]} >= paths, response.content


@pytest.mark.parametrize(
    "url",
    ["/api/v1/cdrs/99999999999999999999999", "/api/v1/nothing", "/api/v1/tokens/-1"],
)
def test_unknown_urls_and_huge_ids_are_problem_404(world_a: World, url: str) -> None:
    response = world_a.client().get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_huge_ids_in_queries_and_bodies_are_refused_not_500(world_a: World) -> None:
    client = world_a.client()
    huge = 597633288364392549116280832
    assert client.get(f"/api/v1/cdrs?charge_station_id={huge}").status_code == 400
    response = client.post(
        "/api/v1/contracts",
        {"customer_id": huge, "token_id": 1, "reference": "R", "valid_from": "2026-01-01T00:00Z"},
        format="json",
    )
    assert response.status_code == 422
