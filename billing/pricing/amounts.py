"""Exact amounts and durations shared by every pricing path (``engine``, ``fast_paths``,
``general``): the seconds -> hours division, step_size rounding, the duration of a period
(point 5) and the volume-consistency check (point 10).

Money is ``Decimal`` at full precision here; rounding to the minor unit happens only in
``PriceResult.totals`` (point 9).
"""

from __future__ import annotations

import decimal
from decimal import Context, Decimal

from billing.pricing.model import ZERO, Category, ChargingPeriod, Dimension, PriceWarning

# Divisions (seconds -> hours) are the only inexact operations; done with ample precision.
DIV = Context(prec=50)
# Exact values are exact to 20 decimals: only the seconds -> hours divisions are rounded there,
# far below any currency's minor unit, so sums of parts stay exact in any 28-digit context.
Q20 = Decimal("1e-20")
SECONDS_PER_HOUR = Decimal(3600)
WH_PER_KWH = Decimal(1000)
# The exact sub-totals of a session that prices nothing: fixed, energy, time, parking,
# reservation and total, excl and incl each.
ZERO_RAW = (ZERO,) * 12

F = Dimension.FLAT
E = Dimension.ENERGY
T = Dimension.TIME
P = Dimension.PARKING_TIME
C_FIXED = Category.FIXED
C_ENERGY = Category.ENERGY
C_TIME = Category.TIME
C_PARKING = Category.PARKING
C_RES = Category.RESERVATION


def hours_amount(price_seconds: Decimal) -> Decimal:
    """price x seconds -> money: / 3600, exact to 20 decimals (see Q20)."""
    if not price_seconds:
        return price_seconds
    return DIV.quantize(DIV.divide(price_seconds, SECONDS_PER_HOUR), Q20)


def ceil_to_step(value: Decimal, step: int) -> Decimal:
    if value % step == 0:
        return value
    return (value / step).to_integral_value(rounding=decimal.ROUND_CEILING) * step


def inconsistent(volume_h: Decimal, seconds: int) -> bool:
    """A duration volume (hours) that does not fit the period's timestamps (point 10).

    Tolerance: 1 s, or half a unit of the volume's last decimal (1.973 h: +-1.8 s).
    """
    if abs(float(volume_h) * 3600.0 - seconds) <= 0.999:  # a tolerance, not money: float is fine
        return False
    diff = abs(volume_h * SECONDS_PER_HOUR - seconds)
    if diff <= 1:
        return False
    exponent = volume_h.as_tuple().exponent
    if not isinstance(exponent, int):  # pragma: no cover - finite by construction
        return True
    return diff > Decimal(1800).scaleb(exponent) if exponent < 0 else diff > 1800


def volume_warning(i: int, name: str, volume: Decimal, seconds: int) -> PriceWarning:
    hours = DIV.divide(Decimal(seconds), SECONDS_PER_HOUR).quantize(Decimal("0.000001"))
    return PriceWarning(
        "VOLUME_INCONSISTENT",
        f"{name} volume {volume} h does not fit the period's timestamps ({seconds} s = "
        f"{hours} h); durations are taken from the timestamps",
        f"$.charging_periods[{i}].dimensions",
    )


def durations(
    p: ChargingPeriod, i: int, secs: int, warnings: list[PriceWarning]
) -> tuple[int, int]:
    """Point 5: the period's wall time goes to TIME or PARKING_TIME; with both present,
    PARKING_TIME takes its (rounded) volume and TIME the rest. A zero volume is zero."""
    t_vol, pk_vol = p.time, p.parking_time
    if pk_vol is None:
        if t_vol is None:
            return 0, 0
        t_secs = secs if t_vol > ZERO else 0
        if inconsistent(t_vol, t_secs):
            warnings.append(volume_warning(i, "TIME", t_vol, secs))
        return t_secs, 0
    if t_vol is None:
        pk_secs = secs if pk_vol > ZERO else 0
        if inconsistent(pk_vol, pk_secs):
            warnings.append(volume_warning(i, "PARKING_TIME", pk_vol, secs))
        return 0, pk_secs
    pk_secs = min(secs, int((pk_vol * SECONDS_PER_HOUR).to_integral_value()))
    t_secs = secs - pk_secs if t_vol > ZERO else 0
    if inconsistent(t_vol + pk_vol, t_secs + pk_secs):
        warnings.append(volume_warning(i, "TIME+PARKING_TIME", t_vol + pk_vol, secs))
    return t_secs, pk_secs
