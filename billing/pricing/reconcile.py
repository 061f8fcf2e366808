"""Re-price a CDR received from a roaming partner and compare its totals (PRICING.md 9, 12)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.catalogue import Tariffs
from billing.pricing.collect import Collector
from billing.pricing.engine import ROUND_HALF_UP, price_session
from billing.pricing.model import (
    Amount,
    Difference,
    InputIssue,
    PriceResult,
    PricingInputError,
    Reconciliation,
)
from billing.pricing.parse import parse_cdr_session
from billing.pricing.serialize import hours
from billing.pricing.tariff import Tariff

COST_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
_VOLUME_TOLERANCE = Decimal("0.001")


def _theirs_amount(c: Collector, value: Any, path: str) -> tuple[Decimal | None, Decimal | None]:
    if value is None:
        return None, None
    if c.version == "2.1.1":  # total_cost is a plain number (excl. VAT)
        return c.number(value, path), None
    if not isinstance(value, Mapping):  # 2.2.1: a Price object
        c.add(path, "expected a Price object {excl_vat, incl_vat}")
        return None, None
    excl = c.number(value.get("excl_vat"), f"{path}.excl_vat")
    incl = c.number(value.get("incl_vat"), f"{path}.incl_vat")
    return excl, incl


def compare_totals(
    result: PriceResult,
    cdr: Mapping[str, Any],
    *,
    tolerance: Decimal = Decimal("0.01"),
    ocpi_version: str = "2.2.1",
) -> tuple[Difference, ...]:
    """Every reported sub-total (each side) that differs from ours by more than ``tolerance``.

    Sub-totals the CDR does not report are not compared (in a Credit CDR a negated value
    is compared with ours negated); a CDR currency other than the tariff's is an error;
    volumes (``total_energy`` kWh, ``total_time`` and ``total_parking_time`` h) are
    compared with a 0.001 tolerance.
    """
    c = Collector(ocpi_version)
    diffs: list[Difference] = []
    credit = cdr.get("credit") is True
    if isinstance(cdr.get("currency"), str) and cdr["currency"] != result.currency:
        c.add("$.currency", f"{cdr['currency']} differs from the tariff's {result.currency}")
    for name in COST_FIELDS:
        theirs_excl, theirs_incl = _theirs_amount(c, cdr.get(name), f"$.{name}")
        ours: Amount = getattr(result.totals, name)
        for side, theirs, mine in (
            ("excl_vat", theirs_excl, ours.excl_vat),
            ("incl_vat", theirs_incl, ours.incl_vat),
        ):
            if credit and theirs is not None and theirs * mine < 0:
                mine = -mine  # a Credit CDR: negated (total_cost; every amount in some)
            if theirs is not None and abs(theirs - mine) > tolerance:
                diffs.append(Difference(name, side, mine, theirs))
    for name, mine in (
        ("total_energy", result.total_energy),
        ("total_time", hours(result.total_time_seconds)),
        ("total_parking_time", hours(result.total_parking_seconds)),
    ):
        theirs = c.number(cdr.get(name), f"$.{name}")
        if credit and theirs is not None and theirs * mine < 0:
            mine = -mine
        if theirs is not None and abs(theirs - mine) > _VOLUME_TOLERANCE:
            diffs.append(Difference(name, "volume", mine, theirs))
    if c.issues:
        raise PricingInputError(c.issues)
    return tuple(diffs)


def reconcile_cdr(
    *,
    tariff: Tariff,
    cdr: Mapping[str, Any],
    time_zone: str | None = None,
    tolerance: Decimal = Decimal("0.01"),
    ocpi_version: str = "2.2.1",
    rounding: str = ROUND_HALF_UP,
    tariffs: Tariffs | None = None,
) -> Reconciliation:
    """Re-price ``cdr`` with ``tariff`` (same function as live and final pricing) and report
    each sub-total that differs by more than ``tolerance`` (default +-0.01).

    ``tariffs``: the other tariffs the CDR's periods may name by ``tariff_id`` (a tariff
    switch), as for ``price_session``."""
    if tolerance < 0:
        raise PricingInputError([InputIssue("tolerance", "must not be negative")])
    session = parse_cdr_session(cdr, time_zone=time_zone, ocpi_version=ocpi_version)
    result = price_session(tariff=tariff, session=session, rounding=rounding, tariffs=tariffs)
    diffs = compare_totals(result, cdr, tolerance=tolerance, ocpi_version=ocpi_version)
    return Reconciliation(ok=not diffs, tolerance=tolerance, differences=diffs, result=result)
