"""EN 16931 arithmetic of a document, in plain Python (no Django): the VAT category of a line,
the VAT breakdown per category and rate, and the totals (BILLING.md section 4, ADR 0035).

The rules (EN 16931-1, BR-CO-10 to BR-CO-17 and BR-S-08 / BR-E-08 / BR-AE-08):
- a line's net amount is already rounded to the currency's minor unit (the rated line's
  `total_excl_vat`, rounded at its one rounding point);
- VAT is computed once per (category, rate) group on the sum of that group's line nets,
  rounded HALF_UP to the minor unit (`VAT_ROUNDING`);
- net total = sum of line nets; VAT total = sum of the groups' VAT;
  total = net total + VAT total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from apps.invoicing.contracts import VatCategory

VAT_ROUNDING = ROUND_HALF_UP  # the named rounding of a VAT group's amount
ZERO = Decimal("0")

# The minor unit of the currencies documents may have (ISO 4217); others: 2 decimals.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "HUF": 2, "CHF": 2, "BHD": 3, "KWD": 3}

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

EXEMPTION_HCC = "Home charging reimbursement: VAT not charged (HCC_E)"
EXEMPTION_REVERSE_CHARGE = "Reverse charge"  # EN 16931 BT-120 text for category AE


@cache
def quantum(currency: str) -> Decimal:
    """The minor unit of `currency` as a Decimal exponent: EUR -> 0.01, JPY -> 1 (cached: a
    document's every amount asks)."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=VAT_ROUNDING)


def reverse_charge_applies(
    *, seller_country: str, buyer_country: str, buyer_vat_number: str, buyer_is_business: bool
) -> bool:
    """EU reverse charge (category AE): a business buyer with a VAT number, in another EU
    member state than the seller. The VAT number's format is checked by the caller
    (`vat_number_problem`); here only its presence counts."""
    s, b = seller_country.upper(), buyer_country.upper()
    return (
        buyer_is_business
        and bool(buyer_vat_number.strip())
        and s in EU_COUNTRIES
        and b in EU_COUNTRIES
        and s != b
    )


def line_vat_category(
    *, vat_rate: Decimal, exemption_reason: str, reverse_charge: bool
) -> tuple[VatCategory, Decimal, str]:
    """The category, rate and exemption reason a document line carries, from its rated
    line's VAT rate and exemption reason (HCC_E) and the document's reverse-charge case."""
    if reverse_charge:
        return VatCategory.REVERSE_CHARGE, ZERO, EXEMPTION_REVERSE_CHARGE
    if vat_rate == 0:
        if exemption_reason:
            return VatCategory.EXEMPT, ZERO, exemption_reason
        return VatCategory.ZERO, ZERO, ""
    return VatCategory.STANDARD, vat_rate, ""


@dataclass(frozen=True, slots=True)
class TaxedLine:
    net: Decimal  # rounded to the minor unit; negative for a correction line
    category: VatCategory
    rate: Decimal
    exemption_reason: str = ""


@dataclass(frozen=True, slots=True)
class VatGroup:
    category: VatCategory
    rate: Decimal
    taxable: Decimal
    vat: Decimal
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class Totals:
    net_total: Decimal
    vat_total: Decimal
    total: Decimal
    groups: tuple[VatGroup, ...]


def document_totals(lines: Iterable[TaxedLine], currency: str) -> Totals:
    """The VAT breakdown (sorted by category, then rate) and totals of a document's lines."""
    q = quantum(currency)
    sums: dict[tuple[VatCategory, Decimal], Decimal] = {}
    reasons: dict[tuple[VatCategory, Decimal], str] = {}
    for line in lines:
        if line.net != line.net.quantize(q):
            raise ValueError(f"line net {line.net} is not rounded to {q} ({currency})")
        key = (line.category, line.rate)
        sums[key] = sums.get(key, ZERO) + line.net
        if line.exemption_reason and key not in reasons:
            reasons[key] = line.exemption_reason
    groups = tuple(
        VatGroup(
            category=cat,
            rate=rate,
            taxable=taxable.quantize(q),
            vat=(taxable * rate / 100).quantize(q, rounding=VAT_ROUNDING),
            exemption_reason=reasons.get((cat, rate), ""),
        )
        for (cat, rate), taxable in sorted(sums.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    )
    net_total = sum((g.taxable for g in groups), ZERO).quantize(q)
    vat_total = sum((g.vat for g in groups), ZERO).quantize(q)
    return Totals(
        net_total=net_total, vat_total=vat_total, total=net_total + vat_total, groups=groups
    )


def vat_number_problem(vat_number: str) -> str | None:
    """None when `vat_number` is empty or a well-formed EU VAT number (python-stdnum checks
    the country's format and check digits); else what is wrong, for the user."""
    from stdnum.eu import vat as eu_vat
    from stdnum.exceptions import ValidationError

    if not vat_number.strip():
        return None
    try:
        eu_vat.validate(vat_number)
    except ValidationError as exc:
        return f"{vat_number!r} is not a valid EU VAT number: {exc}"
    return None
