"""The CPO side: split a meter timeline into OCPI charging periods (PRICING.md point 11).

A period starts at every instant where a price can change: local time-window edges and
midnights (day of week, dates), duration thresholds, kWh thresholds (interpolated), current or
power crossing a restriction threshold (interpolated), charging <-> parking, reservation ->
session, and a tariff switch (each stretch is then cut where its own tariff's price can change).
Energy is interpolated linearly between samples and rounded to whole Wh at each cut (so the
periods add up exactly to the metered total); at a kWh-threshold cut it is exactly the
threshold.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from billing.pricing.catalogue import TariffCatalogue, Tariffs
from billing.pricing.compiled import CompiledTariff, LocalClock
from billing.pricing.model import (
    ChargingPeriod,
    InputIssue,
    MeterSample,
    PricingInputError,
    epoch,
)
from billing.pricing.serialize import hours
from billing.pricing.tariff import Tariff

_1000 = Decimal(1000)


class _Timeline:
    """Piecewise-linear signals over integer epoch seconds."""

    def __init__(self, samples: Sequence[MeterSample]) -> None:
        self.ts = [epoch(s.timestamp) for s in samples]
        self.wh = [Fraction(s.energy_wh) for s in samples]
        self.cur = [None if s.current_a is None else Fraction(s.current_a) for s in samples]
        self.pw = [None if s.power_kw is None else Fraction(s.power_kw) for s in samples]
        self.parking = [s.state.is_parking for s in samples]
        self.has_current = all(v is not None for v in self.cur)
        self.has_power = all(v is not None for v in self.pw)

    def _interp(self, values: Sequence[Fraction | None], t: int) -> Fraction:
        # Instants are whole epoch seconds: the search and the offsets are integer
        # arithmetic (C bisect, no Fraction per comparison); only the value is a Fraction.
        ts = self.ts
        if t <= ts[0]:
            v = values[0]
        elif t >= ts[-1]:
            v = values[-1]
        else:
            i = bisect_right(ts, t) - 1
            a, b = values[i], values[i + 1]
            assert a is not None and b is not None
            v = a if t == ts[i] else a + (b - a) * (t - ts[i]) / (ts[i + 1] - ts[i])
        assert v is not None
        return v

    def energy(self, t: int) -> Fraction:
        return self._interp(self.wh, t)

    def parking_at(self, t: int) -> bool:
        i = max(0, bisect_right(self.ts, t) - 1)
        return self.parking[i]

    def crossings(self, values: Sequence[Fraction | None], level: Fraction) -> list[int]:
        """Whole-second instants just after the signal crosses ``level`` (ceil)."""
        out = []
        for i in range(len(self.ts) - 1):
            a, b = values[i], values[i + 1]
            assert a is not None and b is not None
            if (a < level <= b) or (b < level <= a):
                x = self.ts[i] + (level - a) * (self.ts[i + 1] - self.ts[i]) / (b - a)
                out.append(math.ceil(x))
        return out

    def extremes(
        self, values: Sequence[Fraction | None], t0: int, t1: int
    ) -> tuple[Fraction, Fraction]:
        """Min and max over the open period (endpoints taken 1 s inside: a cut at a threshold
        crossing belongs to neither side)."""
        a = t0 + 1 if t1 - t0 > 2 else t0
        b = t1 - 1 if t1 - t0 > 2 else t1
        points = [self._interp(values, a), self._interp(values, b)]
        for i, t in enumerate(self.ts):
            if a < t < b:
                v = values[i]
                assert v is not None
                points.append(v)
        return min(points), max(points)


def _dec(value: Fraction, places: int = 6) -> Decimal:
    q = Decimal(1).scaleb(-places)
    d = Decimal(value.numerator) / Decimal(value.denominator)
    if not value:
        return Decimal(0)
    return Decimal(format(d.quantize(q, rounding=ROUND_HALF_EVEN).normalize(), "f"))


def _whole_wh(value: Fraction) -> Fraction:
    return Fraction(round(value))  # half-even, like ROUND_HALF_EVEN


def _switch_plan(
    tariff: Tariff,
    tariff_id: str | None,
    switches: Sequence[tuple[dt.datetime, str]],
    tariffs: Tariffs | None,
    issues: list[InputIssue],
) -> tuple[list[int], list[tuple[str, CompiledTariff]]]:
    """The switch instants (epoch seconds, increasing) and, per stretch between them, the
    label written on the periods and the compiled tariff: stretch k starts at instants[k-1]
    (the first one at the start)."""
    catalogue = TariffCatalogue(tariff, tariffs)
    found = catalogue.find(tariff_id)
    if found is None:
        assert tariff_id is not None
        issues.append(InputIssue("$.tariff_id", catalogue.unknown(tariff_id)))
        found = (tariff.id, tariff)
    first = found[1]
    stretches = [(found[0], first.compiled)]
    instants: list[int] = []
    for k, item in enumerate(switches):
        path = f"$.tariff_switches[{k}]"
        try:
            when, tid = item
        except (TypeError, ValueError):
            issues.append(InputIssue(path, "expected a (start_date_time, tariff_id) pair"))
            continue
        if not isinstance(when, dt.datetime) or when.tzinfo is None:
            issues.append(InputIssue(f"{path}.start_date_time", "expected an aware datetime"))
            continue
        t = epoch(when)
        if instants and t <= instants[-1]:
            issues.append(InputIssue(f"{path}.start_date_time", "is not after the previous switch"))
            continue
        hit = catalogue.find(tid) if isinstance(tid, str) else None
        if hit is None:
            what = catalogue.unknown(tid) if isinstance(tid, str) else "expected a tariff id"
            issues.append(InputIssue(f"{path}.tariff_id", what))
            continue
        if hit[1].currency != first.currency:
            issues.append(
                InputIssue(
                    f"{path}.tariff_id",
                    f"tariff {hit[0]!r} is in {hit[1].currency}, the session's tariff "
                    f"{found[0]!r} in {first.currency}: one session has one currency",
                )
            )
            continue
        instants.append(t)
        stretches.append((hit[0], hit[1].compiled))
    return instants, stretches


def split_session(
    *,
    tariff: Tariff,
    samples: Sequence[MeterSample],
    time_zone: str,
    start: dt.datetime,
    end: dt.datetime,
    reservation_start: dt.datetime | None = None,
    tariff_id: str | None = None,
    tariff_switches: Sequence[tuple[dt.datetime, str]] = (),
    tariffs: Tariffs | None = None,
) -> tuple[ChargingPeriod, ...]:
    """Charging periods for the session [start, end) from its meter timeline.

    ``end`` may be "now" for a live session. ``reservation_start`` adds RESERVATION_TIME
    periods [reservation_start, start).

    Tariff switch: ``tariff_id`` names the tariff in force at the start (``tariff`` by
    default, or one of ``tariffs``: a mapping tariff_id -> Tariff or tariffs keyed by their
    id); ``tariff_switches`` are ``(instant, tariff_id)`` pairs (``TariffSwitch``), strictly
    increasing: from each instant on, the named tariff applies. The session is cut at every
    switch inside it (energy interpolated to the Wh, like every cut), each stretch is cut
    where its own tariff's price can change, and every period carries the id of its
    tariff. Switches at or before the start choose the starting tariff; switches at or
    after ``end`` do not cut (a live session's scheduled price change still to come).
    """
    issues: list[InputIssue] = []
    if not samples:
        issues.append(InputIssue("$.samples", "at least one meter sample is required"))
    s0, s1 = epoch(start), epoch(end)
    if s1 < s0:
        issues.append(InputIssue("$.end", "is before start"))
    for i in range(1, len(samples)):
        if samples[i].timestamp <= samples[i - 1].timestamp:
            issues.append(
                InputIssue(f"$.samples[{i}].timestamp", "is not after the previous sample")
            )
        if samples[i].energy_wh < samples[i - 1].energy_wh:
            issues.append(
                InputIssue(f"$.samples[{i}].energy_wh", "the cumulative register went down")
            )
    r0 = epoch(reservation_start) if reservation_start is not None else None
    if r0 is not None and r0 > s0:
        issues.append(InputIssue("$.reservation_start", "is after the session start"))
    instants, stretches = _switch_plan(tariff, tariff_id, tariff_switches, tariffs, issues)
    if issues:
        raise PricingInputError(issues)

    def stretch_at(t: int) -> tuple[str, CompiledTariff]:
        return stretches[bisect_right(instants, t)]

    tl = _Timeline(samples)
    clock = LocalClock.for_zone(time_zone) if any(ct.local_sods for _l, ct in stretches) else None

    cuts: set[int] = {s0}
    forced_wh: dict[int, Fraction] = {}
    # charging <-> parking
    for i in range(1, len(tl.ts)):
        if tl.parking[i] != tl.parking[i - 1]:
            cuts.add(tl.ts[i])
    # tariff switches; then, per stretch of one tariff, where that tariff's price can change
    inside = [x for x in instants if s0 < x < s1]
    cuts.update(inside)
    e_start = _whole_wh(tl.energy(s0))
    guard = 0
    for a, b in zip([s0, *inside], [*inside, s1], strict=True):
        ct = stretch_at(a)[1]
        # local time windows, midnights, duration thresholds (durations: since the start)
        t: int | None = a
        while t is not None and t < b and guard < 100_000:
            t = ct.next_time_edge(t, s0, clock)
            if t is not None and t < b:
                cuts.add(t)
            guard += 1
        # kWh thresholds: the instant the session's energy reaches the threshold
        for kwh in ct.kwh_edges:
            target = e_start + Fraction(kwh) * 1000
            for i in range(len(tl.ts) - 1):
                wa, wb = tl.wh[i], tl.wh[i + 1]
                if wa < target <= wb:
                    x = tl.ts[i] + (target - wa) * (tl.ts[i + 1] - tl.ts[i]) / (wb - wa)
                    tc = round(x)
                    if a < tc < b:
                        cuts.add(tc)
                        forced_wh[tc] = target
                    break
        # current / power crossing a restriction threshold
        if ct.current_edges and tl.has_current:
            for level in ct.current_edges:
                cuts.update(x for x in tl.crossings(tl.cur, Fraction(level)) if a < x < b)
        if ct.power_edges and tl.has_power:
            for level in ct.power_edges:
                cuts.update(x for x in tl.crossings(tl.pw, Fraction(level)) if a < x < b)

    ordered = sorted(c for c in cuts if s0 <= c < s1) or [s0]
    bounds = [*ordered, s1]

    def wh_at(t: int) -> Fraction:
        if t in forced_wh:
            return forced_wh[t]
        return _whole_wh(tl.energy(t))

    out: list[ChargingPeriod] = []
    if r0 is not None and r0 < s0:
        r_bounds = [r0, *(x for x in instants if r0 < x < s0), s0]
        for a, b in zip(r_bounds, r_bounds[1:], strict=False):
            out.append(
                ChargingPeriod(
                    start_date_time=dt.datetime.fromtimestamp(a, dt.UTC),
                    reservation_time=hours(b - a),
                    tariff_id=stretch_at(a)[0],
                )
            )
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if b <= a and not (a == b == s0):
            continue
        energy_kwh = _dec((wh_at(b) - wh_at(a)) / 1000, 4)
        secs = b - a
        parking = tl.parking_at(a)
        min_c = max_c = min_p = max_p = None
        if tl.has_current and not all(v is None for v in tl.cur):
            lo, hi = tl.extremes(tl.cur, a, b)
            min_c, max_c = _dec(lo, 3), _dec(hi, 3)
        if tl.has_power and not all(v is None for v in tl.pw):
            lo, hi = tl.extremes(tl.pw, a, b)
            min_p, max_p = _dec(lo, 3), _dec(hi, 3)
        out.append(
            ChargingPeriod(
                start_date_time=dt.datetime.fromtimestamp(a, dt.UTC),
                energy=energy_kwh,
                time=None if parking else hours(secs),
                parking_time=hours(secs) if parking else None,
                min_current=min_c,
                max_current=max_c,
                min_power=min_p,
                max_power=max_p,
                tariff_id=stretch_at(a)[0],
            )
        )
    return tuple(out)
