"""The project's OCPP 1.5 JSON schemas (csms_gateway/schemas_v15, from the 1.5 WSDL): every
one compiles, the set is complete in both directions, samples built from the specification's
message definitions validate, and what 1.5 does not have is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from csms_gateway import schemas
from csms_gateway.handlers.v15 import _transaction_data, meter_values_16
from csms_gateway.metering import normalise
from csms_gateway.ocppj import ErrorCode, OcppError

SCHEMA_DIR = Path(schemas.__file__).parent / "schemas_v15"
# CentralSystemService (charge point -> central system), 1.5 WSDL.
TO_CSMS = {
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
}
# ChargePointService (central system -> charge point), 1.5 WSDL.
TO_STATION = {
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "DataTransfer",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "UnlockConnector",
    "UpdateFirmware",
}
T = "2013-02-01T15:09:18Z"


def test_every_message_of_both_directions_has_a_request_and_a_response_schema() -> None:
    files = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    expected = {a for a in TO_CSMS | TO_STATION} | {f"{a}Response" for a in TO_CSMS | TO_STATION}
    assert files == expected
    assert len(files) == 48


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_each_schema_is_draft_04_closed_and_compiles(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    response = path.stem.endswith("Response")
    action = path.stem.removesuffix("Response") if response else path.stem
    assert schema["title"] == f"{action}{'Response' if response else 'Request'}"
    assert schemas.validator("1.5", action, response) is not None


# Every field the WSDL defines, with values it allows.
METER_VALUE = {
    "timestamp": T,
    "value": [
        {
            "value": "1234",
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
            "unit": "Wh",
        },
        {"value": "16.1", "measurand": "Current.Import", "unit": "Amp"},
    ],
}
ID_TAG_INFO = {"status": "Accepted", "expiryDate": T, "parentIdTag": "PARENT"}
VALID: list[tuple[str, bool, dict[str, Any]]] = [
    ("Authorize", False, {"idTag": "B4F62CEF"}),
    ("Authorize", True, {"idTagInfo": ID_TAG_INFO}),
    (
        "BootNotification",
        False,
        {
            "chargePointVendor": "VendorX",
            "chargePointModel": "SingleSocketCharger",
            "chargePointSerialNumber": "CP-1",
            "chargeBoxSerialNumber": "CB-1",
            "firmwareVersion": "1.0.49",
            "iccid": "8931",
            "imsi": "2040",
            "meterType": "DBT NQC-ACDC",
            "meterSerialNumber": "M-1",
        },
    ),
    ("BootNotification", True, {"status": "Accepted", "currentTime": T, "heartbeatInterval": 900}),
    ("DataTransfer", False, {"vendorId": "com.vendor", "messageId": "Msg", "data": "{}"}),
    ("DataTransfer", True, {"status": "UnknownMessageId", "data": "x"}),
    ("DiagnosticsStatusNotification", False, {"status": "Uploaded"}),
    ("DiagnosticsStatusNotification", True, {}),
    ("FirmwareStatusNotification", False, {"status": "InstallationFailed"}),
    ("FirmwareStatusNotification", True, {}),
    ("Heartbeat", False, {}),
    ("Heartbeat", True, {"currentTime": T}),
    ("MeterValues", False, {"connectorId": 1, "transactionId": 7, "values": [METER_VALUE]}),
    # The same readings under `values`, one of them bare text (no attributes).
    (
        "MeterValues",
        False,
        {"connectorId": 1, "values": [{"timestamp": T, "values": ["1234", {"value": "7"}]}]},
    ),
    ("MeterValues", True, {}),
    (
        "StartTransaction",
        False,
        {
            "connectorId": 1,
            "idTag": "B4F62CEF",
            "timestamp": T,
            "meterStart": 0,
            "reservationId": 3,
        },
    ),
    ("StartTransaction", True, {"transactionId": 7, "idTagInfo": ID_TAG_INFO}),
    (
        "StatusNotification",
        False,
        {
            "connectorId": 1,
            "status": "Occupied",
            "errorCode": "Mode3Error",
            "info": "pilot",
            "timestamp": T,
            "vendorId": "VendorX",
            "vendorErrorCode": "E17",
        },
    ),
    ("StatusNotification", True, {}),
    (
        "StopTransaction",
        False,
        {
            "transactionId": 7,
            "idTag": "B4F62CEF",
            "timestamp": T,
            "meterStop": 2000,
            "transactionData": [{"values": [METER_VALUE]}],
        },
    ),
    ("StopTransaction", True, {"idTagInfo": ID_TAG_INFO}),
    ("StopTransaction", True, {}),
    ("CancelReservation", False, {"reservationId": 3}),
    ("CancelReservation", True, {"status": "Rejected"}),
    ("ChangeAvailability", False, {"connectorId": 0, "type": "Inoperative"}),
    ("ChangeAvailability", True, {"status": "Scheduled"}),
    ("ChangeConfiguration", False, {"key": "HeartBeatInterval", "value": "900"}),
    ("ChangeConfiguration", True, {"status": "NotSupported"}),
    ("ClearCache", False, {}),
    ("ClearCache", True, {"status": "Accepted"}),
    ("GetConfiguration", False, {"key": ["HeartBeatInterval"]}),
    (
        "GetConfiguration",
        True,
        {
            "configurationKey": [{"key": "HeartBeatInterval", "readonly": False, "value": "900"}],
            "unknownKey": ["Nope"],
        },
    ),
    (
        "GetDiagnostics",
        False,
        {
            "location": "ftp://user:pass@diag.example.com/upload",
            "startTime": T,
            "stopTime": T,
            "retries": 3,
            "retryInterval": 60,
        },
    ),
    ("GetDiagnostics", True, {"fileName": "diag-2013.tar.gz"}),
    ("GetDiagnostics", True, {}),
    ("GetLocalListVersion", False, {}),
    ("GetLocalListVersion", True, {"listVersion": 12}),
    ("RemoteStartTransaction", False, {"idTag": "B4F62CEF", "connectorId": 2}),
    ("RemoteStartTransaction", True, {"status": "Accepted"}),
    ("RemoteStopTransaction", False, {"transactionId": 7}),
    ("RemoteStopTransaction", True, {"status": "Rejected"}),
    (
        "ReserveNow",
        False,
        {
            "connectorId": 1,
            "expiryDate": T,
            "idTag": "B4F62CEF",
            "parentIdTag": "PARENT",
            "reservationId": 3,
        },
    ),
    ("ReserveNow", True, {"status": "Occupied"}),
    ("Reset", False, {"type": "Soft"}),
    ("Reset", True, {"status": "Accepted"}),
    (
        "SendLocalList",
        False,
        {
            "updateType": "Differential",
            "listVersion": 13,
            "localAuthorisationList": [
                {"idTag": "B4F62CEF", "idTagInfo": {"status": "Blocked"}},
                {"idTag": "REMOVED"},
            ],
            "hash": "ab12",
        },
    ),
    ("SendLocalList", True, {"status": "VersionMismatch", "hash": "ab12"}),
    ("UnlockConnector", False, {"connectorId": 1}),
    ("UnlockConnector", True, {"status": "Accepted"}),
    (
        "UpdateFirmware",
        False,
        {"retrieveDate": T, "location": "http://fw.example.com/fw.bin", "retries": 2},
    ),
    ("UpdateFirmware", True, {}),
]


@pytest.mark.parametrize(
    ("action", "response", "payload"),
    VALID,
    ids=[f"{a}{'Response' if r else ''}-{i}" for i, (a, r, _) in enumerate(VALID)],
)
def test_samples_from_the_specification_validate(
    action: str, response: bool, payload: dict[str, Any]
) -> None:
    schemas.validate("1.5", action, payload, response=response)


def test_every_message_has_a_valid_sample_in_both_directions() -> None:
    covered = {(a, r) for a, r, _ in VALID}
    assert covered == {(a, r) for a in TO_CSMS | TO_STATION for r in (False, True)}


INVALID: list[tuple[str, bool, dict[str, Any], ErrorCode]] = [
    # 1.6 words that 1.5 does not have.
    (
        "StatusNotification",
        False,
        {"connectorId": 1, "status": "Charging", "errorCode": "NoError"},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        "StatusNotification",
        False,
        {"connectorId": 1, "status": "Available", "errorCode": "EVCommunicationError"},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        "StopTransaction",
        False,
        {"transactionId": 7, "timestamp": T, "meterStop": 1, "reason": "Local"},
        ErrorCode.FORMATION_VIOLATION,
    ),
    (
        "BootNotification",
        True,
        {"status": "Accepted", "currentTime": T, "interval": 300},  # 1.6's name
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,  # heartbeatInterval is missing
    ),
    (
        "BootNotification",
        True,
        {"status": "Pending", "currentTime": T, "heartbeatInterval": 1},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        "FirmwareStatusNotification",
        False,
        {"status": "Downloading"},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    (
        "DiagnosticsStatusNotification",
        False,
        {"status": "Idle"},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    # IdToken is 20 characters in 1.5.
    ("Authorize", False, {"idTag": "X" * 21}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (
        "StartTransaction",
        False,
        {"connectorId": 1, "idTag": "A", "timestamp": T},
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    ),
    ("MeterValues", False, {"connectorId": "1"}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
    # A meter value without readings under either name.
    (
        "MeterValues",
        False,
        {"connectorId": 1, "values": [{"timestamp": T}]},
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    ),
    ("Reset", False, {"type": "Hard", "extra": 1}, ErrorCode.FORMATION_VIOLATION),
    ("SendLocalList", True, {"status": "Unknown"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
]


@pytest.mark.parametrize(("action", "response", "payload", "code"), INVALID)
def test_what_ocpp15_does_not_have_is_refused(
    action: str, response: bool, payload: dict[str, Any], code: ErrorCode
) -> None:
    with pytest.raises(OcppError) as info:
        schemas.validate("1.5", action, payload, response=response)
    assert info.value.code is code


def test_16_only_and_20_only_actions_are_not_part_of_15() -> None:
    for action in ("TriggerMessage", "SetChargingProfile", "SignCertificate", "TransactionEvent"):
        assert schemas.validator("1.5", action, False) is None


def test_both_meter_value_shapes_normalise_to_the_same_samples() -> None:
    wsdl = [
        {
            "timestamp": T,
            "value": [
                {"value": "1.5", "unit": "kWh"},
                {"value": "11", "unit": "kW", "measurand": "Power.Active.Import"},
                {"value": "16", "unit": "Amp", "measurand": "Current.Import"},
            ],
        }
    ]
    field = [
        {
            "timestamp": T,
            "values": [
                "1500",  # bare text: Wh, Energy.Active.Import.Register by default
                {"value": "11000", "unit": "W", "measurand": "Power.Active.Import"},
                {"value": "16", "unit": "Amp", "measurand": "Current.Import"},
            ],
        }
    ]
    a = normalise(meter_values_16(wsdl), version="1.5")
    b = normalise(meter_values_16(field), version="1.5")
    assert a.warnings == b.warnings == []
    assert len(a.samples) == len(b.samples) == 1
    for s in (a.samples[0], b.samples[0]):
        assert (s.energy_wh, s.power_w, s.current_a) == (
            Decimal("1500"),
            Decimal("11000"),
            Decimal("16"),
        )


def test_stop_transaction_data_is_read_in_the_15_and_the_16_shape() -> None:
    mv = {"timestamp": T, "value": [{"value": "2000"}]}
    for data in ([{"values": [mv]}], [mv]):
        samples = normalise(_transaction_data(data), version="1.5").samples
        assert [s.energy_wh for s in samples] == [Decimal("2000")]
