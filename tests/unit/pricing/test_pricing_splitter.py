"""The CPO side: meter timeline -> charging periods cut where a price can change (point 11)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from billing.pricing import (
    ChargingPeriod,
    ChargingState,
    MeterSample,
    PricingInputError,
    SessionInput,
    Tariff,
    parse_cdr_session,
    parse_tariff,
    periods_to_ocpi,
    price_session,
    split_session,
)

D = Decimal
AMS = "Europe/Amsterdam"
CH, SEV, SEVSE = ChargingState.CHARGING, ChargingState.SUSPENDED_EV, ChargingState.SUSPENDED_EVSE


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def tariff(*elements: dict[str, Any]) -> Tariff:
    return parse_tariff(
        {
            "country_code": "NL",
            "party_id": "ABC",
            "id": "t",
            "currency": "EUR",
            "elements": list(elements),
        }
    )


def energy(price: str, **restrictions: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "price_components": [{"type": "ENERGY", "price": D(price), "step_size": 1}]
    }
    if restrictions:
        e["restrictions"] = restrictions
    return e


def sample(
    ts: str, wh: Any, state: ChargingState = CH, *, a: Any = None, kw: Any = None
) -> MeterSample:
    return MeterSample(
        utc(ts),
        D(str(wh)),
        state,
        None if a is None else D(str(a)),
        None if kw is None else D(str(kw)),
    )


def split(
    t: Tariff, samples: list[MeterSample], start: str, end: str, **kw: Any
) -> tuple[ChargingPeriod, ...]:
    return split_session(
        tariff=t, samples=samples, time_zone=kw.pop("tz", AMS), start=utc(start), end=utc(end), **kw
    )


def shape(periods: tuple[ChargingPeriod, ...]) -> list[tuple[str, Any, Any, Any]]:
    return [
        (p.start_date_time.strftime("%H:%M:%S"), p.energy, p.time, p.parking_time) for p in periods
    ]


def priced(t: Tariff, periods: tuple[ChargingPeriod, ...], start: str, end: str) -> Any:
    # through OCPI JSON, as a CDR would travel
    cdr = json.loads(
        json.dumps(
            {
                "start_date_time": start + "Z",
                "end_date_time": end + "Z",
                "charging_periods": periods_to_ocpi(periods),
            }
        ),
        parse_float=D,
    )
    return price_session(tariff=t, session=parse_cdr_session(cdr, time_zone=AMS))


def test_cut_at_time_window_edges_with_interpolated_energy() -> None:
    t = tariff(energy("0.35", start_time="07:00", end_time="23:00"), energy("0.20"))
    samples = [sample("2026-01-15T21:00:00", 0), sample("2026-01-16T00:00:00", 30000)]
    periods = split(t, samples, "2026-01-15T21:00:00", "2026-01-16T00:00:00")
    assert shape(periods) == [
        ("21:00:00", D("10"), D("1"), None),
        ("22:00:00", D("20"), D("2"), None),
    ]
    r = priced(t, periods, "2026-01-15T21:00:00", "2026-01-16T00:00:00")
    assert str(r.totals.total_cost.excl_vat) == "7.50"  # 10 x 0.35 + 20 x 0.20
    assert not r.warnings


def test_cut_at_local_midnight_for_day_of_week() -> None:
    t = tariff(energy("0.50", day_of_week=["SATURDAY"]), energy("0.25"))
    samples = [sample("2026-01-16T22:00:00", 1000), sample("2026-01-17T00:00:00", 9000)]
    periods = split(t, samples, "2026-01-16T22:00:00", "2026-01-17T00:00:00")
    assert shape(periods) == [
        ("22:00:00", D("4"), D("1"), None),
        ("23:00:00", D("4"), D("1"), None),
    ]  # 00:00 local = 23:00Z
    r = priced(t, periods, "2026-01-16T22:00:00", "2026-01-17T00:00:00")
    assert str(r.totals.total_cost.excl_vat) == "3.00"  # 4 x 0.25 + 4 x 0.50


def test_kwh_threshold_is_interpolated_and_exact() -> None:
    t = tariff(energy("0.30", max_kwh=10), energy("0.25"))
    samples = [
        sample("2026-01-15T09:00:00", 500),
        sample("2026-01-15T09:16:40", 7500),
        sample("2026-01-15T09:33:20", 14500),
    ]
    periods = split(t, samples, "2026-01-15T09:00:00", "2026-01-15T09:33:20")
    # 10 kWh after the start is register 10500 Wh: 1000 s + 3000/7000 x 1000 s = 1428.57 s
    # -> cut at 09:23:49 (1429 s = 0.396944 h) with exactly 10.000 kWh before it;
    # then 571 s = 0.158611 h
    assert shape(periods) == [
        ("09:00:00", D("10"), D("0.396944"), None),
        ("09:23:49", D("4"), D("0.158611"), None),
    ]
    r = priced(t, periods, "2026-01-15T09:00:00", "2026-01-15T09:33:20")
    assert str(r.totals.total_cost.excl_vat) == "4.00"  # 10 x 0.30 + 4 x 0.25
    assert r.total_energy == 14


def test_power_threshold_crossing_is_interpolated() -> None:
    t = tariff(energy("0.39", max_power=22), energy("0.59"))
    samples = [sample("2026-01-15T09:00:00", 0, kw=11), sample("2026-01-15T09:18:20", 6722, kw=33)]
    periods = split(t, samples, "2026-01-15T09:00:00", "2026-01-15T09:18:20")
    # power 11 -> 33 kW over 1100 s crosses 22 kW at 550 s
    assert [p.start_date_time.strftime("%H:%M:%S") for p in periods] == ["09:00:00", "09:09:10"]
    first, second = periods
    assert first.max_power is not None and first.max_power < 22
    assert second.min_power is not None and second.min_power >= 22
    assert (first.energy, second.energy) == (D("3.361"), D("3.361"))
    r = priced(t, periods, "2026-01-15T09:00:00", "2026-01-15T09:18:20")
    assert r.exact.total_cost.excl_vat == D("3.361") * D("0.39") + D("3.361") * D("0.59")


def test_charging_to_parking_and_back() -> None:
    t = tariff(
        {
            "price_components": [
                {"type": "TIME", "price": 2, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6, "step_size": 1},
            ]
        }
    )
    samples = [
        sample("2026-01-15T09:00:00", 0),
        sample("2026-01-15T10:00:00", 11000, SEV),
        sample("2026-01-15T10:30:00", 11000, CH),
        sample("2026-01-15T10:45:00", 13000),
    ]
    periods = split(t, samples, "2026-01-15T09:00:00", "2026-01-15T10:45:00")
    assert shape(periods) == [
        ("09:00:00", D("11"), D("1"), None),
        ("10:00:00", D("0"), None, D("0.5")),
        ("10:30:00", D("2"), D("0.25"), None),
    ]
    r = priced(t, periods, "2026-01-15T09:00:00", "2026-01-15T10:45:00")
    assert str(r.totals.total_cost.excl_vat) == "5.50"  # 1.25 h x 2 + 0.5 h x 6


def test_suspended_evse_is_not_parking() -> None:
    t = tariff(
        {
            "price_components": [
                {"type": "TIME", "price": 2, "step_size": 1},
                {"type": "PARKING_TIME", "price": 6, "step_size": 1},
            ]
        }
    )
    samples = [
        sample("2026-01-15T09:00:00", 0),
        sample("2026-01-15T10:00:00", 11000, SEVSE),
        sample("2026-01-15T10:30:00", 11000, CH),
        sample("2026-01-15T10:45:00", 13000),
    ]
    periods = split(t, samples, "2026-01-15T09:00:00", "2026-01-15T10:45:00")
    assert shape(periods) == [("09:00:00", D("13"), D("1.75"), None)]


def test_duration_threshold_and_reservation_period() -> None:
    t = parse_tariff(
        {
            "country_code": "NL",
            "party_id": "ABC",
            "id": "t",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "TIME", "price": 5, "step_size": 60}],
                    "restrictions": {"reservation": "RESERVATION"},
                },
                {
                    "price_components": [{"type": "ENERGY", "price": 0, "step_size": 1}],
                    "restrictions": {"max_duration": 1800},
                },
                {"price_components": [{"type": "ENERGY", "price": D("0.25"), "step_size": 1}]},
            ],
        }
    )
    samples = [sample("2026-01-15T09:00:00", 0), sample("2026-01-15T10:00:00", 12000)]
    periods = split(
        t,
        samples,
        "2026-01-15T09:00:00",
        "2026-01-15T10:00:00",
        reservation_start=utc("2026-01-15T08:45:00"),
        tariff_id="t",
    )
    assert [
        (p.start_date_time.strftime("%H:%M"), p.reservation_time, p.energy) for p in periods
    ] == [("08:45", D("0.25"), None), ("09:00", None, D("6")), ("09:30", None, D("6"))]
    assert {p.tariff_id for p in periods} == {"t"}
    r = priced(t, periods, "2026-01-15T08:45:00", "2026-01-15T10:00:00")
    # reservation 15 min x 5/h = 1.25 ; 6 kWh free (first 30 min of charging) ; 6 x 0.25 = 1.50
    assert str(r.totals.total_cost.excl_vat) == "2.75"
    assert str(r.totals.total_reservation_cost.excl_vat) == "1.25"


def test_dst_spring_forward_edge() -> None:
    t = tariff(energy("0.40", start_time="03:00", end_time="00:00"), energy("0.20"))
    samples = [sample("2026-03-28T23:30:00", 0), sample("2026-03-29T02:30:00", 9000)]
    periods = split(t, samples, "2026-03-28T23:30:00", "2026-03-29T02:30:00")
    # local 03:00 CEST on the 23-hour day is 01:00Z; local midnight is not an edge here
    assert shape(periods) == [
        ("23:30:00", D("4.5"), D("1.5"), None),
        ("01:00:00", D("4.5"), D("1.5"), None),
    ]


def test_live_split_and_price_with_end_now() -> None:
    t = tariff(energy("0.35", start_time="07:00", end_time="23:00"), energy("0.20"))
    samples = [sample("2026-01-15T21:00:00", 0), sample("2026-01-15T22:30:00", 15000)]
    now = "2026-01-15T22:30:00"
    periods = split(t, samples, "2026-01-15T21:00:00", now)
    live = SessionInput(utc("2026-01-15T21:00:00"), utc(now), AMS, periods)
    r = price_session(tariff=t, session=live)
    assert str(r.totals.total_cost.excl_vat) == "4.50"  # 10 x 0.35 + 5 x 0.20


def test_bad_timelines_are_errors_with_paths() -> None:
    t = tariff(energy("0.25"))
    with pytest.raises(PricingInputError) as exc:
        split(
            t,
            [sample("2026-01-15T09:00:00", 100), sample("2026-01-15T08:00:00", 50)],
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",
        )
    assert [i.path for i in exc.value.issues] == [
        "$.samples[1].timestamp",
        "$.samples[1].energy_wh",
    ]
