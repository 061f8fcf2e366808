from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


class SessionStatus(enum.StrEnum):
    """OCPI 2.2.1 SessionStatus."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class ChargingState(enum.StrEnum):
    """What the EV was doing at a meter sample; decides charging vs. parking time."""

    CHARGING = "CHARGING"
    SUSPENDED_EV = "SUSPENDED_EV"  # parking (PRICING.md point 11)
    SUSPENDED_EVSE = "SUSPENDED_EVSE"  # not parking: the station holds the energy back
    IDLE = "IDLE"  # connected, no energy flow: parking
    UNKNOWN = "UNKNOWN"


class CdrKind(enum.StrEnum):
    ORIGINAL = "ORIGINAL"
    CREDIT = "CREDIT"


@dataclass(frozen=True, slots=True)
class CdrTotals:
    currency: str
    total_cost_excl_vat: Decimal
    total_cost_incl_vat: Decimal | None
    total_energy_kwh: Decimal
    total_time_hours: Decimal
    total_parking_time_hours: Decimal


@dataclass(frozen=True, slots=True)
class CdrRef:
    id: int
    tenant_id: int
    ocpi_id: str
    kind: CdrKind
    session_id: int | None
    start_date_time: datetime
    end_date_time: datetime
    totals: CdrTotals


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A charging session as the REST API shows it (OCPI 2.2.1 Session fields the platform
    holds), with the live cost while it is active."""

    platform_id: int
    status: SessionStatus
    start_date_time: datetime
    end_date_time: datetime | None
    kwh: Decimal
    currency: str
    total_cost_excl_vat: Decimal | None
    total_cost_incl_vat: Decimal | None
    charge_station_id: int
    location_id: str | None
    evse_uid: str | None
    connector_id: str | None
    cdr_token: dict[str, str] | None
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """A CDR as the REST API shows it: the stored OCPI 2.2.1 CDR object (`data`, numbers as
    Decimal) with the authoritative typed columns laid over it."""

    platform_id: int
    country_code: str
    party_id: str
    id: str
    kind: CdrKind
    credit_reference_id: str | None
    session_platform_id: int | None
    charge_station_id: int | None
    start_date_time: datetime
    end_date_time: datetime
    currency: str
    amounts: dict[str, Decimal | None]  # total_cost_excl_vat, ... as stored
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    data: dict[str, Any]
    last_updated: datetime
