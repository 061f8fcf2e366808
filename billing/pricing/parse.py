"""Strict parsers: OCPI 2.2.1 / 2.1.1 CDRs (a session to price) and the meter-values
document of the splitter, into the pricing model (tariffs: ``tariff_parser.py``).

PRICING.md point 10: unknown or misspelled keys and impossible values are errors naming their
JSON path; every issue is collected before ``PricingInputError`` is raised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.collect import (
    DATETIME_RE,
    VERSIONS,
    Collector,
    check_time_zone,
    check_version,
)
from billing.pricing.model import (
    CdrDimension,
    ChargingPeriod,
    ChargingState,
    MeterSample,
    MeterValues,
    PricingInputError,
    SessionInput,
    TariffSwitch,
    trusted_session,
)
from billing.pricing.ocpi_objects import check_cdr_extras

_CDR_KEYS = {
    "2.2.1": frozenset(
        {
            "country_code",
            "party_id",
            "id",
            "start_date_time",
            "end_date_time",
            "session_id",
            "cdr_token",
            "auth_method",
            "authorization_reference",
            "cdr_location",
            "meter_id",
            "currency",
            "tariffs",
            "charging_periods",
            "signed_data",
            "total_cost",
            "total_fixed_cost",
            "total_energy",
            "total_energy_cost",
            "total_time",
            "total_time_cost",
            "total_parking_time",
            "total_parking_cost",
            "total_reservation_cost",
            "remark",
            "invoice_reference_id",
            "credit",
            "credit_reference_id",
            "home_charging_compensation",
            "last_updated",
        }
    ),
    "2.1.1": frozenset(
        {
            "id",
            "start_date_time",
            "stop_date_time",
            "auth_id",
            "auth_method",
            "location",
            "meter_id",
            "currency",
            "tariffs",
            "charging_periods",
            "total_cost",
            "total_energy",
            "total_time",
            "total_parking_time",
            "remark",
            "last_updated",
        }
    ),
}
_PERIOD_KEYS = {
    "2.2.1": frozenset({"start_date_time", "dimensions", "tariff_id"}),
    "2.1.1": frozenset({"start_date_time", "dimensions"}),
}
_DIMENSION_KEYS = frozenset({"type", "volume"})
_CDR_DIMENSIONS = {
    "2.2.1": frozenset(
        {
            "CURRENT",
            "ENERGY",
            "ENERGY_EXPORT",
            "ENERGY_IMPORT",
            "MAX_CURRENT",
            "MIN_CURRENT",
            "MAX_POWER",
            "MIN_POWER",
            "PARKING_TIME",
            "POWER",
            "RESERVATION_TIME",
            "STATE_OF_CHARGE",
            "TIME",
        }
    ),
    "2.1.1": frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"}),
}
_TYPED_DIMENSIONS = {
    "ENERGY": "energy",
    "TIME": "time",
    "PARKING_TIME": "parking_time",
    "RESERVATION_TIME": "reservation_time",
    "MIN_CURRENT": "min_current",
    "MAX_CURRENT": "max_current",
    "MIN_POWER": "min_power",
    "MAX_POWER": "max_power",
}
_NON_NEGATIVE_DIMENSIONS = frozenset({"TIME", "PARKING_TIME", "RESERVATION_TIME"})


# --------------------------------------------------------------------------------------------
# CDRs
# --------------------------------------------------------------------------------------------


def cdr_time_zone(data: Mapping[str, Any], ocpi_version: str = "2.2.1") -> str | None:
    """The time zone a CDR carries itself: only 2.1.1 (``location.time_zone``) has one."""
    if ocpi_version != "2.1.1":
        return None
    loc = data.get("location")
    if isinstance(loc, Mapping) and isinstance(loc.get("time_zone"), str):
        return str(loc["time_zone"])
    return None


def parse_cdr_session(
    data: Mapping[str, Any],
    *,
    time_zone: str | None = None,
    ocpi_version: str = "2.2.1",
) -> SessionInput:
    """Read the pricing-relevant part of an OCPI CDR: start, end, charging periods.

    Existing totals are not read here (``reconcile_cdr`` compares them). The time zone comes
    from ``time_zone``, else from the CDR's location (2.1.1 ``location.time_zone``), else it
    is an error: never silently UTC (PRICING.md point 4).
    """
    fast = _fast_session(data, time_zone, ocpi_version)
    if fast is not None:
        return fast
    check_version(ocpi_version)
    c = Collector(ocpi_version)
    root = c.obj(data, "$", _CDR_KEYS[ocpi_version])
    if root is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    end_key = "end_date_time" if ocpi_version == "2.2.1" else "stop_date_time"
    start = c.datetime(c.required(root, "start_date_time", "$"), "$.start_date_time")
    end = c.datetime(c.required(root, end_key, "$"), f"$.{end_key}")
    if start is not None and end is not None and end < start:
        c.add(f"$.{end_key}", "is before start_date_time")
    tz = time_zone if time_zone is not None else cdr_time_zone(root, ocpi_version)
    if tz is None:
        c.add(
            "$.time_zone",
            "no time zone: pass one (the 2.2.1 CDR location has none); never assumed to be UTC",
        )
    else:
        try:
            check_time_zone(tz)
        except PricingInputError as exc:
            c.issues.extend(exc.issues)
            tz = None
    periods = _periods(c, c.required(root, "charging_periods", "$"), start, end)
    check_cdr_extras(c, root)
    c.raise_if_any()
    assert start is not None and end is not None and tz is not None
    expired = bool(periods) and all(p.reservation_time is not None for p in periods)
    return SessionInput(start, end, tz, tuple(periods), reservation_expired=expired)


_KNOWN_ZONES: set[str] = set()
# CDR dimension type -> index of its typed field in a ChargingPeriod tuple (1: ENERGY ...
# 8: MAX_POWER), 0 for the other dimensions of the version (kept in ``other``)
_TYPED_SLOT = {
    "ENERGY": 1,
    "TIME": 2,
    "PARKING_TIME": 3,
    "RESERVATION_TIME": 4,
    "MIN_CURRENT": 5,
    "MAX_CURRENT": 6,
    "MIN_POWER": 7,
    "MAX_POWER": 8,
}
_DIM_SLOTS = {
    version: {d: _TYPED_SLOT.get(d, 0) for d in dims} for version, dims in _CDR_DIMENSIONS.items()
}
_ZERO = Decimal(0)
_DT_MATCH = DATETIME_RE.match
_FROMISO = dt.datetime.fromisoformat
_new_tuple = tuple.__new__
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)


def _fast_datetime(value: Any) -> dt.datetime | None:
    if type(value) is str and len(value) == 20 and value[4::3] == "--T::Z" and value.isascii():
        # The common "2026-01-15T10:00:00Z": with these separators in place, fromisoformat
        # accepts exactly the strings of ASCII digits that DATETIME_RE accepts (a property
        # test checks it); it parses them to aware UTC datetimes.
        try:
            return _FROMISO(value)
        except ValueError:
            return None
    if type(value) is not str or not _DT_MATCH(value):
        return None
    try:
        parsed = _FROMISO(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _fast_session(data: Any, time_zone: str | None, version: str) -> SessionInput | None:
    """The common, valid CDR without the issue collector. Exactly as strict as the full
    parser: on anything unusual it returns None and the full parser reports the issues."""
    if type(data) is not dict or version not in VERSIONS:
        return None
    if not _CDR_KEYS[version].issuperset(data):
        return None  # an unknown key
    tz = time_zone if time_zone is not None else cdr_time_zone(data, version)
    if tz is None:
        return None
    if tz not in _KNOWN_ZONES:
        try:
            check_time_zone(tz)
        except PricingInputError:
            return None
        _KNOWN_ZONES.add(tz)
    start = _fast_datetime(data.get("start_date_time"))
    end = _fast_datetime(data.get("end_date_time" if version == "2.2.1" else "stop_date_time"))
    raw_periods = data.get("charging_periods")
    if start is None or end is None or end < start or type(raw_periods) is not list:
        return None
    if not raw_periods:
        return None
    period_keys = _PERIOD_KEYS[version]
    slots = _DIM_SLOTS[version]
    periods: list[ChargingPeriod] = []
    starts: list[int] = []
    prev = start
    all_reservation = True
    last_tid: Any = None
    tid_changes = 0
    for raw in raw_periods:
        if type(raw) is not dict or not period_keys.issuperset(raw):
            return None
        pstart = _fast_datetime(raw.get("start_date_time"))
        if pstart is None or pstart < prev or pstart > end:
            return None
        prev = pstart
        tariff_id = raw.get("tariff_id")
        if tariff_id is not None:
            if type(tariff_id) is not str or len(tariff_id) > 36:
                return None
            if tariff_id != last_tid:
                last_tid = tariff_id
                tid_changes += 1
        dims = raw.get("dimensions")
        if type(dims) is not list or not dims:
            return None
        # start_date_time, 8 typed volumes, other, tariff_id (the ChargingPeriod fields)
        vals: list[Any] = [pstart, None, None, None, None, None, None, None, None, (), tariff_id]
        other: list[CdrDimension] | None = None
        for d in dims:
            if type(d) is not dict or len(d) != 2:
                return None
            dtype: Any = d.get("type")
            raw_vol: Any = d.get("volume")
            slot = slots.get(dtype)
            if slot is None:
                return None  # not a CDR dimension of this version
            tv = type(raw_vol)
            vol: Decimal
            if tv is Decimal and raw_vol.is_finite():
                vol = raw_vol
            elif tv is int:
                vol = Decimal(raw_vol)
            elif tv is float:
                vol = Decimal(repr(raw_vol))
            else:
                return None
            if slot:
                if vals[slot] is not None:
                    return None  # twice in one period
                if 2 <= slot <= 4 and vol < _ZERO:
                    return None  # a negative duration
                vals[slot] = vol
            else:
                if other is None:
                    other = []
                elif any(o.type == dtype for o in other):
                    return None
                other.append(CdrDimension(dtype, vol))
        if other:
            vals[9] = tuple(other)
        if vals[4] is None:
            all_reservation = False
        periods.append(_new_tuple(ChargingPeriod, vals))
        starts.append((pstart - _EPOCH) // _SECOND)
    if len(data) > 3:
        # more than start, end and periods: the same checks as the collecting parser's
        c = Collector(version)
        check_cdr_extras(c, data)
        if c.issues:
            return None
    # checked above what SessionInput.__post_init__ checks; epochs computed as it does
    # (epoch() of each timestamp, the distinct tariff_ids in order)
    if tid_changes < 2:
        tariff_ids: tuple[str, ...] = () if last_tid is None else (last_tid,)
    else:
        tariff_ids = tuple(dict.fromkeys(p[10] for p in periods if p[10] is not None))
    epochs = (
        (start - _EPOCH) // _SECOND,
        (end - _EPOCH) // _SECOND,
        tuple(starts),
        tariff_ids,
    )
    return trusted_session(start, end, tz, tuple(periods), all_reservation, epochs)


def parse_charging_periods(
    value: Any, *, ocpi_version: str = "2.2.1", path: str = "$.charging_periods"
) -> tuple[ChargingPeriod, ...]:
    check_version(ocpi_version)
    c = Collector(ocpi_version)
    periods = _periods(c, value, None, None, path)
    c.raise_if_any()
    return tuple(periods)


def _periods(
    c: Collector,
    value: Any,
    start: dt.datetime | None,
    end: dt.datetime | None,
    path: str = "$.charging_periods",
) -> list[ChargingPeriod]:
    out: list[ChargingPeriod] = []
    allowed_dims = _CDR_DIMENSIONS[c.version]
    prev: dt.datetime | None = start
    for i, raw in enumerate(c.list_(value, path, non_empty=True)):
        p = f"{path}[{i}]"
        obj = c.obj(raw, p, _PERIOD_KEYS[c.version])
        if obj is None:
            continue
        pstart = c.datetime(c.required(obj, "start_date_time", p), f"{p}.start_date_time")
        if pstart is not None:
            if prev is not None and pstart < prev:
                what = "session start" if i == 0 else "the previous period's start"
                c.add(f"{p}.start_date_time", f"is before {what}")
            if end is not None and pstart > end:
                c.add(f"{p}.start_date_time", "is after the session end")
            prev = pstart
        tariff_id = c.string(obj.get("tariff_id"), f"{p}.tariff_id", 36)
        typed: dict[str, Decimal] = {}
        other: list[CdrDimension] = []
        seen: set[str] = set()
        for j, rd in enumerate(
            c.list_(c.required(obj, "dimensions", p), f"{p}.dimensions", non_empty=True)
        ):
            dp = f"{p}.dimensions[{j}]"
            dobj = c.obj(rd, dp, _DIMENSION_KEYS)
            if dobj is None:
                continue
            dtype = c.enum(c.required(dobj, "type", dp), f"{dp}.type", allowed_dims)
            vol = c.number(c.required(dobj, "volume", dp), f"{dp}.volume")
            if dtype is None or vol is None:
                continue
            if dtype in seen:
                c.add(f"{dp}.type", f"{dtype} appears twice in one period")
                continue
            seen.add(dtype)
            if dtype in _NON_NEGATIVE_DIMENSIONS and vol < 0:
                c.add(f"{dp}.volume", f"a duration cannot be negative: {vol}")
            field_name = _TYPED_DIMENSIONS.get(dtype)
            if field_name is None:
                other.append(CdrDimension(dtype, vol))
            else:
                typed[field_name] = vol
        if pstart is not None:
            out.append(
                ChargingPeriod(
                    start_date_time=pstart,
                    energy=typed.get("energy"),
                    time=typed.get("time"),
                    parking_time=typed.get("parking_time"),
                    reservation_time=typed.get("reservation_time"),
                    min_current=typed.get("min_current"),
                    max_current=typed.get("max_current"),
                    min_power=typed.get("min_power"),
                    max_power=typed.get("max_power"),
                    other=tuple(other),
                    tariff_id=tariff_id,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# Meter values (the splitter's input format, see docs/pricing.md)
# --------------------------------------------------------------------------------------------

_METER_KEYS = frozenset(
    {
        "start_date_time",
        "end_date_time",
        "time_zone",
        "reservation_start_date_time",
        "tariff_id",
        "tariff_switches",
        "samples",
    }
)
_SWITCH_KEYS = frozenset({"start_date_time", "tariff_id"})
_SAMPLE_KEYS = frozenset({"timestamp", "energy_wh", "state", "current_a", "power_kw"})


def parse_meter_values(data: Mapping[str, Any], *, time_zone: str | None = None) -> MeterValues:
    """Read the meter-values JSON document used by ``split`` (strict, with JSON paths)."""
    c = Collector("2.2.1")
    root = c.obj(data, "$", _METER_KEYS)
    if root is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    start = c.datetime(c.required(root, "start_date_time", "$"), "$.start_date_time")
    end = c.datetime(c.required(root, "end_date_time", "$"), "$.end_date_time")
    res = c.datetime(root.get("reservation_start_date_time"), "$.reservation_start_date_time")
    tariff_id = c.string(root.get("tariff_id"), "$.tariff_id", 36)
    tz: str | None = time_zone
    if tz is None:
        tz = c.string(root.get("time_zone"), "$.time_zone")
    if tz is None:
        c.add(
            "$.time_zone",
            "no time zone: pass --time-zone or set time_zone; never assumed to be UTC",
        )
    else:
        try:
            check_time_zone(tz)
        except PricingInputError as exc:
            c.issues.extend(exc.issues)
    switches: list[TariffSwitch] = []
    for i, raw in enumerate(
        c.list_(root.get("tariff_switches"), "$.tariff_switches", non_empty=False)
    ):
        p = f"$.tariff_switches[{i}]"
        obj = c.obj(raw, p, _SWITCH_KEYS)
        if obj is None:
            continue
        when = c.datetime(c.required(obj, "start_date_time", p), f"{p}.start_date_time")
        tid = c.string(c.required(obj, "tariff_id", p), f"{p}.tariff_id", 36)
        if when is not None and switches and when <= switches[-1].start_date_time:
            c.add(f"{p}.start_date_time", "is not after the previous switch")
        elif when is not None and tid is not None:
            switches.append(TariffSwitch(when, tid))
    samples: list[MeterSample] = []
    states = tuple(s.value for s in ChargingState)
    for i, raw in enumerate(c.list_(c.required(root, "samples", "$"), "$.samples", non_empty=True)):
        p = f"$.samples[{i}]"
        obj = c.obj(raw, p, _SAMPLE_KEYS)
        if obj is None:
            continue
        ts = c.datetime(c.required(obj, "timestamp", p), f"{p}.timestamp")
        wh = c.number(c.required(obj, "energy_wh", p), f"{p}.energy_wh", minimum=Decimal(0))
        state = c.enum(c.required(obj, "state", p), f"{p}.state", states)
        cur = c.number(obj.get("current_a"), f"{p}.current_a")
        pw = c.number(obj.get("power_kw"), f"{p}.power_kw")
        if ts is not None and wh is not None and state is not None:
            samples.append(MeterSample(ts, wh, ChargingState(state), cur, pw))
    c.raise_if_any()
    assert start is not None and end is not None and tz is not None
    return MeterValues(start, end, tz, tuple(samples), res, tariff_id, tuple(switches))
