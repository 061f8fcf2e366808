"""OCPP-J framing (RPC over websocket JSON), shared by OCPP 1.5 / 1.6 / 2.0.1.

A frame is a JSON array: CALL `[2, id, action, payload]`, CALLRESULT `[3, id, payload]`,
CALLERROR `[4, id, code, description, details]` (2.0.1 also has CALLRESULTERROR, type 5, not
used here). Message ids are strings (OCPP-J: "a string of maximum 36 characters").
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

CALL = 2
CALLRESULT = 3
CALLERROR = 4
MAX_MESSAGE_ID_LENGTH = 36


class ErrorCode(enum.Enum):
    """RPC framework error codes. The value is the OCPP 1.6 spelling; `for_version` gives the
    spelling each version expects (2.0.1 renamed two and added two)."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"  # sic in OCPP 1.6
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"  # 2.0.1 only
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"  # 2.0.1 only

    def for_version(self, version: str) -> str:
        if version.startswith("2."):
            return {
                ErrorCode.FORMATION_VIOLATION: "FormatViolation",
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation",
            }.get(self, self.value)
        if self in (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, ErrorCode.RPC_FRAMEWORK_ERROR):
            # 1.x has neither: the closest 1.6 codes.
            return (
                "NotSupported" if self is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED else "GenericError"
            )
        return self.value


class OcppError(Exception):
    """Raised by parsing or a handler; answered as a CALLERROR with `code`."""

    def __init__(
        self, code: ErrorCode, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description[:255]
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]
    raw: str = ""


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


Frame = Call | CallResult | CallError


class UnanswerableFrame(Exception):
    """A frame so broken that it has no usable message id (not JSON, not an array, no string
    id). What it gets depends on the version: see `dump_unreadable`."""


UNREADABLE_MESSAGE_ID = "-1"


def dump_unreadable(problem: UnanswerableFrame, version: str) -> str | None:
    """The answer to a frame whose message id cannot be read, or None for no answer.

    OCPP 2.0.1 Part 4 (4.2.3): when the message id cannot be read, the CALLERROR carries the
    message id "-1"; `RpcFrameworkError` is the code its table gives for "MessageId could not
    be read". OCPP-J 1.6 (and the 1.5 JSON binding) has no such id: a CALLERROR must carry the
    exact id of the CALL it answers, so there is nothing to answer and the frame is only
    logged.
    """
    if not version.startswith("2."):
        return None
    error = OcppError(ErrorCode.RPC_FRAMEWORK_ERROR, str(problem))
    return dump_error(UNREADABLE_MESSAGE_ID, error, version)


def parse_frame(text: str | bytes) -> Frame:
    """Parse one websocket message into a frame.

    Raises `OcppError` (with the message id known, so it can be answered) or
    `UnanswerableFrame` (no id to answer to).
    """
    try:
        data = json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnanswerableFrame(f"not JSON: {exc}") from None
    if not isinstance(data, list) or len(data) < 3:
        raise UnanswerableFrame("an OCPP-J frame is a JSON array of 3 to 5 elements")
    message_type, message_id = data[0], data[1]
    if not isinstance(message_id, str):
        # Only string ids: an integer id is a formation violation, answered with the id as
        # the station sent it, stringified, so that it can correlate.
        if isinstance(message_id, int | float) and not isinstance(message_id, bool):
            raise OcppError(
                ErrorCode.FORMATION_VIOLATION,
                "message id must be a string",
                {"message_id": str(message_id)},
            )
        raise UnanswerableFrame("message id must be a string")
    if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise UnanswerableFrame(f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters")
    if message_type == CALL:
        if len(data) != 4:
            raise _with_id(message_id, "a CALL has 4 elements: [2, id, action, payload]")
        action, payload = data[2], data[3]
        if not isinstance(action, str) or not action:
            raise _with_id(message_id, "the action of a CALL must be a non-empty string")
        if not isinstance(payload, dict):
            raise _with_id(message_id, "the payload of a CALL must be a JSON object")
        raw = text if isinstance(text, str) else text.decode("utf-8", "replace")
        return Call(message_id, action, payload, raw)
    if message_type == CALLRESULT:
        if len(data) != 3 or not isinstance(data[2], dict):
            raise _with_id(message_id, "a CALLRESULT is [3, id, {payload}]")
        return CallResult(message_id, data[2])
    if message_type == CALLERROR:
        if len(data) != 5 or not isinstance(data[2], str) or not isinstance(data[4], dict):
            raise _with_id(message_id, "a CALLERROR is [4, id, code, description, {details}]")
        return CallError(message_id, data[2], str(data[3]), data[4])
    raise OcppError(
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
        f"message type {message_type!r} is not supported",
        {"message_id": message_id},
    )


def _with_id(message_id: str, description: str) -> OcppError:
    error = OcppError(ErrorCode.FORMATION_VIOLATION, description)
    error.details = {"message_id": message_id}
    return error


def _dumps(value: object) -> str:
    # No `default`: a Decimal or datetime in an outgoing payload is a bug in a handler (money
    # must not pass through float); handlers format numbers and times themselves.
    return json.dumps(value, separators=(",", ":"))


def dump_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dumps([CALL, message_id, action, payload])


def dump_result(message_id: str, payload: dict[str, Any]) -> str:
    return _dumps([CALLRESULT, message_id, payload])


def dump_error(message_id: str, error: OcppError, version: str) -> str:
    details = {k: v for k, v in error.details.items() if k != "message_id"}
    return _dumps(
        [CALLERROR, message_id, error.code.for_version(version), error.description, details]
    )
