"""A rated line's amounts: each dimension exact and rounded, the rule's adjustment, VAT.

Pure Python like the pricing core (no Django, no app): the rating app's services hand in
plain values and store what comes back (ADR 0027, ADR 0031).

The one rounding point (BILLING.md section 3, ADR 0031): every dimension's exact amount
(fixed, energy, time, parking, reservation) and the adjustment are rounded once, to the
currency's minor unit, with the CPO contract's named `decimal` mode (ROUND_HALF_UP when
there is none). Then

    total_excl_vat = sum of the rounded dimensions + the rounded adjustment
    vat            = round(total_excl_vat x vat_rate / 100)   (same unit, same mode)
    total_incl_vat = total_excl_vat + vat

so a line adds up to the cent as printed, and a reversal (every amount negated) cancels it
exactly.

VAT rate resolution: the tariff's rate (its price components') > the CPO contract
version's > the party's; the first level that has one wins and is stamped on the line. A
home charger that excludes VAT (HCC_E) makes reimbursement lines 0 % with the source
HCC_EXEMPT and an exemption reason. No level with a rate: no line (the CDR is flagged
NO_VAT_RATE by the caller).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Final

import moneyed

from billing import pricing

ZERO: Final = Decimal(0)
HUNDRED: Final = Decimal(100)
ROUND_HALF_UP: Final = decimal.ROUND_HALF_UP
ROUNDING_MODES: Final = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
    }
)

# VAT sources (the values of apps.rating.contracts.VatSource, kept as strings here).
VAT_TARIFF: Final = "TARIFF"
VAT_CPO_CONTRACT: Final = "CPO_CONTRACT"
VAT_PARTY: Final = "PARTY"
VAT_HCC_EXEMPT: Final = "HCC_EXEMPT"
HCC_EXEMPTION_REASON: Final = (
    "Home charger reimbursement excluding VAT (HCC_E): the owner charges no VAT on it"
)


class MixedVatRates(ValueError):
    """A tariff whose price components carry different VAT rates: a rated line has one."""


@dataclass(frozen=True, slots=True)
class Dimensions:
    """One amount per CDR cost dimension (the pricing core's categories)."""

    fixed: Decimal = ZERO
    energy: Decimal = ZERO
    time: Decimal = ZERO
    parking: Decimal = ZERO
    reservation: Decimal = ZERO

    def values(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        return (self.fixed, self.energy, self.time, self.parking, self.reservation)

    def total(self) -> Decimal:
        return self.fixed + self.energy + self.time + self.parking + self.reservation

    def scaled(self, factor: Decimal) -> Dimensions:
        return Dimensions(*(v * factor for v in self.values()))


@dataclass(frozen=True, slots=True)
class Vat:
    """The VAT rate of a line (percent), the level it came from, why it is 0 % if exempt."""

    rate: Decimal
    source: str
    exemption_reason: str = ""


@dataclass(frozen=True, slots=True)
class LineAmounts:
    exact: Dimensions
    rounded: Dimensions
    adjustment_exact: Decimal
    adjustment: Decimal
    total_excl_vat: Decimal
    vat: Vat
    vat_amount: Decimal
    total_incl_vat: Decimal


@cache
def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (ISO 4217, from py-moneyed): EUR 2, JPY
    0, BHD 3. An unknown code is a ValueError naming it."""
    try:
        sub_unit = moneyed.get_currency(currency).sub_unit
    except moneyed.CurrencyDoesNotExist as exc:
        raise ValueError(f"unknown currency {currency!r}") from exc
    digits = 0
    while sub_unit > 1:
        sub_unit //= 10
        digits += 1
    return digits


def round_amount(value: Decimal, currency: str, mode: str = ROUND_HALF_UP) -> Decimal:
    """`value` rounded to the currency's minor unit with the named `decimal` mode."""
    if mode not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {mode!r}")
    return value.quantize(_quantum(currency), rounding=mode)


@cache
def _quantum(currency: str) -> Decimal:
    """The currency's minor unit as a quantum (EUR: Decimal("0.01"))."""
    return Decimal(1).scaleb(-minor_unit(currency))


def tariff_vat_rate(rates: Iterable[Decimal | None]) -> Decimal | None:
    """The tariff level's VAT rate from its price components' `vat` (None: omitted). All
    omitted: the tariff has none (the next level decides). Different rates: MixedVatRates."""
    found = {r for r in rates if r is not None}
    if not found:
        return None
    if len(found) > 1:
        raise MixedVatRates(
            "the tariff's price components have different VAT rates "
            f"({', '.join(str(r) for r in sorted(found))}); a rated line has one rate"
        )
    return found.pop()


def resolve_vat(
    *,
    tariff: Decimal | None,
    contract: Decimal | None,
    party: Decimal | None,
    hcc_exempt: bool = False,
) -> Vat | None:
    """Tariff > CPO contract > party; `hcc_exempt` (a reimbursement line of an HCC_E CDR)
    overrides them all with 0 %. None when no level has a rate."""
    if hcc_exempt:
        return Vat(ZERO, VAT_HCC_EXEMPT, HCC_EXEMPTION_REASON)
    for rate, source in ((tariff, VAT_TARIFF), (contract, VAT_CPO_CONTRACT), (party, VAT_PARTY)):
        if rate is not None:
            return Vat(rate, source)
    return None


def cost_plus(
    wholesale: Dimensions,
    *,
    markup_percent: Decimal | None,
    markup_per_kwh: Decimal | None,
    energy_kwh: Decimal,
) -> tuple[Dimensions, Decimal]:
    """Retail cost-plus: each wholesale dimension (exact) x (1 + percent / 100); the per-kWh
    mark-up is the adjustment."""
    factor = 1 + (markup_percent or ZERO) / HUNDRED
    return wholesale.scaled(factor), (markup_per_kwh or ZERO) * energy_kwh


def reimbursement_margin(
    *, margin_per_session: Decimal | None, margin_per_kwh: Decimal | None, energy_kwh: Decimal
) -> Decimal:
    """The margin the payer keeps, as a (negative) adjustment of the owner's amount."""
    return -((margin_per_session or ZERO) + (margin_per_kwh or ZERO) * energy_kwh)


def dimensions_of(result: pricing.PriceResult) -> tuple[Dimensions, Decimal]:
    """A pricing core result's exact amounts excl. VAT per dimension, and what its
    min/max_price clamp added (+) or took (-) from their sum (zero when not clamped)."""
    e = result.exact
    dims = Dimensions(
        e.total_fixed_cost.excl_vat,
        e.total_energy_cost.excl_vat,
        e.total_time_cost.excl_vat,
        e.total_parking_cost.excl_vat,
        e.total_reservation_cost.excl_vat,
    )
    clamped = any(a.side == "excl_vat" for a in result.adjustments)
    return dims, (e.total_cost.excl_vat - dims.total()) if clamped else ZERO


def price_periods(tariff: pricing.Tariff, session: pricing.SessionInput) -> pricing.PriceResult:
    """Price a CDR's charging periods with another tariff than the one that priced it (a
    billing rule's): the periods' `tariff_id`s name the CDR's tariff, so they are cleared."""
    if session.tariff_ids:
        session = pricing.SessionInput(
            session.start,
            session.end,
            session.time_zone,
            tuple(p._replace(tariff_id=None) for p in session.charging_periods),
            session.reservation_expired,
        )
    return pricing.price_session(tariff=tariff, session=session)


def tariff_vat(tariff: pricing.Tariff) -> Decimal | None:
    """`tariff_vat_rate` over every price component of the tariff."""
    return tariff_vat_rate(c.vat for e in tariff.elements for c in e.price_components)


def line_amounts(
    *,
    exact: Dimensions,
    adjustment: Decimal,
    vat: Vat,
    currency: str,
    rounding: str = ROUND_HALF_UP,
) -> LineAmounts:
    """The line's amounts, rounded at the one point the module docstring names."""
    rounded = Dimensions(*(round_amount(v, currency, rounding) for v in exact.values()))
    adjustment_rounded = round_amount(adjustment, currency, rounding)
    excl = rounded.total() + adjustment_rounded
    vat_amount = round_amount(excl * vat.rate / HUNDRED, currency, rounding)
    return LineAmounts(
        exact=exact,
        rounded=rounded,
        adjustment_exact=adjustment,
        adjustment=adjustment_rounded,
        total_excl_vat=excl,
        vat=vat,
        vat_amount=vat_amount,
        total_incl_vat=excl + vat_amount,
    )
