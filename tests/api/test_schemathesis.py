"""Schemathesis against the live OpenAPI schema (positive and negative generated inputs):
no 5xx on any input, every response conforms to the schema (status code, content type,
headers, body), and every input the schema forbids is refused with a 4xx (the schema says
what the server enforces: types, patterns, lengths, unknown keys, required bodies). Path
parameters point at real objects of the caller's tenant, so the operations do real work
instead of answering 404."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.api.conftest import World

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
schema.config.generation.update(max_examples=MAX_EXAMPLES)

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schemathesis.check
def body_negative_data_rejection(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """A request body the schema forbids (a wrong type, an unknown key, a missing required
    field, a too short array) is refused with a 4xx: the schema says what the server
    enforces (issue 15). Bodies only: this test puts real ids into path parameters and its
    own key into the headers, which would undo those negations."""
    data = case.meta.phase.data if case.meta is not None else None
    if getattr(data, "parameter_location", None) != ParameterLocation.BODY:
        return None
    return negative_data_rejection(ctx, response, case)  # type: ignore[no-any-return]


CHECKS.append(body_negative_data_rejection)
# The one documented 5xx: remote commands answer 503 when no command relay is available.
DOCUMENTED_503 = {"POST /api/v1/charge-stations/{station_id}/commands"}


@pytest.fixture
def _keep_test_connection() -> Iterator[None]:
    """The WSGI handler closes database connections at the end of each request, which
    would close the test's transaction; Django's test client disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_test_connection")
@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    max_examples=MAX_EXAMPLES,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, world_a: World) -> None:
    for name in list(case.path_parameters or {}):
        if name in world_a.ids:
            case.path_parameters[name] = world_a.ids[name]
    headers = {"Authorization": f"Bearer {world_a.key}"}
    response = case.call(headers=headers)
    label = f"{case.method.upper()} {case.operation.path}"
    checks = list(CHECKS)
    if label not in DOCUMENTED_503:
        checks.append(not_a_server_error)
    else:
        # 200 with the command's result (OFFLINE here: no station is connected) when Redis
        # is configured; 503 without it (the embedded default).
        assert response.status_code in (200, 503, 400, 401, 403, 404, 409, 422, 429), response.text
    case.validate_response(response, checks=checks, headers=headers)
