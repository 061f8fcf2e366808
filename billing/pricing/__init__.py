"""Pricing core: OCPI 2.2.1 / 2.1.1 tariffs priced exactly with ``Decimal``.

Pure Python (stdlib only, no Django). One function prices the live session, the final CDR
and a foreign CDR alike (PRICING.md point 12). See docs/pricing.md.
"""

from billing.pricing.catalogue import TariffCatalogue
from billing.pricing.engine import ROUND_HALF_UP, price_session
from billing.pricing.model import (
    Amount,
    Category,
    CdrDimension,
    ChargingPeriod,
    ChargingState,
    CostTotals,
    DayOfWeek,
    Difference,
    Dimension,
    DimensionPrice,
    InputIssue,
    MeterSample,
    MeterValues,
    PeriodPrice,
    Price,
    PriceAdjustment,
    PriceComponent,
    PriceResult,
    PriceWarning,
    PricingError,
    PricingInputError,
    Reconciliation,
    ReservationRestriction,
    SessionInput,
    TariffElement,
    TariffRestrictions,
    TariffSwitch,
    TariffType,
)
from billing.pricing.parse import parse_cdr_session, parse_charging_periods, parse_meter_values
from billing.pricing.reconcile import reconcile_cdr
from billing.pricing.serialize import periods_to_ocpi, result_to_ocpi, tariff_to_ocpi
from billing.pricing.splitter import split_session
from billing.pricing.tariff import Tariff
from billing.pricing.tariff_parser import parse_tariff

__all__ = [
    "ROUND_HALF_UP",
    "Amount",
    "Category",
    "CdrDimension",
    "ChargingPeriod",
    "ChargingState",
    "CostTotals",
    "DayOfWeek",
    "Difference",
    "Dimension",
    "DimensionPrice",
    "InputIssue",
    "MeterSample",
    "MeterValues",
    "PeriodPrice",
    "Price",
    "PriceAdjustment",
    "PriceComponent",
    "PriceResult",
    "PriceWarning",
    "PricingError",
    "PricingInputError",
    "Reconciliation",
    "ReservationRestriction",
    "SessionInput",
    "Tariff",
    "TariffElement",
    "TariffCatalogue",
    "TariffRestrictions",
    "TariffSwitch",
    "TariffType",
    "parse_cdr_session",
    "parse_charging_periods",
    "parse_meter_values",
    "parse_tariff",
    "periods_to_ocpi",
    "price_session",
    "reconcile_cdr",
    "result_to_ocpi",
    "split_session",
    "tariff_to_ocpi",
]
