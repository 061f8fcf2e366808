"""``price_session``: the one pricing function (live cost, final CDR, foreign CDR).

Follows PRICING.md point by point; the numbers in comments refer to its points.
Money is ``Decimal`` at full precision until the named rounding point at the end
(point 9). Durations are integer seconds computed from timestamps (point 5).
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Context, Decimal
from zoneinfo import ZoneInfoNotFoundError

from billing.pricing.compiled import (
    Candidate,
    CompiledTariff,
    Ctx,
    LocalClock,
    MissingDimensionError,
    select,
)
from billing.pricing.model import (
    ZERO,
    Amount,
    Category,
    ChargingPeriod,
    CostTotals,
    Dimension,
    DimensionPrice,
    InputIssue,
    PeriodPrice,
    PriceAdjustment,
    PriceResult,
    PriceWarning,
    PricingInputError,
    SessionInput,
    Tariff,
)

ROUND_HALF_UP = decimal.ROUND_HALF_UP
ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_05UP,
    }
)

# Divisions (seconds -> hours) are the only inexact operations; do them with ample precision.
_DIV = Context(prec=50)
# Exact values are exact to 20 decimals: only the seconds -> hours divisions are rounded there,
# far below any currency's minor unit, so sums of parts stay exact in any 28-digit context.
_Q20 = Decimal("1e-20")
_3600 = Decimal(3600)
_1000 = Decimal(1000)
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SEC = dt.timedelta(seconds=1)
_MAX_EDGE_STEPS = 1000

F = Dimension.FLAT
E = Dimension.ENERGY
T = Dimension.TIME
P = Dimension.PARKING_TIME


def rounding_mode(rounding: str) -> str:
    """Accept ``decimal.ROUND_HALF_UP`` or the short name ``HALF_UP``."""
    mode = rounding if rounding.startswith("ROUND_") else f"ROUND_{rounding}"
    if mode not in ROUNDING_MODES:
        raise PricingInputError(
            [
                InputIssue(
                    "rounding",
                    f"unknown rounding mode {rounding!r}; one of "
                    f"{', '.join(sorted(ROUNDING_MODES))}",
                )
            ]
        )
    return mode


def epoch(value: dt.datetime) -> int:
    """Whole seconds since the epoch (fractions of a second are dropped)."""
    if value.tzinfo is None:
        raise PricingInputError(
            [
                InputIssue(
                    "$", f"naive datetime {value.isoformat()}: timestamps must be timezone-aware"
                )
            ]
        )
    return (value - _EPOCH) // _SEC


def _hours_amount(price_seconds: Decimal) -> Decimal:
    """price x seconds -> money: / 3600, exact to 20 decimals (see _Q20)."""
    if not price_seconds:
        return price_seconds
    return _DIV.quantize(_DIV.divide(price_seconds, _3600), _Q20)


def _vat_factor(vat: Decimal | None) -> Decimal:
    return _ONE if vat is None else _ONE + vat / _HUNDRED


class _Row:
    """Mutable accumulator of one dimension in one period, frozen into DimensionPrice later."""

    __slots__ = ("category", "cand", "volume", "surplus")

    def __init__(self, category: Category, cand: Candidate, volume: Decimal | int) -> None:
        self.category = category
        self.cand = cand
        self.volume = volume  # kWh (Decimal), seconds (int) or 1 (FLAT)
        self.surplus: Decimal | int = 0


def _inconsistent(volume_h: Decimal, seconds: int) -> bool:
    """A duration volume (hours) that does not fit the period's timestamps (point 10).

    Tolerance: 1 s, or half a unit of the volume's last decimal (1.973 h: +-1.8 s).
    """
    diff = abs(volume_h * _3600 - seconds)
    if diff <= 1:
        return False
    exponent = volume_h.as_tuple().exponent
    if not isinstance(exponent, int):  # pragma: no cover - finite by construction
        return True
    return diff > Decimal(1800).scaleb(exponent) if exponent < 0 else diff > 1800


def price_session(
    *, tariff: Tariff, session: SessionInput, rounding: str = ROUND_HALF_UP
) -> PriceResult:
    """Price a session (live: ``session.end`` is "now"; final or foreign CDR alike)."""
    if decimal.getcontext().prec < 28:
        with decimal.localcontext(_DIV):
            return price_session(tariff=tariff, session=session, rounding=rounding)
    ct: CompiledTariff = tariff.compiled
    mode = rounding_mode(rounding)
    periods = session.charging_periods
    n = len(periods)
    start_s = epoch(session.start)
    end_s = epoch(session.end)
    starts = [epoch(p.start_date_time) for p in periods]
    issues: list[InputIssue] = []
    warnings: list[PriceWarning] = []
    if end_s < start_s:
        issues.append(InputIssue("$.end_date_time", "is before start_date_time"))
    for i, s in enumerate(starts):
        if s < (starts[i - 1] if i else start_s):
            issues.append(
                InputIssue(
                    f"$.charging_periods[{i}].start_date_time",
                    "is before the previous period or the session start",
                )
            )
        if s > end_s:
            issues.append(
                InputIssue(f"$.charging_periods[{i}].start_date_time", "is after the session end")
            )
    if issues:
        raise PricingInputError(issues)

    clock: LocalClock | None = None
    if ct.needs_local:
        try:
            clock = LocalClock(session.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PricingInputError(
                [InputIssue("$.time_zone", f"unknown IANA time zone {session.time_zone!r}")]
            ) from None

    # Durations (min/max_duration) count from the start of the charging part (point 2);
    # a reservation before it is measured from the CDR start.
    charge_start = start_s
    for i, p in enumerate(periods):
        if p.reservation_time is None:
            charge_start = starts[i]
            break

    cands = ct.candidates
    static = ct.static
    res_cands = ct.res_expired_candidates if session.reservation_expired else ct.res_candidates
    s_flat, s_energy, s_time, s_park = static[F], static[E], static[T], static[P]

    period_rows: list[list[_Row]] = []
    energy_before = ZERO
    total_energy = ZERO
    charging_secs = parking_secs = reservation_secs = 0
    flat_done = res_flat_done = False
    last: dict[str, _Row] = {}  # last priced row per step group (point 5)
    priced_energy = ZERO
    priced_time = priced_park = priced_res = 0

    for i in range(n):
        p = periods[i]
        s0 = starts[i]
        secs = (starts[i + 1] if i + 1 < n else end_s) - s0
        rows: list[_Row] = []
        period_rows.append(rows)
        ctx: Ctx | None = None
        try:
            if p.reservation_time is not None:
                # Point 6: reservation periods are priced by reservation elements only.
                r_secs = secs if p.reservation_time > 0 else 0
                if _inconsistent(p.reservation_time, r_secs):
                    warnings.append(
                        _volume_warning(i, "RESERVATION_TIME", p.reservation_time, secs)
                    )
                ctx = Ctx(s0, clock, energy_before, s0 - start_s, p, i)
                if not res_flat_done:
                    sel = select(res_cands[F], ctx)
                    if sel is not None:
                        rows.append(_Row(Category.RESERVATION, sel, 1))
                        res_flat_done = True
                if r_secs:
                    sel = select(res_cands[T], ctx)
                    if sel is not None:
                        row = _Row(Category.RESERVATION, sel, r_secs)
                        rows.append(row)
                        last["reservation"] = row
                        priced_res += r_secs
                reservation_secs += r_secs
                if p.energy is not None:
                    total_energy += p.energy
                continue

            # Durations from integer seconds (point 5): the period's wall time goes to TIME or
            # PARKING_TIME; when both are present PARKING_TIME takes its (rounded) volume.
            t_vol, pk_vol = p.time, p.parking_time
            t_secs = pk_secs = 0
            if pk_vol is None:
                if t_vol is not None:
                    t_secs = secs if t_vol > 0 else 0
                    if _inconsistent(t_vol, t_secs):
                        warnings.append(_volume_warning(i, "TIME", t_vol, secs))
            elif t_vol is None:
                pk_secs = secs if pk_vol > 0 else 0
                if _inconsistent(pk_vol, pk_secs):
                    warnings.append(_volume_warning(i, "PARKING_TIME", pk_vol, secs))
            else:
                pk_secs = min(secs, int((pk_vol * _3600).to_integral_value()))
                t_secs = secs - pk_secs if t_vol > 0 else 0
                if _inconsistent(t_vol + pk_vol, t_secs + pk_secs):
                    warnings.append(_volume_warning(i, "TIME+PARKING_TIME", t_vol + pk_vol, secs))
            charging_secs += t_secs
            parking_secs += pk_secs
            e = p.energy

            if not flat_done:
                sel = s_flat
                if sel is None and cands[F]:
                    ctx = ctx or Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(cands[F], ctx)
                if sel is not None:
                    rows.append(_Row(Category.FIXED, sel, 1))
                    flat_done = True
            if e:
                sel = s_energy
                if sel is None and cands[E]:
                    ctx = ctx or Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(cands[E], ctx)
                if sel is not None:
                    row = _Row(Category.ENERGY, sel, e)
                    rows.append(row)
                    last["energy"] = row
                    priced_energy += e
            if t_secs:
                sel = s_time
                if sel is None and cands[T]:
                    ctx = ctx or Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(cands[T], ctx)
                if sel is not None:
                    row = _Row(Category.TIME, sel, t_secs)
                    rows.append(row)
                    last["time"] = row
                    priced_time += t_secs
            if pk_secs:
                sel = s_park
                if sel is None and cands[P]:
                    ctx = ctx or Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(cands[P], ctx)
                if sel is not None:
                    row = _Row(Category.PARKING, sel, pk_secs)
                    rows.append(row)
                    last["parking"] = row
                    priced_park += pk_secs
            if ct.has_edges and secs > 0 and rows:
                w = _span_warning(
                    ct, clock, p, i, s0, s0 + secs, charge_start, energy_before, e or ZERO, rows
                )
                if w is not None:
                    warnings.append(w)
            if e is not None:
                energy_before += e
                total_energy += e
        except MissingDimensionError as exc:
            issues.append(
                InputIssue(
                    f"$.charging_periods[{i}].dimensions",
                    f"{exc.dimension} is required by {exc.restriction_path}",
                )
            )
    if issues:
        raise PricingInputError(issues)

    # Point 5: step_size once per session on the priced total, surplus in the last period.
    billed_energy = priced_energy
    row_e = last.get("energy")
    if row_e is not None and priced_energy > 0:
        step = row_e.cand[1].step_size
        if step > 0:
            wh = priced_energy * _1000
            billed_wh = (wh / step).to_integral_value(rounding=decimal.ROUND_CEILING) * step
            surplus = (billed_wh - wh) / _1000
            row_e.surplus = surplus
            billed_energy = priced_energy + surplus
    # TIME and PARKING_TIME: when both are priced only PARKING_TIME is rounded.
    time_group = "parking" if priced_park else "time"
    billed = {"time": priced_time, "parking": priced_park, "reservation": priced_res}
    for group in (time_group, "reservation"):
        row_t = last.get(group)
        if row_t is None:
            continue
        step = row_t.cand[1].step_size
        total = billed[group]
        if step > 0 and total > 0:
            rounded = -(-total // step) * step
            row_t.surplus = rounded - total
            billed[group] = rounded

    # Sub-totals (point 7 VAT per component; point 9 full precision).
    sums = {c: [ZERO, ZERO] for c in Category}  # [excl, incl] ; time-like in price*seconds
    out_periods: list[PeriodPrice] = []
    for i, rows in enumerate(period_rows):
        dims: list[DimensionPrice] = []
        for row in rows:
            _ce, pc = row.cand
            vf = _vat_factor(pc.vat)
            cat = row.category
            billed_vol = row.volume + row.surplus
            if pc.type is Dimension.FLAT:
                excl = pc.price
                shown = excl
            else:
                excl = pc.price * billed_vol
                shown = excl if cat is Category.ENERGY else _hours_amount(excl)
            acc = sums[cat]
            acc[0] += excl
            acc[1] += excl * vf
            dims.append(
                DimensionPrice(
                    category=cat,
                    dimension=pc.type,
                    volume=Decimal(row.volume),
                    billed_volume=Decimal(billed_vol),
                    unit_price=pc.price,
                    vat=pc.vat,
                    excl_vat=shown,
                    incl_vat=shown * vf
                    if cat is Category.ENERGY or pc.type is Dimension.FLAT
                    else _hours_amount(excl * vf),
                    element_index=_ce.index,
                    step_size=pc.step_size,
                )
            )
        p = periods[i]
        p_end = starts[i + 1] if i + 1 < n else end_s
        out_periods.append(
            PeriodPrice(
                index=i,
                start_date_time=p.start_date_time,
                end_date_time=periods[i + 1].start_date_time if i + 1 < n else session.end,
                seconds=p_end - starts[i],
                reservation=p.reservation_time is not None,
                dimensions=tuple(dims),
            )
        )

    # FIXED and RESERVATION mix flat amounts with price*seconds: keep them apart.
    fixed = sums[Category.FIXED]
    energy = sums[Category.ENERGY]
    time_ = sums[Category.TIME]
    park = sums[Category.PARKING]
    res_acc = sums[Category.RESERVATION]
    # Reservation rows: FLAT rows are amounts, TIME rows are price*seconds; split them.
    res_flat = [ZERO, ZERO]
    res_time = [ZERO, ZERO]
    for rows in period_rows:
        for row in rows:
            if row.category is Category.RESERVATION:
                _ce, pc = row.cand
                vf = _vat_factor(pc.vat)
                if pc.type is Dimension.FLAT:
                    res_flat[0] += pc.price
                    res_flat[1] += pc.price * vf
                else:
                    amount = pc.price * (row.volume + row.surplus)
                    res_time[0] += amount
                    res_time[1] += amount * vf
    del res_acc
    ex_fixed = Amount(fixed[0], fixed[1])
    ex_energy = Amount(energy[0], energy[1])
    ex_time = Amount(_hours_amount(time_[0]), _hours_amount(time_[1]))
    ex_park = Amount(_hours_amount(park[0]), _hours_amount(park[1]))
    ex_res = Amount(
        res_flat[0] + _hours_amount(res_time[0]),
        res_flat[1] + _hours_amount(res_time[1]),
    )
    total_excl = ex_fixed.excl_vat + ex_energy.excl_vat + ex_time.excl_vat + ex_park.excl_vat
    total_excl += ex_res.excl_vat
    total_incl = ex_fixed.incl_vat + ex_energy.incl_vat + ex_time.incl_vat + ex_park.incl_vat
    total_incl += ex_res.incl_vat

    # Point 8: min_price / max_price clamp total_cost, excl and incl independently.
    adjustments: list[PriceAdjustment] = []
    for limit_name, limit in (("min_price", tariff.min_price), ("max_price", tariff.max_price)):
        if limit is None:
            continue
        below = limit_name == "min_price"
        if (total_excl < limit.excl_vat) if below else (total_excl > limit.excl_vat):
            adjustments.append(PriceAdjustment(limit_name, "excl_vat", total_excl, limit.excl_vat))
            total_excl = limit.excl_vat
        if limit.incl_vat is None:
            warnings.append(
                PriceWarning(
                    "LIMIT_WITHOUT_INCL_VAT",
                    f"{limit_name} has no incl_vat: the incl. VAT total is not clamped",
                    f"$.{limit_name}",
                )
            )
        elif (total_incl < limit.incl_vat) if below else (total_incl > limit.incl_vat):
            adjustments.append(PriceAdjustment(limit_name, "incl_vat", total_incl, limit.incl_vat))
            total_incl = limit.incl_vat

    exact = CostTotals(
        total_cost=Amount(total_excl, total_incl),
        total_fixed_cost=ex_fixed,
        total_energy_cost=ex_energy,
        total_time_cost=ex_time,
        total_parking_cost=ex_park,
        total_reservation_cost=ex_res,
    )
    q = Decimal(1).scaleb(-ct.minor_unit)

    def r(a: Amount) -> Amount:
        return Amount(a.excl_vat.quantize(q, rounding=mode), a.incl_vat.quantize(q, rounding=mode))

    totals = CostTotals(
        total_cost=r(exact.total_cost),
        total_fixed_cost=r(ex_fixed),
        total_energy_cost=r(ex_energy),
        total_time_cost=r(ex_time),
        total_parking_cost=r(ex_park),
        total_reservation_cost=r(ex_res),
    )

    for d in ct.no_default:
        warnings.append(
            PriceWarning(
                "NO_DEFAULT_ELEMENT",
                f"no unrestricted element prices {d}: it is free whenever no restriction matches",
                "$.elements",
            )
        )
    if tariff.start_date_time is not None and session.start < tariff.start_date_time:
        warnings.append(
            PriceWarning(
                "TARIFF_NOT_YET_ACTIVE",
                "the session starts before the tariff's start_date_time",
                "$.start_date_time",
            )
        )
    if tariff.end_date_time is not None and session.start >= tariff.end_date_time:
        warnings.append(
            PriceWarning(
                "TARIFF_EXPIRED",
                "the session starts after the tariff's end_date_time",
                "$.end_date_time",
            )
        )

    return PriceResult(
        currency=tariff.currency,
        rounding=mode,
        minor_unit=ct.minor_unit,
        totals=totals,
        exact=exact,
        total_energy=total_energy,
        total_time_seconds=end_s - start_s,
        total_charging_seconds=charging_secs,
        total_parking_seconds=parking_secs,
        total_reservation_seconds=reservation_secs,
        billed_energy=billed_energy,
        billed_time_seconds=billed["time"],
        billed_parking_seconds=billed["parking"],
        billed_reservation_seconds=billed["reservation"],
        periods=tuple(out_periods),
        adjustments=tuple(adjustments),
        warnings=tuple(warnings),
    )


def _volume_warning(i: int, name: str, volume: Decimal, seconds: int) -> PriceWarning:
    return PriceWarning(
        "VOLUME_INCONSISTENT",
        f"{name} volume {volume} h does not fit the period's timestamps ({seconds} s = "
        f"{_DIV.divide(Decimal(seconds), _3600).quantize(Decimal('0.000001'))} h); "
        "durations are taken from the timestamps",
        f"$.charging_periods[{i}].dimensions",
    )


def _span_warning(
    ct: CompiledTariff,
    clock: LocalClock | None,
    period: ChargingPeriod,
    i: int,
    s0: int,
    s1: int,
    charge_start: int,
    energy_before: Decimal,
    energy: Decimal,
    rows: list[_Row],
) -> PriceWarning | None:
    """Warn when a restriction edge inside the period would select another component."""

    def changed(ctx: Ctx) -> bool:
        for row in rows:
            dim = row.cand[1].type
            if dim is Dimension.FLAT:
                continue
            if row.cand[0].unrestricted and ct.static[dim] is row.cand:
                continue
            if select(ct.candidates[dim], ctx) is not row.cand:
                return True
        return False

    t = ct.next_time_edge(s0, charge_start, clock)
    steps = 0
    while t is not None and t < s1 and steps < _MAX_EDGE_STEPS:
        if changed(Ctx(t, clock, energy_before, t - charge_start, period, i)):
            when = dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
            return PriceWarning(
                "PERIOD_SPANS_PRICE_CHANGE",
                f"the price changes at {when}, inside this period; it is priced as of its "
                "start (split the period there)",
                f"$.charging_periods[{i}]",
            )
        t = ct.next_time_edge(t, charge_start, clock)
        steps += 1
    for th in ct.kwh_edges:
        if energy_before < th < energy_before + energy and changed(
            Ctx(s0, clock, th, s0 - charge_start, period, i)
        ):
            return PriceWarning(
                "PERIOD_SPANS_PRICE_CHANGE",
                f"the price changes at {th} kWh, inside this period; it is priced as of its "
                "start (split the period there)",
                f"$.charging_periods[{i}]",
            )
    return None
