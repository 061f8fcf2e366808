"""How the portal shows amounts of money: the one place that rounds them for display.

The pricing core's amounts are exact (per period up to 20 decimals) and the stored CDR
totals keep 4 decimals; the portal shows every amount in the currency's minor unit
(ISO 4217: 2 for EUR, 0 for JPY, 3 for KWD), rounded with `DISPLAY_ROUNDING`, the pricing
core's default mode. A CDR's cost breakdown rounds each dimension the same way and shows
what the rounded lines miss of the total as a line of its own, so the lines on the page add
up to the total on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from billing.pricing.compiled import minor_unit

DISPLAY_ROUNDING = ROUND_HALF_UP  # as billing.pricing rounds totals by default
NONE = "—"


def rounded(amount: Decimal | str | int | None, currency: str) -> Decimal | None:
    """`amount` in the currency's minor unit (None for no amount)."""
    if amount is None or amount == "":
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=DISPLAY_ROUNDING)


def money(amount: Decimal | str | int | None, currency: str) -> str:
    """`amount` as the portal shows it: `0.50000000000000000000` EUR -> `0.50`; no amount ->
    `—`."""
    value = rounded(amount, currency)
    return NONE if value is None else f"{value:f}"


@dataclass(frozen=True)
class BreakdownLine:
    label: str
    excl_vat: str
    incl_vat: str
    kind: str  # "part", "difference" or "total"


ROUNDING_LINE = "Rounding difference"
ADJUSTED_LINE = "Minimum / maximum price and rounding"


def _difference(total: Decimal | None, parts: list[Decimal | None]) -> Decimal | None:
    if total is None:
        return None
    return total - sum((p for p in parts if p is not None), Decimal(0))


def cost_breakdown(
    parts: list[tuple[str, Decimal | None, Decimal | None]],
    total: tuple[str, Decimal | None, Decimal | None],
    *,
    currency: str,
    adjusted: bool = False,
) -> list[BreakdownLine]:
    """The dimensions' lines, then (when the rounded lines do not add up to the rounded
    total) the difference as its own line, then the total. `adjusted`: the pricing clamped the
    total to the tariff's minimum or maximum price, which the difference then includes."""
    excl = [rounded(e, currency) for _, e, _ in parts]
    incl = [rounded(i, currency) for _, _, i in parts]
    label, total_excl, total_incl = total
    t_excl, t_incl = rounded(total_excl, currency), rounded(total_incl, currency)
    lines = [
        BreakdownLine(name, money(e, currency), money(i, currency), "part")
        for (name, _, _), e, i in zip(parts, excl, incl, strict=True)
    ]
    d_excl, d_incl = _difference(t_excl, excl), _difference(t_incl, incl)
    if d_excl or d_incl:
        lines.append(
            BreakdownLine(
                ADJUSTED_LINE if adjusted else ROUNDING_LINE,
                money(d_excl, currency),
                money(d_incl, currency),
                "difference",
            )
        )
    lines.append(BreakdownLine(label, money(t_excl, currency), money(t_incl, currency), "total"))
    return lines
