"""billing.rating.amounts: the one rounding point, VAT levels, mark-ups and margins (pure)."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.rating import amounts
from billing.rating.amounts import Dimensions, Vat

D = Decimal
exact = st.decimals(
    min_value=D("-1000"), max_value=D("1000"), places=8, allow_nan=False, allow_infinity=False
)
rates = st.sampled_from([D("0"), D("5.5"), D("9"), D("19"), D("20"), D("21"), D("25.5")])
modes = st.sampled_from(sorted(amounts.ROUNDING_MODES))
currencies = st.sampled_from(["EUR", "JPY", "BHD", "CHF"])


def test_minor_units_come_from_the_iso_table() -> None:
    assert [amounts.minor_unit(c) for c in ("EUR", "JPY", "BHD", "GBP")] == [2, 0, 3, 2]
    with pytest.raises(ValueError, match="XXY"):
        amounts.minor_unit("XXY")


def test_rounding_modes_are_named() -> None:
    assert amounts.round_amount(D("2.525"), "EUR") == D("2.53")
    assert amounts.round_amount(D("2.525"), "EUR", decimal.ROUND_HALF_EVEN) == D("2.52")
    assert amounts.round_amount(D("-0.2469"), "EUR") == D("-0.25")
    assert amounts.round_amount(D("152.5"), "JPY") == D("153")
    with pytest.raises(ValueError, match="unknown rounding mode"):
        amounts.round_amount(D("1"), "EUR", "HALF_SOMETIMES")


def test_vat_levels_first_wins_and_hcc_exempt_overrides() -> None:
    assert amounts.resolve_vat(tariff=D("9"), contract=D("19"), party=D("21")) == Vat(
        D("9"), "TARIFF"
    )
    assert amounts.resolve_vat(tariff=None, contract=D("19"), party=D("21")) == Vat(
        D("19"), "CPO_CONTRACT"
    )
    assert amounts.resolve_vat(tariff=None, contract=None, party=D("21")) == Vat(D("21"), "PARTY")
    assert amounts.resolve_vat(tariff=None, contract=None, party=None) is None
    exempt = amounts.resolve_vat(tariff=D("21"), contract=None, party=None, hcc_exempt=True)
    assert exempt == Vat(D("0"), "HCC_EXEMPT", amounts.HCC_EXEMPTION_REASON)


def test_tariff_vat_rate_needs_one_rate() -> None:
    assert amounts.tariff_vat_rate([None, None]) is None
    assert amounts.tariff_vat_rate([D("21"), None, D("21")]) == D("21")
    with pytest.raises(amounts.MixedVatRates, match="9, 21"):
        amounts.tariff_vat_rate([D("21"), D("9")])


def test_cost_plus_and_margin() -> None:
    dims, adjustment = amounts.cost_plus(
        Dimensions(fixed=D("1"), energy=D("2.25")),
        markup_percent=D("5"),
        markup_per_kwh=D("0.05"),
        energy_kwh=D("7.5"),
    )
    assert (dims.fixed, dims.energy, adjustment) == (D("1.05"), D("2.3625"), D("0.375"))
    assert amounts.reimbursement_margin(
        margin_per_session=D("0.50"), margin_per_kwh=D("0.02"), energy_kwh=D("12.345")
    ) == D("-0.7469")


@given(
    st.lists(exact, min_size=5, max_size=5),
    exact,
    rates,
    modes,
    currencies,
)
def test_a_line_adds_up_as_printed_and_its_negation_cancels_it(
    parts: list[Decimal], adjustment: Decimal, rate: Decimal, mode: str, currency: str
) -> None:
    line = amounts.line_amounts(
        exact=Dimensions(*parts),
        adjustment=adjustment,
        vat=Vat(rate, "PARTY"),
        currency=currency,
        rounding=mode,
    )
    quantum = D(1).scaleb(-amounts.minor_unit(currency))
    for value in (*line.rounded.values(), line.adjustment, line.vat_amount):
        assert value == value.quantize(quantum)  # rounded to the minor unit
    for raw, rounded in zip(parts, line.rounded.values(), strict=True):
        assert abs(raw - rounded) < quantum  # once, never twice
    assert line.total_excl_vat == line.rounded.total() + line.adjustment
    assert line.total_incl_vat == line.total_excl_vat + line.vat_amount
    assert line.vat_amount == (line.total_excl_vat * rate / 100).quantize(quantum, rounding=mode)
    # a reversal is the line negated: the two sum to zero in every column
    negated = amounts.line_amounts(
        exact=Dimensions(*(-p for p in parts)),
        adjustment=-adjustment,
        vat=Vat(rate, "PARTY"),
        currency=currency,
        rounding=mode,
    )
    # every named mode is symmetric about zero (no CEILING / FLOOR): the negated amounts
    # round to exactly the negated line
    assert negated.total_incl_vat == -line.total_incl_vat
    assert negated.vat_amount == -line.vat_amount
    assert negated.rounded == Dimensions(*(-v for v in line.rounded.values()))
