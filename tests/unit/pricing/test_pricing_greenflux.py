"""GreenFlux-style price features expressed on the core (issue 3, item 7)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.pricing import parse_cdr_session, parse_tariff, price_session

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pricing"
CASES = json.loads((FIXTURES / "greenflux_cases.json").read_text(), parse_float=Decimal)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_feature(case: dict[str, Any]) -> None:
    tariff = parse_tariff(case["tariff"])
    session = parse_cdr_session(case["cdr"], time_zone="Europe/Amsterdam")
    result = price_session(tariff=tariff, session=session)
    for key, want in case["expected"].items():
        if key == "exact_total_cost":
            got = result.exact.total_cost
            assert [got.excl_vat, got.incl_vat] == [Decimal(w) for w in want]
        elif key.endswith("_cost"):
            got = getattr(result.totals, key)
            assert [str(got.excl_vat), str(got.incl_vat)] == want, key
        elif key == "adjustments":
            assert len(result.adjustments) == want
        else:
            assert getattr(result, key) == want, key
    codes = {w.code for w in result.warnings}
    assert "VOLUME_INCONSISTENT" not in codes
    assert "PERIOD_SPANS_PRICE_CHANGE" not in codes


def test_dynamic_tariff_without_default_element_warns() -> None:
    case = next(c for c in CASES if c["name"] == "dynamic_time_based")
    result = price_session(
        tariff=parse_tariff(case["tariff"]),
        session=parse_cdr_session(case["cdr"], time_zone="Europe/Amsterdam"),
    )
    assert [(w.code, w.path) for w in result.warnings] == [("NO_DEFAULT_ELEMENT", "$.elements")]


def test_min_price_adjustment_is_recorded() -> None:
    case = next(c for c in CASES if c["name"] == "min_session_price")
    result = price_session(
        tariff=parse_tariff(case["tariff"]),
        session=parse_cdr_session(case["cdr"], time_zone="Europe/Amsterdam"),
    )
    adj = [(a.limit, a.side, a.before, a.after) for a in result.adjustments]
    assert adj == [
        ("min_price", "excl_vat", Decimal("0.80"), Decimal("2.00")),
        ("min_price", "incl_vat", Decimal("0.9680"), Decimal("2.42")),
    ]
