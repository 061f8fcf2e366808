"""Shapes other apps and outer layers see of locations and charge stations."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class ConnectorStandard(enum.StrEnum):
    """OCPI 2.2.1 ConnectorType."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class ConnectorFormat(enum.StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class PowerType(enum.StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class EvseStatus(enum.StrEnum):
    """OCPI 2.2.1 Status."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class ParkingType(enum.StrEnum):
    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class OcppVersion(enum.StrEnum):
    V15 = "1.5"
    V16 = "1.6"
    V201 = "2.0.1"


class SecurityProfile(enum.IntEnum):
    """OCPP security profiles (OCPP 1.6 security whitepaper / OCPP 2.0.1 part 2 A00)."""

    BASIC = 1  # HTTP Basic authentication, no TLS
    TLS_BASIC = 2  # TLS with server certificate + HTTP Basic authentication
    TLS_CLIENT_CERT = 3  # mutual TLS: the station presents a client certificate


class Connectivity(enum.StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class ConnectorRef:
    id: int
    connector_id: str
    evse_id: int
    evse_uid: str
    location_id: int
    standard: ConnectorStandard
    power_type: PowerType
    max_electric_power: int | None
    # OCPI CdrLocation needs both: the EVSE's `evse_id` (eMI3, printed on it; its `uid` when
    # none is set) and the connector's format.
    evse_ocpi_evse_id: str
    format: ConnectorFormat


@dataclass(frozen=True, slots=True)
class ChargeStationAuth:
    """What the gateway needs at the handshake, and nothing more."""

    id: int
    tenant_id: int
    identity: str
    security_profile: SecurityProfile
    password_hash: str
    client_cert_fingerprint: str
    enabled: bool
    # OCPP versions ("1.5", "1.6", "2.0.1") the station may use; empty: any enabled one.
    ocpp_versions: tuple[str, ...] = ()
    # A newly issued client certificate, admitted too until it replaces the pinned one.
    client_cert_fingerprint_next: str = ""


@dataclass(frozen=True, slots=True)
class ConnectorRecord:
    id: str
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class EvseRecord:
    uid: str
    evse_id: str
    status: str
    capabilities: tuple[str, ...]
    floor_level: str
    physical_reference: str
    charge_station_id: int | None
    ocpp_evse_id: int | None
    connectors: tuple[ConnectorRecord, ...]
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """OCPI 2.2.1 Location with its EVSEs and connectors, plus the platform id."""

    platform_id: int
    country_code: str
    party_id: str
    id: str
    publish: bool
    name: str
    address: str
    city: str
    postal_code: str
    state: str
    country: str
    latitude: Decimal
    longitude: Decimal
    time_zone: str
    parking_type: str
    opening_times: dict[str, Any] | None
    charging_when_closed: bool
    evses: tuple[EvseRecord, ...]
    last_updated: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class EvseMapping:
    """Which OCPP evseId (1-based) of a station is which OCPI EVSE."""

    evse_uid: str
    ocpp_evse_id: int


@dataclass(frozen=True, slots=True)
class ChargeStationRecord:
    id: int
    identity: str
    location_id: int | None
    vendor: str
    model: str
    serial_number: str
    firmware_version: str
    ocpp_version: str
    security_profile: SecurityProfile
    enabled: bool
    connectivity: Connectivity
    last_seen_at: datetime | None
    evses: tuple[EvseMapping, ...]
    last_updated: datetime
    etag: str
    # More than STATION_UNSTABLE_CONNECTS connections within STATION_UNSTABLE_WINDOW_SECONDS.
    unstable: bool = False


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


@dataclass(frozen=True, slots=True)
class StationContext:
    """What a session needs to know of its station at start: time zone, the CPO party and
    the OCPI location snapshot a CDR carries."""

    station_id: int
    tenant_id: int
    identity: str
    location_id: int | None
    time_zone: str | None
    cpo_party_id: int | None  # parties.Party pk
    country_code: str
    party_code: str
    cdr_location: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class EvseStatusReport:
    """One OCPP StatusNotification as the gateway received it (connector 0 / no EVSE id:
    the whole station)."""

    tenant_id: int
    station_id: int
    evse_ocpp_id: int
    connector_ocpp_id: int | None
    ocpp_status: str
    station_timestamp: datetime


class StationState(enum.StrEnum):
    """What an operator sees first about a station (derived, see `station_rows`)."""

    AVAILABLE = "available"  # online, no EVSE charging or faulted
    CHARGING = "charging"  # online, some EVSE charging
    FAULTED = "faulted"  # online, some EVSE out of order or inoperative
    OFFLINE = "offline"  # not connected (or never connected)


@dataclass(frozen=True, slots=True)
class StationRow:
    id: int
    identity: str
    location_id: int | None
    location_name: str
    vendor: str
    model: str
    firmware_version: str
    ocpp_version: str
    security_profile: int
    connectivity: str
    last_seen_at: datetime | None
    state: StationState
    unstable: bool  # see ConnectivityReport
    connects_in_window: int
    evses_total: int
    evses_charging: int
    evses_faulted: int


@dataclass(frozen=True, slots=True)
class StationDetail:
    row: StationRow
    serial_number: str
    enabled: bool
    last_boot_at: datetime | None
    time_zone: str | None
    address: str
    evses: tuple[EvseRecord, ...]
    history: tuple[ConnectionEventRecord, ...]


@dataclass(frozen=True, slots=True)
class LocationRow:
    id: int
    ocpi_id: str
    name: str
    address: str
    postal_code: str
    city: str
    country: str
    time_zone: str
    party: str
    evses: int
    stations: int


# --- Connectivity ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BootIn:
    """A BootNotification's facts about the station."""

    station_id: int
    vendor: str
    model: str
    serial_number: str
    firmware_version: str
    ocpp_version: str
    at: datetime


class ConnectionEventKind(enum.StrEnum):
    CONNECTED = "CONNECTED"  # the websocket opened (what the "unstable" rule counts)
    DISCONNECTED = "DISCONNECTED"
    BOOTED = "BOOTED"  # a BootNotification on the open connection


@dataclass(frozen=True, slots=True)
class ConnectionEventIn:
    """A station's websocket opened or closed on a gateway node. `connection_id` names one
    connection: a close only marks the station offline if it closes the connection the
    station is known by (a reconnect on another node may have been recorded first)."""

    station_id: int
    tenant_id: int
    kind: ConnectionEventKind
    at: datetime
    node: str
    connection_id: str
    protocol: str = ""
    close_code: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionEventRecord:
    kind: ConnectionEventKind
    at: datetime
    node: str
    protocol: str
    close_code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectivityReport:
    """What the portal and the API show of a station's connection: online / offline, when
    last seen, which gateway node holds it, and whether it is unstable (more than
    `unstable_threshold` connections within `window_seconds`)."""

    station_id: int
    identity: str
    connectivity: Connectivity
    last_seen_at: datetime | None
    connected_at: datetime | None
    gateway_node: str
    unstable: bool
    connects_in_window: int
    window_seconds: int
    unstable_threshold: int
    history: tuple[ConnectionEventRecord, ...]


# --- Remote commands: protocol-neutral requests and answers ----------------------------------
#
# Callers (portal, REST API, tasks) build one of the command dataclasses below and call
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


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_period: int  # seconds from the start of the schedule
    limit: Decimal  # in the schedule's unit (W or A)
    number_phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    id: int = 1  # 2.0.1 only
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: ProfilePurpose
    kind: ProfileKind
    schedule: ChargingSchedule
    recurrency: str | None = None  # Daily | Weekly
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # TX profiles only


@dataclass(frozen=True, slots=True)
class ConfigurationKey:
    """A 1.x configuration key (`name`), or a 2.0.1 variable of a component."""

    name: str
    component: str = ""  # 2.0.1: required (e.g. OCPPCommCtrlr); 1.x: must be empty
    instance: str = ""
    evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class LocalListEntry:
    id_tag: str
    status: str | None = "Accepted"  # None: remove the entry (differential update)
    expiry: datetime | None = None
    parent_id_tag: str = ""
    token_type: str = "ISO14443"  # 2.0.1 IdTokenEnumType


@dataclass(frozen=True, slots=True)
class RemoteStart:
    kind: ClassVar[CommandKind] = CommandKind.REMOTE_START
    id_tag: str
    evse_id: int | None = None
    remote_start_id: int | None = None  # 2.0.1 (required there: generated when None)
    token_type: str = "ISO14443"
    charging_profile: ChargingProfile | None = None


@dataclass(frozen=True, slots=True)
class RemoteStop:
    kind: ClassVar[CommandKind] = CommandKind.REMOTE_STOP
    transaction_id: str  # the OCPP transaction id (1.x: digits)


@dataclass(frozen=True, slots=True)
class Reset:
    kind: ClassVar[CommandKind] = CommandKind.RESET
    hard: bool = False  # 1.x Hard / Soft; 2.0.1 Immediate / OnIdle
    evse_id: int | None = None  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    kind: ClassVar[CommandKind] = CommandKind.UNLOCK_CONNECTOR
    evse_id: int  # 1.x: the connectorId
    connector_id: int = 1  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    kind: ClassVar[CommandKind] = CommandKind.CHANGE_AVAILABILITY
    operative: bool
    evse_id: int | None = None  # None: the whole station (1.x connectorId 0)
    connector_id: int | None = None  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    kind: ClassVar[CommandKind] = CommandKind.GET_CONFIGURATION
    keys: tuple[ConfigurationKey, ...] = ()  # empty: all keys (1.x only)


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    kind: ClassVar[CommandKind] = CommandKind.CHANGE_CONFIGURATION
    key: ConfigurationKey
    value: str


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    kind: ClassVar[CommandKind] = CommandKind.TRIGGER_MESSAGE
    # An OCPP message name; DiagnosticsStatusNotification and LogStatusNotification, and
    # SignChargePointCertificate and SignChargingStationCertificate (a certificate renewal;
    # 1.6: ExtendedTriggerMessage of the security extension) are mapped onto each other
    # between 1.6 and 2.0.1.
    message: str
    evse_id: int | None = None
    connector_id: int | None = None  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class ClearCache:
    kind: ClassVar[CommandKind] = CommandKind.CLEAR_CACHE


@dataclass(frozen=True, slots=True)
class SendLocalList:
    kind: ClassVar[CommandKind] = CommandKind.SEND_LOCAL_LIST
    version: int
    full: bool
    entries: tuple[LocalListEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    kind: ClassVar[CommandKind] = CommandKind.SET_CHARGING_PROFILE
    evse_id: int  # 0: the whole station
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    kind: ClassVar[CommandKind] = CommandKind.CLEAR_CHARGING_PROFILE
    profile_id: int | None = None
    evse_id: int | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class GetCompositeSchedule:
    kind: ClassVar[CommandKind] = CommandKind.GET_COMPOSITE_SCHEDULE
    evse_id: int
    duration: int  # seconds
    unit: RateUnit | None = None


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    kind: ClassVar[CommandKind] = CommandKind.UPDATE_FIRMWARE
    location: str  # URL of the firmware image
    retrieve_at: datetime
    request_id: int | None = None  # 2.0.1 (required there: generated when None)
    retries: int | None = None
    retry_interval: int | None = None
    install_at: datetime | None = None  # 2.0.1 only
    signing_certificate: str = ""  # 2.0.1 only
    signature: str = ""  # 2.0.1 only


@dataclass(frozen=True, slots=True)
class GetDiagnostics:
    kind: ClassVar[CommandKind] = CommandKind.GET_DIAGNOSTICS
    location: str  # URL to upload to
    request_id: int | None = None  # 2.0.1 GetLog (required there: generated when None)
    start: datetime | None = None
    stop: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    log_type: str = "DiagnosticsLog"  # 2.0.1 DiagnosticsLog | SecurityLog


@dataclass(frozen=True, slots=True)
class ReserveNow:
    kind: ClassVar[CommandKind] = CommandKind.RESERVE_NOW
    reservation_id: int
    expiry: datetime
    id_tag: str
    evse_id: int | None = None  # None: any EVSE (1.x connectorId 0)
    parent_id_tag: str = ""
    token_type: str = "ISO14443"


@dataclass(frozen=True, slots=True)
class CancelReservation:
    kind: ClassVar[CommandKind] = CommandKind.CANCEL_RESERVATION
    reservation_id: int


class CertificateUse(enum.StrEnum):
    """What an installed (root) certificate is for."""

    CSMS_ROOT = "CSMS_ROOT"  # 1.6 CentralSystemRootCertificate, 2.0.1 CSMSRootCertificate
    MANUFACTURER_ROOT = "MANUFACTURER_ROOT"
    V2G_ROOT = "V2G_ROOT"  # 2.0.1 only
    MO_ROOT = "MO_ROOT"  # 2.0.1 only
    V2G_CHAIN = "V2G_CHAIN"  # 2.0.1 GetInstalledCertificateIds only (V2GCertificateChain)


@dataclass(frozen=True, slots=True)
class CertificateHashData:
    """Names one certificate (OCPP CertificateHashDataType): hashes are hex strings."""

    hash_algorithm: str  # SHA256 | SHA384 | SHA512
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str  # hex, without leading zeroes
    use: CertificateUse | None = None  # in answers: what the station said it is for


@dataclass(frozen=True, slots=True)
class CertificateSigned:
    kind: ClassVar[CommandKind] = CommandKind.CERTIFICATE_SIGNED
    certificate_chain: str  # PEM: the station's certificate first, then intermediates
    certificate_type: str = "ChargingStationCertificate"  # 2.0.1 only (or V2GCertificate)


@dataclass(frozen=True, slots=True)
class InstallCertificate:
    kind: ClassVar[CommandKind] = CommandKind.INSTALL_CERTIFICATE
    use: CertificateUse
    certificate: str  # PEM


@dataclass(frozen=True, slots=True)
class GetInstalledCertificateIds:
    kind: ClassVar[CommandKind] = CommandKind.GET_INSTALLED_CERTIFICATE_IDS
    uses: tuple[CertificateUse, ...] = ()  # 1.6: exactly one; 2.0.1: empty means all


@dataclass(frozen=True, slots=True)
class DeleteCertificate:
    kind: ClassVar[CommandKind] = CommandKind.DELETE_CERTIFICATE
    certificate: CertificateHashData


@dataclass(frozen=True, slots=True)
class GetLocalListVersion:
    kind: ClassVar[CommandKind] = CommandKind.GET_LOCAL_LIST_VERSION


@dataclass(frozen=True, slots=True)
class DataTransfer:
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


@dataclass(frozen=True, slots=True)
class GetBaseReport:
    """2.0.1: the station reports its device model in NotifyReport messages (stored by
    `apps.devices`, appended to this command's progress)."""

    kind: ClassVar[CommandKind] = CommandKind.GET_BASE_REPORT
    report_base: ReportBase = ReportBase.FULL_INVENTORY
    request_id: int | None = None  # required by 2.0.1: the audit row's id when None


@dataclass(frozen=True, slots=True)
class GetChargingProfiles:
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
    cls.kind: cls  # type: ignore[misc]
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


@dataclass(frozen=True, slots=True)
class ConfigurationValue:
    key: ConfigurationKey
    value: str | None
    readonly: bool | None = None  # 1.x
    status: str = "Accepted"  # 2.0.1 attributeStatus


@dataclass(frozen=True, slots=True)
class ConfigurationReport:
    values: tuple[ConfigurationValue, ...]
    unknown: tuple[ConfigurationKey, ...] = ()


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    evse_id: int | None
    start: datetime | None
    schedule: ChargingSchedule | None


@dataclass(frozen=True, slots=True)
class LogUpload:
    file_name: str  # empty: nothing to upload


@dataclass(frozen=True, slots=True)
class RemoteStarted:
    transaction_id: str  # 2.0.1 when the station already has one


@dataclass(frozen=True, slots=True)
class ConfigurationChanged:
    reboot_required: bool


@dataclass(frozen=True, slots=True)
class InstalledCertificates:
    certificates: tuple[CertificateHashData, ...]  # empty: none (the station's NotFound)


@dataclass(frozen=True, slots=True)
class LocalListVersion:
    version: int  # 0: no list (or an empty one)


@dataclass(frozen=True, slots=True)
class VendorData:
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
    cls.__name__: cls  # type: ignore[misc]
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


# --- JSON form of the contracts above (the relay's wire format and the audit row) -----------


def to_json(value: Any) -> Any:
    """A command or answer as JSON-ready data: Decimal as a string, datetime as ISO 8601,
    enums as their value, dataclasses as objects (the class name of an answer in `type`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if type(value).__name__ in ANSWER_CLASSES:
            out["type"] = type(value).__name__
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return value


def _from_json(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(options[0], raw) if len(options) == 1 else raw
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        return tuple(_from_json(item, r) for r in raw)
    if dataclasses.is_dataclass(hint):
        return from_json(hint, raw)
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return hint(raw)
        if hint is Decimal:
            return Decimal(str(raw))
        if hint is datetime:
            return datetime.fromisoformat(raw) if isinstance(raw, str) else raw
        if hint in (int, str, bool) and not isinstance(raw, hint):
            raise TypeError(f"expected {hint.__name__}, got {type(raw).__name__}")
    return raw


def from_json(cls: type[T], raw: dict[str, Any]) -> T:
    """The inverse of `to_json` for one dataclass; unknown fields are refused."""
    if not isinstance(raw, dict):
        raise TypeError(f"{cls.__name__}: expected an object")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(raw) - names - {"type"}
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return cls(**{k: _from_json(hints[k], v) for k, v in raw.items() if k in names})


def command_from_json(kind: str, raw: dict[str, Any]) -> StationCommand:
    return from_json(COMMAND_CLASSES[CommandKind(kind)], raw)


def answer_from_json(raw: dict[str, Any] | None) -> CommandAnswer | None:
    if not raw:
        return None
    return from_json(ANSWER_CLASSES[raw["type"]], raw)


# --- The command relay's wire format (Redis), shared by apps.locations and the gateway ------


@dataclass(frozen=True, slots=True)
class RelayKeys:
    """Redis key names under one prefix.

    - `station(identity)`: the node holding the station's socket, `"<node>|<connection>"`,
      with a TTL the node keeps refreshing while the connection lives;
    - `node(node)`: present while the node is alive (short TTL, refreshed);
    - `inbox(node)`: the list of command requests for that node;
    - `reply(request_id)`: the list the node pushes the answer to.
    """

    prefix: str = "ocpp"

    def station(self, identity: str) -> str:
        return f"{self.prefix}:station:{identity}"

    def node(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def inbox(self, node: str) -> str:
        return f"{self.prefix}:inbox:{node}"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}:reply:{request_id}"


@dataclass(frozen=True, slots=True)
class RelayRequest:
    id: str  # unique (uuid4 hex)
    identity: str
    kind: CommandKind
    command: dict[str, Any]  # to_json(the command)
    deadline: float  # Unix time after which the node must not send the CALL any more
    reply_to: str


@dataclass(frozen=True, slots=True)
class RelayReply:
    id: str
    status: CommandStatus
    station_status: str = ""
    message: str = ""
    data: dict[str, Any] | None = None  # to_json(the CommandAnswer)
    ocpp_action: str = ""
    ocpp_request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    protocol: str = ""
    node: str = ""
    # The request breaks the OCPP schema of the station's version: nothing was sent.
    invalid: tuple[str, ...] = ()


def relay_encode(message: RelayRequest | RelayReply) -> str:
    return json.dumps(to_json(message), separators=(",", ":"))


def relay_decode_request(raw: bytes | str) -> RelayRequest:
    data = json.loads(raw)
    data["kind"] = CommandKind(data["kind"])
    return RelayRequest(**data)


def relay_decode_reply(raw: bytes | str) -> RelayReply:
    data = json.loads(raw)
    data["status"] = CommandStatus(data["status"])
    data["invalid"] = tuple(data.get("invalid") or ())
    return RelayReply(**data)
