"""The JSON form of the remote-command contracts: the relay's wire format and the command
log's row (`RemoteCommand.request` / `.data`).

msgspec does the work: `msgspec.to_builtins` one way, `msgspec.convert` the other (types,
enums, Decimal, datetimes, nested values, unknown fields refused by `Wire`). Two rules keep
the JSON exactly as it was written before (stored rows, the REST API's command log; ADR 0025):

- a datetime is written by `datetime.isoformat()` ("+00:00"; msgspec would write "Z");
- an answer carries its class name in `type`, after its own fields.

A Decimal is its `str()` (msgspec's form too: exact, never a float), an enum its value, a
tuple a list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

from apps.locations.contracts.commands import (
    ANSWER_CLASSES,
    COMMAND_CLASSES,
    CommandAnswer,
    CommandKind,
    StationCommand,
)

T = TypeVar("T")

_ANSWER_TYPES = tuple(ANSWER_CLASSES.values())


def _plain(value: Any) -> Any:
    """msgspec's builtins as JSON-ready data: datetimes (kept by `to_builtins`) in ISO 8601,
    tuples as lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def to_json(value: Any) -> Any:
    """A command, an answer or a relay message as JSON-ready data (the class name of an
    answer in `type`)."""
    out = _plain(msgspec.to_builtins(value, builtin_types=(datetime,)))
    if isinstance(value, _ANSWER_TYPES):
        out["type"] = type(value).__name__
    return out


def from_json(cls: type[T], raw: Any) -> T:
    """The inverse of `to_json` for one contract type. Raises `msgspec.ValidationError` (a
    ValueError) for a missing, mistyped or unknown field."""
    if isinstance(raw, dict) and "type" in raw:
        raw = {k: v for k, v in raw.items() if k != "type"}
    return msgspec.convert(raw, cls)


def command_from_json(kind: str, raw: dict[str, Any]) -> StationCommand:
    return from_json(COMMAND_CLASSES[CommandKind(kind)], raw)


def answer_from_json(raw: dict[str, Any] | None) -> CommandAnswer | None:
    if not raw:
        return None
    return from_json(ANSWER_CLASSES[raw["type"]], raw)
