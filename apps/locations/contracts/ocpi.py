"""OCPI-shaped location objects: Location > EVSE > Connector as the platform stores and
serves them (OCPI 2.2.1 field names), and the connector a station's OCPP ids resolve to."""

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
