"""From the exact sub-totals of a priced session to its ``PriceResult``: the total (point 9),
the min/max_price clamp (point 8) and the tariff-level warnings (validity, missing default
elements, tariff switches). Shared by every pricing path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from billing.pricing.compiled import CompiledTariff
from billing.pricing.model import (
    PeriodPrice,
    PriceAdjustment,
    PriceResult,
    PriceWarning,
    SessionInput,
)


def finish(
    ct: CompiledTariff,
    session: SessionInput,
    mode: str,
    raw: tuple[Decimal, ...],
    total_energy: Decimal,
    total_secs: int,
    charging_secs: int,
    parking_secs: int,
    reservation_secs: int,
    billed_energy: Decimal,
    billed_time: int,
    billed_parking: int,
    billed_reservation: int,
    warnings: list[PriceWarning],
    build_periods: Callable[[], tuple[PeriodPrice, ...]],
    exact_total: tuple[Decimal, Decimal] | None = None,
    plan: tuple[CompiledTariff, ...] | None = None,
    labels: tuple[str, ...] | None = None,
) -> PriceResult:
    """Totals, min/max, tariff-level warnings, the result.

    ``exact_total`` is given when more than one time-based amount (TIME, PARKING_TIME,
    reservation TIME) is priced: it is computed with a single division of their summed
    price x seconds, so that the rounded total is the correctly rounded true total even where
    the parts (each kept to 20 decimals) would sum to 1e-20 off a rounding boundary. The total
    then equals the sum of its parts to within 1e-20 per part.
    """
    total_excl, total_incl = raw[2], raw[3]  # energy; add the others only when non-zero
    single = 1 if (total_excl or total_incl) else -1  # index of the only non-zero sub-total
    count = 1 if single == 1 else 0
    if exact_total is None:
        for j in (0, 4, 6, 8):
            if raw[j] or raw[j + 1]:
                total_excl += raw[j]
                total_incl += raw[j + 1]
                single = j >> 1
                count += 1
    else:  # the total is given: only count the non-zero sub-totals
        total_excl, total_incl = exact_total
        for j in (0, 4, 6, 8):
            if raw[j] or raw[j + 1]:
                single = j >> 1
                count += 1
    if count != 1:
        single = -1
    adjustments: tuple[PriceAdjustment, ...] = ()
    if ct.min_price is not None or ct.max_price is not None:
        total_excl, total_incl, adjustments = _clamp(ct, total_excl, total_incl, warnings)
        if adjustments:
            single = -1
    if plan is not None and labels is not None:
        _switch_warnings(ct, session, plan, labels, warnings)
    elif ct.no_default_warnings:
        warnings.extend(ct.no_default_warnings)
    if ct.start_date_time is not None and session.start < ct.start_date_time:
        warnings.append(
            PriceWarning(
                "TARIFF_NOT_YET_ACTIVE",
                "the session starts before the tariff's start_date_time",
                "$.start_date_time",
            )
        )
    if ct.end_date_time is not None and session.start >= ct.end_date_time:
        warnings.append(
            PriceWarning(
                "TARIFF_EXPIRED",
                "the session starts after the tariff's end_date_time",
                "$.end_date_time",
            )
        )
    return PriceResult(
        ct.currency,
        mode,
        ct.minor_unit,
        (*raw, total_excl, total_incl),
        total_energy,
        total_secs,
        charging_secs,
        parking_secs,
        reservation_secs,
        billed_energy,
        billed_time,
        billed_parking,
        billed_reservation,
        adjustments,
        tuple(warnings),
        build_periods,
        single,
    )


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


def _switch_warnings(
    first: CompiledTariff,
    session: SessionInput,
    plan: tuple[CompiledTariff, ...],
    labels: tuple[str, ...],
    warnings: list[PriceWarning],
) -> None:
    """Tariff-level warnings of a session priced with several tariffs: each switch, the
    limits of a later tariff that do not apply, each tariff's validity (as of the first
    period it prices) and missing default elements. ``first`` is the first period's tariff."""
    periods = session.charging_periods
    first_use: dict[int, int] = {}
    for i, x in enumerate(plan):
        first_use.setdefault(id(x), i)
    for i in range(1, len(plan)):
        if labels[i] != labels[i - 1]:
            warnings.append(
                PriceWarning(
                    "TARIFF_SWITCH",
                    f"the tariff changes from {labels[i - 1]!r} to {labels[i]!r} at "
                    f"{_when(periods[i].start_date_time)}; FLAT and step_size apply once per "
                    f"session, min/max_price are those of {labels[0]!r}",
                    f"$.charging_periods[{i}].tariff_id",
                )
            )
    for x in {id(x): x for x in plan}.values():
        i = first_use[id(x)]
        for w in x.no_default_warnings:
            warnings.append(PriceWarning(w.code, f"tariff {labels[i]!r}: {w.message}", w.path))
        if x is first:
            continue  # the first tariff's validity: checked by finish, as for one tariff
        path = f"$.charging_periods[{i}].tariff_id"
        when = periods[i].start_date_time
        if (x.min_price, x.max_price) != (first.min_price, first.max_price) and (
            x.min_price is not None or x.max_price is not None
        ):
            warnings.append(
                PriceWarning(
                    "TARIFF_LIMITS_NOT_APPLIED",
                    f"tariff {labels[i]!r} has its own min_price/max_price; across a tariff "
                    f"switch total_cost is limited by those of the first period's tariff "
                    f"{labels[0]!r}",
                    path,
                )
            )
        if x.start_date_time is not None and when < x.start_date_time:
            warnings.append(
                PriceWarning(
                    "TARIFF_NOT_YET_ACTIVE",
                    f"period {i} starts before the start_date_time of tariff {labels[i]!r}",
                    path,
                )
            )
        if x.end_date_time is not None and when >= x.end_date_time:
            warnings.append(
                PriceWarning(
                    "TARIFF_EXPIRED",
                    f"period {i} starts after the end_date_time of tariff {labels[i]!r}",
                    path,
                )
            )


def _clamp(
    ct: CompiledTariff, excl: Decimal, incl: Decimal, warnings: list[PriceWarning]
) -> tuple[Decimal, Decimal, tuple[PriceAdjustment, ...]]:
    """Point 8: min_price / max_price clamp total_cost, excl and incl independently."""
    adjustments: list[PriceAdjustment] = []
    for name, limit in (("min_price", ct.min_price), ("max_price", ct.max_price)):
        if limit is None:
            continue
        below = name == "min_price"
        if (excl < limit.excl_vat) if below else (excl > limit.excl_vat):
            adjustments.append(PriceAdjustment(name, "excl_vat", excl, limit.excl_vat))
            excl = limit.excl_vat
        if limit.incl_vat is None:
            warnings.append(
                PriceWarning(
                    "LIMIT_WITHOUT_INCL_VAT",
                    f"{name} has no incl_vat: the incl. VAT total is not clamped",
                    f"$.{name}",
                )
            )
        elif (incl < limit.incl_vat) if below else (incl > limit.incl_vat):
            adjustments.append(PriceAdjustment(name, "incl_vat", incl, limit.incl_vat))
            incl = limit.incl_vat
    return excl, incl, tuple(adjustments)
