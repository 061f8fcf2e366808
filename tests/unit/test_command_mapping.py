"""The protocol-neutral commands mapped to OCPP 1.6 and 2.0.1 payloads: every command of both
versions builds a payload that passes the version's schema, exact payloads for the ones
whose shape differs most, the station's words mapped to statuses, and the JSON round trip
of every command (the relay's wire format)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from apps.locations.contracts import (
    COMMAND_CLASSES,
    CancelReservation,
    CertificateHashData,
    CertificateSigned,
    CertificateUse,
    ChangeAvailability,
    ChangeConfiguration,
    ChargingProfile,
    ChargingSchedule,
    ClearCache,
    ClearChargingProfile,
    CommandKind,
    CommandStatus,
    CompositeSchedule,
    ConfigurationKey,
    DataTransfer,
    DeleteCertificate,
    GetBaseReport,
    GetChargingProfiles,
    GetCompositeSchedule,
    GetConfiguration,
    GetDiagnostics,
    GetInstalledCertificateIds,
    GetLocalListVersion,
    InstallCertificate,
    InstalledCertificates,
    LocalListEntry,
    LocalListVersion,
    ProfileKind,
    ProfilePurpose,
    RateUnit,
    RemoteStart,
    RemoteStop,
    ReportBase,
    ReserveNow,
    Reset,
    SchedulePeriod,
    SendLocalList,
    SetChargingProfile,
    StationCommand,
    TriggerMessage,
    UnlockConnector,
    UpdateFirmware,
    VendorData,
    command_from_json,
    to_json,
)
from csms_gateway import commands

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PERIODS = (SchedulePeriod(0, Decimal("16")), SchedulePeriod(900, Decimal("6.5"), 1))
PROFILE = ChargingProfile(
    id=5, stack_level=1, purpose=ProfilePurpose.TX_DEFAULT, kind=ProfileKind.ABSOLUTE,
    schedule=ChargingSchedule(unit=RateUnit.A, periods=PERIODS),
)  # fmt: skip


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
HASH = CertificateHashData("SHA256", "a1" * 32, "b2" * 32, "1f")
HASH_JSON = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a1" * 32,
    "issuerKeyHash": "b2" * 32,
    "serialNumber": "1f",
}


def examples(v16: bool) -> list[StationCommand]:
    key = ConfigurationKey("HeartbeatInterval", component="" if v16 else "OCPPCommCtrlr")
    return [
        RemoteStart(id_tag="TAG1", evse_id=1, remote_start_id=9, charging_profile=PROFILE),
        RemoteStop(transaction_id="42"),
        Reset(hard=True),
        UnlockConnector(evse_id=1),
        ChangeAvailability(operative=False, evse_id=1),
        GetConfiguration(keys=(key,)),
        ChangeConfiguration(key=key, value="60"),
        TriggerMessage(message="StatusNotification", evse_id=1),
        ClearCache(),
        SendLocalList(
            version=2,
            full=False,
            entries=(LocalListEntry("A", expiry=T), LocalListEntry("B", None)),
        ),
        SetChargingProfile(evse_id=1, profile=PROFILE),
        ClearChargingProfile(evse_id=1, purpose=ProfilePurpose.TX_DEFAULT),
        GetCompositeSchedule(evse_id=1, duration=3600, unit=RateUnit.W),
        UpdateFirmware(location="https://fw.example/a.bin", retrieve_at=T, request_id=3, retries=2),
        GetDiagnostics(location="ftp://logs.example/", request_id=4, start=T),
        ReserveNow(reservation_id=1, expiry=T, id_tag="TAG1", evse_id=1),
        CancelReservation(reservation_id=1),
        CertificateSigned(certificate_chain=PEM),
        InstallCertificate(use=CertificateUse.CSMS_ROOT, certificate=PEM),
        GetInstalledCertificateIds(uses=(CertificateUse.MANUFACTURER_ROOT,)),
        DeleteCertificate(certificate=HASH),
        GetLocalListVersion(),
        DataTransfer(vendor_id="org.example", message_id="Ping", data='{"a":1}'),
        *(
            []
            if v16
            else [
                GetBaseReport(report_base=ReportBase.CONFIGURATION_INVENTORY, request_id=5),
                GetChargingProfiles(
                    request_id=6,
                    evse_id=1,
                    purpose=ProfilePurpose.TX_DEFAULT,
                    profile_ids=(1, 2),
                    sources=("CSO",),
                ),
            ]
        ),
    ]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_every_command_builds_a_schema_valid_payload(version: str) -> None:
    cases = examples(version == "1.6")
    only_201 = commands.ONLY_201 if version == "1.6" else frozenset()
    assert {c.kind for c in cases} == set(CommandKind) - only_201
    for command in cases:
        action, payload = commands.build(version, command)  # validates, or raises
        assert action == commands.MAPPINGS[version][command.kind].action
        assert command_from_json(command.kind, to_json(command)) == command


def test_payloads_per_version() -> None:
    assert commands.build("1.6", SetChargingProfile(evse_id=1, profile=PROFILE))[1] == {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 5,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 16},
                    {"startPeriod": 900, "limit": 6.5, "numberPhases": 1},
                ],
            },
        },
    }
    assert commands.build("2.0.1", SetChargingProfile(evse_id=1, profile=PROFILE))[1] == {
        "evseId": 1,
        "chargingProfile": {
            "id": 5,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 16},
                        {"startPeriod": 900, "limit": 6.5, "numberPhases": 1},
                    ],
                }
            ],
        },
    }
    assert commands.build("1.6", ChangeAvailability(operative=True)) == (
        "ChangeAvailability",
        {"connectorId": 0, "type": "Operative"},
    )
    assert commands.build("2.0.1", ChangeAvailability(operative=True)) == (
        "ChangeAvailability",
        {"operationalStatus": "Operative"},
    )
    assert commands.build("2.0.1", GetDiagnostics(location="ftp://x/", request_id=4))[1] == {
        "log": {"remoteLocation": "ftp://x/"},
        "logType": "DiagnosticsLog",
        "requestId": 4,
    }
    assert commands.build("1.6", SendLocalList(version=2, full=True))[1] == {
        "listVersion": 2,
        "updateType": "Full",
        "localAuthorizationList": [],
    }
    # minItems 1 in 2.0.1: an empty list is left out.
    assert commands.build("2.0.1", SendLocalList(version=2, full=True))[1] == {
        "versionNumber": 2,
        "updateType": "Full",
    }


@pytest.mark.parametrize(
    ("version", "command", "problem"),
    [
        ("1.6", RemoteStop(transaction_id="abc"), "$.transactionId"),
        ("1.6", RemoteStart(id_tag="X" * 21), "$.idTag"),
        ("2.0.1", RemoteStart(id_tag="X"), "$.remoteStartId"),
        ("2.0.1", GetConfiguration(), "$.keys"),
        ("2.0.1", GetConfiguration(keys=(ConfigurationKey("HeartbeatInterval"),)), "$.key"),
        ("1.6", GetConfiguration(keys=(ConfigurationKey("A", component="B"),)), "$.key"),
        (
            "1.6",
            SetChargingProfile(
                evse_id=1,
                profile=PROFILE.__class__(
                    id=1,
                    stack_level=0,
                    purpose=ProfilePurpose.TX,
                    kind=ProfileKind.ABSOLUTE,
                    schedule=ChargingSchedule(
                        unit=RateUnit.W, periods=(SchedulePeriod(0, Decimal("7.45")),)
                    ),
                ),
            ),
            "limit",
        ),  # fmt: skip
        ("1.5", RemoteStart(id_tag="X" * 21), "$.idTag"),  # the project's 1.5 schemas
    ],
)
def test_what_a_version_cannot_express_is_refused(
    version: str, command: StationCommand, problem: str
) -> None:
    with pytest.raises(commands.Invalid) as info:
        commands.build(version, command)
    assert problem in str(info.value)


def test_ocpp_15_commands_are_built_from_the_16_rows_and_checked_against_15() -> None:
    assert commands.build("1.5", ClearCache()) == ("ClearCache", {})
    assert commands.build("1.5", RemoteStart(id_tag="ABC", evse_id=1)) == (
        "RemoteStartTransaction",
        {"connectorId": 1, "idTag": "ABC"},
    )


def test_ocpp_15_local_list_has_its_own_spelling() -> None:
    entries = (LocalListEntry("A", expiry=T), LocalListEntry("B", None))
    assert commands.build("1.5", SendLocalList(version=2, full=False, entries=entries)) == (
        "SendLocalList",
        {
            "listVersion": 2,
            "updateType": "Differential",
            "localAuthorisationList": [
                {
                    "idTag": "A",
                    "idTagInfo": {"status": "Accepted", "expiryDate": "2026-03-01T12:00:00.000Z"},
                },
                {"idTag": "B"},
            ],
        },
    )


def test_a_version_without_the_command_is_not_supported() -> None:
    with pytest.raises(LookupError):
        commands.build("1.5", GetCompositeSchedule(evse_id=1, duration=60))
    assert CommandKind.TRIGGER_MESSAGE not in commands.MAPPINGS["1.5"]


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"status": "Accepted"}, CommandStatus.ACCEPTED),
        ({"status": "Scheduled"}, CommandStatus.ACCEPTED),
        ({"status": "RebootRequired"}, CommandStatus.ACCEPTED),
        ({"status": "Unlocked"}, CommandStatus.ACCEPTED),
        ({"status": "Rejected"}, CommandStatus.REJECTED),
        ({"status": "Occupied"}, CommandStatus.REJECTED),
        ({"status": "NotSupported"}, CommandStatus.NOT_SUPPORTED),
        ({"status": "NotImplemented"}, CommandStatus.NOT_SUPPORTED),
        ({"status": "UnlockFailed"}, CommandStatus.FAILED),
        ({"status": "SomethingNew"}, CommandStatus.REJECTED),
    ],
)
def test_station_words(answer: dict[str, Any], status: CommandStatus) -> None:
    parsed = commands.by_status(answer)
    assert (parsed.status, parsed.station_status) == (status, answer["status"])


def test_composite_schedule_answers_are_parsed_exactly() -> None:
    parse = commands.MAPPINGS["1.6"][CommandKind.GET_COMPOSITE_SCHEDULE].parse
    parsed = parse(
        {
            "status": "Accepted",
            "connectorId": 1,
            "scheduleStart": "2026-03-01T12:00:00Z",
            "chargingSchedule": {
                "duration": 600,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": Decimal("7400.0")},
                    {"startPeriod": 300, "limit": Decimal("3680.5")},
                ],
            },
        }
    )
    assert parsed.status is CommandStatus.ACCEPTED
    assert isinstance(parsed.data, CompositeSchedule)
    assert parsed.data.start == T
    assert parsed.data.schedule is not None
    assert [(p.start_period, p.limit) for p in parsed.data.schedule.periods] == [
        (0, Decimal("7400.0")),
        (300, Decimal("3680.5")),
    ]
    assert set(COMMAND_CLASSES) == set(CommandKind)


def test_certificate_commands_per_version() -> None:
    assert commands.build("1.6", CertificateSigned(certificate_chain=PEM)) == (
        "CertificateSigned",
        {"certificateChain": PEM},
    )
    assert commands.build("2.0.1", CertificateSigned(certificate_chain=PEM)) == (
        "CertificateSigned",
        {"certificateChain": PEM, "certificateType": "ChargingStationCertificate"},
    )
    install = InstallCertificate(use=CertificateUse.CSMS_ROOT, certificate=PEM)
    assert commands.build("1.6", install)[1] == {
        "certificateType": "CentralSystemRootCertificate",
        "certificate": PEM,
    }
    assert commands.build("2.0.1", install)[1] == {
        "certificateType": "CSMSRootCertificate",
        "certificate": PEM,
    }
    # 2.0.1: no type asks for all of them; 1.6 names exactly one.
    assert commands.build("2.0.1", GetInstalledCertificateIds())[1] == {}
    assert commands.build(
        "2.0.1", GetInstalledCertificateIds(uses=(CertificateUse.V2G_ROOT, CertificateUse.MO_ROOT))
    )[1] == {"certificateType": ["V2GRootCertificate", "MORootCertificate"]}
    assert commands.build("1.6", DeleteCertificate(certificate=HASH)) == (
        "DeleteCertificate",
        {"certificateHashData": HASH_JSON},
    )
    assert commands.build("2.0.1", DeleteCertificate(certificate=HASH))[1] == {
        "certificateHashData": HASH_JSON
    }


@pytest.mark.parametrize(
    ("version", "command", "problem"),
    [
        ("1.6", GetInstalledCertificateIds(), "exactly one"),
        ("1.6", InstallCertificate(use=CertificateUse.V2G_ROOT, certificate=PEM), "V2G_ROOT"),
        ("1.6", CertificateSigned(certificate_chain="x" * 10001), "$.certificateChain"),
        (  # a chain is reported, never installed: the schema refuses it
            "2.0.1",
            InstallCertificate(use=CertificateUse.V2G_CHAIN, certificate=PEM),
            "$.certificateType",
        ),
    ],
)
def test_certificate_commands_a_version_cannot_express(
    version: str, command: StationCommand, problem: str
) -> None:
    with pytest.raises(commands.Invalid) as info:
        commands.build(version, command)
    assert problem in str(info.value)


def test_a_certificate_renewal_is_triggered_in_each_version() -> None:
    for message in ("SignChargingStationCertificate", "SignChargePointCertificate"):
        assert commands.build("1.6", TriggerMessage(message=message)) == (
            "ExtendedTriggerMessage",  # the 1.6 security extension's own message
            {"requestedMessage": "SignChargePointCertificate"},
        )
        assert commands.build("2.0.1", TriggerMessage(message=message)) == (
            "TriggerMessage",
            {"requestedMessage": "SignChargingStationCertificate"},
        )
    # The plain 1.6 messages stay TriggerMessage.
    assert commands.build("1.6", TriggerMessage(message="LogStatusNotification")) == (
        "TriggerMessage",
        {"requestedMessage": "DiagnosticsStatusNotification"},
    )


def test_ocpp_15_has_no_certificate_commands() -> None:
    for command in (
        CertificateSigned(certificate_chain=PEM),
        GetInstalledCertificateIds(uses=(CertificateUse.CSMS_ROOT,)),
        DeleteCertificate(certificate=HASH),
    ):
        with pytest.raises(LookupError):
            commands.build("1.5", command)


def test_installed_certificate_answers_are_parsed() -> None:
    parse16 = commands.MAPPINGS["1.6"][CommandKind.GET_INSTALLED_CERTIFICATE_IDS].parse
    parsed = parse16({"status": "Accepted", "certificateHashData": [HASH_JSON]})
    assert (parsed.status, parsed.station_status) == (CommandStatus.ACCEPTED, "Accepted")
    assert parsed.data == InstalledCertificates((HASH,))
    # NotFound: none of that type installed, an empty list (not a refusal).
    parsed = parse16({"status": "NotFound"})
    assert (parsed.status, parsed.data) == (CommandStatus.ACCEPTED, InstalledCertificates(()))
    child = {**HASH_JSON, "serialNumber": "20"}
    parsed = commands.MAPPINGS["2.0.1"][CommandKind.GET_INSTALLED_CERTIFICATE_IDS].parse(
        {
            "status": "Accepted",
            "certificateHashDataChain": [
                {
                    "certificateType": "V2GCertificateChain",
                    "certificateHashData": HASH_JSON,
                    "childCertificateHashData": [child],
                },
                {"certificateType": "CSMSRootCertificate", "certificateHashData": HASH_JSON},
            ],
        }
    )
    assert parsed.data == InstalledCertificates(
        (
            CertificateHashData("SHA256", "a1" * 32, "b2" * 32, "1f", CertificateUse.V2G_CHAIN),
            CertificateHashData("SHA256", "a1" * 32, "b2" * 32, "20", CertificateUse.V2G_CHAIN),
            CertificateHashData("SHA256", "a1" * 32, "b2" * 32, "1f", CertificateUse.CSMS_ROOT),
        )
    )
    delete = commands.MAPPINGS["2.0.1"][CommandKind.DELETE_CERTIFICATE].parse
    assert delete({"status": "NotFound"}).status is CommandStatus.REJECTED
    assert delete({"status": "Failed"}).status is CommandStatus.FAILED
    assert delete({"status": "Accepted"}).status is CommandStatus.ACCEPTED


def test_local_list_version_and_data_transfer_in_every_version() -> None:
    for version in ("1.5", "1.6", "2.0.1"):
        assert commands.build(version, GetLocalListVersion()) == ("GetLocalListVersion", {})
        assert commands.build(version, DataTransfer(vendor_id="org.example")) == (
            "DataTransfer",
            {"vendorId": "org.example"},
        )
        assert commands.build(
            version, DataTransfer(vendor_id="org.example", message_id="Ping", data="x")
        ) == ("DataTransfer", {"vendorId": "org.example", "messageId": "Ping", "data": "x"})
    # 1.x: listVersion, -1 reserved for "no local list support"; 2.0.1: versionNumber.
    for version in ("1.5", "1.6"):
        parse1x = commands.MAPPINGS[version][CommandKind.GET_LOCAL_LIST_VERSION].parse
        assert parse1x({"listVersion": 3}) == commands.Parsed(
            CommandStatus.ACCEPTED, "", LocalListVersion(3)
        )
        assert parse1x({"listVersion": 0}).data == LocalListVersion(0)  # no list
        unsupported = parse1x({"listVersion": -1})
        assert (unsupported.status, unsupported.station_status, unsupported.data) == (
            CommandStatus.NOT_SUPPORTED,
            "",
            None,
        )
        assert unsupported.message == "the station has no local authorization list"
    parse201 = commands.MAPPINGS["2.0.1"][CommandKind.GET_LOCAL_LIST_VERSION].parse
    assert parse201({"versionNumber": 0}).data == LocalListVersion(0)


@pytest.mark.parametrize(
    ("version", "answer", "status", "data"),
    [
        ("1.6", {"status": "Accepted", "data": "1234"}, CommandStatus.ACCEPTED, "1234"),
        ("1.6", {"status": "Accepted"}, CommandStatus.ACCEPTED, None),
        ("1.6", {"status": "Rejected"}, CommandStatus.REJECTED, None),
        ("1.6", {"status": "UnknownVendorId"}, CommandStatus.NOT_SUPPORTED, None),
        ("1.5", {"status": "UnknownMessageId"}, CommandStatus.NOT_SUPPORTED, None),
        # 2.0.1 data may be any JSON: kept as compact JSON text, keys sorted, numbers exact.
        (
            "2.0.1",
            {"status": "Accepted", "data": {"b": Decimal("1.5"), "a": [1, "x"]}},
            CommandStatus.ACCEPTED,
            '{"a":[1,"x"],"b":1.5}',
        ),
        ("2.0.1", {"status": "Accepted", "data": "plain"}, CommandStatus.ACCEPTED, "plain"),
    ],
)
def test_data_transfer_answers(
    version: str, answer: dict[str, Any], status: CommandStatus, data: str | None
) -> None:
    parsed = commands.MAPPINGS[version][CommandKind.DATA_TRANSFER].parse(answer)
    assert (parsed.status, parsed.station_status, parsed.data) == (
        status,
        answer["status"],
        VendorData(data),
    )


def test_base_report_and_charging_profiles_are_201_only() -> None:
    assert commands.build(
        "2.0.1", GetBaseReport(report_base=ReportBase.SUMMARY_INVENTORY, request_id=5)
    ) == ("GetBaseReport", {"requestId": 5, "reportBase": "SummaryInventory"})
    # No criteria: an empty criterion object (matches every profile).
    assert commands.build("2.0.1", GetChargingProfiles(request_id=6)) == (
        "GetChargingProfiles",
        {"requestId": 6, "chargingProfile": {}},
    )
    assert commands.build(
        "2.0.1",
        GetChargingProfiles(
            request_id=6, evse_id=0, purpose=ProfilePurpose.STATION_MAX, stack_level=2
        ),
    ) == (
        "GetChargingProfiles",
        {
            "requestId": 6,
            "evseId": 0,
            "chargingProfile": {
                "chargingProfilePurpose": "ChargingStationMaxProfile",
                "stackLevel": 2,
            },
        },
    )
    for what, command in (
        ("GetBaseReport", GetBaseReport()),
        ("GetChargingProfiles", GetChargingProfiles()),
    ):
        with pytest.raises(
            commands.Invalid, match=rf"\$\.requestId: required by OCPP 2\.0\.1 {what}"
        ):
            commands.build("2.0.1", command)
        for version in ("1.5", "1.6"):
            with pytest.raises(LookupError, match=f"OCPP {version} has no"):
                commands.build(version, command)
    parse = commands.MAPPINGS["2.0.1"][CommandKind.GET_BASE_REPORT].parse
    assert parse({"status": "EmptyResultSet"}).status is CommandStatus.ACCEPTED
    assert parse({"status": "NotSupported"}).status is CommandStatus.NOT_SUPPORTED
    parse = commands.MAPPINGS["2.0.1"][CommandKind.GET_CHARGING_PROFILES].parse
    assert (
        parse({"status": "NoProfiles"}).status,
        parse({"status": "NoProfiles"}).station_status,
    ) == (
        CommandStatus.ACCEPTED,
        "NoProfiles",
    )
