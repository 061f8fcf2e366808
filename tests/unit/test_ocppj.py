from __future__ import annotations

import json
from decimal import Decimal

import pytest

from csms_gateway import ocppj, schemas
from csms_gateway.ocppj import Call, CallError, CallResult, ErrorCode, OcppError


def test_frames_parse_with_decimals_kept_exact() -> None:
    call = ocppj.parse_frame('[2,"a1","MeterValues",{"v":0.1,"n":3}]')
    assert isinstance(call, Call)
    assert call.payload == {"v": Decimal("0.1"), "n": 3}
    assert call.raw == '[2,"a1","MeterValues",{"v":0.1,"n":3}]'
    assert ocppj.parse_frame('[3,"a1",{}]') == CallResult("a1", {})
    assert ocppj.parse_frame('[4,"a1","GenericError","x",{}]') == CallError(
        "a1", "GenericError", "x", {}
    )


@pytest.mark.parametrize(
    "text",
    [
        "nope",
        "{}",
        "[2]",
        '[2,"",  "Heartbeat", {}]',
        '[2,"' + "x" * 37 + '","Heartbeat",{}]',
        '[2,null,"Heartbeat",{}]',
    ],
)
def test_frames_without_a_usable_id_cannot_be_answered(text: str) -> None:
    with pytest.raises(ocppj.UnanswerableFrame) as info:
        ocppj.parse_frame(text)
    # 2.0.1 answers with message id "-1" (Part 4, 4.2.3); 1.x has no such id: no answer.
    answer = ocppj.dump_unreadable(info.value, "2.0.1")
    assert answer is not None
    assert json.loads(answer) == [4, "-1", "RpcFrameworkError", str(info.value), {}]
    assert ocppj.dump_unreadable(info.value, "1.6") is None
    assert ocppj.dump_unreadable(info.value, "1.5") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('[2,5,"Heartbeat",{}]', ErrorCode.FORMATION_VIOLATION),
        ('[2,"i","Heartbeat",[]]', ErrorCode.FORMATION_VIOLATION),
        ('[2,"i","",{}]', ErrorCode.FORMATION_VIOLATION),
        ('[2,"i","Heartbeat"]', ErrorCode.FORMATION_VIOLATION),
        ('[7,"i",{}]', ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
    ],
)
def test_broken_frames_with_an_id_are_answered_with_the_right_code(
    text: str, code: ErrorCode
) -> None:
    with pytest.raises(OcppError) as info:
        ocppj.parse_frame(text)
    assert info.value.code is code


def test_error_codes_are_spelled_as_each_version_spells_them() -> None:
    assert ErrorCode.FORMATION_VIOLATION.for_version("1.6") == "FormationViolation"
    assert ErrorCode.FORMATION_VIOLATION.for_version("2.0.1") == "FormatViolation"
    assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION.for_version("1.6") == (
        "OccurenceConstraintViolation"
    )
    assert ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION.for_version("2.0.1") == (
        "OccurrenceConstraintViolation"
    )
    assert ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED.for_version("2.0.1") == "MessageTypeNotSupported"
    assert ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED.for_version("1.6") == "NotSupported"
    error = OcppError(ErrorCode.NOT_SUPPORTED, "no")
    assert ocppj.dump_error("m", error, "1.6") == '[4,"m","NotSupported","no",{}]'


def test_schema_violations_map_to_ocpp_codes_with_a_path() -> None:
    with pytest.raises(OcppError) as info:
        schemas.validate("1.6", "Authorize", {"idTag": "x" * 21}, response=False)
    assert info.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert info.value.description.startswith("$.idTag:")
    with pytest.raises(OcppError) as info:
        schemas.validate("1.6", "Authorize", {}, response=False)
    assert info.value.code is ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    with pytest.raises(OcppError) as info:
        schemas.validate("2.0.1", "Heartbeat", {"extra": 1}, response=False)
    assert info.value.code is ErrorCode.FORMATION_VIOLATION
    with pytest.raises(OcppError) as info:
        schemas.validate(
            "1.6",
            "StartTransaction",
            {
                "connectorId": "1",
                "idTag": "a",
                "meterStart": 0,
                "timestamp": "2026-01-01T00:00:00Z",
            },
            response=False,
        )
    assert info.value.code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    schemas.validate("2.0.1", "Heartbeat", {}, response=False)
    assert schemas.validator("1.6", "Heartbeat", False) is schemas.validator(
        "1.6", "Heartbeat", False
    )


def test_validation_never_changes_the_payload() -> None:
    payload = {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": "2026-01-01T00:00:00Z",
                "sampledValue": [{"value": 1, "unitOfMeasure": {"unit": "kWh"}}],
            }
        ],
    }
    before = repr(payload)
    schemas.validate("2.0.1", "MeterValues", payload, response=False)
    assert repr(payload) == before  # no schema default (e.g. multiplier) filled in
