"""Amounts as the portal shows them (`portal.views.money`): the currency's minor unit, half
up, and a CDR's breakdown whose lines add up to its total. No database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.views.money import ADJUSTED_LINE, ROUNDING_LINE, BreakdownLine, cost_breakdown, money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("0.50000000000000000000", "EUR", "0.50"),  # a parking period, exact to 20 decimals
        ("2.97500000000000000000", "EUR", "2.98"),  # half up
        (Decimal("0.6050"), "EUR", "0.61"),
        (Decimal("-0.005"), "EUR", "-0.01"),
        (Decimal("3.0000"), "EUR", "3.00"),
        ("1234.5", "JPY", "1235"),  # no minor unit
        ("1.2345", "KWD", "1.235"),  # three decimals
        (None, "EUR", "—"),
        ("", "EUR", "—"),
        ("not a number", "EUR", "—"),
    ],
)
def test_money_rounds_to_the_minor_unit_half_up(amount, currency, shown) -> None:
    assert money(amount, currency) == shown


def _parts(energy: str, parking: str) -> list[tuple[str, Decimal | None, Decimal | None]]:
    return [
        ("Start fee (flat)", Decimal("0"), Decimal("0")),
        ("Energy", Decimal(energy), Decimal(energy)),
        ("Parking time", Decimal(parking), Decimal(parking)),
        ("Reservation", None, None),
    ]


def test_rounded_lines_that_miss_the_total_get_a_rounding_line() -> None:
    # The CDR: energy 0.6050 and parking 0.1950 exact; each line rounded alone shows
    # 0.61 + 0.20 = 0.81 against a total of 0.80.
    lines = cost_breakdown(
        _parts("0.6050", "0.1950"),
        ("Total", Decimal("0.8000"), Decimal("0.8000")),
        currency="EUR",
    )
    assert lines == [
        BreakdownLine("Start fee (flat)", "0.00", "0.00", "part"),
        BreakdownLine("Energy", "0.61", "0.61", "part"),
        BreakdownLine("Parking time", "0.20", "0.20", "part"),
        BreakdownLine("Reservation", "—", "—", "part"),
        BreakdownLine(ROUNDING_LINE, "-0.01", "-0.01", "difference"),
        BreakdownLine("Total", "0.80", "0.80", "total"),
    ]
    shown = [Decimal(line.excl_vat) for line in lines[:-1] if line.excl_vat != "—"]
    assert sum(shown) == Decimal(lines[-1].excl_vat)


def test_lines_that_add_up_get_no_rounding_line() -> None:
    lines = cost_breakdown(
        _parts("6.0700", "2.5000"), ("Total", Decimal("8.5700"), None), currency="EUR"
    )
    assert [line.kind for line in lines] == ["part", "part", "part", "part", "total"]
    assert lines[-1] == BreakdownLine("Total", "8.57", "—", "total")


def test_a_clamped_total_says_the_difference_is_the_minimum_price() -> None:
    lines = cost_breakdown(
        _parts("0.4000", "0.0000"),
        ("Total", Decimal("1.0000"), Decimal("1.2100")),
        currency="EUR",
        adjusted=True,
    )
    assert lines[-2] == BreakdownLine(ADJUSTED_LINE, "0.60", "0.81", "difference")
