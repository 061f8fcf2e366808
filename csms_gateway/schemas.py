"""Precompiled validators from the `ocpp` package's vendored JSON schemas (1.6, 2.0.1) and
the project's own OCPP 1.5 schemas (`csms_gateway/schemas_v15/`, see its SOURCE.md).

fastjsonschema compiles each schema to Python once (on first use, then cached), which costs
a fraction of a generic jsonschema validation per message. Validation failures map to the
OCPP-J error codes.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Callable
from typing import Any

import fastjsonschema

from csms_gateway.ocppj import ErrorCode, OcppError

Validator = Callable[[Any], Any]

# (package, folder) of each version's schemas.
_SCHEMA_DIR = {
    "1.5": ("csms_gateway", "schemas_v15"),
    "1.6": ("ocpp", "v16/schemas"),
    "2.0.1": ("ocpp", "v201/schemas"),
}


def _schema_file(version: str, action: str, response: bool) -> str:
    if version.startswith("1."):
        return f"{action}Response.json" if response else f"{action}.json"
    return f"{action}{'Response' if response else 'Request'}.json"


@functools.cache
def validator(version: str, action: str, response: bool) -> Validator | None:
    """The compiled validator for one message, or None when the version has no such action."""
    where = _SCHEMA_DIR.get(version)
    if where is None:
        return None
    path = importlib.resources.files(where[0]).joinpath(*where[1].split("/"))
    path = path / _schema_file(version, action, response)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema.pop("$id", None)  # 2.0.1 ids are URNs, not resolvable URIs
    # use_default=False: validation must not change the payload (its hash is the idempotency
    # key, and what is stored must be what the station sent).
    return fastjsonschema.compile(schema, use_default=False)


_RULE_TO_CODE = {
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
}


def validate(version: str, action: str, payload: dict[str, Any], *, response: bool) -> None:
    """Raise `OcppError` with the matching OCPP-J code when `payload` breaks the schema."""
    check = validator(version, action, response)
    if check is None:
        raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"{action} is not part of OCPP {version}")
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_TO_CODE.get(exc.rule or "", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        path = (exc.name or "data").replace("data", "$", 1)
        raise OcppError(
            code, f"{path}: {exc.message.removeprefix(exc.name or '').strip()}"
        ) from None
