"""PRICING.md point by point, with the edges: midnight wrap, end_time 00:00, DST, exclusive
bounds, step_size on the session total, TIME and PARKING_TIME together, VAT, min/max, rounding."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from billing.pricing import (
    ChargingPeriod,
    InputIssue,
    PriceResult,
    PricingInputError,
    SessionInput,
    Tariff,
    parse_tariff,
    price_session,
)

D = Decimal
AMS = "Europe/Amsterdam"


def comp(kind: str, price: Any, step: int = 1, vat: Any = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": kind, "price": D(str(price)), "step_size": step}
    if vat is not None:
        c["vat"] = D(str(vat))
    return c


def el(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        e["restrictions"] = restrictions
    return e


def tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    data = {
        "country_code": "NL",
        "party_id": "ABC",
        "id": "t",
        "currency": "EUR",
        "elements": list(elements),
    }
    data.update(extra)
    return parse_tariff(data)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def period(start: str, **dims: Any) -> ChargingPeriod:
    return ChargingPeriod(start_date_time=utc(start), **{k: D(str(v)) for k, v in dims.items()})


def session(
    start: str, end: str, *periods: ChargingPeriod, tz: str = AMS, expired: bool = False
) -> SessionInput:
    return SessionInput(utc(start), utc(end), tz, tuple(periods), reservation_expired=expired)


def price(t: Tariff, s: SessionInput, **kw: Any) -> PriceResult:
    return price_session(tariff=t, session=s, **kw)


def total(r: PriceResult) -> tuple[str, str]:
    return str(r.totals.total_cost.excl_vat), str(r.totals.total_cost.incl_vat)


def unit_prices(r: PriceResult) -> list[list[tuple[str, Decimal]]]:
    return [[(str(d.dimension), d.unit_price) for d in p.dimensions] for p in r.periods]


# --- point 1: element selection per dimension --------------------------------------------------


def test_point1_selection_is_per_dimension() -> None:
    t = tariff(
        el(comp("ENERGY", "0.10"), comp("TIME", "1.00"), start_time="00:00", end_time="06:00"),
        el(comp("TIME", "2.00")),
        el(comp("ENERGY", "0.30")),
    )
    # 2026-01-15 10:00 CET (09:00Z): element 0 does not match; TIME from 1, ENERGY from 2
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",
            period("2026-01-15T09:00:00", energy=10, time=1),
        ),
    )
    assert unit_prices(r) == [[("ENERGY", D("0.30")), ("TIME", D("2.00"))]]
    assert [d.element_index for d in r.periods[0].dimensions] == [2, 1]
    # 03:00 CET: element 0 prices both
    r = price(
        t,
        session(
            "2026-01-15T02:00:00",
            "2026-01-15T03:00:00",
            period("2026-01-15T02:00:00", energy=10, time=1),
        ),
    )
    assert unit_prices(r) == [[("ENERGY", D("0.10")), ("TIME", D("1.00"))]]


def test_point1_no_matching_element_means_free() -> None:
    t = tariff(el(comp("ENERGY", "0.30"), day_of_week=["MONDAY"]))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",  # a Thursday
            period("2026-01-15T09:00:00", energy=10),
        ),
    )
    assert total(r) == ("0.00", "0.00")
    assert r.total_energy == 10
    assert [w.code for w in r.warnings] == ["NO_DEFAULT_ELEMENT"]


# --- point 2: restrictions at each period's start ---------------------------------------------


def test_point2_min_kwh_uses_energy_before_the_period_and_warns_on_a_spanned_threshold() -> None:
    t = tariff(el(comp("ENERGY", "0.50"), min_kwh=10), el(comp("ENERGY", "0.20")))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T11:00:00",
            period("2026-01-15T09:00:00", energy=8),
            period("2026-01-15T10:00:00", energy=4),
        ),
    )
    # 8 kWh before the second period < 10: both at 0.20 -> 2.40; the 10 kWh threshold lies
    # inside the second period, which is reported, not silently re-split.
    assert total(r) == ("2.40", "2.40")
    assert [(w.code, w.path) for w in r.warnings] == [
        ("PERIOD_SPANS_PRICE_CHANGE", "$.charging_periods[1]")
    ]


def test_point2_duration_is_wall_clock_since_start_including_parking() -> None:
    t = tariff(
        el(comp("TIME", "2.00"), min_duration=2400),
        el(comp("TIME", "1.00")),
        el(comp("PARKING_TIME", "0")),
    )
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",
            period("2026-01-15T09:00:00", time=D(1) / 3),
            period("2026-01-15T09:20:00", parking_time=D(1) / 3),
            period("2026-01-15T09:40:00", time=D(1) / 3),
        ),
    )
    # third period starts 2400 s after the start (20 min of it parking): min_duration matches
    assert [p[0][1] for p in unit_prices(r) if p and p[0][0] == "TIME"] == [D("1.00"), D("2.00")]
    assert total(r) == ("1.00", "1.00")  # 20 min x 1.00/h + 20 min x 2.00/h


# --- point 3: bounds -----------------------------------------------------------------------------


def _energy_price_at(t: Tariff, local: str, tz: str = AMS) -> Decimal:
    from zoneinfo import ZoneInfo

    start = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    s = SessionInput(
        start,
        start + dt.timedelta(minutes=1),
        tz,
        (ChargingPeriod(start_date_time=start, energy=D(1)),),
    )
    r = price(t, s)
    return r.periods[0].dimensions[0].unit_price


@pytest.mark.parametrize(
    ("local", "want"),
    [
        ("2026-01-15T21:59:00", "0.10"),
        ("2026-01-15T22:00:00", "1.00"),  # start_time inclusive
        ("2026-01-15T23:59:00", "1.00"),
        ("2026-01-16T00:00:00", "1.00"),  # wraps past midnight
        ("2026-01-16T05:59:00", "1.00"),
        ("2026-01-16T06:00:00", "0.10"),  # end_time exclusive
    ],
)
def test_point3_window_wrapping_midnight(local: str, want: str) -> None:
    t = tariff(
        el(comp("ENERGY", "1.00"), start_time="22:00", end_time="06:00"), el(comp("ENERGY", "0.10"))
    )
    assert _energy_price_at(t, local) == D(want)


@pytest.mark.parametrize(
    ("local", "want"),
    [
        ("2026-01-15T17:59:59", "0.10"),
        ("2026-01-15T18:00:00", "1.00"),
        ("2026-01-15T23:59:59", "1.00"),  # end_time 00:00 means 24:00
        ("2026-01-16T00:00:00", "0.10"),
    ],
)
def test_point3_end_time_midnight_means_24h(local: str, want: str) -> None:
    t = tariff(
        el(comp("ENERGY", "1.00"), start_time="18:00", end_time="00:00"), el(comp("ENERGY", "0.10"))
    )
    assert _energy_price_at(t, local) == D(want)


def test_point3_start_equals_end_is_all_day_and_open_ended_windows() -> None:
    all_day = tariff(
        el(comp("ENERGY", "1.00"), start_time="08:00", end_time="08:00"), el(comp("ENERGY", "0.10"))
    )
    assert _energy_price_at(all_day, "2026-01-15T03:00:00") == D("1.00")
    from_only = tariff(el(comp("ENERGY", "1.00"), start_time="08:00"), el(comp("ENERGY", "0.1")))
    assert _energy_price_at(from_only, "2026-01-15T07:59:00") == D("0.1")
    assert _energy_price_at(from_only, "2026-01-15T23:59:00") == D("1.00")
    until_only = tariff(el(comp("ENERGY", "1.00"), end_time="08:00"), el(comp("ENERGY", "0.1")))
    assert _energy_price_at(until_only, "2026-01-15T07:59:00") == D("1.00")
    assert _energy_price_at(until_only, "2026-01-15T08:00:00") == D("0.1")


def test_point3_day_of_week_is_the_local_weekday_of_the_instant() -> None:
    t = tariff(
        el(comp("ENERGY", "1.00"), start_time="22:00", end_time="02:00", day_of_week=["FRIDAY"]),
        el(comp("ENERGY", "0.10")),
    )
    assert _energy_price_at(t, "2026-01-16T23:00:00") == D("1.00")  # Friday night
    assert _energy_price_at(t, "2026-01-17T01:00:00") == D("0.10")  # already Saturday
    assert _energy_price_at(t, "2026-01-16T01:00:00") == D("1.00")  # Friday 01:00 is inside


def test_point3_dates_with_times_are_a_daily_window_in_a_date_range() -> None:
    t = tariff(
        el(
            comp("ENERGY", "1.00"),
            start_date="2026-01-10",
            end_date="2026-01-12",
            start_time="08:00",
            end_time="10:00",
        ),
        el(comp("ENERGY", "0.10")),
    )
    assert _energy_price_at(t, "2026-01-10T09:00:00") == D("1.00")
    assert _energy_price_at(t, "2026-01-11T09:59:00") == D("1.00")
    assert _energy_price_at(t, "2026-01-11T11:00:00") == D("0.10")
    assert _energy_price_at(t, "2026-01-12T09:00:00") == D("0.10")  # end_date exclusive
    assert _energy_price_at(t, "2026-01-09T09:00:00") == D("0.10")


@pytest.mark.parametrize(
    ("dims", "want"),
    [
        ({"max_power": 22}, "0.59"),  # max exclusive: 22 is not < 22
        ({"max_power": "21.999"}, "0.39"),
    ],
)
def test_point3_max_power_is_exclusive(dims: dict[str, Any], want: str) -> None:
    t = tariff(el(comp("ENERGY", "0.39"), max_power=22), el(comp("ENERGY", "0.59")))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",
            period("2026-01-15T09:00:00", energy=10, **dims),
        ),
    )
    assert r.periods[0].dimensions[0].unit_price == D(want)


def test_point3_min_current_is_inclusive() -> None:
    t = tariff(el(comp("TIME", "2.00"), min_current=32), el(comp("TIME", "1.00")))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T10:00:00",
            period("2026-01-15T09:00:00", time=1, min_current=32, max_current=32),
        ),
    )
    assert total(r) == ("2.00", "2.00")


# --- point 4: local time and DST ------------------------------------------------------------------


def test_point4_the_same_instant_is_priced_in_the_location_time_zone() -> None:
    t = tariff(
        el(comp("ENERGY", "1.00"), start_time="07:00", end_time="23:00"), el(comp("ENERGY", "0.10"))
    )
    s = dict(start="2026-01-15T05:00:00", end="2026-01-15T06:00:00")
    p = period("2026-01-15T05:00:00", energy=1)
    assert total(price(t, session(s["start"], s["end"], p, tz=AMS))) == ("0.10", "0.10")
    assert total(price(t, session(s["start"], s["end"], p, tz="Asia/Tokyo"))) == ("1.00", "1.00")


def test_point4_dst_spring_forward_session() -> None:
    # 2026-03-29 Amsterdam: 02:00 CET -> 03:00 CEST. Session 00:30 CET (23:30Z) to 04:30 CEST
    # (02:30Z): 3 h of wall time although the local clock moves 4 h. Day price from 03:00 local
    # = 01:00Z. 1.5 h x 1.00 + 1.5 h x 2.00 = 4.50.
    t = tariff(
        el(comp("TIME", "2.00"), start_time="03:00", end_time="00:00"), el(comp("TIME", "1.00"))
    )
    r = price(
        t,
        session(
            "2026-03-28T23:30:00",
            "2026-03-29T02:30:00",
            period("2026-03-28T23:30:00", time="1.5"),
            period("2026-03-29T01:00:00", time="1.5"),
        ),
    )
    assert total(r) == ("4.50", "4.50")
    assert r.total_time_seconds == 3 * 3600
    assert not r.warnings


def test_point4_dst_fall_back_session() -> None:
    # 2026-10-25 Amsterdam: 03:00 CEST -> 02:00 CET. Session 00:30 CEST (22:30Z) to 04:30 CET
    # (03:30Z) lasts 5 h. 03:00 CET = 02:00Z: 3.5 h x 1.00 + 1.5 h x 2.00 = 6.50.
    t = tariff(
        el(comp("TIME", "2.00"), start_time="03:00", end_time="00:00"), el(comp("TIME", "1.00"))
    )
    r = price(
        t,
        session(
            "2026-10-24T22:30:00",
            "2026-10-25T03:30:00",
            period("2026-10-24T22:30:00", time="3.5"),
            period("2026-10-25T02:00:00", time="1.5"),
        ),
    )
    assert total(r) == ("6.50", "6.50")
    assert not r.warnings
    # the same tariff priced as one period warns that the price changes at 02:00Z
    r = price(
        t,
        session(
            "2026-10-24T22:30:00", "2026-10-25T03:30:00", period("2026-10-24T22:30:00", time=5)
        ),
    )
    assert [(w.code, w.message.split(",")[0]) for w in r.warnings] == [
        ("PERIOD_SPANS_PRICE_CHANGE", "the price changes at 2026-10-25T02:00:00Z")
    ]


# --- point 5: step_size -------------------------------------------------------------------------


def test_point5_energy_step_on_the_session_total_mod_cdrs_example() -> None:
    # mod_cdrs: 0.20/kWh before 17:00, 0.27 after, both step 500 Wh; 4.3 + 1.1 = 5.4 -> 5.5 kWh;
    # the 0.1 kWh surplus is billed after 17:00: 4.3 x 0.20 + 1.2 x 0.27 = 0.86 + 0.324 = 1.184
    t = tariff(el(comp("ENERGY", "0.20", 500), end_time="17:00"), el(comp("ENERGY", "0.27", 500)))
    r = price(
        t,
        session(
            "2026-01-15T14:00:00",
            "2026-01-15T16:30:00",
            period("2026-01-15T14:00:00", energy="4.3"),
            period("2026-01-15T16:00:00", energy="1.1"),
        ),
    )
    assert r.exact.total_cost.excl_vat == D("1.184")
    assert total(r) == ("1.18", "1.18")
    assert (r.total_energy, r.billed_energy) == (D("5.4"), D("5.5"))


def test_point5_time_step_on_the_session_total_mod_cdrs_example() -> None:
    # mod_cdrs: 5/h before 17:00, 7/h after, step 600; 6 + 22 = 28 -> 30 min:
    # 6 min x 5/h + 24 min x 7/h = 0.50 + 2.80 = 3.30
    t = tariff(el(comp("TIME", "5", 600), end_time="17:00"), el(comp("TIME", "7", 600)))
    r = price(
        t,
        session(
            "2026-01-15T15:54:00",
            "2026-01-15T16:22:00",
            period("2026-01-15T15:54:00", time="0.1"),
            period("2026-01-15T16:00:00", time=D(22) / 60),
        ),
    )
    assert total(r) == ("3.30", "3.30")
    assert r.billed_time_seconds == 1800


def test_point5_time_and_parking_only_parking_is_rounded() -> None:
    # mod_cdrs: charging 1/h, parking 2/h, both step 10 min; 21 min + 16 min -> parking 20 min:
    # 21/60 x 1 + 20/60 x 2 = 0.35 + 0.6666... = 1.01666... -> 1.02
    t = tariff(el(comp("TIME", "1", 600), comp("PARKING_TIME", "2", 600)))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T09:37:00",
            period("2026-01-15T09:00:00", time="0.35"),
            period("2026-01-15T09:21:00", parking_time=D(16) / 60),
        ),
    )
    assert (r.billed_time_seconds, r.billed_parking_seconds) == (1260, 1200)
    assert total(r) == ("1.02", "1.02")
    assert r.exact.total_cost.excl_vat.quantize(D("1e-20")) == D("1.01666666666666666667")


def test_point5_spec_step_note_115_2_wh() -> None:
    # mod_tariffs step_size note: 115.2 Wh at 0.25/kWh: step 1 -> 116 Wh = 0.029;
    # step 25 -> 125 Wh = 0.03125; step 500 -> 500 Wh = 0.125
    for step, exact in ((1, "0.029"), (25, "0.03125"), (500, "0.125")):
        t = tariff(el(comp("ENERGY", "0.25", step)))
        r = price(
            t,
            session(
                "2026-01-15T09:00:00",
                "2026-01-15T09:10:00",
                period("2026-01-15T09:00:00", energy="0.1152"),
            ),
        )
        assert r.exact.total_energy_cost.excl_vat == D(exact)


def test_point5_step_zero_is_no_rounding_and_flat_ignores_step() -> None:
    t = tariff(el(comp("FLAT", "1.00", 900), comp("TIME", "6", 0)))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T09:00:07",
            period("2026-01-15T09:00:00", time=D(7) / 3600),
        ),
    )
    assert r.billed_time_seconds == 7
    assert r.exact.total_cost.excl_vat == D("1.01166666666666666667")


def test_point5_durations_come_from_integer_seconds_not_4_decimal_hours() -> None:
    # 20 min written as 0.3333 h: priced as 1200 s -> exactly 1.00 at 3.00/h
    t = tariff(el(comp("TIME", "3.00", 1)))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T09:20:00",
            period("2026-01-15T09:00:00", time="0.3333"),
        ),
    )
    assert r.exact.total_cost.excl_vat == D("1.00")
    assert not r.warnings


# --- point 6: FLAT once ---------------------------------------------------------------------------


def test_point6_flat_is_charged_once_for_the_charging_part() -> None:
    t = tariff(el(comp("FLAT", "0.50", vat=20), comp("ENERGY", "0.25", vat=10)))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T12:00:00",
            period("2026-01-15T09:00:00", energy=5),
            period("2026-01-15T10:00:00", energy=5),
            period("2026-01-15T11:00:00", energy=5),
        ),
    )
    assert total(r) == ("4.25", "4.73")  # 0.50 + 3.75 ; 0.60 + 4.125 = 4.725 -> 4.73
    assert str(r.totals.total_fixed_cost.excl_vat) == "0.50"


def test_point6_restricted_flat_is_charged_in_the_first_period_it_matches() -> None:
    t = tariff(
        el(comp("FLAT", "1.00"), start_time="10:00", end_time="12:00"), el(comp("ENERGY", "0.25"))
    )
    r = price(
        t,
        session(
            "2026-01-15T08:00:00",
            "2026-01-15T11:00:00",
            period("2026-01-15T08:00:00", energy=4),  # 09:00 local
            period("2026-01-15T09:00:00", energy=4),  # 10:00 local
            period("2026-01-15T10:00:00", energy=4),
        ),
    )
    assert [[d.dimension for d in p.dimensions] for p in r.periods] == [
        ["ENERGY"],
        ["FLAT", "ENERGY"],
        ["ENERGY"],
    ]
    assert total(r) == ("4.00", "4.00")


# --- point 7: VAT ---------------------------------------------------------------------------------


def test_point7_vat_omitted_and_zero_and_per_component() -> None:
    omitted = tariff(el(comp("ENERGY", "0.30")))
    zero = tariff(el(comp("ENERGY", "0.30", vat=0)))
    mixed = tariff(el(comp("FLAT", "1.00", vat=9), comp("ENERGY", "0.30", vat=21)))
    s = session(
        "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", energy=10)
    )
    assert total(price(omitted, s)) == ("3.00", "3.00")
    assert total(price(zero, s)) == ("3.00", "3.00")
    r = price(mixed, s)
    assert r.exact.total_cost.incl_vat == D("1.09") + D("3.63")
    assert r.periods[0].dimensions[0].vat == D(9)


# --- point 8: min / max -------------------------------------------------------------------------


def test_point8_limit_without_incl_vat_clamps_excl_only_and_warns() -> None:
    t = tariff(el(comp("ENERGY", "0.30", vat=21)), min_price={"excl_vat": D("2.00")})
    r = price(
        t,
        session(
            "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", energy=1)
        ),
    )
    assert total(r) == ("2.00", "0.36")
    assert [w.code for w in r.warnings] == ["LIMIT_WITHOUT_INCL_VAT"]
    assert [(a.limit, a.side) for a in r.adjustments] == [("min_price", "excl_vat")]


# --- point 9: rounding ----------------------------------------------------------------------------


def test_point9_rounding_mode_is_named_and_configurable() -> None:
    t = tariff(el(comp("ENERGY", "0.25", 100)))
    s = session(
        "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", energy="20.45")
    )
    assert total(price(t, s)) == ("5.13", "5.13")  # 5.125 half-up
    assert total(price(t, s, rounding=ROUND_HALF_EVEN)) == ("5.12", "5.12")
    assert total(price(t, s, rounding="HALF_EVEN")) == ("5.12", "5.12")
    assert price(t, s, rounding="DOWN").rounding == "ROUND_DOWN"
    with pytest.raises(PricingInputError):
        price(t, s, rounding="BANKERS")


def test_point9_minor_unit_follows_the_currency() -> None:
    t = parse_tariff(
        {
            "country_code": "JP",
            "party_id": "ABC",
            "id": "y",
            "currency": "JPY",
            "elements": [el(comp("ENERGY", "45.5", vat=10))],
        }
    )
    r = price(
        t,
        session(
            "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", energy=3)
        ),
    )
    assert total(r) == ("137", "150")  # 136.5 -> 137 ; 150.15 -> 150


# --- point 10: strict input ----------------------------------------------------------------------


def test_point10_inconsistent_volume_is_reported_with_its_path() -> None:
    t = tariff(el(comp("TIME", "2.00")))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", time="0.5")
        ),
    )
    assert [(w.code, w.path) for w in r.warnings] == [
        ("VOLUME_INCONSISTENT", "$.charging_periods[0].dimensions")
    ]
    assert total(r) == ("2.00", "2.00")  # durations come from the timestamps


def test_point10_current_restriction_without_current_dimension_is_an_error() -> None:
    t = tariff(el(comp("TIME", "2.00"), min_current=32), el(comp("TIME", "1.00")))
    with pytest.raises(PricingInputError) as exc:
        price(
            t,
            session(
                "2026-01-15T09:00:00",
                "2026-01-15T11:00:00",
                period("2026-01-15T09:00:00", time=1),
                period("2026-01-15T10:00:00", time=1, max_current=40),
            ),
        )
    assert exc.value.issues == (
        InputIssue(
            "$.charging_periods[0].dimensions",
            "MIN_CURRENT is required by $.elements[0].restrictions.min_current",
        ),
        InputIssue(
            "$.charging_periods[1].dimensions",
            "MIN_CURRENT is required by $.elements[0].restrictions.min_current",
        ),
    )


def test_point10_session_out_of_order_is_an_error() -> None:
    t = tariff(el(comp("TIME", "2.00")))
    with pytest.raises(PricingInputError) as exc:
        price(
            t,
            session(
                "2026-01-15T09:00:00",
                "2026-01-15T10:00:00",
                period("2026-01-15T09:30:00", time="0.5"),
                period("2026-01-15T09:10:00", time="0.5"),
            ),
        )
    assert [i.path for i in exc.value.issues] == ["$.charging_periods[1].start_date_time"]


# --- point 12 / live cost ---------------------------------------------------------------------


def test_point12_live_cost_uses_the_same_function_with_end_now() -> None:
    t = tariff(el(comp("FLAT", "1.00"), comp("TIME", "3.00", 60)))
    periods = (period("2026-01-15T09:00:00", time="0.5"),)
    seen = []
    for minute in (10, 20, 30):
        now = f"2026-01-15T09:{minute:02d}:00"
        live = SessionInput(utc("2026-01-15T09:00:00"), utc(now), AMS, periods)
        seen.append(price(t, live).totals.total_cost.excl_vat)
    assert seen == [D("1.50"), D("2.00"), D("2.50")]


# --- tariff validity ----------------------------------------------------------------------------


def test_tariff_validity_window_warnings() -> None:
    t = tariff(
        el(comp("ENERGY", "0.25")),
        start_date_time="2026-02-01T00:00:00Z",
        end_date_time="2026-03-01T00:00:00Z",
    )
    before = price(
        t,
        session(
            "2026-01-15T09:00:00", "2026-01-15T10:00:00", period("2026-01-15T09:00:00", energy=1)
        ),
    )
    after = price(
        t,
        session(
            "2026-03-15T09:00:00", "2026-03-15T10:00:00", period("2026-03-15T09:00:00", energy=1)
        ),
    )
    assert [w.code for w in before.warnings] == ["TARIFF_NOT_YET_ACTIVE"]
    assert [w.code for w in after.warnings] == ["TARIFF_EXPIRED"]


def test_point9_total_is_rounded_from_the_true_value_not_from_rounded_parts() -> None:
    # Reservation, charging and parking of 6 s each at 1.00/h: each part is 0.001666...
    # (kept to 20 decimals as 0.00166666666666666667); their true sum is exactly 0.005.
    # HALF_EVEN must give 0.00 (not 0.01, which the sum of the 20-decimal parts would give).
    t = tariff(
        el(comp("TIME", "1.00"), reservation="RESERVATION"),
        el(comp("TIME", "1.00"), comp("PARKING_TIME", "1.00")),
    )
    s = session(
        "2026-01-15T09:00:00",
        "2026-01-15T09:00:18",
        period("2026-01-15T09:00:00", reservation_time=D(6) / 3600),
        period("2026-01-15T09:00:06", time=D(6) / 3600),
        period("2026-01-15T09:00:12", parking_time=D(6) / 3600),
    )
    r = price(t, s, rounding="HALF_EVEN")
    assert r.exact.total_cost.excl_vat == D("0.005")
    assert total(r) == ("0.00", "0.00")
    assert r.exact.total_time_cost.excl_vat == D("0.00166666666666666667")


def test_point5_mod_cdrs_charging_then_parking_step_5_minutes() -> None:
    # mod_cdrs: step 5 min for TIME and PARKING_TIME; 21 min charging, 7 min parking:
    # charging is billed 21 min (not 25), parking 10 min.
    t = tariff(el(comp("TIME", "3.00", 300), comp("PARKING_TIME", "6.00", 300)))
    r = price(
        t,
        session(
            "2026-01-15T09:00:00",
            "2026-01-15T09:28:00",
            period("2026-01-15T09:00:00", time="0.35"),
            period("2026-01-15T09:21:00", parking_time=D(7) / 60),
        ),
    )
    assert (r.billed_time_seconds, r.billed_parking_seconds) == (1260, 600)
    assert total(r) == ("2.05", "2.05")  # 21/60 x 3.00 + 10/60 x 6.00 = 1.05 + 1.00
