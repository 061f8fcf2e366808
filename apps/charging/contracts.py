from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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
