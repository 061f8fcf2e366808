"""Data model of the pricing core: the parts of a tariff (OCPI 2.2.1 shape), sessions and
results. ``Tariff`` itself, which compiles itself on construction, is in ``tariff.py`` (it
sits above ``compiled.py``, which reads these parts).

Everything here is a frozen dataclass with slots (or a NamedTuple). Money, energy and unit
prices are ``Decimal``; durations are integer seconds. Nothing here imports Django or reads
the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

ZERO = Decimal(0)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)


def epoch(value: dt.datetime) -> int:
    """Whole seconds since the epoch (fractions of a second are dropped)."""
    if value.tzinfo is None:
        raise PricingInputError(
            [
                InputIssue(
                    "$", f"naive datetime {value.isoformat()}: timestamps must be timezone-aware"
                )
            ]
        )
    return (value - _EPOCH) // _SECOND


class Dimension(StrEnum):
    """OCPI TariffDimensionType."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAY_INDEX: dict[DayOfWeek, int] = {d: i for i, d in enumerate(DayOfWeek)}


class ReservationRestriction(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class PricingError(Exception):
    """Base class of the errors raised by the pricing core."""


@dataclass(frozen=True, slots=True)
class InputIssue:
    """One problem in an input document, located by a JSON path such as ``$.elements[1]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PricingInputError(PricingError, ValueError):
    """Invalid input. ``issues`` lists every problem found, each with its JSON path."""

    def __init__(self, issues: tuple[InputIssue, ...] | list[InputIssue]) -> None:
        self.issues: tuple[InputIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


# --------------------------------------------------------------------------------------------
# Tariff
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI Price class (``incl_vat`` is optional in OCPI)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class PriceComponent:
    type: Dimension
    price: Decimal
    step_size: int
    vat: Decimal | None = None  # None: no VAT applicable (different from 0 %)


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[DayOfWeek, ...] = ()
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


# --------------------------------------------------------------------------------------------
# Session input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CdrDimension:
    type: str
    volume: Decimal


class ChargingPeriod(NamedTuple):
    """An OCPI ChargingPeriod with its pricing-relevant dimensions as typed fields.

    A NamedTuple (immutable; cheaper to build than a frozen dataclass: sessions are parsed in
    bulk when foreign CDRs are re-priced).

    Volumes are in OCPI units: kWh for ENERGY, hours for TIME / PARKING_TIME /
    RESERVATION_TIME, A for currents, kW for powers. ``None`` means the dimension is absent.
    ``other`` keeps the remaining (session-only) dimensions for a faithful round trip.
    """

    start_date_time: dt.datetime
    energy: Decimal | None = None
    time: Decimal | None = None
    parking_time: Decimal | None = None
    reservation_time: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    other: tuple[CdrDimension, ...] = ()
    tariff_id: str | None = None

    @property
    def dimensions(self) -> tuple[CdrDimension, ...]:
        out: list[CdrDimension] = []
        for name, value in (
            ("ENERGY", self.energy),
            ("TIME", self.time),
            ("PARKING_TIME", self.parking_time),
            ("RESERVATION_TIME", self.reservation_time),
            ("MIN_CURRENT", self.min_current),
            ("MAX_CURRENT", self.max_current),
            ("MIN_POWER", self.min_power),
            ("MAX_POWER", self.max_power),
        ):
            if value is not None:
                out.append(CdrDimension(name, value))
        out.extend(self.other)
        return tuple(out)

    @property
    def is_reservation(self) -> bool:
        return self.reservation_time is not None


@dataclass(frozen=True, slots=True)
class SessionInput:
    """What the pricer needs to know about a session (live, final, or a foreign CDR).

    ``start``/``end`` are timezone-aware; for a live session ``end`` is "now" as passed in by
    the caller. ``time_zone`` is the Location's IANA zone, snapshotted at session start.
    ``reservation_expired`` selects ``RESERVATION_EXPIRES`` elements for reservation periods.
    """

    start: dt.datetime
    end: dt.datetime
    time_zone: str
    charging_periods: tuple[ChargingPeriod, ...]
    reservation_expired: bool = False
    # Computed once at construction: (start, end, period starts) in epoch seconds, validated,
    # and the distinct tariff_ids of the periods in order of first appearance (none: ()).
    # One tuple: the bulk parser hands it over in one go (``trusted_session``).
    epochs: tuple[int, int, tuple[int, ...], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default=(0, 0, (), ())
    )

    def __post_init__(self) -> None:
        start_s = epoch(self.start)
        end_s = epoch(self.end)
        starts = tuple([epoch(p.start_date_time) for p in self.charging_periods])
        issues: list[InputIssue] = []
        if end_s < start_s:
            issues.append(InputIssue("$.end_date_time", "is before start_date_time"))
        prev = start_s
        for i, s in enumerate(starts):
            if s < prev:
                issues.append(
                    InputIssue(
                        f"$.charging_periods[{i}].start_date_time",
                        "is before the previous period or the session start",
                    )
                )
            if s > end_s:
                issues.append(
                    InputIssue(
                        f"$.charging_periods[{i}].start_date_time", "is after the session end"
                    )
                )
            prev = s
        if issues:
            raise PricingInputError(issues)
        ids = dict.fromkeys(p.tariff_id for p in self.charging_periods if p.tariff_id is not None)
        object.__setattr__(self, "epochs", (start_s, end_s, starts, tuple(ids)))

    @property
    def tariff_ids(self) -> tuple[str, ...]:
        """The distinct ``tariff_id``s of the periods, in order of first appearance."""
        return self.epochs[3]


_object_new = object.__new__
_object_set = object.__setattr__


def trusted_session(
    start: dt.datetime,
    end: dt.datetime,
    time_zone: str,
    charging_periods: tuple[ChargingPeriod, ...],
    reservation_expired: bool,
    epochs: tuple[int, int, tuple[int, ...], tuple[str, ...]],
) -> SessionInput:
    """A ``SessionInput`` from a parser that has already checked what ``__post_init__``
    checks (aware timestamps, periods in order and not after the end) and computed
    ``epochs`` exactly as it does (``epoch()`` of each timestamp; the distinct period
    tariff_ids in order)."""
    s = _object_new(SessionInput)
    _object_set(s, "start", start)
    _object_set(s, "end", end)
    _object_set(s, "time_zone", time_zone)
    _object_set(s, "charging_periods", charging_periods)
    _object_set(s, "reservation_expired", reservation_expired)
    _object_set(s, "epochs", epochs)
    return s


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One point of a session's meter timeline (the CPO side).

    ``energy_wh`` is the cumulative register in Wh. ``current_a`` is the sum over phases in A,
    ``power_kw`` in kW; both are instantaneous and interpolated linearly between samples.
    ``state`` holds from this sample until the next one.
    """

    timestamp: dt.datetime
    energy_wh: Decimal
    state: ChargingState
    current_a: Decimal | None = None
    power_kw: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MeterValues:
    """A parsed meter-values document (input of ``split``)."""

    start: dt.datetime
    end: dt.datetime
    time_zone: str
    samples: tuple[MeterSample, ...]
    reservation_start: dt.datetime | None = None
    tariff_id: str | None = None
    tariff_switches: tuple[TariffSwitch, ...] = ()


class TariffSwitch(NamedTuple):
    """From ``start_date_time`` on, the session is priced with the tariff ``tariff_id``
    (a scheduled price change applied to running sessions, a charging-preference profile
    change). Input of ``split_session``; a plain ``(datetime, str)`` tuple works too."""

    start_date_time: dt.datetime
    tariff_id: str


class ChargingState(StrEnum):
    """Connector state, after OCPP 2.0.1 ChargingStateEnum (1.6 status names map onto it)."""

    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"  # the EVSE holds back energy: still TIME, not parking
    SUSPENDED_EV = "SuspendedEV"  # the EV does not request energy: PARKING_TIME
    EV_CONNECTED = "EVConnected"  # connected, no energy flow: PARKING_TIME

    @property
    def is_parking(self) -> bool:
        return self in (ChargingState.SUSPENDED_EV, ChargingState.EV_CONNECTED)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


class Category(StrEnum):
    """Which CDR sub-total an amount belongs to."""

    FIXED = "fixed"  # FLAT of the charging part -> total_fixed_cost
    ENERGY = "energy"
    TIME = "time"
    PARKING = "parking"
    RESERVATION = "reservation"  # FLAT and TIME of reservation elements


class Amount(NamedTuple):
    """An amount excl. and incl. VAT (a NamedTuple: immutable and cheap on the hot path)."""

    excl_vat: Decimal
    incl_vat: Decimal


@dataclass(frozen=True, slots=True)
class DimensionPrice:
    """The cost of one dimension in one period.

    ``volume`` is the consumed volume (kWh, seconds, or 1 for FLAT); ``billed_volume`` adds the
    step_size surplus when this is the last priced period of its dimension. ``excl_vat`` and
    ``incl_vat`` are exact (not rounded).
    """

    category: Category
    dimension: Dimension
    volume: Decimal
    billed_volume: Decimal
    unit_price: Decimal
    vat: Decimal | None
    excl_vat: Decimal
    incl_vat: Decimal
    element_index: int
    step_size: int


@dataclass(frozen=True, slots=True)
class PeriodPrice:
    index: int
    start_date_time: dt.datetime
    end_date_time: dt.datetime
    seconds: int
    reservation: bool
    dimensions: tuple[DimensionPrice, ...]
    tariff_id: str | None = None  # the id of the tariff that priced this period


class CostTotals(NamedTuple):
    """The OCPI CDR cost totals (either exact or rounded)."""

    total_cost: Amount
    total_fixed_cost: Amount
    total_energy_cost: Amount
    total_time_cost: Amount
    total_parking_cost: Amount
    total_reservation_cost: Amount


@dataclass(frozen=True, slots=True)
class PriceAdjustment:
    """A min_price / max_price clamp of ``total_cost`` on one side (excl or incl VAT)."""

    limit: str  # "min_price" | "max_price"
    side: str  # "excl_vat" | "incl_vat"
    before: Decimal
    after: Decimal


@dataclass(frozen=True, slots=True)
class PriceWarning:
    code: str
    message: str
    path: str = "$"


class PriceResult:
    """Everything ``price_session`` computes. Treat it as immutable.

    ``totals`` are rounded to the currency's minor unit with ``rounding``; ``exact`` are the
    full-precision values they are rounded from (after the min/max clamp for total_cost).
    Volumes: energy in kWh (not step-rounded), durations in integer seconds.

    ``totals``, ``exact`` and ``periods`` (the per-period, per-dimension breakdown) are built on
    first access and cached: bulk re-pricing that only needs totals does not pay for the
    breakdown.
    """

    __slots__ = (
        "currency",
        "rounding",
        "minor_unit",
        "total_energy",
        "total_time_seconds",
        "total_charging_seconds",
        "total_parking_seconds",
        "total_reservation_seconds",
        "billed_energy",
        "billed_time_seconds",
        "billed_parking_seconds",
        "billed_reservation_seconds",
        "adjustments",
        "warnings",
        "_raw",
        "_single",
        "_totals",
        "_exact",
        "_periods",
        "_build_periods",
    )

    def __init__(
        self,
        currency: str,
        rounding: str,
        minor_unit: int,
        raw: tuple[Decimal, ...],
        total_energy: Decimal,
        total_time_seconds: int,
        total_charging_seconds: int,
        total_parking_seconds: int,
        total_reservation_seconds: int,
        billed_energy: Decimal,
        billed_time_seconds: int,
        billed_parking_seconds: int,
        billed_reservation_seconds: int,
        adjustments: tuple[PriceAdjustment, ...],
        warnings: tuple[PriceWarning, ...],
        build_periods: Callable[[], tuple[PeriodPrice, ...]],
        single: int = -1,
    ) -> None:
        self.currency = currency
        self.rounding = rounding
        self.minor_unit = minor_unit
        self._raw = raw  # exact excl/incl of fixed, energy, time, parking, reservation, total
        self._single = single
        self.total_energy = total_energy
        self.total_time_seconds = total_time_seconds
        self.total_charging_seconds = total_charging_seconds
        self.total_parking_seconds = total_parking_seconds
        self.total_reservation_seconds = total_reservation_seconds
        self.billed_energy = billed_energy
        self.billed_time_seconds = billed_time_seconds
        self.billed_parking_seconds = billed_parking_seconds
        self.billed_reservation_seconds = billed_reservation_seconds
        self.adjustments = adjustments
        self.warnings = warnings
        self._totals: CostTotals | None = None
        self._exact: CostTotals | None = None
        self._periods: tuple[PeriodPrice, ...] | None = None
        self._build_periods = build_periods

    @property
    def exact(self) -> CostTotals:
        if self._exact is None:
            r = self._raw
            self._exact = CostTotals(
                Amount(r[10], r[11]),
                Amount(r[0], r[1]),
                Amount(r[2], r[3]),
                Amount(r[4], r[5]),
                Amount(r[6], r[7]),
                Amount(r[8], r[9]),
            )
        return self._exact

    @property
    def totals(self) -> CostTotals:
        if self._totals is None:
            self._totals = _round_totals(self._raw, self.minor_unit, self.rounding, self._single)
        return self._totals

    @property
    def total_cost(self) -> Amount:
        return self.totals.total_cost

    @property
    def periods(self) -> tuple[PeriodPrice, ...]:
        if self._periods is None:
            self._periods = self._build_periods()
        return self._periods

    @property
    def tariff_ids(self) -> tuple[str, ...]:
        """The ids of the tariffs that priced the periods, in order of first use (built
        from the breakdown)."""
        return tuple(dict.fromkeys(p.tariff_id for p in self.periods if p.tariff_id is not None))

    def __repr__(self) -> str:
        return (
            f"PriceResult(currency={self.currency!r}, totals={self.totals!r}, "
            f"warnings={self.warnings!r})"
        )


_QUANTUM = {n: Decimal(1).scaleb(-n) for n in range(0, 5)}
_ZERO_AMOUNTS: dict[int, Amount] = {}


_new_tuple = tuple.__new__


def _round_totals(r: tuple[Decimal, ...], minor_unit: int, mode: str, single: int) -> CostTotals:
    """Point 9: each sub-total and the total rounded once, from the exact values.

    ``single`` is the index of the only non-zero sub-total when the total is that sub-total
    (no clamp), else -1: then the total is not rounded a second time.
    """
    q = _QUANTUM.get(minor_unit) or Decimal(1).scaleb(-minor_unit)
    zero = _ZERO_AMOUNTS.get(minor_unit)
    if zero is None:
        zero = _ZERO_AMOUNTS.setdefault(minor_unit, Amount(ZERO.quantize(q), ZERO.quantize(q)))
    if single == 1:  # energy only (the common case): the total is the energy sub-total
        only = _new_tuple(Amount, (r[2].quantize(q, mode), r[3].quantize(q, mode)))
        return _new_tuple(CostTotals, (only, zero, only, zero, zero, zero))
    if single >= 0:  # one non-zero sub-total, which is also the total
        i = single << 1
        only = _new_tuple(Amount, (r[i].quantize(q, mode), r[i + 1].quantize(q, mode)))
        parts = [zero, zero, zero, zero, zero]
        parts[single] = only
        return _new_tuple(CostTotals, (only, *parts))
    fixed = (
        _new_tuple(Amount, (r[0].quantize(q, mode), r[1].quantize(q, mode)))
        if r[0] or r[1]
        else zero
    )
    energy = (
        _new_tuple(Amount, (r[2].quantize(q, mode), r[3].quantize(q, mode)))
        if r[2] or r[3]
        else zero
    )
    time = (
        _new_tuple(Amount, (r[4].quantize(q, mode), r[5].quantize(q, mode)))
        if r[4] or r[5]
        else zero
    )
    parking = (
        _new_tuple(Amount, (r[6].quantize(q, mode), r[7].quantize(q, mode)))
        if r[6] or r[7]
        else zero
    )
    reservation = (
        _new_tuple(Amount, (r[8].quantize(q, mode), r[9].quantize(q, mode)))
        if r[8] or r[9]
        else zero
    )
    total = _new_tuple(Amount, (r[10].quantize(q, mode), r[11].quantize(q, mode)))
    return _new_tuple(CostTotals, (total, fixed, energy, time, parking, reservation))


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    side: str
    ours: Decimal | None
    theirs: Decimal | None

    @property
    def delta(self) -> Decimal | None:
        if self.ours is None or self.theirs is None:
            return None
        return self.theirs - self.ours


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Result of re-pricing a foreign CDR: ``ok`` when every sub-total is within tolerance."""

    ok: bool
    tolerance: Decimal
    differences: tuple[Difference, ...]
    result: PriceResult
