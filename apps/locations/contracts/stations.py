"""Charge stations: their OCPP identity and handshake facts, the records the API and the portal
show, what a session needs of its station, and the connection history (connectivity)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from apps.locations.contracts.ocpi import EvseRecord


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
    # Token attribution and the CDR's billing columns (ADR 0027): roaming admitted here,
    # the home-charger flag (apps.common.contracts.HccFlag or "").
    roaming: bool = True
    hcc: str = ""


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
