from __future__ import annotations

import enum
from dataclasses import dataclass, field
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
    """What the EV was doing (OCPP 2.0.1 ChargingStateEnum; 1.6 statuses map onto it).
    Decides charging vs. parking time (PRICING.md point 11)."""

    CHARGING = "Charging"
    EV_CONNECTED = "EVConnected"  # connected, no energy flow: parking
    SUSPENDED_EV = "SuspendedEV"  # the EV does not take energy: parking
    SUSPENDED_EVSE = "SuspendedEVSE"  # the station holds energy back: not parking
    IDLE = "Idle"  # no EV connected


# OCPP 1.6 ChargePointStatus / 2.0.1 ConnectorStatus words, as charging states.
_STATUS_TO_STATE = {
    "Charging": ChargingState.CHARGING,
    "SuspendedEV": ChargingState.SUSPENDED_EV,
    "SuspendedEVSE": ChargingState.SUSPENDED_EVSE,
    "Preparing": ChargingState.EV_CONNECTED,
    "Finishing": ChargingState.EV_CONNECTED,
    "Occupied": ChargingState.EV_CONNECTED,  # 2.0.1 connector status
    "Available": ChargingState.IDLE,
}


def state_for_status(status: str) -> ChargingState | None:
    """The charging state an OCPP connector status implies, if any."""
    return _STATUS_TO_STATE.get(status)


class CdrKind(enum.StrEnum):
    ORIGINAL = "ORIGINAL"
    CREDIT = "CREDIT"


class TokenSource(enum.StrEnum):
    """Where a session's token was found, in this order (ADR 0027): the station tenant's
    own eMSP tokens, then the tokens it holds of partners (roaming) admitted at the
    station, then the tokens of other marketplace tenants."""

    OWN = "OWN"
    PARTNER = "PARTNER"
    MARKETPLACE = "MARKETPLACE"


class AuthMethod(enum.StrEnum):
    """How a session was authorised (OCPI 2.2.1 AuthMethod), as the gateway saw it."""

    AUTH_REQUEST = "AUTH_REQUEST"  # the station asked us (Authorize) and we accepted
    COMMAND = "COMMAND"  # a remote start (RemoteStartTransaction / RequestStartTransaction)
    WHITELIST = "WHITELIST"  # the station decided itself: its local list or cache


# Sessions started before the gateway reported the method (their start events carry none).
AUTH_METHOD_WHITELIST = AuthMethod.WHITELIST.value


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A charging session as the REST API and the webhooks show it: the OCPI 2.2.1 Session
    fields, with the live cost while it is active (the CDR's total once it has one).

    `charging_periods` is None when not asked for (lists without `expand`)."""

    platform_id: int
    country_code: str  # the CPO party of the station's location ("" when unknown)
    party_id: str
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
    cdr_token: dict[str, str]
    auth_method: str
    last_updated: datetime
    charging_periods: list[dict[str, Any]] | None = None


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


class EventKind(enum.StrEnum):
    """What an OCPP transaction message says about a transaction."""

    STARTED = "STARTED"  # 1.6 StartTransaction, 2.0.1 TransactionEvent(Started)
    UPDATED = "UPDATED"  # 1.6 MeterValues with transactionId, 2.0.1 TransactionEvent(Updated)
    ENDED = "ENDED"  # 1.6 StopTransaction, 2.0.1 TransactionEvent(Ended)


class FlagReason(enum.StrEnum):
    UNKNOWN_TRANSACTION = "UNKNOWN_TRANSACTION"  # a stop or update for no known start
    CLOCK_SKEW = "CLOCK_SKEW"  # station clock off by more than 5 minutes
    NO_TARIFF = "NO_TARIFF"  # no tariff assigned / effective at session start
    MISSING_EVSE = "MISSING_EVSE"  # the station reported an EVSE/connector we do not know
    UNKNOWN_TOKEN = "UNKNOWN_TOKEN"  # the id tag matches no token
    PRICING_FAILED = "PRICING_FAILED"  # the tariff or the meter data could not be priced
    MISSING_START = "MISSING_START"  # 2.0.1 transaction seen without its Started event
    CONFLICTING_STOP = "CONFLICTING_STOP"  # a later, different stop: kept, not applied


class FlagStatus(enum.StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"


@dataclass(frozen=True, slots=True)
class MeterSampleIn:
    """One normalised meter sample (the gateway converts units, multipliers and phases)."""

    timestamp: datetime
    energy_wh: Decimal | None = None
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    soc_percent: Decimal | None = None
    context: str = ""
    signed_data: str = ""


@dataclass(frozen=True, slots=True)
class TransactionEventIn:
    """A transaction message as the gateway received it, normalised.

    `idempotency_key` is derived from the message's content, so that a resent message (a
    station retrying after a lost answer, an offline queue replayed) maps to the same key and
    is stored once. `ocpp_transaction_id` is None for an OCPP 1.x start: one is allocated.
    """

    tenant_id: int
    station_id: int
    kind: EventKind
    idempotency_key: str
    protocol: str
    action: str
    station_timestamp: datetime
    received_at: datetime
    ocpp_transaction_id: str | None = None
    evse_ocpp_id: int | None = None
    connector_ocpp_id: int | None = None
    id_tag: str = ""
    meter_wh: Decimal | None = None
    reason: str = ""
    charging_state: ChargingState | None = None
    seq_no: int | None = None
    offline: bool = False
    samples: tuple[MeterSampleIn, ...] = ()
    frame: str = ""  # the OCPP-J frame as received, verbatim (audit)
    # On a start: how it was authorised, and the reference that names it (the 2.0.1
    # remoteStartId or the relay id of the 1.x remote start command); "" when unknown.
    auth_method: str = ""
    authorization_reference: str = ""


@dataclass(frozen=True, slots=True)
class TransactionEventResult:
    event_id: int
    ocpp_transaction_id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StatusEventIn:
    """A connector / EVSE status change (1.6 StatusNotification, 2.0.1 StatusNotification or
    the chargingState of a TransactionEvent). Decides charging vs. parking time."""

    tenant_id: int
    station_id: int
    evse_ocpp_id: int
    connector_ocpp_id: int | None
    status: str  # the station's status word, e.g. Charging, SuspendedEV, Available
    charging_state: ChargingState | None
    station_timestamp: datetime
    received_at: datetime


# --- Portal shapes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: str  # ISO date in the dashboard's time zone
    cdrs: int
    energy_kwh: Decimal
    revenue_excl_vat: Decimal


@dataclass(frozen=True, slots=True)
class DashboardFigures:
    """Sessions started, energy and revenue (CDR totals excl. VAT, credits netted) of today
    and this month; revenue per currency, the daily series in the main currency."""

    sessions_today: int
    sessions_month: int
    sessions_active: int
    energy_today_kwh: Decimal
    energy_month_kwh: Decimal
    revenue_today: dict[str, Decimal]
    revenue_month: dict[str, Decimal]
    currency: str
    days: tuple[DayFigures, ...]
    flags_open: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    charge_station_id: int
    station_identity: str
    evse_uid: str | None
    connector_id: str | None
    id_tag: str
    token_id: int | None
    kwh: Decimal
    currency: str
    cost_excl_vat: Decimal | None
    cost_incl_vat: Decimal | None
    last_meter_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeterPoint:
    timestamp: datetime
    energy_wh: Decimal | None
    power_w: Decimal | None
    current_a: Decimal | None
    soc_percent: Decimal | None
    state: str


@dataclass(frozen=True, slots=True)
class SessionDetail:
    row: SessionRow
    time_zone: str
    meter_start_wh: Decimal
    meter_stop_wh: Decimal | None
    stop_reason: str
    ocpp_transaction_id: str
    tariff_ocpi_id: str | None
    meter_values: tuple[MeterPoint, ...]
    cdr_id: int | None
    charging_periods: tuple[dict[str, Any], ...]  # priced periods of the CDR (OCPI-shaped)
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CdrRow:
    id: int
    ocpi_id: str
    kind: str
    party: str
    station_identity: str | None
    start_date_time: datetime
    end_date_time: datetime
    currency: str
    total_energy_kwh: Decimal
    total_time_hours: Decimal
    total_cost_excl_vat: Decimal
    total_cost_incl_vat: Decimal | None
    credited: bool


@dataclass(frozen=True, slots=True)
class FlagRow:
    id: int
    reason: str
    status: str
    station_identity: str
    charge_station_id: int
    ocpp_transaction_id: str
    session_id: int | None
    cdr_id: int | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OcppMessage:
    at: datetime
    direction: str
    action: str
    summary: str
    frame: str


@dataclass(frozen=True, slots=True)
class CdrForRating:
    """What the billing engines read of one CDR (apps.rating, issue 17): its billing
    columns, the station and the charging periods with the time zone to price them."""

    id: int
    tenant_id: int
    kind: str
    party_id: int  # the CPO party (as the CPO tenant knows it)
    charge_station_id: int | None  # None: a roaming partner's CDR (no local session)
    connector_id: int | None
    start: datetime
    end: datetime
    currency: str
    tariff_version_id: int | None
    energy_kwh: Decimal
    time_hours: Decimal
    parking_hours: Decimal
    token_id: int | None
    token_source: str
    emsp_party_id: int | None
    emsp_tenant_id: int | None
    contract_id: int | None
    customer_id: int | None
    hcc: str
    time_zone: str | None
    data: dict[str, Any]  # of the OCPI CDR object, what prices: start, end, charging periods
    exact: dict[str, Any] | None  # annotations["pricing"]["exact"]: the pricing core's exact
    # The CDR's location country (OCPI cdr_location.country): what a roaming partner's CDR,
    # which has no local station, offers a rule's country scope.
    country: str = ""


@dataclass(frozen=True)
class RoamingCdrIn:
    """A CDR a roaming CPO partner sent the eMSP tenant (OCPI), as the billing engines need
    it: written as a CDR with no local session (`Cdr.session` empty), `party` the tenant's
    PARTNER CPO party. Amounts are the CPO's, excl. / incl. VAT (incl. may be unknown)."""

    tenant_id: int
    cpo_party_pk: int
    ocpi_id: str
    start: datetime
    end: datetime
    currency: str
    energy_kwh: Decimal
    time_hours: Decimal
    parking_hours: Decimal
    # "cost", "fixed_cost", "energy_cost", "time_cost", "parking_cost", "reservation_cost"
    # -> (excl_vat, incl_vat or None); "cost" is required, the others may be missing.
    totals: dict[str, tuple[Decimal, Decimal | None]]
    token_uid: str  # 2.2.1 cdr_token.uid ("" when unknown)
    data: dict[str, Any]  # the OCPI CDR object as received
    time_zone: str | None = None
    credit_reference_id: str | None = None  # a credit CDR: the id of the CDR it credits
    source: dict[str, Any] = field(default_factory=dict)  # e.g. {"ocpi_connection": 3}
    token_contract_id: str = ""  # 2.1.1 auth_id (the contract id): when there is no uid
