"""The per-version command tables, and `build`: a neutral command as the CALL of a version."""

from __future__ import annotations

from typing import Any

from apps.locations.contracts import COMMAND_CLASSES, CommandKind, StationCommand
from csms_gateway import ocppj, schemas
from csms_gateway.commands.common import Invalid, Mapping
from csms_gateway.commands.v15 import V15
from csms_gateway.commands.v16 import V16
from csms_gateway.commands.v201 import V201

# The per-version tables. A version without a row for a command answers NOT_SUPPORTED.
MAPPINGS: dict[str, dict[CommandKind, Mapping]] = {"1.5": V15, "1.6": V16, "2.0.1": V201}

# Commands only OCPP 2.0.1 has: a 1.x station answers NOT_SUPPORTED and nothing is sent.
ONLY_201 = frozenset({CommandKind.GET_BASE_REPORT, CommandKind.GET_CHARGING_PROFILES})

# Every command class is used by some row (a cheap guard against a typo in a table).
assert set(COMMAND_CLASSES) == set(V201) == set(V16) | ONLY_201
assert not ONLY_201 & set(V16) and set(V15) <= set(V16)


def build(version: str, command: StationCommand) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload of `command` for `version`, validated against the
    version's schema. Raises `Invalid` (not expressible / breaks the schema) or `LookupError`
    (the version has no such command)."""
    mapping = MAPPINGS.get(version, {}).get(command.kind)
    if mapping is None:
        raise LookupError(f"OCPP {version} has no {command.kind} command")
    payload = mapping.build(command)
    action = mapping.route(command) if mapping.route else mapping.action
    try:
        schemas.validate(version, action, payload, response=False)
    except ocppj.OcppError as exc:
        raise Invalid(exc.description) from None
    return action, payload
