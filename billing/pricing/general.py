"""The general pricing path: per period, per dimension element selection (PRICING.md points
1 to 7), for every tariff and session; the fast paths (``fast_paths.py``) give its numbers
for the tariffs they take, and their per-period breakdown is built here.

``price_general`` runs in steps: the local clock and the start of the charging part, the
periods (``_price_periods``: one loop, its sums in locals; reservation periods in
``_reservation_period``), then the step_size surplus, the exact sub-totals and the result
(``_result``, ``result.finish``).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from billing.pricing.amounts import (
    C_ENERGY,
    C_FIXED,
    C_PARKING,
    C_RES,
    C_TIME,
    WH_PER_KWH,
    F,
    T,
    ceil_to_step,
    durations,
    hours_amount,
    inconsistent,
    volume_warning,
)
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
    ChargingPeriod,
    Dimension,
    DimensionPrice,
    InputIssue,
    PeriodPrice,
    PriceResult,
    PriceWarning,
    PricingInputError,
    SessionInput,
)
from billing.pricing.result import finish

_MAX_EDGE_STEPS = 1000

# A priced row is a small list: [category, candidate, volume, step surplus] (lists are far
# cheaper to build than objects on the per-period path). Volume: kWh, seconds, or 1 (FLAT).
Row = list[Any]


@dataclass(slots=True)
class _Reservation:
    """The reservation part of a session (point 6), made at its first reservation period."""

    flat_e: Decimal = ZERO  # FLAT of reservation elements, excl / incl
    flat_i: Decimal = ZERO
    time_e: Decimal = ZERO  # reservation TIME as price x seconds, excl / incl
    time_i: Decimal = ZERO
    flat_done: bool = False
    last: Row | None = None  # the last priced TIME row (its step_size surplus)
    priced: int = 0  # priced seconds
    seconds: int = 0
    energy: Decimal = ZERO  # ENERGY volumes of reservation periods (in total_energy)


@dataclass(slots=True)
class _Sums:
    """What the period loop adds up, for the steps after it. Exact amounts as (excl, incl);
    the time-like ones hold price x seconds until ``_raw`` divides them."""

    rows_by_period: list[list[Row]]
    warnings: list[PriceWarning]
    fixed_e: Decimal
    fixed_i: Decimal
    energy_e: Decimal
    energy_i: Decimal
    time_e: Decimal
    time_i: Decimal
    park_e: Decimal
    park_i: Decimal
    total_energy: Decimal
    charging_secs: int
    parking_secs: int
    # the last priced row and the priced total per step group (point 5)
    last_energy: Row | None
    last_time: Row | None
    last_park: Row | None
    priced_energy: Decimal
    priced_time: int
    priced_park: int
    res: _Reservation | None


def price_general(
    ct: CompiledTariff,
    session: SessionInput,
    mode: str,
    plan: tuple[CompiledTariff, ...] | None = None,
    labels: tuple[str, ...] | None = None,
) -> PriceResult:
    """Per period, per dimension element selection. ``plan``: the compiled tariff of each
    period when the session switches tariffs (``ct`` is then the first period's), ``labels``
    their ids; the session-wide state (energy before, durations, FLAT once, step_size on the
    session totals) carries across the switch."""
    clock: LocalClock | None = None
    if ct.needs_local or (plan is not None and any(x.needs_local for x in plan)):
        clock = _clock(session.time_zone)
    return _result(ct, session, mode, _price_periods(ct, plan, session, clock), plan, labels)


def _clock(time_zone: str) -> LocalClock:
    """The session's local clock (point 4): a tariff needs local time."""
    try:
        return LocalClock.for_zone(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PricingInputError(
            [InputIssue("$.time_zone", f"unknown IANA time zone {time_zone!r}")]
        ) from None


def _price_periods(
    ct: CompiledTariff,
    plan: tuple[CompiledTariff, ...] | None,
    session: SessionInput,
    clock: LocalClock | None,
) -> _Sums:
    """Point 1 for each period: per dimension, the first element whose restrictions match at
    the period's start; the amounts added up exactly. One loop with its sums in locals (the
    hot part of the general path); reservation periods go to ``_reservation_period``."""
    start_s, end_s, starts, _ids = session.epochs
    periods = session.charging_periods
    n = len(periods)
    issues: list[InputIssue] = []
    warnings: list[PriceWarning] = []
    # Durations (min/max_duration) count from the start of the charging part (point 2);
    # reservation periods before it are measured from the CDR start.
    charge_start = start_s
    for i, p in enumerate(periods):
        if p.reservation_time is None:
            charge_start = starts[i]
            break
    lk = ct.lookups
    res: _Reservation | None = None
    rows_by_period: list[list[Row]] = []
    last_day: tuple[int, int, dt.date, int] | None = None
    fixed_e = fixed_i = energy_e = energy_i = ZERO
    time_e = time_i = park_e = park_i = ZERO  # price x seconds
    energy_before = ZERO
    charging_secs = parking_secs = 0
    flat_done = False
    last_energy: Row | None = None
    last_time: Row | None = None
    last_park: Row | None = None
    priced_energy = ZERO
    priced_time = priced_park = 0

    for i in range(n):
        p = periods[i]
        s0 = starts[i]
        secs = (starts[i + 1] if i + 1 < n else end_s) - s0
        rows: list[Row] = []
        rows_by_period.append(rows)
        ctx: Ctx | None = None
        if plan is not None and plan[i] is not ct:  # a tariff switch
            ct = plan[i]
            lk = ct.lookups
        try:
            if p.reservation_time is not None:
                if res is None:
                    res = _Reservation()
                _reservation_period(
                    res, ct, session, clock, p, i, s0, secs, energy_before, rows, warnings
                )
                continue

            if p.parking_time is None and p.time is not None:  # the common case, inlined
                t_secs, pk_secs = (secs if p.time > ZERO else 0), 0
                if abs(float(p.time) * 3600.0 - t_secs) > 0.999 and inconsistent(p.time, t_secs):
                    warnings.append(volume_warning(i, "TIME", p.time, secs))
            else:
                t_secs, pk_secs = durations(p, i, secs, warnings)
            charging_secs += t_secs
            parking_secs += pk_secs
            e = p.energy
            local: tuple[dt.date, int, int] | None = None
            day: tuple[int, int, dt.date, int] | None = None
            if lk.use_day and clock is not None:
                if last_day is None or not last_day[0] <= s0 < last_day[1]:
                    last_day = clock.day(s0)
                day = last_day
                if day[1] - day[0] == DAY:
                    local = (day[2], s0 - day[0], day[3])

            if not flat_done:
                sel = lk.s_flat
                if sel is None and lk.c_flat:
                    ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                    sel = select(lk.c_flat, ctx)
                if sel is not None:
                    rows.append([C_FIXED, sel, 1, 0])
                    fixed_e += sel[2]
                    fixed_i += sel[2] * sel[3]
                    flat_done = True
            if e:
                sel = lk.s_energy
                if sel is None and lk.c_energy:
                    if lk.tb_energy is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = lk.tb_energy.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(lk.c_energy, ctx)
                if sel is not None:
                    last_energy = [C_ENERGY, sel, e, 0]
                    rows.append(last_energy)
                    priced_energy += e
                    amount = sel[2] * e
                    energy_e += amount
                    energy_i += amount * sel[3]
            if t_secs:
                sel = lk.s_time
                if sel is None and lk.c_time:
                    if lk.tb_time is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = lk.tb_time.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(lk.c_time, ctx)
                if sel is not None:
                    last_time = [C_TIME, sel, t_secs, 0]
                    rows.append(last_time)
                    priced_time += t_secs
                    amount = sel[2] * t_secs
                    time_e += amount
                    time_i += amount * sel[3]
            if pk_secs:
                sel = lk.s_park
                if sel is None and lk.c_park:
                    if lk.tb_park is not None and clock is not None:
                        if local is None:
                            local = clock.local(s0)
                        sel = lk.tb_park.lookup(local[1], local[2])
                    else:
                        if ctx is None:
                            ctx = Ctx(s0, clock, energy_before, s0 - charge_start, p, i)
                        sel = select(lk.c_park, ctx)
                if sel is not None:
                    last_park = [C_PARKING, sel, pk_secs, 0]
                    rows.append(last_park)
                    priced_park += pk_secs
                    amount = sel[2] * pk_secs
                    park_e += amount
                    park_i += amount * sel[3]
            if (
                lk.has_edges
                and secs > 0
                and rows
                and not (
                    lk.simple_edges  # only local time-of-day edges: the common case, inlined
                    and day is not None
                    and day[1] - day[0] == DAY
                    and s0 + secs <= day[1]
                    and (
                        (j := bisect_right(lk.sods, s0 - day[0])) >= lk.n_sods
                        or lk.sods[j] >= s0 + secs - day[0]
                    )
                )
                and not no_edge_inside(ct, s0, s0 + secs, charge_start, day, energy_before, e)
            ):
                w = span_warning(
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
    return _Sums(
        rows_by_period,
        warnings,
        fixed_e,
        fixed_i,
        energy_e,
        energy_i,
        time_e,
        time_i,
        park_e,
        park_i,
        # + ENERGY of the charging periods
        (res.energy if res is not None else ZERO) + energy_before,
        charging_secs,
        parking_secs,
        last_energy,
        last_time,
        last_park,
        priced_energy,
        priced_time,
        priced_park,
        res,
    )


def _reservation_period(
    res: _Reservation,
    ct: CompiledTariff,
    session: SessionInput,
    clock: LocalClock | None,
    p: ChargingPeriod,
    i: int,
    s0: int,
    secs: int,
    energy_before: Decimal,
    rows: list[Row],
    warnings: list[PriceWarning],
) -> None:
    """Point 6: a reservation period is priced by reservation elements only (FLAT once per
    session, TIME); an expired reservation by RESERVATION_EXPIRES elements first."""
    assert p.reservation_time is not None
    r_secs = secs if p.reservation_time > ZERO else 0
    if inconsistent(p.reservation_time, r_secs):
        warnings.append(volume_warning(i, "RESERVATION_TIME", p.reservation_time, secs))
    cands = ct.res_expired_candidates if session.reservation_expired else ct.res_candidates
    ctx = Ctx(s0, clock, energy_before, s0 - session.epochs[0], p, i)
    if not res.flat_done:
        sel = select(cands[F], ctx)
        if sel is not None:
            rows.append([C_RES, sel, 1, 0])
            res.flat_e += sel[2]
            res.flat_i += sel[2] * sel[3]
            res.flat_done = True
    if r_secs:
        sel = select(cands[T], ctx)
        if sel is not None:
            res.last = [C_RES, sel, r_secs, 0]
            rows.append(res.last)
            res.priced += r_secs
            amount = sel[2] * r_secs
            res.time_e += amount
            res.time_i += amount * sel[3]
    res.seconds += r_secs
    if p.energy is not None:
        res.energy += p.energy


def _result(
    ct: CompiledTariff,
    session: SessionInput,
    mode: str,
    s: _Sums,
    plan: tuple[CompiledTariff, ...] | None,
    labels: tuple[str, ...] | None,
) -> PriceResult:
    """Point 5, then the exact sub-totals and the result.

    step_size applies once per session to the priced total, the surplus billed in the last
    priced period at its price (recorded in its row); TIME and PARKING_TIME: when both are
    priced only PARKING_TIME is rounded. Then the exact sub-totals (fixed, energy, time,
    parking, reservation; excl and incl) and, when more than one time-based amount is
    priced, the exact total (see ``result.finish``)."""
    energy_e, energy_i = s.energy_e, s.energy_i
    time_e, time_i, park_e, park_i = s.time_e, s.time_i, s.park_e, s.park_i
    priced_energy, priced_time, priced_park = s.priced_energy, s.priced_time, s.priced_park
    billed_energy = priced_energy
    row = s.last_energy
    if row is not None and priced_energy > 0:
        pc = row[1][1]
        if pc.step_size > 0:
            billed_energy = ceil_to_step(priced_energy * WH_PER_KWH, pc.step_size) / WH_PER_KWH
            surplus = billed_energy - priced_energy
            if surplus:
                row[3] = surplus
                amount = pc.price * surplus
                energy_e += amount
                energy_i += amount * row[1][3]
    billed_time, billed_park = priced_time, priced_park
    row = s.last_park if priced_park else s.last_time
    if row is not None:
        pc = row[1][1]
        total = priced_park if priced_park else priced_time
        if pc.step_size > 0 and total > 0:
            surplus_s = -(-total // pc.step_size) * pc.step_size - total
            if surplus_s:
                row[3] = surplus_s
                amount = pc.price * surplus_s
                if priced_park:
                    billed_park += surplus_s
                    park_e += amount
                    park_i += amount * row[1][3]
                else:
                    billed_time += surplus_s
                    time_e += amount
                    time_i += amount * row[1][3]
    resf_e = resf_i = rest_e = rest_i = ZERO
    res_secs = billed_res = 0
    res = s.res
    if res is not None:
        resf_e, resf_i, rest_e, rest_i = res.flat_e, res.flat_i, res.time_e, res.time_i
        res_secs = res.seconds
        billed_res = res.priced
        row = res.last
        if row is not None:
            pc = row[1][1]
            if pc.step_size > 0 and res.priced > 0:
                surplus_s = -(-res.priced // pc.step_size) * pc.step_size - res.priced
                if surplus_s:
                    row[3] = surplus_s
                    billed_res += surplus_s
                    amount = pc.price * surplus_s
                    rest_e += amount
                    rest_i += amount * row[1][3]
    fixed_e, fixed_i = s.fixed_e, s.fixed_i
    time_nums = None
    if bool(time_e or time_i) + bool(park_e or park_i) + bool(rest_e or rest_i) > 1:
        time_nums = (
            fixed_e + energy_e + resf_e + hours_amount(time_e + park_e + rest_e),
            fixed_i + energy_i + resf_i + hours_amount(time_i + park_i + rest_i),
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
        resf_e + hours_amount(rest_e),
        resf_i + hours_amount(rest_i),
    )
    start_s, end_s, _starts, _ids = session.epochs
    return finish(
        ct,
        session,
        mode,
        raw,
        s.total_energy,
        end_s - start_s,
        s.charging_secs,
        s.parking_secs,
        res_secs,
        billed_energy,
        billed_time,
        billed_park,
        billed_res,
        s.warnings,
        partial(breakdown, ct, session, s.rows_by_period, labels),
        time_nums,
        plan,
        labels,
    )


def no_edge_inside(
    ct: CompiledTariff,
    s0: int,
    s1: int,
    charge_start: int,
    day: tuple[int, int, dt.date, int] | None,
    before: Decimal,
    energy: Decimal | None,
) -> bool:
    """True when certainly no restriction edge lies strictly inside the period; False means
    maybe (then ``span_warning`` evaluates the edges)."""
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


def span_warning(
    ct: CompiledTariff,
    clock: LocalClock | None,
    period: ChargingPeriod,
    i: int,
    s0: int,
    s1: int,
    charge_start: int,
    energy_before: Decimal,
    energy: Decimal,
    rows: list[Row],
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


def breakdown(
    ct: CompiledTariff,
    session: SessionInput,
    rows_by_period: list[list[Row]],
    labels: tuple[str, ...] | None = None,
) -> tuple[PeriodPrice, ...]:
    """The per-period, per-dimension breakdown (``PriceResult.periods``) from the rows."""
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
                excl = hours_amount(amount)
                incl = hours_amount(amount * vat_factor)
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
                tariff_id=ct.tariff_id if labels is None else labels[i],
            )
        )
    return tuple(out)
