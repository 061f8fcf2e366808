"""Validate an OCPI object against the schema set (tests/roaming/ocpi_schemas/<version>/,
JSON Schema draft 2020-12, strict: see ocpi_schemas/build.py).

    validate(obj, "2.2.1", "location")   # raises SchemaErrors listing every error's path

Objects may hold Decimals (what apps.roaming.transport.loads gives): they are compared as
the JSON numbers they are."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

SCHEMAS = Path(__file__).resolve().parent / "ocpi_schemas"


class SchemaErrors(AssertionError):
    """The object breaks the schema: `errors` lists "<path>: <message>" (the path as
    `$.evses[0].connectors[0].max_voltage`), `details` the jsonschema errors."""

    def __init__(self, name: str, version: str, details: list[ValidationError]) -> None:
        self.details = details
        self.errors = [f"{_path(e)}: {e.message}" for e in details]
        super().__init__(f"{version} {name}: " + "; ".join(self.errors))


def _path(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def names(version: str) -> list[str]:
    return sorted(p.stem for p in (SCHEMAS / version).glob("*.json"))


@cache
def _validator(version: str, name: str) -> Draft202012Validator:
    path = SCHEMAS / version / f"{name}.json"
    if not path.exists():
        raise KeyError(f"no schema {version}/{name} (have: {', '.join(names(version))})")
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _plain(value: Any) -> Any:
    """Decimals as the JSON numbers they stand for (int when integral: OCPI `int` fields)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def errors(obj: Any, version: str, name: str) -> list[str]:
    """Every error as "<path>: <message>", in document order; [] when valid."""
    found = sorted(_validator(version, name).iter_errors(_plain(obj)), key=_sort_key)
    return [f"{_path(e)}: {e.message}" for e in found]


def _sort_key(e: ValidationError) -> tuple[str, str]:
    return (_path(e), e.message)


def validate(obj: Any, version: str, name: str) -> None:
    """Raise SchemaErrors (an AssertionError) with every error's path unless `obj` is valid."""
    found = sorted(_validator(version, name).iter_errors(_plain(obj)), key=_sort_key)
    if found:
        raise SchemaErrors(name, version, found)


@cache
def _patch_validator(version: str, name: str) -> Draft202012Validator:
    """The object's schema with only `last_updated` required at the top (OCPI: a PATCH is
    a partial object and SHALL carry last_updated); every field present is checked as in
    the full object (types, lengths, enums, nested objects complete, no unknown field)."""
    schema = dict(_validator(version, name).schema)
    schema["required"] = ["last_updated"]
    return Draft202012Validator(schema)


def validate_patch(obj: Any, version: str, name: str) -> None:
    """`validate` for a PATCH body: the fields present, plus the required last_updated."""
    found = sorted(_patch_validator(version, name).iter_errors(_plain(obj)), key=_sort_key)
    if found:
        raise SchemaErrors(f"{name} PATCH", version, found)
