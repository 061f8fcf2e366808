"""What stations report about themselves, over real websockets into the in-process gateway:
every OCPP 1.6 (all feature profiles + security extensions) and 2.0.1 inbound message that
is not a transaction message gets a schema-valid answer and is stored where an operator
reads it (apps.devices); none of them touches the transaction log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.charging.models import OcppEvent
from apps.devices import api as devices_api
from apps.devices.contracts import StationEventKind
from apps.devices.models import CertificateRequest, DeviceState, DeviceVariable, StationEvent
from csms_gateway import schemas
from tests.conftest import RunningGateway, start_gateway
from tests.journey_fixtures import connect, z
from tests.ocpp_client import CallErrorReceived, OcppClient

T = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBVTCB\n-----END CERTIFICATE REQUEST-----\n"


class CheckedClient(OcppClient):
    """Sends only schema-valid requests and checks every answer against the version's
    response schema (the `ocpp` package's for 1.6 and 2.0.1)."""

    def __init__(self, ws: Any, version: str) -> None:
        super().__init__(ws)
        self.version = version

    async def call(self, action: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        schemas.validate(self.version, action, payload, response=False)
        answer = await super().call(action, payload, **kwargs)
        schemas.validate(self.version, action, answer, response=True)
        return answer


def talk(gw: RunningGateway, station: dict[str, Any], version: str, calls: list) -> list[dict]:
    async def run() -> list[dict[str, Any]]:
        async with connect(gw, station, f"ocpp{version}") as ws:
            c = CheckedClient(ws, version)
            return [await c.call(action, payload) for action, payload in calls]

    return asyncio.run(run())


def events(station: dict[str, Any], kind: str | None = None) -> list[StationEvent]:
    rows = StationEvent.objects.filter(charge_station=station["station"]).order_by("id")
    return list(rows.filter(kind=kind) if kind else rows)


@pytest.fixture
def accepting_gateway(transactional_db: None) -> Iterator[RunningGateway]:
    running, stop = start_gateway(
        data_transfer_accept={
            "com.example.any": frozenset(),
            "com.example.some": frozenset({"Hello"}),
        }
    )
    yield running
    stop()


# --- OCPP 1.6 ------------------------------------------------------------------------------


def test_ocpp16_firmware_update_status_flow_is_stored_in_order(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    flow = ["Downloading", "Downloaded", "Installing", "Installed"]
    answers = talk(
        gateway, station, "1.6", [("FirmwareStatusNotification", {"status": s}) for s in flow]
    )
    assert answers == [{}] * 4
    assert [(e.kind, e.status, e.protocol) for e in events(station)] == [
        ("FIRMWARE", s, "1.6") for s in flow
    ]
    state = DeviceState.objects.get(charge_station=station["station"])
    assert state.firmware_status == "Installed" and state.firmware_request_id is None
    # The operator's view: current state and history through the app's api.
    st = station["station"]
    record = devices_api.device_state(tenant_id=st.tenant_id, station_id=st.pk)
    assert record is not None and record.firmware_status == "Installed"
    history = devices_api.station_events(
        tenant_id=st.tenant_id, station_id=st.pk, kind=StationEventKind.FIRMWARE
    )
    assert [e.status for e in history] == flow
    # Another tenant sees nothing of it.
    assert devices_api.device_state(tenant_id=st.tenant_id + 999, station_id=st.pk) is None
    assert devices_api.station_events(tenant_id=st.tenant_id + 999, station_id=st.pk) == []


def test_ocpp16_security_extension_messages_are_answered_and_stored(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    answers = talk(
        gateway,
        station,
        "1.6",
        [
            ("DiagnosticsStatusNotification", {"status": "Uploading"}),
            ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
            (
                "SecurityEventNotification",
                {"type": "InvalidCentralSystemCertificate", "timestamp": z(T), "techInfo": "cn"},
            ),
            ("SignCertificate", {"csr": CSR}),
            ("SignCertificate", {"csr": CSR}),  # resent: stored once
            ("LogStatusNotification", {"status": "Uploading", "requestId": 7}),
            ("LogStatusNotification", {"status": "Uploaded", "requestId": 7}),
            ("SignedFirmwareStatusNotification", {"status": "InvalidSignature", "requestId": 9}),
            ("SignedFirmwareStatusNotification", {"status": "SignatureVerified", "requestId": 9}),
        ],
    )
    assert answers == [{}, {}, {}, {"status": "Accepted"}, {"status": "Accepted"}, {}, {}, {}, {}]
    st = station["station"]
    assert [(e.action, e.status, e.request_id) for e in events(station)] == [
        ("DiagnosticsStatusNotification", "Uploading", None),
        ("DiagnosticsStatusNotification", "Uploaded", None),
        ("SecurityEventNotification", "InvalidCentralSystemCertificate", None),
        ("SignCertificate", "ChargePointCertificate", None),
        ("SignCertificate", "ChargePointCertificate", None),
        ("LogStatusNotification", "Uploading", 7),
        ("LogStatusNotification", "Uploaded", 7),
        ("SignedFirmwareStatusNotification", "InvalidSignature", 9),
        ("SignedFirmwareStatusNotification", "SignatureVerified", 9),
    ]
    security = events(station, "SECURITY")[0]
    assert security.station_timestamp == T and security.details == {"tech_info": "cn"}
    assert json.loads(security.frame) == [  # the frame verbatim
        2,
        "m3",
        "SecurityEventNotification",
        {"type": "InvalidCentralSystemCertificate", "timestamp": z(T), "techInfo": "cn"},
    ]
    (request,) = CertificateRequest.objects.filter(charge_station=st)
    assert (request.csr, request.status, request.protocol) == (CSR, "PENDING", "1.6")
    assert events(station, "CERTIFICATE")[0].details["certificate_request_id"] == request.pk
    state = DeviceState.objects.get(charge_station=st)
    assert (state.diagnostics_status, state.log_status, state.log_request_id) == (
        "Uploaded",
        "Uploaded",
        7,
    )
    assert (state.firmware_status, state.firmware_request_id) == ("SignatureVerified", 9)
    assert state.security_event == "InvalidCentralSystemCertificate"
    assert state.security_event_at == T
    assert not OcppEvent.objects.filter(charge_station=st).exists()


def test_ocpp16_data_transfer_variants_are_stored_and_answered_by_configuration(
    accepting_gateway: RunningGateway, station: dict[str, Any]
) -> None:
    answers = talk(
        accepting_gateway,
        station,
        "1.6",
        [
            ("DataTransfer", {"vendorId": "com.example.any", "data": '{"soc": 81.5}'}),
            ("DataTransfer", {"vendorId": "com.example.some", "messageId": "Hello"}),
            ("DataTransfer", {"vendorId": "com.example.some", "messageId": "Other", "data": "x"}),
            ("DataTransfer", {"vendorId": "org.unknown", "messageId": "Hello", "data": "[1,"}),
        ],
    )
    assert [a["status"] for a in answers] == [
        "Accepted",
        "Accepted",
        "UnknownMessageId",
        "UnknownVendorId",
    ]
    rows = events(station, "DATA_TRANSFER")
    assert [(r.status, r.details["message_id"], r.details["answered"]) for r in rows] == [
        ("com.example.any", "", "Accepted"),
        ("com.example.some", "Hello", "Accepted"),
        ("com.example.some", "Other", "UnknownMessageId"),
        ("org.unknown", "Hello", "UnknownVendorId"),
    ]
    # JSON carried in the string is kept parsed as well, its numbers exact.
    assert rows[0].details["data"] == '{"soc": 81.5}'
    assert rows[0].details["data_json"] == {"soc": "81.5"}
    assert "data_json" not in rows[3].details  # "[1," is not JSON: kept as sent only


def test_a_device_message_breaking_the_schema_is_refused_and_not_stored(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    async def run() -> list[str]:
        codes = []
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            for action, payload in [
                ("FirmwareStatusNotification", {"status": "Exploded"}),
                ("SecurityEventNotification", {"type": "X"}),  # no timestamp
                ("DataTransfer", {"vendorId": "v", "data": {"an": "object"}}),  # 1.6: a string
            ]:
                with pytest.raises(CallErrorReceived) as info:
                    await c.call(action, payload)
                codes.append(info.value.code)
        return codes

    assert asyncio.run(run()) == [
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
    ]
    assert events(station) == []


# --- OCPP 2.0.1 ----------------------------------------------------------------------------


def _report_item(component: dict, variable: dict, value: str, **attribute: Any) -> dict:
    return {
        "component": component,
        "variable": variable,
        "variableAttribute": [{"value": value, **attribute}],
        "variableCharacteristics": {
            "dataType": "integer",
            "supportsMonitoring": False,
            "unit": "s",
            "minLimit": 0.5,
        },
    }


def test_ocpp201_notify_report_stores_the_device_model_and_notify_event_updates_it(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]
    heartbeat = ({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"})
    connector = ({"name": "Connector", "evse": {"id": 1, "connectorId": 1}}, {"name": "Available"})
    part1 = {
        "requestId": 5,
        "generatedAt": z(T),
        "seqNo": 0,
        "tbc": True,
        "reportData": [
            _report_item(*heartbeat, "300", mutability="ReadWrite", persistent=True),
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power", "instance": "Max"},
                "variableAttribute": [
                    {"type": "Actual", "value": "22000", "mutability": "ReadOnly"},
                    {"type": "MaxSet", "value": "11000"},
                ],
            },
        ],
    }
    part2 = {
        "requestId": 5,
        "generatedAt": z(T),
        "seqNo": 1,
        "reportData": [_report_item(*connector, "true", mutability="ReadOnly")],
    }
    event = {
        "generatedAt": z(T + timedelta(minutes=5)),
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": z(T + timedelta(minutes=5)),
                "trigger": "Delta",
                "actualValue": "false",
                "eventNotificationType": "HardWiredNotification",
                "component": connector[0],
                "variable": connector[1],
            },
            {
                "eventId": 2,
                "timestamp": z(T + timedelta(minutes=5)),
                "trigger": "Alerting",
                "actualValue": "81",
                "techCode": "T-HOT",
                "cleared": False,
                "eventNotificationType": "HardWiredMonitor",
                "component": {"name": "ChargingStation"},
                "variable": {"name": "Temperature"},
            },
        ],
    }
    answers = talk(
        gateway,
        station,
        "2.0.1",
        [("NotifyReport", part1), ("NotifyReport", part2), ("NotifyEvent", event)],
    )
    assert answers == [{}, {}, {}]
    rows = {
        (
            v.component,
            v.evse_id,
            v.connector_id,
            v.variable,
            v.variable_instance,
            v.attribute_type,
        ): v
        for v in DeviceVariable.objects.filter(charge_station=st)
    }
    assert set(rows) == {
        ("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "", "Actual"),
        ("EVSE", 1, 0, "Power", "Max", "Actual"),
        ("EVSE", 1, 0, "Power", "Max", "MaxSet"),
        ("Connector", 1, 1, "Available", "", "Actual"),
        ("ChargingStation", 0, 0, "Temperature", "", "Actual"),  # first seen in an event
    }
    hb = rows[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "", "Actual")]
    assert (hb.value, hb.mutability, hb.persistent, hb.constant) == (
        "300",
        "ReadWrite",
        True,
        False,
    )
    assert hb.characteristics == {
        "dataType": "integer",
        "supportsMonitoring": False,
        "unit": "s",
        "minLimit": "0.5",
    }
    assert rows[("EVSE", 1, 0, "Power", "Max", "MaxSet")].mutability == "ReadWrite"  # default
    available = rows[("Connector", 1, 1, "Available", "", "Actual")]
    # NotifyEvent changed the value, not what the report said about the variable.
    assert (available.value, available.mutability) == ("false", "ReadOnly")
    assert available.characteristics is not None
    assert available.reported_at == T + timedelta(minutes=5)
    assert [(e.action, e.status, e.request_id) for e in events(station)] == [
        ("NotifyReport", "more to come", 5),
        ("NotifyReport", "last part", 5),
        ("NotifyEvent", "Delta", None),
        ("NotifyEvent", "Alerting", None),
    ]
    alert = events(station, "EVENT")[1]
    assert alert.details["tech_code"] == "T-HOT" and alert.details["actual_value"] == "81"
    assert events(station, "EVENT")[0].evse_ocpp_id == 1
    # A later full report overwrites the values it carries, nothing is duplicated.
    part1_again = {**part1, "requestId": 6, "tbc": False}
    part1_again["reportData"] = [_report_item(*heartbeat, "900", mutability="ReadWrite")]
    talk(gateway, station, "2.0.1", [("NotifyReport", part1_again)])
    hb.refresh_from_db()
    assert (hb.value, hb.report_request_id) == ("900", 6)
    assert DeviceVariable.objects.filter(charge_station=st).count() == 5


SCHEDULE = {
    "id": 1,
    "chargingRateUnit": "W",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
}


def test_ocpp201_notifications_are_answered_and_stored(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("FirmwareStatusNotification", {"status": "Downloading", "requestId": 42}),
        ("FirmwareStatusNotification", {"status": "Downloaded", "requestId": 42}),
        ("FirmwareStatusNotification", {"status": "SignatureVerified", "requestId": 42}),
        ("FirmwareStatusNotification", {"status": "Installing", "requestId": 42}),
        ("FirmwareStatusNotification", {"status": "InstallRebooting", "requestId": 42}),
        ("FirmwareStatusNotification", {"status": "Installed", "requestId": 42}),
        ("LogStatusNotification", {"status": "UploadFailure", "requestId": 3}),
        (
            "SecurityEventNotification",
            {"type": "TamperDetectionActivated", "timestamp": z(T), "techInfo": "door"},
        ),
        ("SignCertificate", {"csr": CSR, "certificateType": "V2GCertificate"}),
        (
            "NotifyChargingLimit",
            {
                "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True},
                "evseId": 1,
                "chargingSchedule": [SCHEDULE],
            },
        ),
        ("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}),
        (
            "ReportChargingProfiles",
            {
                "requestId": 11,
                "chargingLimitSource": "CSO",
                "evseId": 1,
                "chargingProfile": [
                    {
                        "id": 100,
                        "stackLevel": 0,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "chargingSchedule": [{**SCHEDULE, "startSchedule": z(T)}],
                    }
                ],
            },
        ),
        (
            "NotifyEVChargingNeeds",
            {
                "evseId": 1,
                "maxScheduleTuples": 3,
                "chargingNeeds": {
                    "requestedEnergyTransfer": "AC_three_phase",
                    "departureTime": z(T + timedelta(hours=4)),
                    "acChargingParameters": {
                        "energyAmount": 30000,
                        "evMinCurrent": 6,
                        "evMaxCurrent": 32,
                        "evMaxVoltage": 400,
                    },
                },
            },
        ),
        ("NotifyEVChargingSchedule", {"timeBase": z(T), "evseId": 1, "chargingSchedule": SCHEDULE}),
        (
            "NotifyMonitoringReport",
            {
                "requestId": 12,
                "seqNo": 0,
                "generatedAt": z(T),
                "monitor": [
                    {
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Temperature"},
                        "variableMonitoring": [
                            {
                                "id": 1,
                                "transaction": False,
                                "value": 80.5,
                                "type": "UpperThreshold",
                                "severity": 4,
                            }
                        ],
                    }
                ],
            },
        ),
        (
            "NotifyCustomerInformation",
            {
                "data": "token 04AA11BB22CC33: 3 sessions",
                "seqNo": 0,
                "generatedAt": z(T),
                "requestId": 13,
            },
        ),
        ("ReservationStatusUpdate", {"reservationId": 77, "reservationUpdateStatus": "Expired"}),
        (
            "NotifyDisplayMessages",
            {
                "requestId": 14,
                "messageInfo": [
                    {
                        "id": 1,
                        "priority": "NormalCycle",
                        "message": {"format": "UTF8", "content": "Hi"},
                    }
                ],
            },
        ),
        (
            "PublishFirmwareStatusNotification",
            {"status": "Published", "requestId": 15, "location": ["http://lc/fw.bin"]},
        ),
        ("DataTransfer", {"vendorId": "com.example", "messageId": "Soc", "data": {"soc": 81}}),
    ]
    answers = talk(gateway, station, "2.0.1", calls)
    by_action = dict(zip([a for a, _ in calls], answers, strict=False))
    assert by_action["SignCertificate"] == {"status": "Accepted"}
    assert by_action["NotifyEVChargingNeeds"]["status"] == "Rejected"
    assert by_action["NotifyEVChargingSchedule"] == {"status": "Accepted"}
    assert by_action["DataTransfer"] == {"status": "UnknownVendorId"}
    assert [
        (e.kind, e.action, e.status, e.request_id, e.evse_ocpp_id) for e in events(station)
    ] == [
        ("FIRMWARE", "FirmwareStatusNotification", "Downloading", 42, None),
        ("FIRMWARE", "FirmwareStatusNotification", "Downloaded", 42, None),
        ("FIRMWARE", "FirmwareStatusNotification", "SignatureVerified", 42, None),
        ("FIRMWARE", "FirmwareStatusNotification", "Installing", 42, None),
        ("FIRMWARE", "FirmwareStatusNotification", "InstallRebooting", 42, None),
        ("FIRMWARE", "FirmwareStatusNotification", "Installed", 42, None),
        ("LOG", "LogStatusNotification", "UploadFailure", 3, None),
        ("SECURITY", "SecurityEventNotification", "TamperDetectionActivated", None, None),
        ("CERTIFICATE", "SignCertificate", "V2GCertificate", None, None),
        ("CHARGING_LIMIT", "NotifyChargingLimit", "EMS", None, 1),
        ("CHARGING_LIMIT", "ClearedChargingLimit", "EMS", None, 1),
        ("CHARGING_PROFILES", "ReportChargingProfiles", "CSO", 11, 1),
        ("EV_CHARGING", "NotifyEVChargingNeeds", "AC_three_phase", None, 1),
        ("EV_CHARGING", "NotifyEVChargingSchedule", "schedule", None, 1),
        ("MONITORING", "NotifyMonitoringReport", "last part", 12, None),
        ("CUSTOMER_INFORMATION", "NotifyCustomerInformation", "last part", 13, None),
        ("RESERVATION", "ReservationStatusUpdate", "Expired", None, None),
        ("DISPLAY_MESSAGES", "NotifyDisplayMessages", "last part", 14, None),
        ("FIRMWARE", "PublishFirmwareStatusNotification", "Published", 15, None),
        ("DATA_TRANSFER", "DataTransfer", "com.example", None, None),
    ]
    limit = events(station, "CHARGING_LIMIT")[0]
    # Stored as plain JSON, numbers as exact strings.
    assert limit.details["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": "11000.0"}
    ]
    needs = events(station, "EV_CHARGING")[0]
    assert needs.details["chargingNeeds"]["acChargingParameters"]["energyAmount"] == 30000
    assert events(station, "EV_CHARGING")[1].station_timestamp == T
    state = DeviceState.objects.get(charge_station=st)
    # The station's own firmware, not the firmware it publishes to others.
    assert (state.firmware_status, state.firmware_request_id) == ("Installed", 42)
    assert (state.log_status, state.security_event) == ("UploadFailure", "TamperDetectionActivated")
    (request,) = CertificateRequest.objects.filter(charge_station=st)
    assert (request.certificate_type, request.protocol) == ("V2GCertificate", "2.0.1")
    assert events(station, "DATA_TRANSFER")[0].details["data"] == {"soc": 81}
    assert not OcppEvent.objects.filter(charge_station=st).exists()


def test_ocpp201_messages_a_csms_cannot_serve_are_not_supported(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    """Certificate status (OCSP) and ISO 15118 contract certificates need a PKI: the
    station hears NotSupported, not a pretended answer."""

    async def run() -> list[str]:
        codes = []
        async with connect(gateway, station, "ocpp2.0.1") as ws:
            c = OcppClient(ws)
            for action, payload in [
                (
                    "GetCertificateStatus",
                    {
                        "ocspRequestData": {
                            "hashAlgorithm": "SHA256",
                            "issuerNameHash": "a",
                            "issuerKeyHash": "b",
                            "serialNumber": "c",
                            "responderURL": "http://ocsp",
                        }
                    },
                ),
                (
                    "Get15118EVCertificate",
                    {
                        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                        "action": "Install",
                        "exiRequest": "AAAA",
                    },
                ),
            ]:
                with pytest.raises(CallErrorReceived) as info:
                    await c.call(action, payload)
                codes.append(info.value.code)
        return codes

    assert asyncio.run(run()) == ["NotSupported", "NotSupported"]
