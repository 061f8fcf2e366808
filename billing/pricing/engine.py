"""``price_session``: the one pricing function (live cost, final CDR, foreign CDR).

Follows PRICING.md point by point; the numbers in comments refer to its points.
Money is ``Decimal`` at full precision until the named rounding point (point 9, done in
``PriceResult.totals``). Durations are integer seconds from timestamps (point 5).

Fast paths give the general path's numbers (property tests compare them): ``_price_energy_only``
and ``_price_static`` for tariffs whose every charging dimension has one unrestricted component
(priced from the session's volume totals), ``_price_table`` for tariffs whose dimensions are
static or selected by time of day / weekday only (a table lookup per period), and
``_price_general`` (per period, per dimension element selection) for everything else.
"""

from __future__ import annotations

import datetime as dt
import decimal
from bisect import bisect_right
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from billing.pricing.catalogue import TariffCatalogue, Tariffs
from billing.pricing.compiled import (
    DAY,
    CompiledTariff,
    Ctx,
    LocalClock,
    MissingDimensionError,
    select,
)
from billing.pricing.model import (
    ZERO,
    Category,
    ChargingPeriod,
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
    epoch,
)

__all__ = ["ROUND_HALF_UP", "ROUNDING_MODES", "epoch", "price_session", "rounding_mode"]

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
_MODES = {m: m for m in ROUNDING_MODES} | {m[len("ROUND_") :]: m for m in ROUNDING_MODES}

# Divisions (seconds -> hours) are the only inexact operations; done with ample precision.
_DIV = Context(prec=50)
# Exact values are exact to 20 decimals: only the seconds -> hours divisions are rounded there,
# far below any currency's minor unit, so sums of parts stay exact in any 28-digit context.
_Q20 = Decimal("1e-20")
_3600 = Decimal(3600)
_1000 = Decimal(1000)
_MAX_EDGE_STEPS = 1000

F = Dimension.FLAT
E = Dimension.ENERGY
T = Dimension.TIME
P = Dimension.PARKING_TIME
C_FIXED = Category.FIXED
C_ENERGY = Category.ENERGY
C_TIME = Category.TIME
C_PARKING = Category.PARKING
C_RES = Category.RESERVATION


def rounding_mode(rounding: str) -> str:
    """Accept ``decimal.ROUND_HALF_UP`` or the short name ``HALF_UP``."""
    mode = _MODES.get(rounding)
    if mode is None:
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


def _hours_amount(price_seconds: Decimal) -> Decimal:
    """price x seconds -> money: / 3600, exact to 20 decimals (see _Q20)."""
    if not price_seconds:
        return price_seconds
    return _DIV.quantize(_DIV.divide(price_seconds, _3600), _Q20)


def _ceil_to_step(value: Decimal, step: int) -> Decimal:
    if value % step == 0:
        return value
    return (value / step).to_integral_value(rounding=decimal.ROUND_CEILING) * step


def _inconsistent(volume_h: Decimal, seconds: int) -> bool:
    """A duration volume (hours) that does not fit the period's timestamps (point 10).

    Tolerance: 1 s, or half a unit of the volume's last decimal (1.973 h: +-1.8 s).
    """
    if abs(float(volume_h) * 3600.0 - seconds) <= 0.999:  # a tolerance, not money: float is fine
        return False
    diff = abs(volume_h * _3600 - seconds)
    if diff <= 1:
        return False
    exponent = volume_h.as_tuple().exponent
    if not isinstance(exponent, int):  # pragma: no cover - finite by construction
        return True
    return diff > Decimal(1800).scaleb(exponent) if exponent < 0 else diff > 1800


def _volume_warning(i: int, name: str, volume: Decimal, seconds: int) -> PriceWarning:
    hours = _DIV.divide(Decimal(seconds), _3600).quantize(Decimal("0.000001"))
    return PriceWarning(
        "VOLUME_INCONSISTENT",
        f"{name} volume {volume} h does not fit the period's timestamps ({seconds} s = "
        f"{hours} h); durations are taken from the timestamps",
        f"$.charging_periods[{i}].dimensions",
    )


def _durations(
    p: ChargingPeriod, i: int, secs: int, warnings: list[PriceWarning]
) -> tuple[int, int]:
    """Point 5: the period's wall time goes to TIME or PARKING_TIME; with both present,
    PARKING_TIME takes its (rounded) volume and TIME the rest. A zero volume is zero."""
    t_vol, pk_vol = p.time, p.parking_time
    if pk_vol is None:
        if t_vol is None:
            return 0, 0
        t_secs = secs if t_vol > ZERO else 0
        if _inconsistent(t_vol, t_secs):
            warnings.append(_volume_warning(i, "TIME", t_vol, secs))
        return t_secs, 0
    if t_vol is None:
        pk_secs = secs if pk_vol > ZERO else 0
        if _inconsistent(pk_vol, pk_secs):
            warnings.append(_volume_warning(i, "PARKING_TIME", pk_vol, secs))
        return 0, pk_secs
    pk_secs = min(secs, int((pk_vol * _3600).to_integral_value()))
    t_secs = secs - pk_secs if t_vol > ZERO else 0
    if _inconsistent(t_vol + pk_vol, t_secs + pk_secs):
        warnings.append(_volume_warning(i, "TIME+PARKING_TIME", t_vol + pk_vol, secs))
    return t_secs, pk_secs


def price_session(
    *,
    tariff: Tariff,
    session: SessionInput,
    rounding: str = ROUND_HALF_UP,
    tariffs: Tariffs | None = None,
) -> PriceResult:
    """Price a session (live: ``session.end`` is "now"; final or foreign CDR alike).

    ``tariff`` is the session's tariff: it prices the periods without a ``tariff_id`` (and
    those naming it). ``tariffs`` are the other tariffs the periods' ``tariff_id`` may name
    (a tariff switch: a mapping tariff_id -> Tariff, or tariffs keyed by their id); an
    unknown ``tariff_id`` is a ``PricingInputError`` naming the period. Across a switch
    FLAT and step_size apply once per session and min/max_price are those of the first
    period's tariff (docs/pricing.md, "Tariff switch").
    """
    mode = _MODES.get(rounding)
    if mode is None:
        mode = rounding_mode(rounding)
    if decimal.getcontext().prec < 28:
        with decimal.localcontext(_DIV):
            return price_session(tariff=tariff, session=session, rounding=mode, tariffs=tariffs)
    ids = session.epochs[3]
    if ids and (tariffs is not None or len(ids) > 1 or ids[0] != tariff.id):
        # periods name tariffs (the common single-tariff case skips this)
        switched = _price_switch(tariff, tariffs, session, mode)
        if isinstance(switched, PriceResult):
            return switched
        tariff = switched  # one tariff for the whole session: the paths below
    ct: CompiledTariff = tariff.compiled
    if ct.energy_only:
        result = _price_energy_only(ct, session, mode)
        if result is not None:
            return result
        return _price_general(tariff, ct, session, mode)
    if ct.all_static:
        result = _price_static(tariff, ct, session, mode)
        if result is not None:
            return result
    elif ct.table_path:
        result = _price_table(tariff, ct, session, mode)
        if result is not None:
            return result
    return _price_general(tariff, ct, session, mode)


def _price_switch(
    tariff: Tariff, tariffs: Tariffs | None, session: SessionInput, mode: str
) -> PriceResult | Tariff:
    """Resolve the periods' tariff_ids: the result of a session that switches tariffs (each
    period priced with its own, by the general path), or the one tariff of all its periods.
    (Its own function: price_session stays free of the closures written here.)"""
    resolved = TariffCatalogue(tariff, tariffs).resolve(session.charging_periods)
    label, first = resolved[0] if resolved else (tariff.id, tariff)
    if label == first.id and all(t is first and i == label for i, t in resolved):
        return first
    # a switch (or a tariff known under another id): each period its own tariff and label
    plan = tuple([t.compiled for _, t in resolved])
    labels = tuple([i for i, _ in resolved])
    return _price_general(first, first.compiled, session, mode, plan, labels)


# --------------------------------------------------------------------------------------------
# Static path: every charging dimension has one unrestricted component
# --------------------------------------------------------------------------------------------


def _price_energy_only(ct: CompiledTariff, session: SessionInput, mode: str) -> PriceResult | None:
    """``_price_static`` for a tariff with one unrestricted ENERGY component only (same
    numbers, less bookkeeping); None for sessions with reservation periods."""
    start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    warnings: list[PriceWarning] = []
    total_energy = ZERO
    t_total = pk_total = 0
    for i in range(n):
        p = periods[i]
        if p.reservation_time is not None:
            return None
        t_vol = p.time
        if t_vol is not None and p.parking_time is None:  # _durations, inlined
            secs = (starts[i + 1] if i + 1 < n else end_s) - starts[i]
            ts = secs if t_vol > ZERO else 0
            # the float test is _inconsistent's own first (sufficient) test, inlined
            if abs(float(t_vol) * 3600.0 - ts) > 0.999 and _inconsistent(t_vol, ts):
                warnings.append(_volume_warning(i, "TIME", t_vol, secs))
            t_total += ts
        elif t_vol is not None or p.parking_time is not None:
            secs = (starts[i + 1] if i + 1 < n else end_s) - starts[i]
            ts, ps = _durations(p, i, secs, warnings)
            t_total += ts
            pk_total += ps
        e = p.energy
        if e is not None:
            total_energy += e
    cand = ct.static[E]
    assert cand is not None
    raw: tuple[Decimal, ...] = _ZERO_RAW
    billed_energy = total_energy
    single = -1
    if total_energy:
        step = cand[1].step_size
        if step > 0 and total_energy > 0:
            wh = total_energy * _1000
            rounded_wh = _ceil_to_step(wh, step)
            if rounded_wh != wh:
                billed_energy = rounded_wh / _1000
        excl = cand[2] * billed_energy
        incl = excl * cand[3]
        raw = (ZERO, ZERO, excl, incl, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, excl, incl)
        single = 1
    if ct.no_default:  # pragma: no cover - an unrestricted ENERGY element exists
        raise AssertionError("energy_only tariff without a default element")
    return PriceResult(
        ct.currency,
        mode,
        ct.minor_unit,
        raw,
        total_energy,
        end_s - start_s,
        t_total,
        pk_total,
        0,
        billed_energy,
        0,
        0,
        0,
        (),
        tuple(warnings) if warnings else (),
        lambda: _price_general_for_breakdown(ct, session, mode),
        single,
    )


_ZERO_RAW = (ZERO,) * 12


def _price_general_for_breakdown(
    ct: CompiledTariff, session: SessionInput, mode: str
) -> tuple[PeriodPrice, ...]:
    return _price_general(ct.tariff, ct, session, mode).periods


def _price_static(
    tariff: Tariff, ct: CompiledTariff, session: SessionInput, mode: str
) -> PriceResult | None:
    start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    warnings: list[PriceWarning] = []
    total_energy = ZERO
    t_total = pk_total = 0
    for i in range(n):
        p = periods[i]
        if p.reservation_time is not None:
            return None  # reservations: the general path
        secs = (starts[i + 1] if i + 1 < n else end_s) - starts[i]
        if p.time is not None and p.parking_time is None:
            # the common case, inlined
            t_vol = p.time
            if t_vol > ZERO:
                t_total += secs
                if abs(float(t_vol) * 3600.0 - secs) > 0.999 and _inconsistent(t_vol, secs):
                    warnings.append(_volume_warning(i, "TIME", t_vol, secs))
            elif _inconsistent(t_vol, 0):
                warnings.append(_volume_warning(i, "TIME", t_vol, secs))
        elif p.time is not None or p.parking_time is not None:
            ts, ps = _durations(p, i, secs, warnings)
            t_total += ts
            pk_total += ps
        e = p.energy
        if e is not None:
            total_energy += e
    static = ct.static
    vf = ct.vat_factors
    fixed_e = fixed_i = energy_e = energy_i = ZERO
    time_e = time_i = park_e = park_i = ZERO
    billed_energy = ZERO
    billed_time = billed_park = 0
    cand = static[F]
    if cand is not None and n:
        fixed_e = cand[2]
        fixed_i = fixed_e * cand[3]
    cand = static[E]
    if cand is not None and total_energy:
        pc = cand[1]
        billed_energy = total_energy
        if pc.step_size > 0 and total_energy > 0:
            wh = total_energy * _1000
            rounded_wh = _ceil_to_step(wh, pc.step_size)
            if rounded_wh != wh:
                billed_energy = rounded_wh / _1000
        energy_e = pc.price * billed_energy
        energy_i = energy_e * vf[id(pc)]
    time_cand = static[T] if t_total else None
    park_cand = static[P] if pk_total else None
    if time_cand is not None:
        billed_time = t_total
        pc = time_cand[1]
        if park_cand is None and pc.step_size > 0:
            billed_time = -(-t_total // pc.step_size) * pc.step_size
        amount = pc.price * billed_time
        time_e = _hours_amount(amount)
        time_i = _hours_amount(amount * vf[id(pc)])
    time_nums: tuple[Decimal, Decimal] | None = None
    if park_cand is not None:
        pc = park_cand[1]
        billed_park = pk_total
        if pc.step_size > 0:
            billed_park = -(-pk_total // pc.step_size) * pc.step_size
        park_amount = pc.price * billed_park
        park_e = _hours_amount(park_amount)
        park_i = _hours_amount(park_amount * vf[id(pc)])
        if time_cand is not None:
            time_nums = (
                fixed_e + energy_e + _hours_amount(amount + park_amount),
                fixed_i
                + energy_i
                + _hours_amount(amount * time_cand[3] + park_amount * vf[id(pc)]),
            )

    def build_periods() -> tuple[PeriodPrice, ...]:
        return _price_general(tariff, ct, session, mode).periods

    return _finish(
        tariff,
        ct,
        session,
        mode,
        (fixed_e, fixed_i, energy_e, energy_i, time_e, time_i, park_e, park_i, ZERO, ZERO),
        total_energy,
        end_s - start_s,
        t_total,
        pk_total,
        0,
        billed_energy,
        billed_time,
        billed_park,
        0,
        warnings,
        build_periods,
        time_nums,
    )


# --------------------------------------------------------------------------------------------
# Table path: dimensions static or selected by time of day / weekday only
# --------------------------------------------------------------------------------------------


def _price_table(
    tariff: Tariff, ct: CompiledTariff, session: SessionInput, mode: str
) -> PriceResult | None:
    """``_price_general`` for ``ct.table_path`` tariffs (time-of-use, dynamic half-hourly
    prices): the same Decimal operations in the same order, without restriction evaluation,
    rows or contexts; None (-> the general path) for reservation periods or an unknown zone.
    The per-period breakdown is built by the general path on first access."""
    start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    clock: LocalClock | None = None
    if ct.needs_local:
        try:
            clock = LocalClock.for_zone(session.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None  # the general path reports it
    static = ct.static
    tables = ct.tables
    s_flat, s_energy, s_time, s_park = static[F], static[E], static[T], static[P]
    tb_energy = tables[E] if s_energy is None else None
    tb_time = tables[T] if s_time is None else None
    tb_park = tables[P] if s_park is None else None
    if clock is None and (tb_energy is not None or tb_time is not None or tb_park is not None):
        return None  # pragma: no cover - a table implies local time
    sods = ct.local_sods
    n_sods = len(sods)
    check_edges = ct.has_edges
    warnings: list[PriceWarning] = []
    fixed_e = fixed_i = energy_e = energy_i = ZERO
    time_e = time_i = park_e = park_i = ZERO
    total_energy = ZERO
    charging_secs = parking_secs = 0
    last_energy: Any = None
    last_time: Any = None
    last_park: Any = None
    priced_energy = ZERO
    priced_time = priced_park = 0
    d0 = d1 = 0
    wd = 0
    day: tuple[int, int, dt.date, int] | None = None
    for i in range(n):
        p = periods[i]
        if p.reservation_time is not None:
            return None
        s0 = starts[i]
        secs = (starts[i + 1] if i + 1 < n else end_s) - s0
        t_vol = p.time
        if p.parking_time is None and t_vol is not None:  # the common case, inlined
            t_secs, pk_secs = (secs if t_vol > ZERO else 0), 0
            if abs(float(t_vol) * 3600.0 - t_secs) > 0.999 and _inconsistent(t_vol, t_secs):
                warnings.append(_volume_warning(i, "TIME", t_vol, secs))
        else:
            t_secs, pk_secs = _durations(p, i, secs, warnings)
        charging_secs += t_secs
        parking_secs += pk_secs
        e = p.energy
        if clock is not None:
            if not d0 <= s0 < d1:
                day = clock.day(s0)
                d0, d1, wd = day[0], day[1], day[3]
            if d1 - d0 == DAY:
                sod = s0 - d0
                weekday = wd
            else:
                _d, sod, weekday = clock.local(s0)
        priced = False
        sel_f = sel_e = sel_t = sel_p = None
        if i == 0 and s_flat is not None:
            sel_f = s_flat
            priced = True
            fixed_e += s_flat[2]
            fixed_i += s_flat[2] * s_flat[3]
        if e:
            sel_e = s_energy
            if tb_energy is not None:
                sel_e = tb_energy.rows[weekday][bisect_right(tb_energy.edges, sod) - 1]
            if sel_e is not None:
                priced = True
                last_energy = sel_e
                priced_energy += e
                amount = sel_e[2] * e
                energy_e += amount
                energy_i += amount * sel_e[3]
        if t_secs:
            sel_t = s_time
            if tb_time is not None:
                sel_t = tb_time.rows[weekday][bisect_right(tb_time.edges, sod) - 1]
            if sel_t is not None:
                priced = True
                last_time = sel_t
                priced_time += t_secs
                amount = sel_t[2] * t_secs
                time_e += amount
                time_i += amount * sel_t[3]
        if pk_secs:
            sel_p = s_park
            if tb_park is not None:
                sel_p = tb_park.rows[weekday][bisect_right(tb_park.edges, sod) - 1]
            if sel_p is not None:
                priced = True
                last_park = sel_p
                priced_park += pk_secs
                amount = sel_p[2] * pk_secs
                park_e += amount
                park_i += amount * sel_p[3]
        if (
            check_edges
            and secs > 0
            and priced
            and not (
                day is not None
                and d1 - d0 == DAY
                and s0 + secs <= d1
                and ((j := bisect_right(sods, s0 - d0)) >= n_sods or sods[j] >= s0 + secs - d0)
            )
        ):
            # rare: an edge may lie inside the period; the general path's own check
            energy_before = sum((q.energy for q in periods[:i] if q.energy is not None), ZERO)
            if not _no_edge_inside(ct, s0, s0 + secs, starts[0], day, energy_before, e):
                rows: list[list[Any]] = []
                if sel_f is not None:
                    rows.append([C_FIXED, sel_f, 1, 0])
                if sel_e is not None:
                    rows.append([C_ENERGY, sel_e, e, 0])
                if sel_t is not None:
                    rows.append([C_TIME, sel_t, t_secs, 0])
                if sel_p is not None:
                    rows.append([C_PARKING, sel_p, pk_secs, 0])
                w = _span_warning(
                    ct, clock, p, i, s0, s0 + secs, starts[0], energy_before, e or ZERO, rows
                )
                if w is not None:
                    warnings.append(w)
        if e is not None:
            total_energy += e
    total_energy = ZERO + total_energy  # as _price_general: ZERO + energy before the end

    # Point 5, as in _price_general
    billed_energy = priced_energy
    if last_energy is not None and priced_energy > 0:
        pc = last_energy[1]
        if pc.step_size > 0:
            billed_energy = _ceil_to_step(priced_energy * _1000, pc.step_size) / _1000
            surplus = billed_energy - priced_energy
            if surplus:
                amount = pc.price * surplus
                energy_e += amount
                energy_i += amount * last_energy[3]
    billed_time, billed_park = priced_time, priced_park
    step_cand = last_park if priced_park else last_time
    if step_cand is not None:
        pc = step_cand[1]
        total = priced_park if priced_park else priced_time
        if pc.step_size > 0 and total > 0:
            surplus_s = -(-total // pc.step_size) * pc.step_size - total
            if surplus_s:
                amount = pc.price * surplus_s
                if priced_park:
                    billed_park += surplus_s
                    park_e += amount
                    park_i += amount * step_cand[3]
                else:
                    billed_time += surplus_s
                    time_e += amount
                    time_i += amount * step_cand[3]

    time_nums = None
    if bool(time_e or time_i) + bool(park_e or park_i) > 1:
        time_nums = (
            fixed_e + energy_e + ZERO + _hours_amount(time_e + park_e + ZERO),
            fixed_i + energy_i + ZERO + _hours_amount(time_i + park_i + ZERO),
        )
    raw = (
        fixed_e,
        fixed_i,
        energy_e,
        energy_i,
        _hours_amount(time_e),
        _hours_amount(time_i),
        _hours_amount(park_e),
        _hours_amount(park_i),
        ZERO + _hours_amount(ZERO),
        ZERO + _hours_amount(ZERO),
    )

    def build_periods() -> tuple[PeriodPrice, ...]:
        return _price_general(tariff, ct, session, mode).periods

    return _finish(
        tariff,
        ct,
        session,
        mode,
        raw,
        total_energy,
        end_s - start_s,
        charging_secs,
        parking_secs,
        0,
        billed_energy,
        billed_time,
        billed_park,
        0,
        warnings,
        build_periods,
        time_nums,
    )


# --------------------------------------------------------------------------------------------
# General path
# --------------------------------------------------------------------------------------------


# A priced row is a small list: [category, candidate, volume, step surplus] (lists are far
# cheaper to build than objects on the per-period path). Volume: kWh, seconds, or 1 (FLAT).


def _bind(ct: CompiledTariff, clock: LocalClock | None, expired: bool) -> tuple[Any, ...]:
    """The per-tariff lookups of the general path (rebound at a tariff switch)."""
    static, cands, tables = ct.static, ct.candidates, ct.tables
    tb_energy, tb_time, tb_park = tables[E], tables[T], tables[P]
    sods = ct.local_sods
    return (
        ct.res_expired_candidates if expired else ct.res_candidates,
        ct.has_edges,
        static[F],
        static[E],
        static[T],
        static[P],
        cands[F],
        cands[E],
        cands[T],
        cands[P],
        tb_energy,
        tb_time,
        tb_park,
        clock is not None
        and (
            tb_energy is not None
            or tb_time is not None
            or tb_park is not None
            or bool(ct.has_edges and sods)
        ),
        sods,
        len(sods),
        bool(sods) and not ct.duration_edges and not ct.kwh_edges,
    )


def _price_general(
    tariff: Tariff,
    ct: CompiledTariff,
    session: SessionInput,
    mode: str,
    plan: tuple[CompiledTariff, ...] | None = None,
    labels: tuple[str, ...] | None = None,
) -> PriceResult:
    """Per period, per dimension element selection. ``plan``: the compiled tariff of each
    period when the session switches tariffs (``tariff``/``ct`` are then the first
    period's), ``labels`` their ids; the session-wide state (energy before, durations,
    FLAT once, step_size on the session totals) carries across the switch."""
    start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    issues: list[InputIssue] = []
    warnings: list[PriceWarning] = []
    clock: LocalClock | None = None
    if ct.needs_local or (plan is not None and any(x.needs_local for x in plan)):
        try:
            clock = LocalClock.for_zone(session.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PricingInputError(
                [InputIssue("$.time_zone", f"unknown IANA time zone {session.time_zone!r}")]
            ) from None

    # Durations (min/max_duration) count from the start of the charging part (point 2);
    # reservation periods before it are measured from the CDR start.
    charge_start = start_s
    for i, p in enumerate(periods):
        if p.reservation_time is None:
            charge_start = starts[i]
            break

    expired = session.reservation_expired
    (
        res_cands,
        has_edges,
        s_flat,
        s_energy,
        s_time,
        s_park,
        c_flat,
        c_energy,
        c_time,
        c_park,
        tb_energy,
        tb_time,
        tb_park,
        use_day,
        sods,
        n_sods,
        simple_edges,
    ) = _bind(ct, clock, expired)

    rows_by_period: list[list[list[Any]]] = []
    last_day: tuple[int, int, dt.date, int] | None = None
    # exact accumulators (excl, incl); time-like ones hold price x seconds
    fixed_e = fixed_i = energy_e = energy_i = ZERO
    time_e = time_i = park_e = park_i = ZERO
    resf_e = resf_i = rest_e = rest_i = ZERO
    energy_before = ZERO
    total_energy = ZERO
    charging_secs = parking_secs = reservation_secs = 0
    flat_done = res_flat_done = False
    # the last priced row and the priced total per step group (point 5)
    last_energy: list[Any] | None = None
    last_time: list[Any] | None = None
    last_park: list[Any] | None = None
    last_res: list[Any] | None = None
    priced_energy = ZERO
    priced_time = priced_park = priced_res = 0

    for i in range(n):
        p = periods[i]
        s0 = starts[i]
        secs = (starts[i + 1] if i + 1 < n else end_s) - s0
        rows: list[list[Any]] = []
        rows_by_period.append(rows)
        ctx: Ctx | None = None
        if plan is not None and plan[i] is not ct:  # a tariff switch
            ct = plan[i]
            (
                res_cands,
                has_edges,
                s_flat,
                s_energy,
                s_time,
                s_park,
                c_flat,
                c_energy,
                c_time,
                c_park,
                tb_energy,
                tb_time,
                tb_park,
                use_day,
                sods,
                n_sods,
                simple_edges,
            ) = _bind(ct, clock, expired)
        try:
            if p.reservation_time is not None:
                # Point 6: reservation periods are priced by reservation elements only.
                r_secs = secs if p.reservation_time > ZERO else 0
                if _inconsistent(p.reservation_time, r_secs):
                    warnings.append(
                        _volume_warning(i, "RESERVATION_TIME", p.reservation_time, secs)
                    )
                ctx = Ctx(s0, clock, energy_before, s0 - start_s, p, i)
                if not res_flat_done:
                    sel = select(res_cands[F], ctx)
                    if sel is not None:
                        rows.append([C_RES, sel, 1, 0])
                        resf_e += sel[2]
                        resf_i += sel[2] * sel[3]
                        res_flat_done = True
                if r_secs:
                    sel = select(res_cands[T], ctx)
                    if sel is not None:
                        last_res = [C_RES, sel, r_secs, 0]
                        rows.append(last_res)
                        priced_res += r_secs
                        amount = sel[2] * r_secs
                        rest_e += amount
                        rest_i += amount * sel[3]
                reservation_secs += r_secs
                if p.energy is not None:
                    total_energy += p.energy
                continue

            if p.parking_time is None and p.time is not None:  # the common case, inlined
                t_secs, pk_secs = (secs if p.time > ZERO else 0), 0
                if abs(float(p.time) * 3600.0 - t_secs) > 0.999 and _inconsistent(p.time, t_secs):
                    warnings.append(_volume_warning(i, "TIME", p.time, secs))
            else:
                t_secs, pk_secs = _durations(p, i, secs, warnings)
            charging_secs += t_secs
            parking_secs += pk_secs
            e = p.energy
            local: tuple[dt.date, int, int] | None = None
            day: tuple[int, int, dt.date, int] | None = None
            if use_day and clock is not None:
                if last_day is None or not last_day[0] <= s0 < last_day[1]:
                    last_day = clock.day(s0)
                day = last_day
                if day[1] - day[0] == DAY:
                    local = (day[2], s0 - day[0], day[3])

            if not flat_done:
                sel = s_flat
                if sel is None and c_flat:
                    ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(c_flat, ctx)
                if sel is not None:
                    rows.append([C_FIXED, sel, 1, 0])
                    fixed_e += sel[2]
                    fixed_i += sel[2] * sel[3]
                    flat_done = True
            if e:
                sel = s_energy
                if sel is None and c_energy:
                    if tb_energy is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = tb_energy.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(c_energy, ctx)
                if sel is not None:
                    last_energy = [C_ENERGY, sel, e, 0]
                    rows.append(last_energy)
                    priced_energy += e
                    amount = sel[2] * e
                    energy_e += amount
                    energy_i += amount * sel[3]
            if t_secs:
                sel = s_time
                if sel is None and c_time:
                    if tb_time is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = tb_time.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(c_time, ctx)
                if sel is not None:
                    last_time = [C_TIME, sel, t_secs, 0]
                    rows.append(last_time)
                    priced_time += t_secs
                    amount = sel[2] * t_secs
                    time_e += amount
                    time_i += amount * sel[3]
            if pk_secs:
                sel = s_park
                if sel is None and c_park:
                    if tb_park is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = tb_park.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(c_park, ctx)
                if sel is not None:
                    last_park = [C_PARKING, sel, pk_secs, 0]
                    rows.append(last_park)
                    priced_park += pk_secs
                    amount = sel[2] * pk_secs
                    park_e += amount
                    park_i += amount * sel[3]
            if (
                has_edges
                and secs > 0
                and rows
                and not (
                    simple_edges  # only local time-of-day edges: the common case, inlined
                    and day is not None
                    and day[1] - day[0] == DAY
                    and s0 + secs <= day[1]
                    and (
                        (j := bisect_right(sods, s0 - day[0])) >= n_sods
                        or sods[j] >= s0 + secs - day[0]
                    )
                )
                and not _no_edge_inside(ct, s0, s0 + secs, charge_start, day, energy_before, e)
            ):
                w = _span_warning(
                    ct, clock, p, i, s0, s0 + secs, charge_start, energy_before, e or ZERO, rows
                )
                if w is not None:
                    warnings.append(w)
            if e is not None:
                energy_before += e
        except MissingDimensionError as exc:
            issues.append(
                InputIssue(
                    f"$.charging_periods[{i}].dimensions",
                    f"{exc.dimension} is required by {exc.restriction_path}",
                )
            )
    if issues:
        raise PricingInputError(issues)
    total_energy += energy_before  # + ENERGY of the charging periods

    # Point 5: step_size once per session on the priced total, the surplus billed in the last
    # priced period at its price. TIME and PARKING_TIME: when both are priced only
    # PARKING_TIME is rounded.
    billed_energy = priced_energy
    if last_energy is not None and priced_energy > 0:
        pc = last_energy[1][1]
        if pc.step_size > 0:
            billed_energy = _ceil_to_step(priced_energy * _1000, pc.step_size) / _1000
            surplus = billed_energy - priced_energy
            if surplus:
                last_energy[3] = surplus
                amount = pc.price * surplus
                energy_e += amount
                energy_i += amount * last_energy[1][3]
    billed_time, billed_park, billed_res = priced_time, priced_park, priced_res
    step_row = last_park if priced_park else last_time
    if step_row is not None:
        pc = step_row[1][1]
        total = priced_park if priced_park else priced_time
        if pc.step_size > 0 and total > 0:
            surplus_s = -(-total // pc.step_size) * pc.step_size - total
            if surplus_s:
                step_row[3] = surplus_s
                amount = pc.price * surplus_s
                if priced_park:
                    billed_park += surplus_s
                    park_e += amount
                    park_i += amount * step_row[1][3]
                else:
                    billed_time += surplus_s
                    time_e += amount
                    time_i += amount * step_row[1][3]
    if last_res is not None:
        pc = last_res[1][1]
        if pc.step_size > 0 and priced_res > 0:
            surplus_s = -(-priced_res // pc.step_size) * pc.step_size - priced_res
            if surplus_s:
                last_res[3] = surplus_s
                billed_res += surplus_s
                amount = pc.price * surplus_s
                rest_e += amount
                rest_i += amount * last_res[1][3]

    time_nums = None
    if bool(time_e or time_i) + bool(park_e or park_i) + bool(rest_e or rest_i) > 1:
        time_nums = (
            fixed_e + energy_e + resf_e + _hours_amount(time_e + park_e + rest_e),
            fixed_i + energy_i + resf_i + _hours_amount(time_i + park_i + rest_i),
        )
    raw = (
        fixed_e,
        fixed_i,
        energy_e,
        energy_i,
        _hours_amount(time_e),
        _hours_amount(time_i),
        _hours_amount(park_e),
        _hours_amount(park_i),
        resf_e + _hours_amount(rest_e),
        resf_i + _hours_amount(rest_i),
    )

    def build_periods() -> tuple[PeriodPrice, ...]:
        return _breakdown(tariff, session, rows_by_period, labels)

    return _finish(
        tariff,
        tariff.compiled,
        session,
        mode,
        raw,
        total_energy,
        end_s - start_s,
        charging_secs,
        parking_secs,
        reservation_secs,
        billed_energy,
        billed_time,
        billed_park,
        billed_res,
        warnings,
        build_periods,
        time_nums,
        plan,
        labels,
    )


def _no_edge_inside(
    ct: CompiledTariff,
    s0: int,
    s1: int,
    charge_start: int,
    day: tuple[int, int, dt.date, int] | None,
    before: Decimal,
    energy: Decimal | None,
) -> bool:
    """True when certainly no restriction edge lies strictly inside the period; False means
    maybe (then ``_span_warning`` evaluates the edges)."""
    for d in ct.duration_edges:
        if s0 < charge_start + d < s1:
            return False
    if ct.kwh_edges and energy:
        after = before + energy
        for th in ct.kwh_edges:
            if before < th < after:
                return False
    sods = ct.local_sods
    if not sods:
        return True
    if day is None:
        return False
    d0, d1 = day[0], day[1]
    if d1 - d0 != DAY or s1 > d1:
        return False  # crosses local midnight, or a DST day: the slow way
    j = bisect_right(sods, s0 - d0)
    return j >= len(sods) or sods[j] >= s1 - d0


def _breakdown(
    tariff: Tariff,
    session: SessionInput,
    rows_by_period: list[list[list[Any]]],
    labels: tuple[str, ...] | None = None,
) -> tuple[PeriodPrice, ...]:
    _start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    out: list[PeriodPrice] = []
    for i, rows in enumerate(rows_by_period):
        dims: list[DimensionPrice] = []
        for row in rows:
            ce, pc, _price, vat_factor = row[1]
            billed_volume = row[2] + row[3]
            if pc.type is Dimension.FLAT:
                excl = incl = pc.price
                incl = pc.price * vat_factor
            elif pc.type is Dimension.ENERGY:
                excl = pc.price * billed_volume
                incl = excl * vat_factor
            else:
                amount = pc.price * billed_volume
                excl = _hours_amount(amount)
                incl = _hours_amount(amount * vat_factor)
            dims.append(
                DimensionPrice(
                    category=row[0],
                    dimension=pc.type,
                    volume=Decimal(row[2]),
                    billed_volume=Decimal(billed_volume),
                    unit_price=pc.price,
                    vat=pc.vat,
                    excl_vat=excl,
                    incl_vat=incl,
                    element_index=ce.index,
                    step_size=pc.step_size,
                )
            )
        p = periods[i]
        out.append(
            PeriodPrice(
                index=i,
                start_date_time=p.start_date_time,
                end_date_time=periods[i + 1].start_date_time if i + 1 < n else session.end,
                seconds=(starts[i + 1] if i + 1 < n else end_s) - starts[i],
                reservation=p.reservation_time is not None,
                dimensions=tuple(dims),
                tariff_id=tariff.id if labels is None else labels[i],
            )
        )
    return tuple(out)


def _finish(
    tariff: Tariff,
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
    if tariff.min_price is not None or tariff.max_price is not None:
        total_excl, total_incl, adjustments = _clamp(tariff, total_excl, total_incl, warnings)
        if adjustments:
            single = -1
    if plan is not None and labels is not None:
        _switch_warnings(tariff, session, plan, labels, warnings)
    elif ct.no_default_warnings:
        warnings.extend(ct.no_default_warnings)
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
    tariff: Tariff,
    session: SessionInput,
    plan: tuple[CompiledTariff, ...],
    labels: tuple[str, ...],
    warnings: list[PriceWarning],
) -> None:
    """Tariff-level warnings of a session priced with several tariffs: each switch, the
    limits of a later tariff that do not apply, each tariff's validity (as of the first
    period it prices) and missing default elements. ``tariff`` is the first period's."""
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
        t = x.tariff
        for w in x.no_default_warnings:
            warnings.append(PriceWarning(w.code, f"tariff {labels[i]!r}: {w.message}", w.path))
        if t is tariff:
            continue  # the first tariff's validity: checked by _finish, as for one tariff
        path = f"$.charging_periods[{i}].tariff_id"
        when = periods[i].start_date_time
        if (t.min_price, t.max_price) != (tariff.min_price, tariff.max_price) and (
            t.min_price is not None or t.max_price is not None
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
        if t.start_date_time is not None and when < t.start_date_time:
            warnings.append(
                PriceWarning(
                    "TARIFF_NOT_YET_ACTIVE",
                    f"period {i} starts before the start_date_time of tariff {labels[i]!r}",
                    path,
                )
            )
        if t.end_date_time is not None and when >= t.end_date_time:
            warnings.append(
                PriceWarning(
                    "TARIFF_EXPIRED",
                    f"period {i} starts after the end_date_time of tariff {labels[i]!r}",
                    path,
                )
            )


def _clamp(
    tariff: Tariff, excl: Decimal, incl: Decimal, warnings: list[PriceWarning]
) -> tuple[Decimal, Decimal, tuple[PriceAdjustment, ...]]:
    """Point 8: min_price / max_price clamp total_cost, excl and incl independently."""
    adjustments: list[PriceAdjustment] = []
    for name, limit in (("min_price", tariff.min_price), ("max_price", tariff.max_price)):
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
    rows: list[list[Any]],
) -> PriceWarning | None:
    """Warn when a restriction edge inside the period would select another component."""

    def changed(ctx: Ctx) -> bool:
        for row in rows:
            dim = row[1][1].type
            if dim is Dimension.FLAT or row[0] is C_RES:
                continue
            if ct.static[dim] is row[1]:
                continue
            if select(ct.candidates[dim], ctx) is not row[1]:
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
