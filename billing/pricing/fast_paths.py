"""The fast paths of ``price_session``: the general path's numbers (property tests compare
them, bit for bit) for the tariffs they take, with less work per period.

``price_energy_only`` and ``price_static`` price tariffs whose every charging dimension has
one unrestricted component from the session's volume totals; ``price_table`` prices tariffs
whose dimensions are static or selected by time of day / weekday only with a table lookup per
period (``CompiledTariff.table_path``). Each returns None where it does not apply (the
general path then prices the session); the per-period breakdown (``PriceResult.periods``)
is built by the general path on first access. Measured: docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from billing.pricing.amounts import (
    C_ENERGY,
    C_FIXED,
    C_PARKING,
    C_TIME,
    WH_PER_KWH,
    ZERO_RAW,
    E,
    F,
    P,
    T,
    ceil_to_step,
    durations,
    hours_amount,
    inconsistent,
    volume_warning,
)
from billing.pricing.compiled import DAY, CompiledTariff, LocalClock
from billing.pricing.general import no_edge_inside, price_general, span_warning
from billing.pricing.model import ZERO, PeriodPrice, PriceResult, PriceWarning, SessionInput
from billing.pricing.result import finish


def _breakdown(ct: CompiledTariff, session: SessionInput, mode: str) -> tuple[PeriodPrice, ...]:
    """The per-period breakdown of a session priced by a fast path: the general path's."""
    return price_general(ct, session, mode).periods


def price_energy_only(ct: CompiledTariff, session: SessionInput, mode: str) -> PriceResult | None:
    """``price_static`` for a tariff with one unrestricted ENERGY component only (same
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
            if abs(float(t_vol) * 3600.0 - ts) > 0.999 and inconsistent(t_vol, ts):
                warnings.append(volume_warning(i, "TIME", t_vol, secs))
            t_total += ts
        elif t_vol is not None or p.parking_time is not None:
            secs = (starts[i + 1] if i + 1 < n else end_s) - starts[i]
            ts, ps = durations(p, i, secs, warnings)
            t_total += ts
            pk_total += ps
        e = p.energy
        if e is not None:
            total_energy += e
    cand = ct.static[E]
    assert cand is not None
    raw: tuple[Decimal, ...] = ZERO_RAW
    billed_energy = total_energy
    single = -1
    if total_energy:
        step = cand[1].step_size
        if step > 0 and total_energy > 0:
            wh = total_energy * WH_PER_KWH
            rounded_wh = ceil_to_step(wh, step)
            if rounded_wh != wh:
                billed_energy = rounded_wh / WH_PER_KWH
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
        partial(_breakdown, ct, session, mode),
        single,
    )


def price_static(ct: CompiledTariff, session: SessionInput, mode: str) -> PriceResult | None:
    """Every charging dimension priced by one unrestricted component (or not at all): from
    the session's volume totals. None (-> the general path) for reservation periods."""
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
                if abs(float(t_vol) * 3600.0 - secs) > 0.999 and inconsistent(t_vol, secs):
                    warnings.append(volume_warning(i, "TIME", t_vol, secs))
            elif inconsistent(t_vol, 0):
                warnings.append(volume_warning(i, "TIME", t_vol, secs))
        elif p.time is not None or p.parking_time is not None:
            ts, ps = durations(p, i, secs, warnings)
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
            wh = total_energy * WH_PER_KWH
            rounded_wh = ceil_to_step(wh, pc.step_size)
            if rounded_wh != wh:
                billed_energy = rounded_wh / WH_PER_KWH
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
        time_e = hours_amount(amount)
        time_i = hours_amount(amount * vf[id(pc)])
    time_nums: tuple[Decimal, Decimal] | None = None
    if park_cand is not None:
        pc = park_cand[1]
        billed_park = pk_total
        if pc.step_size > 0:
            billed_park = -(-pk_total // pc.step_size) * pc.step_size
        park_amount = pc.price * billed_park
        park_e = hours_amount(park_amount)
        park_i = hours_amount(park_amount * vf[id(pc)])
        if time_cand is not None:
            time_nums = (
                fixed_e + energy_e + hours_amount(amount + park_amount),
                fixed_i + energy_i + hours_amount(amount * time_cand[3] + park_amount * vf[id(pc)]),
            )

    return finish(
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
        partial(_breakdown, ct, session, mode),
        time_nums,
    )


# --------------------------------------------------------------------------------------------
# Table path: dimensions static or selected by time of day / weekday only
# --------------------------------------------------------------------------------------------


def price_table(ct: CompiledTariff, session: SessionInput, mode: str) -> PriceResult | None:
    """``general.price_general`` for ``ct.table_path`` tariffs (time-of-use, dynamic half-hourly
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
            if abs(float(t_vol) * 3600.0 - t_secs) > 0.999 and inconsistent(t_vol, t_secs):
                warnings.append(volume_warning(i, "TIME", t_vol, secs))
        else:
            t_secs, pk_secs = durations(p, i, secs, warnings)
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
            if not no_edge_inside(ct, s0, s0 + secs, starts[0], day, energy_before, e):
                rows: list[list[Any]] = []
                if sel_f is not None:
                    rows.append([C_FIXED, sel_f, 1, 0])
                if sel_e is not None:
                    rows.append([C_ENERGY, sel_e, e, 0])
                if sel_t is not None:
                    rows.append([C_TIME, sel_t, t_secs, 0])
                if sel_p is not None:
                    rows.append([C_PARKING, sel_p, pk_secs, 0])
                w = span_warning(
                    ct, clock, p, i, s0, s0 + secs, starts[0], energy_before, e or ZERO, rows
                )
                if w is not None:
                    warnings.append(w)
        if e is not None:
            total_energy += e
    total_energy = ZERO + total_energy  # as price_general: ZERO + energy before the end

    # Point 5, as in price_general
    billed_energy = priced_energy
    if last_energy is not None and priced_energy > 0:
        pc = last_energy[1]
        if pc.step_size > 0:
            billed_energy = ceil_to_step(priced_energy * WH_PER_KWH, pc.step_size) / WH_PER_KWH
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
            fixed_e + energy_e + ZERO + hours_amount(time_e + park_e + ZERO),
            fixed_i + energy_i + ZERO + hours_amount(time_i + park_i + ZERO),
        )
    raw = (
        fixed_e,
        fixed_i,
        energy_e,
        energy_i,
        hours_amount(time_e),
        hours_amount(time_i),
        hours_amount(park_e),
        hours_amount(park_i),
        ZERO + hours_amount(ZERO),
        ZERO + hours_amount(ZERO),
    )

    return finish(
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
        partial(_breakdown, ct, session, mode),
        time_nums,
    )
