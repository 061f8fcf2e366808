"""Shapes other apps and outer layers see of locations and charge stations."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


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


# A station that dropped its connection this often within a day is "unstable".
UNSTABLE_DISCONNECTS = 3
UNSTABLE_WINDOW_HOURS = 24


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
    unstable: bool
    disconnects_24h: int
    evses_total: int
    evses_charging: int
    evses_faulted: int


@dataclass(frozen=True, slots=True)
class ConnectivityRecord:
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StationDetail:
    row: StationRow
    serial_number: str
    enabled: bool
    last_boot_at: datetime | None
    time_zone: str | None
    address: str
    evses: tuple[EvseRecord, ...]
    history: tuple[ConnectivityRecord, ...]


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
