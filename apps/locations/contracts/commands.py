"""Remote commands: protocol-neutral requests, the station's answers, and their outcome.

The commands, the answers and the values inside them travel as JSON (the command relay to the
gateway node, the command log's row): they are `msgspec.Struct`s (frozen, unknown fields
refused), coded by `apps.locations.contracts.codec`. Everything else in the contracts is a
frozen dataclass (ADR 0025)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import msgspec


class Wire(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A value that travels as JSON: immutable, and a field this code does not know is an
    error (a newer caller's option must not be dropped silently)."""


class CommandType(enum.StrEnum):
    """Remote commands an integrator may send to a station (OCPI 2.2.1 CommandType plus the
    OCPP-only ones)."""

    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    RESET = "RESET"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    CHANGE_AVAILABILITY = "CHANGE_AVAILABILITY"


@dataclass(frozen=True, slots=True)
class CommandRequest:
    type: CommandType
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the station answered (OCPI CommandResultType values)."""

    id: str
    type: CommandType
    result: str  # ACCEPTED | REJECTED | TIMEOUT | ...
    message: str


# --- Remote commands: protocol-neutral requests and answers ----------------------------------
#
# Callers (portal, REST API, tasks) build one of the commands below and call
# `apps.locations.api.charge_station_command`. The gateway node holding the station's socket
# maps it to the station's OCPP version (`csms_gateway.commands`, one table per version),
# validates the payload against the OCPP schema, sends it and parses the answer.


class CommandKind(enum.StrEnum):
    REMOTE_START = "REMOTE_START"  # 1.x RemoteStartTransaction, 2.0.1 RequestStartTransaction
    REMOTE_STOP = "REMOTE_STOP"  # 1.x RemoteStopTransaction, 2.0.1 RequestStopTransaction
    RESET = "RESET"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    CHANGE_AVAILABILITY = "CHANGE_AVAILABILITY"
    GET_CONFIGURATION = "GET_CONFIGURATION"  # 2.0.1 GetVariables
    CHANGE_CONFIGURATION = "CHANGE_CONFIGURATION"  # 2.0.1 SetVariables
    TRIGGER_MESSAGE = "TRIGGER_MESSAGE"
    CLEAR_CACHE = "CLEAR_CACHE"
    SEND_LOCAL_LIST = "SEND_LOCAL_LIST"
    SET_CHARGING_PROFILE = "SET_CHARGING_PROFILE"
    CLEAR_CHARGING_PROFILE = "CLEAR_CHARGING_PROFILE"
    GET_COMPOSITE_SCHEDULE = "GET_COMPOSITE_SCHEDULE"
    UPDATE_FIRMWARE = "UPDATE_FIRMWARE"
    GET_DIAGNOSTICS = "GET_DIAGNOSTICS"  # 2.0.1 GetLog
    RESERVE_NOW = "RESERVE_NOW"
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    # Certificates: 1.6 security extension and 2.0.1 (docs/gateway.md "Certificates").
    CERTIFICATE_SIGNED = "CERTIFICATE_SIGNED"
    INSTALL_CERTIFICATE = "INSTALL_CERTIFICATE"
    GET_INSTALLED_CERTIFICATE_IDS = "GET_INSTALLED_CERTIFICATE_IDS"
    DELETE_CERTIFICATE = "DELETE_CERTIFICATE"
    GET_LOCAL_LIST_VERSION = "GET_LOCAL_LIST_VERSION"
    DATA_TRANSFER = "DATA_TRANSFER"  # CSMS → station (a vendor extension)
    GET_BASE_REPORT = "GET_BASE_REPORT"  # 2.0.1 only: the station answers with NotifyReport
    GET_CHARGING_PROFILES = "GET_CHARGING_PROFILES"  # 2.0.1 only: ReportChargingProfiles


class CommandStatus(enum.StrEnum):
    """The outcome of a command, whatever the protocol. The station's own word (Scheduled,
    RebootRequired, Unlocked, Occupied, ...) is kept next to it as `station_status`."""

    PENDING = "PENDING"  # recorded, no outcome yet (or the caller died waiting)
    ACCEPTED = "ACCEPTED"  # also Scheduled, RebootRequired, Unlocked, AcceptedCanceled
    REJECTED = "REJECTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"  # by the station, or by its OCPP version
    FAILED = "FAILED"  # a CALLERROR, an unusable answer, or the station failed to do it
    OFFLINE = "OFFLINE"  # no gateway node holds a connection to the station
    TIMEOUT = "TIMEOUT"  # no answer within the timeout


class ProfilePurpose(enum.StrEnum):
    STATION_MAX = "STATION_MAX"  # 1.x ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile
    TX_DEFAULT = "TX_DEFAULT"
    TX = "TX"


class ProfileKind(enum.StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RateUnit(enum.StrEnum):
    W = "W"
    A = "A"


class SchedulePeriod(Wire, frozen=True):
    start_period: int  # seconds from the start of the schedule
    limit: Decimal  # in the schedule's unit (W or A)
    number_phases: int | None = None


class ChargingSchedule(Wire, frozen=True):
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    id: int = 1  # 2.0.1 only
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: Decimal | None = None


class ChargingProfile(Wire, frozen=True):
    id: int
    stack_level: int
    purpose: ProfilePurpose
    kind: ProfileKind
    schedule: ChargingSchedule
    recurrency: str | None = None  # Daily | Weekly
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # TX profiles only


class ConfigurationKey(Wire, frozen=True):
    """A 1.x configuration key (`name`), or a 2.0.1 variable of a component."""

    name: str
    component: str = ""  # 2.0.1: required (e.g. OCPPCommCtrlr); 1.x: must be empty
    instance: str = ""
    evse_id: int | None = None


class LocalListEntry(Wire, frozen=True):
    id_tag: str
    status: str | None = "Accepted"  # None: remove the entry (differential update)
    expiry: datetime | None = None
    parent_id_tag: str = ""
    token_type: str = "ISO14443"  # 2.0.1 IdTokenEnumType


class RemoteStart(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.REMOTE_START
    id_tag: str
    evse_id: int | None = None
    remote_start_id: int | None = None  # 2.0.1 (required there: generated when None)
    token_type: str = "ISO14443"
    charging_profile: ChargingProfile | None = None


class RemoteStop(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.REMOTE_STOP
    transaction_id: str  # the OCPP transaction id (1.x: digits)


class Reset(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.RESET
    hard: bool = False  # 1.x Hard / Soft; 2.0.1 Immediate / OnIdle
    evse_id: int | None = None  # 2.0.1 only


class UnlockConnector(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.UNLOCK_CONNECTOR
    evse_id: int  # 1.x: the connectorId
    connector_id: int = 1  # 2.0.1 only


class ChangeAvailability(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CHANGE_AVAILABILITY
    operative: bool
    evse_id: int | None = None  # None: the whole station (1.x connectorId 0)
    connector_id: int | None = None  # 2.0.1 only


class GetConfiguration(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.GET_CONFIGURATION
    keys: tuple[ConfigurationKey, ...] = ()  # empty: all keys (1.x only)


class ChangeConfiguration(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CHANGE_CONFIGURATION
    key: ConfigurationKey
    value: str


class TriggerMessage(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.TRIGGER_MESSAGE
    # An OCPP message name; DiagnosticsStatusNotification and LogStatusNotification, and
    # SignChargePointCertificate and SignChargingStationCertificate (a certificate renewal;
    # 1.6: ExtendedTriggerMessage of the security extension) are mapped onto each other
    # between 1.6 and 2.0.1.
    message: str
    evse_id: int | None = None
    connector_id: int | None = None  # 2.0.1 only


class ClearCache(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CLEAR_CACHE


class SendLocalList(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.SEND_LOCAL_LIST
    version: int
    full: bool
    entries: tuple[LocalListEntry, ...] = ()


class SetChargingProfile(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.SET_CHARGING_PROFILE
    evse_id: int  # 0: the whole station
    profile: ChargingProfile


class ClearChargingProfile(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CLEAR_CHARGING_PROFILE
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None


class GetCompositeSchedule(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.GET_COMPOSITE_SCHEDULE
    evse_id: int
    duration: int  # seconds
    unit: RateUnit | None = None


class UpdateFirmware(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.UPDATE_FIRMWARE
    location: str  # URL of the firmware image
    retrieve_at: datetime
    request_id: int | None = None  # 2.0.1 (required there: generated when None)
    retries: int | None = None
    retry_interval: int | None = None
    install_at: datetime | None = None  # 2.0.1 only
    signing_certificate: str = ""  # 2.0.1 only
    signature: str = ""  # 2.0.1 only


class GetDiagnostics(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.GET_DIAGNOSTICS
    location: str  # URL to upload to
    request_id: int | None = None  # 2.0.1 GetLog (required there: generated when None)
    start: datetime | None = None
    stop: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    log_type: str = "DiagnosticsLog"  # 2.0.1 DiagnosticsLog | SecurityLog


class ReserveNow(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.RESERVE_NOW
    reservation_id: int
    expiry: datetime
    id_tag: str
    evse_id: int | None = None  # None: any EVSE (1.x connectorId 0)
    parent_id_tag: str = ""
    token_type: str = "ISO14443"


class CancelReservation(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CANCEL_RESERVATION
    reservation_id: int


class CertificateUse(enum.StrEnum):
    """What an installed (root) certificate is for."""

    CSMS_ROOT = "CSMS_ROOT"  # 1.6 CentralSystemRootCertificate, 2.0.1 CSMSRootCertificate
    MANUFACTURER_ROOT = "MANUFACTURER_ROOT"
    V2G_ROOT = "V2G_ROOT"  # 2.0.1 only
    MO_ROOT = "MO_ROOT"  # 2.0.1 only
    V2G_CHAIN = "V2G_CHAIN"  # 2.0.1 GetInstalledCertificateIds only (V2GCertificateChain)


class CertificateHashData(Wire, frozen=True):
    """Names one certificate (OCPP CertificateHashDataType): hashes are hex strings."""

    hash_algorithm: str  # SHA256 | SHA384 | SHA512
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str  # hex, without leading zeroes
    use: CertificateUse | None = None  # in answers: what the station said it is for


class CertificateSigned(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.CERTIFICATE_SIGNED
    certificate_chain: str  # PEM: the station's certificate first, then intermediates
    certificate_type: str = "ChargingStationCertificate"  # 2.0.1 only (or V2GCertificate)


class InstallCertificate(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.INSTALL_CERTIFICATE
    use: CertificateUse
    certificate: str  # PEM


class GetInstalledCertificateIds(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.GET_INSTALLED_CERTIFICATE_IDS
    uses: tuple[CertificateUse, ...] = ()  # 1.6: exactly one; 2.0.1: empty means all


class DeleteCertificate(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.DELETE_CERTIFICATE
    certificate: CertificateHashData


class GetLocalListVersion(Wire, frozen=True):
    kind: ClassVar[CommandKind] = CommandKind.GET_LOCAL_LIST_VERSION


class DataTransfer(Wire, frozen=True):
    """A vendor-specific message to the station (1.x `data` is a string; 2.0.1 allows any
    JSON, we send the string)."""

    kind: ClassVar[CommandKind] = CommandKind.DATA_TRANSFER
    vendor_id: str
    message_id: str = ""
    data: str | None = None


class ReportBase(enum.StrEnum):
    """What a 2.0.1 GetBaseReport asks for (the OCPP words)."""

    CONFIGURATION_INVENTORY = "ConfigurationInventory"
    FULL_INVENTORY = "FullInventory"
    SUMMARY_INVENTORY = "SummaryInventory"


class GetBaseReport(Wire, frozen=True):
    """2.0.1: the station reports its device model in NotifyReport messages (stored by
    `apps.devices`, appended to this command's progress)."""

    kind: ClassVar[CommandKind] = CommandKind.GET_BASE_REPORT
    report_base: ReportBase = ReportBase.FULL_INVENTORY
    request_id: int | None = None  # required by 2.0.1: the audit row's id when None


class GetChargingProfiles(Wire, frozen=True):
    """2.0.1: the station reports the profiles that match in ReportChargingProfiles
    messages (stored by `apps.devices`, appended to this command's progress). Every
    criterion left empty matches all."""

    kind: ClassVar[CommandKind] = CommandKind.GET_CHARGING_PROFILES
    request_id: int | None = None  # required by 2.0.1: the audit row's id when None
    evse_id: int | None = None  # 0: the station's own profiles; None: every EVSE
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None
    profile_ids: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()  # chargingLimitSource: EMS, Other, SO, CSO


StationCommand = (
    RemoteStart
    | RemoteStop
    | Reset
    | UnlockConnector
    | ChangeAvailability
    | GetConfiguration
    | ChangeConfiguration
    | TriggerMessage
    | ClearCache
    | SendLocalList
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
    | UpdateFirmware
    | GetDiagnostics
    | ReserveNow
    | CancelReservation
    | CertificateSigned
    | InstallCertificate
    | GetInstalledCertificateIds
    | DeleteCertificate
    | GetLocalListVersion
    | DataTransfer
    | GetBaseReport
    | GetChargingProfiles
)
COMMAND_CLASSES: dict[CommandKind, type[StationCommand]] = {
    cls.kind: cls
    for cls in (
        RemoteStart,
        RemoteStop,
        Reset,
        UnlockConnector,
        ChangeAvailability,
        GetConfiguration,
        ChangeConfiguration,
        TriggerMessage,
        ClearCache,
        SendLocalList,
        SetChargingProfile,
        ClearChargingProfile,
        GetCompositeSchedule,
        UpdateFirmware,
        GetDiagnostics,
        ReserveNow,
        CancelReservation,
        CertificateSigned,
        InstallCertificate,
        GetInstalledCertificateIds,
        DeleteCertificate,
        GetLocalListVersion,
        DataTransfer,
        GetBaseReport,
        GetChargingProfiles,
    )
}


# What a station answers, parsed (beyond its status).


class ConfigurationValue(Wire, frozen=True):
    key: ConfigurationKey
    value: str | None
    readonly: bool | None = None  # 1.x
    status: str = "Accepted"  # 2.0.1 attributeStatus


class ConfigurationReport(Wire, frozen=True):
    values: tuple[ConfigurationValue, ...]
    unknown: tuple[ConfigurationKey, ...] = ()


class CompositeSchedule(Wire, frozen=True):
    evse_id: int | None
    start: datetime | None
    schedule: ChargingSchedule | None


class LogUpload(Wire, frozen=True):
    file_name: str  # empty: nothing to upload


class RemoteStarted(Wire, frozen=True):
    transaction_id: str  # 2.0.1 when the station already has one


class ConfigurationChanged(Wire, frozen=True):
    reboot_required: bool


class InstalledCertificates(Wire, frozen=True):
    certificates: tuple[CertificateHashData, ...]  # empty: none (the station's NotFound)


class LocalListVersion(Wire, frozen=True):
    version: int  # 0: no list (or an empty one)


class VendorData(Wire, frozen=True):
    data: str | None  # what a DataTransfer's answer carried (2.0.1 JSON as JSON text)


CommandAnswer = (
    ConfigurationReport
    | CompositeSchedule
    | LogUpload
    | RemoteStarted
    | ConfigurationChanged
    | InstalledCertificates
    | LocalListVersion
    | VendorData
)
ANSWER_CLASSES: dict[str, type[CommandAnswer]] = {
    cls.__name__: cls
    for cls in (
        ConfigurationReport,
        CompositeSchedule,
        LogUpload,
        RemoteStarted,
        ConfigurationChanged,
        InstalledCertificates,
        LocalListVersion,
        VendorData,
    )
}


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """A command and what became of it (also the audit record the portal lists)."""

    id: int  # the audit row
    station_id: int
    kind: CommandKind
    status: CommandStatus
    station_status: str  # the station's word, or the CALLERROR code
    message: str
    data: CommandAnswer | None
    request: dict[str, Any]  # the neutral command, JSON-ready
    ocpp_action: str
    ocpp_request: dict[str, Any] | None  # the payload as sent
    response: dict[str, Any] | None  # the station's payload as received
    protocol: str
    gateway_node: str
    requested_by: str
    requested_at: datetime
    answered_at: datetime | None
    progress: tuple[dict[str, Any], ...] = ()  # later status notifications (firmware, logs)
