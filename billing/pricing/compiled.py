"""A tariff compiled once into per-dimension lookup structures (the pricing hot path).

PRICING.md point 1: per dimension, the first element that has a component of that dimension
and whose restrictions match. ``CompiledTariff.candidates`` holds, per dimension, only the
elements that can ever price it, in tariff order; ``static`` short-circuits dimensions whose
first candidate has no restrictions (then no restriction is ever evaluated for them).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

from billing.pricing.model import (
    WEEKDAY_INDEX,
    ChargingPeriod,
    Dimension,
    Price,
    PriceComponent,
    PriceWarning,
    ReservationRestriction,
    TariffElement,
    TariffRestrictions,
)

DAY = 86400
_EPOCH_DATE = dt.date(1970, 1, 1)

# Minor units of ISO 4217 currencies that do not use 2 decimals (others: 2).
_MINOR_UNITS = {
    "BHD": 3,
    "BIF": 0,
    "CLF": 4,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "UYW": 4,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


class MissingDimensionError(Exception):
    """A current/power restriction needs a dimension the charging period does not carry."""

    def __init__(self, dimension: str, restriction_path: str) -> None:
        super().__init__(dimension, restriction_path)
        self.dimension = dimension
        self.restriction_path = restriction_path


class LocalClock:
    """Epoch seconds -> local (date, second of day, weekday) in one IANA zone.

    One shared instance per zone (``for_zone``). Local day boundaries are cached per UTC day,
    so converting an instant costs a dict lookup; on a 23/25-hour DST day the wall time comes
    from zoneinfo itself. Only dict inserts mutate it (safe to share between threads).
    """

    __slots__ = ("tz", "_days", "_edge_cache")
    _zones: ClassVar[dict[str, LocalClock]] = {}

    def __init__(self, time_zone: str) -> None:
        self.tz = ZoneInfo(time_zone)
        self._days: dict[int, tuple[tuple[int, ...], tuple[tuple[dt.date, int], ...]]] = {}
        self._edge_cache: dict[tuple[int, tuple[int, ...]], tuple[int, ...]] = {}

    @classmethod
    def for_zone(cls, time_zone: str) -> LocalClock:
        clock = cls._zones.get(time_zone)
        if clock is None:
            clock = cls._zones.setdefault(time_zone, cls(time_zone))
        return clock

    def day(self, t: int) -> tuple[int, int, dt.date, int]:
        """(local midnight, next local midnight, local date, weekday) of the day holding t."""
        key = t // DAY
        entry = self._days.get(key)
        if entry is None:
            utc_date = _EPOCH_DATE + dt.timedelta(days=key)
            dates = [utc_date + dt.timedelta(days=k) for k in (-1, 0, 1, 2)]
            mids = tuple(self.midnight(d) for d in dates)
            entry = (mids, tuple((d, d.weekday()) for d in dates[:3]))
            if len(self._days) > 100_000:
                self._days.clear()
            self._days[key] = entry
        mids, days = entry
        i = 0 if t < mids[1] else (1 if t < mids[2] else 2)
        d, wd = days[i]
        return mids[i], mids[i + 1], d, wd

    def local(self, t: int) -> tuple[dt.date, int, int]:
        d0, d1, d, wd = self.day(t)
        if d1 - d0 == DAY:
            return d, t - d0, wd
        ldt = dt.datetime.fromtimestamp(t, self.tz)
        return ldt.date(), ldt.hour * 3600 + ldt.minute * 60 + ldt.second, ldt.weekday()

    def midnight(self, d: dt.date) -> int:
        return self.at(d, 0)

    def at(self, d: dt.date, sod: int) -> int:
        """Epoch seconds of local wall time ``sod`` on date ``d`` (fold=0 in DST overlaps)."""
        h, rem = divmod(sod, 3600)
        if h >= 24:
            return self.at(d + dt.timedelta(days=1), sod - DAY)
        local = dt.datetime(d.year, d.month, d.day, h, rem // 60, rem % 60, tzinfo=self.tz)
        return int(local.timestamp())

    def edges_of_day(self, d: dt.date, sods: tuple[int, ...]) -> tuple[int, ...]:
        key = (d.toordinal(), sods)
        got = self._edge_cache.get(key)
        if got is None:
            got = tuple(sorted({self.at(d, s) for s in sods}))
            if len(self._edge_cache) > 4096:
                self._edge_cache.clear()
            self._edge_cache[key] = got
        return got


class Ctx:
    """Everything a restriction may look at, evaluated at one instant (a period start)."""

    __slots__ = ("t", "clock", "energy_before", "duration", "period", "index", "_local")

    def __init__(
        self,
        t: int,
        clock: LocalClock | None,
        energy_before: Decimal,
        duration: int,
        period: ChargingPeriod | None,
        index: int,
    ) -> None:
        self.t = t
        self.clock = clock
        self.energy_before = energy_before
        self.duration = duration
        self.period = period
        self.index = index
        self._local: tuple[dt.date, int, int] | None = None

    def local(self) -> tuple[dt.date, int, int]:
        if self._local is None:
            if self.clock is None:  # pragma: no cover - guarded by the engine
                raise RuntimeError("local time needed but no time zone")
            self._local = self.clock.local(self.t)
        return self._local


def _sod(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class CElement:
    """One tariff element, compiled: its restrictions as plain comparable values."""

    __slots__ = (
        "index",
        "components",
        "unrestricted",
        "needs_local",
        "win",
        "start_date",
        "end_date",
        "dows",
        "min_kwh",
        "max_kwh",
        "min_duration",
        "max_duration",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "reservation",
        "time_only",
    )

    def __init__(
        self, index: int, components: dict[Dimension, PriceComponent], r: TariffRestrictions | None
    ) -> None:
        self.index = index
        self.components = components
        r = r or TariffRestrictions()
        self.reservation = r.reservation
        self.win: tuple[int, int] | None = None
        if r.start_time is not None or r.end_time is not None:
            if r.start_time is not None and r.start_time == r.end_time:
                self.win = None  # start == end: all day
            else:
                ws = _sod(r.start_time) if r.start_time is not None else 0
                we = _sod(r.end_time) if r.end_time is not None else DAY
                if we == 0:
                    we = DAY  # end_time 00:00 means 24:00
                self.win = (ws, we)
        self.start_date = r.start_date
        self.end_date = r.end_date
        self.dows = frozenset(WEEKDAY_INDEX[d] for d in r.day_of_week) if r.day_of_week else None
        self.min_kwh = r.min_kwh
        self.max_kwh = r.max_kwh
        self.min_duration = r.min_duration
        self.max_duration = r.max_duration
        self.min_current = r.min_current
        self.max_current = r.max_current
        self.min_power = r.min_power
        self.max_power = r.max_power
        self.needs_local = (
            self.win is not None
            or self.start_date is not None
            or self.end_date is not None
            or self.dows is not None
        )
        self.time_only = (
            self.start_date is None
            and self.end_date is None
            and all(
                v is None
                for v in (
                    self.min_kwh,
                    self.max_kwh,
                    self.min_duration,
                    self.max_duration,
                    self.min_current,
                    self.max_current,
                    self.min_power,
                    self.max_power,
                )
            )
        )
        self.unrestricted = not self.needs_local and all(
            v is None
            for v in (
                self.min_kwh,
                self.max_kwh,
                self.min_duration,
                self.max_duration,
                self.min_current,
                self.max_current,
                self.min_power,
                self.max_power,
            )
        )

    def _path(self, name: str) -> str:
        return f"$.elements[{self.index}].restrictions.{name}"

    def matches(self, c: Ctx) -> bool:
        if self.unrestricted:
            return True
        if self.min_duration is not None and c.duration < self.min_duration:
            return False
        if self.max_duration is not None and c.duration >= self.max_duration:
            return False
        if self.min_kwh is not None and c.energy_before < self.min_kwh:
            return False
        if self.max_kwh is not None and c.energy_before >= self.max_kwh:
            return False
        if self.needs_local:
            d, sod, wd = c.local()
            if self.dows is not None and wd not in self.dows:
                return False
            if self.start_date is not None and d < self.start_date:
                return False
            if self.end_date is not None and d >= self.end_date:
                return False
            if self.win is not None:
                ws, we = self.win
                if ws < we:
                    if not ws <= sod < we:
                        return False
                elif not (sod >= ws or sod < we):
                    return False
        p = c.period
        if self.min_current is not None:
            v = p.min_current if p is not None else None
            if v is None:
                raise MissingDimensionError("MIN_CURRENT", self._path("min_current"))
            if v < self.min_current:
                return False
        if self.max_current is not None:
            v = p.max_current if p is not None else None
            if v is None:
                raise MissingDimensionError("MAX_CURRENT", self._path("max_current"))
            if v >= self.max_current:
                return False
        if self.min_power is not None:
            v = p.min_power if p is not None else None
            if v is None:
                raise MissingDimensionError("MIN_POWER", self._path("min_power"))
            if v < self.min_power:
                return False
        if self.max_power is not None:
            v = p.max_power if p is not None else None
            if v is None:
                raise MissingDimensionError("MAX_POWER", self._path("max_power"))
            if v >= self.max_power:
                return False
        return True


# (element, component, unit price, VAT factor 1 + vat/100): everything the hot path needs
Candidate = tuple[CElement, PriceComponent, Decimal, Decimal]

DIMS = (Dimension.FLAT, Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)


def select(cands: tuple[Candidate, ...], c: Ctx) -> Candidate | None:
    """PRICING.md point 1: the first candidate whose restrictions match, else free."""
    for cand in cands:
        if cand[0].matches(c):
            return cand
    return None


class TimeTable:
    """Selection for candidates restricted only by time of day / weekday:
    ``rows[weekday][segment]`` with segments cut at every window edge."""

    __slots__ = ("edges", "rows")

    def __init__(self, cands: tuple[Candidate, ...]) -> None:
        edges = {0}
        for ce, *_rest in cands:
            if ce.win is not None:
                edges.add(ce.win[0] % DAY)
                edges.add(ce.win[1] % DAY)
        self.edges = tuple(sorted(edges))
        probe = Ctx(0, None, Decimal(0), 0, None, 0)
        rows = []
        for wd in range(7):
            row = []
            for sod in self.edges:
                probe._local = (dt.date(2000, 1, 1), sod, wd)
                row.append(select(cands, probe))
            rows.append(tuple(row))
        self.rows = tuple(rows)

    def lookup(self, sod: int, weekday: int) -> Candidate | None:
        return self.rows[weekday][bisect_right(self.edges, sod) - 1]


class CompiledTariff:
    """Per-dimension candidate lists, cut instants and tariff-level facts, built once (by
    ``Tariff`` on construction, from its fields: this module does not know ``Tariff``)."""

    __slots__ = (
        "tariff_id",
        "currency",
        "min_price",
        "max_price",
        "start_date_time",
        "end_date_time",
        "minor_unit",
        "candidates",
        "static",
        "res_candidates",
        "res_expired_candidates",
        "needs_local",
        "local_sods",
        "duration_edges",
        "kwh_edges",
        "current_edges",
        "power_edges",
        "has_edges",
        "no_default",
        "all_static",
        "energy_only",
        "no_default_warnings",
        "tables",
        "vat_factors",
        "table_path",
        "lookups",
    )

    def __init__(
        self,
        *,
        tariff_id: str,
        currency: str,
        elements: tuple[TariffElement, ...],
        min_price: Price | None = None,
        max_price: Price | None = None,
        start_date_time: dt.datetime | None = None,
        end_date_time: dt.datetime | None = None,
    ) -> None:
        self.tariff_id = tariff_id
        self.currency = currency
        self.min_price = min_price
        self.max_price = max_price
        self.start_date_time = start_date_time
        self.end_date_time = end_date_time
        self.minor_unit = minor_unit(currency)
        celements = self._candidates(elements)
        self._edges(celements)
        self._paths()
        self.vat_factors: dict[int, Decimal] = {}
        for el in elements:
            for pc in el.price_components:
                self.vat_factors[id(pc)] = (
                    Decimal(1) if pc.vat is None else Decimal(1) + pc.vat / Decimal(100)
                )
        self.lookups = PeriodLookups(self)

    def _candidates(self, elements: tuple[TariffElement, ...]) -> list[CElement]:
        """Per dimension, the elements that can price it, in tariff order (point 1): of the
        charging part, of reservations, of expired reservations; the static ones."""
        charging: dict[Dimension, list[Candidate]] = {d: [] for d in DIMS}
        res: dict[Dimension, list[Candidate]] = {d: [] for d in DIMS}
        res_exp_first: dict[Dimension, list[Candidate]] = {d: [] for d in DIMS}
        celements: list[CElement] = []
        for i, el in enumerate(elements):
            comps: dict[Dimension, PriceComponent] = {}
            for pc in el.price_components:
                comps.setdefault(pc.type, pc)  # one component per dimension per element
            ce = CElement(i, comps, el.restrictions)
            celements.append(ce)
            for dim, pc in comps.items():
                vat_factor = Decimal(1) if pc.vat is None else Decimal(1) + pc.vat / Decimal(100)
                cand = (ce, pc, pc.price, vat_factor)
                if ce.reservation is None:
                    charging[dim].append(cand)
                elif ce.reservation is ReservationRestriction.RESERVATION:
                    res[dim].append(cand)
                else:
                    res_exp_first[dim].append(cand)
        self.candidates = {d: tuple(v) for d, v in charging.items()}
        self.static: dict[Dimension, Candidate | None] = {}
        for d, cands in self.candidates.items():
            self.static[d] = cands[0] if cands and cands[0][0].unrestricted else None
        self.res_candidates = {d: tuple(v) for d, v in res.items()}
        # PRICING.md point 6 / spec note: an expired reservation is priced by
        # RESERVATION_EXPIRES elements first, then by RESERVATION elements.
        self.res_expired_candidates = {d: tuple(res_exp_first[d] + res[d]) for d in DIMS}
        return celements

    def _edges(self, celements: list[CElement]) -> None:
        """The instants and volumes where a restriction can change its value."""
        sods: set[int] = set()
        midnight = False
        duration_edges: set[int] = set()
        kwh_edges: set[Decimal] = set()
        current_edges: set[Decimal] = set()
        power_edges: set[Decimal] = set()
        for ce in celements:
            if ce.win is not None:
                sods.add(ce.win[0] % DAY)
                sods.add(ce.win[1] % DAY)
            if ce.dows is not None or ce.start_date is not None or ce.end_date is not None:
                midnight = True
            for v in (ce.min_duration, ce.max_duration):
                if v is not None:
                    duration_edges.add(v)
            for k in (ce.min_kwh, ce.max_kwh):
                if k is not None:
                    kwh_edges.add(k)
            for a in (ce.min_current, ce.max_current):
                if a is not None:
                    current_edges.add(a)
            for w in (ce.min_power, ce.max_power):
                if w is not None:
                    power_edges.add(w)
        if midnight:
            sods.add(0)
        self.needs_local = any(ce.needs_local for ce in celements)
        self.local_sods = tuple(sorted(sods))
        self.duration_edges = tuple(sorted(duration_edges))
        self.kwh_edges = tuple(sorted(kwh_edges))
        self.current_edges = tuple(sorted(current_edges))
        self.power_edges = tuple(sorted(power_edges))
        self.has_edges = bool(self.local_sods or self.duration_edges or self.kwh_edges)

    def _paths(self) -> None:
        """Which pricing path the tariff takes (engine.price_session), and the warning of
        dimensions without a default element."""
        self.no_default = tuple(
            d
            for d, cands in self.candidates.items()
            if cands and not any(c[0].unrestricted for c in cands)
        )
        self.no_default_warnings = tuple(
            PriceWarning(
                "NO_DEFAULT_ELEMENT",
                f"no unrestricted element prices {d}: it is free whenever no restriction matches",
                "$.elements",
            )
            for d in self.no_default
        )
        # Every charging dimension priced by one unrestricted component (or not at all): the
        # session can be priced from its volume totals, without looking at any period.
        self.all_static = all(
            self.static[d] is not None or not self.candidates[d] for d in DIMS
        ) and not (
            self.res_candidates[Dimension.FLAT]
            or self.res_candidates[Dimension.TIME]
            or self.res_expired_candidates[Dimension.FLAT]
            or self.res_expired_candidates[Dimension.TIME]
        )
        # The simplest common tariff: one unrestricted ENERGY component and nothing else that
        # needs the session's durations (no TIME / PARKING_TIME / FLAT / limits / validity).
        self.energy_only = (
            self.all_static
            and self.static[Dimension.ENERGY] is not None
            and not any(
                self.candidates[d] for d in (Dimension.TIME, Dimension.PARKING_TIME, Dimension.FLAT)
            )
            and self.min_price is None
            and self.max_price is None
            and self.start_date_time is None
            and self.end_date_time is None
        )
        # Dimensions whose candidates only look at the local time of day and weekday: a
        # precomputed table (weekday x time segment) replaces the linear scan.
        self.tables: dict[Dimension, TimeTable | None] = {}
        for d, cands in self.candidates.items():
            table = None
            if cands and self.static[d] is None and all(c[0].time_only for c in cands):
                table = TimeTable(cands)
            self.tables[d] = table
        # Every charging dimension static, absent, or a time-of-day table (FLAT: static or
        # absent), and only local time-of-day edges: fast_paths.price_table prices it with a
        # table lookup per period and no restriction evaluation.
        self.table_path = (
            not self.all_static
            and not self.duration_edges
            and not self.kwh_edges
            and (self.static[Dimension.FLAT] is not None or not self.candidates[Dimension.FLAT])
            and all(
                self.static[d] is not None or not self.candidates[d] or self.tables[d] is not None
                for d in (Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)
            )
        )

    def next_time_edge(self, t: int, session_start: int, clock: LocalClock | None) -> int | None:
        """The first instant after ``t`` where a time-based restriction can change its value:
        local time-window edges, local midnights (day of week, dates), duration thresholds."""
        best: int | None = None
        for e in self.duration_edges:
            x = session_start + e
            if x > t:
                best = x
                break
        if self.local_sods and clock is not None:
            d, _sod, _wd = clock.local(t)
            for k in range(3):
                day = d + dt.timedelta(days=k)
                found = None
                for x in clock.edges_of_day(day, self.local_sods):
                    if x > t:
                        found = x
                        break
                if found is not None:
                    if best is None or found < best:
                        best = found
                    break
        return best


class PeriodLookups:
    """What the general path looks up for each charging period, per dimension (FLAT, ENERGY,
    TIME, PARKING_TIME): the static candidate, the candidates, the time-of-day table; and
    the tariff's restriction edges. Flat attributes of one object: the per-period loop reads
    them without dict lookups and rebinds one name at a tariff switch."""

    __slots__ = (
        "s_flat",
        "s_energy",
        "s_time",
        "s_park",
        "c_flat",
        "c_energy",
        "c_time",
        "c_park",
        "tb_energy",
        "tb_time",
        "tb_park",
        "has_edges",
        "use_day",
        "sods",
        "n_sods",
        "simple_edges",
    )

    def __init__(self, ct: CompiledTariff) -> None:
        F, E, T, P = DIMS
        static, cands, tables = ct.static, ct.candidates, ct.tables
        self.s_flat = static[F]
        self.s_energy = static[E]
        self.s_time = static[T]
        self.s_park = static[P]
        self.c_flat = cands[F]
        self.c_energy = cands[E]
        self.c_time = cands[T]
        self.c_park = cands[P]
        self.tb_energy = tables[E]
        self.tb_time = tables[T]
        self.tb_park = tables[P]
        self.has_edges = ct.has_edges
        self.sods = ct.local_sods
        self.n_sods = len(self.sods)
        # the local day of each period is needed (for a table, or to see that no
        # time-of-day edge lies inside it); only with a clock, i.e. a zone
        self.use_day = (
            self.tb_energy is not None
            or self.tb_time is not None
            or self.tb_park is not None
            or bool(ct.has_edges and self.sods)
        )
        # only local time-of-day edges: the common case of the edge check, inlined
        self.simple_edges = bool(self.sods) and not ct.duration_edges and not ct.kwh_edges
