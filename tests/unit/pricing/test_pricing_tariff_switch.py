"""Tariff switch (PRICING.md point 11; OCPI 2.2.1 ChargingPeriod.tariff_id): each period priced
with its own tariff, FLAT and step_size once per session, min/max of the first period's tariff.

Worked examples recomputed by hand in the comments; property tests for the rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import (
    ChargingPeriod,
    ChargingState,
    MeterSample,
    PriceResult,
    PricingInputError,
    SessionInput,
    Tariff,
    TariffSwitch,
    parse_cdr_session,
    parse_tariff,
    periods_to_ocpi,
    price_session,
    reconcile_cdr,
    result_to_ocpi,
    split_session,
)

D = Decimal
AMS = "Europe/Amsterdam"
FAST = settings(max_examples=120, deadline=None)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def comp(kind: str, price: Any, step: int = 1, vat: Any = "21") -> dict[str, Any]:
    c: dict[str, Any] = {"type": kind, "price": D(str(price)), "step_size": step}
    if vat is not None:
        c["vat"] = D(str(vat))
    return c


def tariff(tid: str, *elements: dict[str, Any], **extra: Any) -> Tariff:
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "ABC",
        "id": tid,
        "currency": "EUR",
        "elements": list(elements),
    }
    data.update(extra)
    return parse_tariff(data)


# A: the tariff the session starts with; B: a scheduled price change from 12:00Z
A = tariff(
    "A",
    {
        "price_components": [
            comp("FLAT", "1.00", 0),
            comp("ENERGY", "0.30", 1000),
            comp("TIME", "1.20", 300),
            comp("PARKING_TIME", "6.00", 300),
        ]
    },
)
B = tariff(
    "B",
    {
        "price_components": [
            comp("FLAT", "2.00", 0),
            comp("ENERGY", "0.40", 500),
            comp("TIME", "2.40", 60),
            comp("PARKING_TIME", "6.00", 600),
        ]
    },
)


def period(start: str, tariff_id: str | None = None, **dims: Any) -> ChargingPeriod:
    return ChargingPeriod(
        start_date_time=utc(start),
        tariff_id=tariff_id,
        **{k: D(str(v)) for k, v in dims.items()},
    )


def session(start: str, end: str, *periods: ChargingPeriod) -> SessionInput:
    return SessionInput(utc(start), utc(end), AMS, tuple(periods))


def switch_session(first: str | None = "A", second: str = "B") -> SessionInput:
    return session(
        "2026-05-01T11:00:00",
        "2026-05-01T13:27:00",
        period("2026-05-01T11:00:00", first, energy="10.2", time=1),
        period("2026-05-01T12:00:00", second, energy="5.15", time=1),
        period("2026-05-01T13:00:00", second, energy=0, parking_time="0.45"),
    )


def test_worked_example_each_period_with_its_own_tariff() -> None:
    r = price_session(tariff=A, session=switch_session(), tariffs=[B])
    t = r.totals
    # FLAT once per session: A's 1.00 in the first period; B's FLAT is not charged again.
    assert t.total_fixed_cost == (D("1.00"), D("1.21"))
    # ENERGY: 10.2 x 0.30 = 3.06 (A) + 5.15 x 0.40 = 2.06 (B); step_size once on the session
    # total 15.35 kWh with the last priced component's step (B, 500 Wh): 15.5 kWh, the
    # 0.15 kWh surplus billed at B's price: 0.06. 5.18 excl; x 1.21 = 6.2678 -> 6.27.
    assert t.total_energy_cost == (D("5.18"), D("6.27"))
    assert r.billed_energy == D("15.5")
    # TIME: 1 h x 1.20 (A) + 1 h x 2.40 (B) = 3.60, not rounded (parking is priced too).
    assert t.total_time_cost == (D("3.60"), D("4.36"))
    # PARKING_TIME: 27 min at B, step 600 s: 30 min x 6.00/h = 3.00; incl. 3.63.
    assert t.total_parking_cost == (D("3.00"), D("3.63"))
    assert r.billed_parking_seconds == 1800
    # total 12.78 excl; incl. 15.4638 -> 15.46 (rounded from the exact sum)
    assert t.total_cost == (D("12.78"), D("15.46"))
    assert [p.tariff_id for p in r.periods] == ["A", "B", "B"]
    assert r.tariff_ids == ("A", "B")
    assert [(w.code, w.path) for w in r.warnings] == [
        ("TARIFF_SWITCH", "$.charging_periods[1].tariff_id")
    ]
    # the breakdown: the energy surplus sits on B's period, at B's price
    energy_rows = [(d.unit_price, d.billed_volume) for p in r.periods for d in p.dimensions]
    assert (D("0.40"), D("5.30")) in energy_rows


def test_periods_without_tariff_id_use_the_session_tariff() -> None:
    with_ids = price_session(tariff=A, session=switch_session(), tariffs={"B": B})
    without = price_session(tariff=A, session=switch_session(first=None), tariffs={"B": B})
    assert repr(with_ids.exact) == repr(without.exact)
    assert [p.tariff_id for p in without.periods] == ["A", "B", "B"]


def test_tariff_ids_match_case_insensitively() -> None:
    r = price_session(tariff=A, session=switch_session("a", "b"), tariffs=[B])
    assert r.totals.total_cost == (D("12.78"), D("15.46"))


def test_the_default_tariff_unused_when_every_period_names_another() -> None:
    # a foreign CDR whose periods all name B: priced with B alone, as if B were the tariff
    s = switch_session("B", "B")
    via_catalogue = price_session(tariff=A, session=s, tariffs=[B])
    direct = price_session(tariff=B, session=s)
    assert repr(via_catalogue.exact) == repr(direct.exact)
    assert via_catalogue.warnings == direct.warnings
    # B alone: FLAT 2.00; energy 15.35 -> 15.5 x 0.40 = 6.20; time 2 h x 2.40 = 4.80;
    # parking 1800 s x 6.00/h = 3.00: 16.00 excl.
    assert direct.totals.total_cost.excl_vat == D("16.00")


def test_two_versions_of_one_ocpi_tariff_under_their_own_keys() -> None:
    # A new version of tariff A keeps A's OCPI id; applied to a running session it needs a
    # key of its own in the mapping (and on the periods): the key names it in the result.
    a_v2 = dataclasses.replace(B, id="A", compiled=None)
    r = price_session(tariff=A, session=switch_session("A", "A-v2"), tariffs={"A-v2": a_v2})
    assert r.totals.total_cost == (D("12.78"), D("15.46"))  # as with B: same prices
    assert r.tariff_ids == ("A", "A-v2")
    assert r.warnings[0].message.startswith("the tariff changes from 'A' to 'A-v2' at ")
    # every period under the other key: priced with that version alone, named by its key
    only_v2 = price_session(
        tariff=A, session=switch_session("A-v2", "A-v2"), tariffs={"A-v2": a_v2}
    )
    assert only_v2.totals == price_session(tariff=B, session=switch_session(None, None)).totals
    assert only_v2.tariff_ids == ("A-v2",)
    with pytest.raises(PricingInputError) as exc:  # the same id for two different tariffs
        price_session(tariff=A, session=switch_session(), tariffs=[a_v2])
    assert exc.value.issues[0].message == "two different tariffs have the id 'A'"


def test_unknown_tariff_id_is_an_error_naming_the_period() -> None:
    with pytest.raises(PricingInputError) as exc:
        price_session(tariff=A, session=switch_session("A", "C"))
    assert [(i.path, i.message) for i in exc.value.issues] == [
        ("$.charging_periods[1].tariff_id", "unknown tariff 'C': the known tariffs are 'A'"),
        ("$.charging_periods[2].tariff_id", "unknown tariff 'C': the known tariffs are 'A'"),
    ]


def test_one_session_one_currency() -> None:
    usd = dataclasses.replace(B, currency="USD", compiled=None)
    with pytest.raises(PricingInputError) as exc:
        price_session(tariff=A, session=switch_session(), tariffs=[usd])
    assert exc.value.issues[0].path == "$.charging_periods[1].tariff_id"
    assert "one session has one currency" in exc.value.issues[0].message


def test_two_different_tariffs_with_one_id_are_an_error() -> None:
    other_a = tariff("a", {"price_components": [comp("ENERGY", "9.99")]})
    with pytest.raises(PricingInputError) as exc:
        price_session(tariff=A, session=switch_session(), tariffs=[B, other_a])
    assert exc.value.issues[0].path == "tariffs[1]"
    assert exc.value.issues[0].message == "two different tariffs have the id 'A'"


def test_min_max_price_of_the_first_periods_tariff_apply() -> None:
    capped_a = tariff(
        "A",
        {"price_components": _components(A)},
        max_price={"excl_vat": D("10.00"), "incl_vat": D("12.10")},
    )
    capped_b = tariff(
        "B",
        {"price_components": _components(B)},
        max_price={"excl_vat": D("5.00"), "incl_vat": D("6.05")},
    )
    r = price_session(tariff=capped_a, session=switch_session(), tariffs=[capped_b])
    # 12.78 / 15.4638 clamped to A's 10.00 / 12.10; B's lower cap is not applied
    assert r.totals.total_cost == (D("10.00"), D("12.10"))
    assert [(a.limit, a.side, a.after) for a in r.adjustments] == [
        ("max_price", "excl_vat", D("10.00")),
        ("max_price", "incl_vat", D("12.10")),
    ]
    # the sub-totals stay unclamped (point 8)
    assert r.totals.total_energy_cost.excl_vat == D("5.18")
    assert [w.code for w in r.warnings] == ["TARIFF_SWITCH", "TARIFF_LIMITS_NOT_APPLIED"]
    # the other way round: B first, its cap applies
    r2 = price_session(tariff=capped_b, session=switch_session("B", "A"), tariffs=[capped_a])
    assert r2.totals.total_cost == (D("5.00"), D("6.05"))


def _components(t: Tariff) -> list[dict[str, Any]]:
    return [
        comp(str(pc.type), pc.price, pc.step_size, pc.vat)
        for el in t.elements
        for pc in el.price_components
    ]


def test_flat_is_charged_in_the_first_period_whose_tariff_has_one() -> None:
    no_flat = tariff("N", {"price_components": [comp("ENERGY", "0.30")]})
    r = price_session(tariff=no_flat, session=switch_session("N", "B"), tariffs=[B])
    # N has no FLAT; B's 2.00 is charged once, in B's first period
    assert r.totals.total_fixed_cost.excl_vat == D("2.00")
    assert [str(d.dimension) for d in r.periods[1].dimensions][0] == "FLAT"


def test_kwh_restrictions_count_the_whole_session() -> None:
    # T charges 0.50 from the 10th kWh of the session: the counter runs on across the switch
    # (a switch does not restart tiers; nor durations, also counted from the session start)
    tiers = tariff(
        "T",
        {"price_components": [comp("ENERGY", "0.50")], "restrictions": {"min_kwh": 10}},
        {"price_components": [comp("ENERGY", "0.10")]},
    )
    s = session(
        "2026-05-01T11:00:00",
        "2026-05-01T13:00:00",
        period("2026-05-01T11:00:00", "A", energy=12),
        period("2026-05-01T12:00:00", "T", energy=4),
    )
    r = price_session(tariff=A, session=s, tariffs=[tiers])
    # A: 12 kWh x 0.30 = 3.60 (step 1000 Wh); T: 12 kWh before -> 0.50 x 4 = 2.00; FLAT 1.00
    assert r.totals.total_energy_cost.excl_vat == D("5.60")
    assert r.totals.total_cost.excl_vat == D("6.60")


def test_reservation_then_switch() -> None:
    res = tariff(
        "R",
        {
            "price_components": [comp("TIME", "2.00", 60)],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {"price_components": [comp("ENERGY", "0.25")]},
    )
    s = session(
        "2026-05-01T10:45:00",
        "2026-05-01T12:00:00",
        period("2026-05-01T10:45:00", "R", reservation_time="0.25"),
        period("2026-05-01T11:00:00", "A", energy=5, time=1),
    )
    r = price_session(tariff=res, session=s, tariffs=[A])
    # reservation 15 min x 2.00/h = 0.50 (R); charging with A: FLAT 1.00 + 5 kWh x 0.30 = 1.50
    # + 1 h x 1.20 = 1.20 -> total 4.20
    assert r.totals.total_reservation_cost.excl_vat == D("0.50")
    assert r.totals.total_cost.excl_vat == D("4.20")


def test_validity_warnings_per_tariff_as_of_its_first_period() -> None:
    late = dataclasses.replace(
        B, start_date_time=utc("2026-05-01T12:30:00"), end_date_time=None, compiled=None
    )
    r = price_session(tariff=A, session=switch_session(), tariffs=[late])
    assert [(w.code, w.path) for w in r.warnings] == [
        ("TARIFF_SWITCH", "$.charging_periods[1].tariff_id"),
        ("TARIFF_NOT_YET_ACTIVE", "$.charging_periods[1].tariff_id"),
    ]


def test_result_to_ocpi_carries_tariff_ids() -> None:
    out = result_to_ocpi(price_session(tariff=A, session=switch_session(), tariffs=[B]))
    assert out["tariff_ids"] == ["A", "B"]
    assert [p["tariff_id"] for p in out["charging_periods"]] == ["A", "B", "B"]


def test_reconcile_a_foreign_cdr_with_a_switch() -> None:
    s = switch_session()
    cdr = {
        "start_date_time": "2026-05-01T11:00:00Z",
        "end_date_time": "2026-05-01T13:27:00Z",
        "currency": "EUR",
        "charging_periods": periods_to_ocpi(s.charging_periods),
        "total_cost": {"excl_vat": D("12.78"), "incl_vat": D("15.47")},
        "total_energy": D("15.35"),
    }
    rec = reconcile_cdr(tariff=A, cdr=cdr, time_zone=AMS, tariffs=[B])
    assert rec.ok  # 15.47 vs 15.46: within the 0.01 tolerance
    rec = reconcile_cdr(tariff=A, cdr=cdr, time_zone=AMS, tariffs=[B], tolerance=D(0))
    assert [(d.field, d.side, d.ours, d.theirs) for d in rec.differences] == [
        ("total_cost", "incl_vat", D("15.46"), D("15.47"))
    ]
    with pytest.raises(PricingInputError) as exc:
        reconcile_cdr(tariff=A, cdr=cdr, time_zone=AMS)
    assert exc.value.issues[0].path == "$.charging_periods[1].tariff_id"


def test_parsed_cdr_keeps_the_distinct_tariff_ids_in_order() -> None:
    cdr = {
        "start_date_time": "2026-05-01T11:00:00Z",
        "end_date_time": "2026-05-01T13:27:00Z",
        "charging_periods": periods_to_ocpi(
            [
                period("2026-05-01T11:00:00", "A", energy=1),
                period("2026-05-01T11:30:00", "B", energy=1),
                period("2026-05-01T12:00:00", None, energy=1),
                period("2026-05-01T12:30:00", "A", energy=1),
            ]
        ),
    }
    assert parse_cdr_session(cdr, time_zone=AMS).tariff_ids == ("A", "B")


# --------------------------------------------------------------------------------------------
# The splitter: cut at the switch, each period tagged with its tariff
# --------------------------------------------------------------------------------------------

TOU = tariff(
    "TOU",
    {
        "price_components": [comp("ENERGY", "0.50")],
        "restrictions": {"start_time": "14:00", "end_time": "15:00"},
    },
    {"price_components": [comp("ENERGY", "0.20")]},
)


def samples(*points: tuple[str, int, ChargingState]) -> list[MeterSample]:
    return [MeterSample(utc(t), D(wh), state) for t, wh, state in points]


CH, SEV = ChargingState.CHARGING, ChargingState.SUSPENDED_EV


def test_split_cuts_at_the_switch_and_tags_each_period() -> None:
    meter = samples(
        ("2026-05-01T11:00:00", 0, CH),
        ("2026-05-01T13:00:00", 22000, CH),
        ("2026-05-01T13:30:00", 22000, SEV),
    )
    periods = split_session(
        tariff=A,
        samples=meter,
        time_zone=AMS,
        start=utc("2026-05-01T11:00:00"),
        end=utc("2026-05-01T14:00:00"),
        tariff_switches=[TariffSwitch(utc("2026-05-01T11:45:00"), "TOU")],
        tariffs=[TOU],
    )
    # 11:45Z: the switch (energy interpolated: 45 min of 2 h x 22 kWh = 8.25 kWh);
    # 12:00Z = 14:00 local (TOU's window opens: TOU's own edge, after the switch);
    # 13:00Z = 15:00 local (window closes) and charging ends; 13:30Z parking.
    assert [
        (p.start_date_time.strftime("%H:%M"), p.energy, p.time, p.parking_time, p.tariff_id)
        for p in periods
    ] == [
        ("11:00", D("8.25"), D("0.75"), None, "A"),
        ("11:45", D("2.75"), D("0.25"), None, "TOU"),
        ("12:00", D("11"), D("1"), None, "TOU"),
        ("13:00", D("0"), D("0.5"), None, "TOU"),
        ("13:30", D("0"), None, D("0.5"), "TOU"),
    ]
    r = price_session(
        tariff=A,
        session=SessionInput(utc("2026-05-01T11:00:00"), utc("2026-05-01T14:00:00"), AMS, periods),
        tariffs=[TOU],
    )
    # A: FLAT 1.00 + 8.25 kWh x 0.30 = 2.475 (A's step 1000 Wh is not the last: not used)
    # + 0.75 h x 1.20 = 0.90; TOU: 2.75 x 0.20 + 11 x 0.50 = 6.05 (step 1 Wh: 22 kWh whole)
    # TOU has no TIME or PARKING_TIME: free. 1.00 + 2.475 + 6.05 + 0.90 = 10.425 -> 10.43
    assert r.exact.total_cost.excl_vat == D("10.425")
    assert r.totals.total_cost.excl_vat == D("10.43")
    assert [w.code for w in r.warnings] == ["TARIFF_SWITCH"]


def test_split_switch_before_the_start_chooses_the_starting_tariff_and_later_ones_are_ignored() -> (
    None
):
    meter = samples(("2026-05-01T11:00:00", 0, CH), ("2026-05-01T12:00:00", 10000, CH))
    periods = split_session(
        tariff=A,
        samples=meter,
        time_zone=AMS,
        start=utc("2026-05-01T11:00:00"),
        end=utc("2026-05-01T12:00:00"),
        tariff_switches=[
            (utc("2026-04-01T00:00:00"), "B"),
            (utc("2026-05-01T12:00:00"), "A"),  # at the end of this (live) session: no cut
        ],
        tariffs={"B": B},
    )
    assert [(p.tariff_id, p.energy) for p in periods] == [("B", D("10"))]


def test_split_reservation_cut_at_a_switch() -> None:
    meter = samples(("2026-05-01T11:00:00", 0, CH), ("2026-05-01T12:00:00", 10000, CH))
    periods = split_session(
        tariff=A,
        samples=meter,
        time_zone=AMS,
        start=utc("2026-05-01T11:00:00"),
        end=utc("2026-05-01T12:00:00"),
        reservation_start=utc("2026-05-01T10:30:00"),
        tariff_switches=[(utc("2026-05-01T10:45:00"), "B")],
        tariffs=[B],
    )
    assert [
        (p.start_date_time.strftime("%H:%M"), p.reservation_time, p.tariff_id) for p in periods
    ] == [
        ("10:30", D("0.25"), "A"),
        ("10:45", D("0.25"), "B"),
        ("11:00", None, "B"),
    ]


def test_split_switch_errors_name_their_paths() -> None:
    meter = samples(("2026-05-01T11:00:00", 0, CH), ("2026-05-01T12:00:00", 10000, CH))
    with pytest.raises(PricingInputError) as exc:
        split_session(
            tariff=A,
            samples=meter,
            time_zone=AMS,
            start=utc("2026-05-01T11:00:00"),
            end=utc("2026-05-01T12:00:00"),
            tariff_id="Z",
            tariff_switches=[
                (utc("2026-05-01T11:30:00"), "B"),
                (utc("2026-05-01T11:20:00"), "A"),
                (utc("2026-05-01T11:40:00"), "Q"),
            ],
            tariffs=[B],
        )
    assert [(i.path, i.message) for i in exc.value.issues] == [
        ("$.tariff_id", "unknown tariff 'Z': the known tariffs are 'A', 'B'"),
        ("$.tariff_switches[1].start_date_time", "is not after the previous switch"),
        ("$.tariff_switches[2].tariff_id", "unknown tariff 'Q': the known tariffs are 'A', 'B'"),
    ]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=5, places=4)
vats = st.one_of(st.none(), st.decimals(min_value=0, max_value=30, places=1))


@st.composite
def tiered_components(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Elements with kWh and duration tiers, FLAT, TIME, PARKING_TIME and step sizes."""
    step = draw(st.sampled_from([1, 10, 500]))
    elements = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        lo = draw(st.integers(min_value=0, max_value=30))
        restrictions: dict[str, Any] = {
            "min_kwh": D(lo),
            "max_kwh": D(lo + draw(st.integers(1, 30))),
        }
        if draw(st.booleans()):
            restrictions["max_duration"] = draw(st.integers(min_value=60, max_value=7200))
        elements.append(
            {
                "price_components": [comp("ENERGY", draw(prices), step, draw(vats))],
                "restrictions": restrictions,
            }
        )
    elements.append(
        {
            "price_components": [
                comp("ENERGY", draw(prices), step, draw(vats)),
                comp("FLAT", draw(prices), 0, draw(vats)),
                comp("TIME", draw(prices), draw(st.sampled_from([0, 60, 300])), draw(vats)),
                comp("PARKING_TIME", draw(prices), draw(st.sampled_from([0, 300])), draw(vats)),
            ]
        }
    )
    return elements


parts_strategy = st.lists(
    st.tuples(
        st.integers(min_value=60, max_value=3600),
        st.integers(min_value=0, max_value=30_000),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def _session(parts: list[tuple[int, int, bool]], ids: list[str | None]) -> SessionInput:
    start = utc("2026-03-28T22:00:00")  # across the DST change in Amsterdam
    t = start
    periods = []
    for (secs, wh, parking), tid in zip(parts, ids, strict=True):
        hours = (D(secs) / 3600).quantize(D("0.000001"))
        dims: dict[str, Any] = {"energy": D(wh) / 1000}
        dims["parking_time" if parking else "time"] = hours
        periods.append(ChargingPeriod(start_date_time=t, tariff_id=tid, **dims))
        t += dt.timedelta(seconds=secs)
    return SessionInput(start, t, AMS, tuple(periods))


def _comparable(r: PriceResult) -> tuple[Any, ...]:
    return (
        repr(r.exact),
        repr(r.totals),
        repr((r.total_energy, r.billed_energy, r.billed_time_seconds, r.billed_parking_seconds)),
        r.adjustments,
    )


@FAST
@given(
    elements=tiered_components(),
    limit=st.one_of(st.none(), st.decimals(min_value=1, max_value=40, places=2)),
    parts=parts_strategy,
    data=st.data(),
)
def test_a_switch_between_identical_tariffs_changes_nothing(
    elements: list[dict[str, Any]], limit: Decimal | None, parts: Any, data: st.DataObject
) -> None:
    """FLAT once, step_size on the session totals, restrictions on the session's energy and
    duration, the first period's limits: a switch to a copy of the tariff is invisible."""
    extra = {} if limit is None else {"max_price": {"excl_vat": limit, "incl_vat": limit}}
    one = tariff("one", *elements, **extra)
    copy = tariff("copy", *elements, **extra)
    ids = [data.draw(st.sampled_from(["one", "copy", None])) for _ in parts]
    single = price_session(tariff=one, session=_session(parts, [None] * len(parts)))
    switched = price_session(tariff=one, session=_session(parts, ids), tariffs=[copy])
    # equal values (the single-tariff fast paths may write a zero with another exponent than
    # the general path, which prices every switch; test_pricing_properties compares them so)
    assert (switched.exact, switched.totals) == (single.exact, single.totals)
    assert _comparable(switched)[2:] == _comparable(single)[2:]
    assert [dataclasses.replace(p, tariff_id=None) for p in switched.periods] == [
        dataclasses.replace(p, tariff_id=None) for p in single.periods
    ]
    # (the tariffs always have a default element: no NO_DEFAULT_ELEMENT warnings to compare)
    assert [w for w in switched.warnings if w.code != "TARIFF_SWITCH"] == list(single.warnings)


@FAST
@given(elements=tiered_components(), parts=parts_strategy, other=tiered_components())
def test_one_tariff_through_the_multi_tariff_api_is_bit_for_bit_the_old_result(
    elements: list[dict[str, Any]], parts: Any, other: list[dict[str, Any]]
) -> None:
    t = tariff("t", *elements)
    u = tariff("u", *other)
    plain = price_session(tariff=t, session=_session(parts, [None] * len(parts)))
    for ids, tariffs in (
        (["t"] * len(parts), None),
        (["t"] * len(parts), [u]),
        (["T"] * len(parts), {"u": u}),
        ([None] * len(parts), [u, t]),
    ):
        r = price_session(tariff=t, session=_session(parts, list(ids)), tariffs=tariffs)
        assert _comparable(r) == _comparable(plain)
        assert r.warnings == plain.warnings
        assert r.periods == plain.periods


_WINDOWS = ["00:00", "06:00", "07:30", "12:00", "17:00", "22:00"]


@st.composite
def window_tariffs(draw: st.DrawFn, tid: str) -> Tariff:
    """Time-of-day ENERGY and TIME prices (no session-wide state: no FLAT, no tiers, step 1;
    TIME prices are multiples of 0.36 so that price x seconds / 3600 is exact)."""
    elements = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        a, b = draw(st.sampled_from(_WINDOWS)), draw(st.sampled_from(_WINDOWS))
        elements.append(
            {
                "price_components": [
                    comp("ENERGY", draw(prices), 1, draw(vats)),
                    comp("TIME", D("0.36") * draw(st.integers(0, 10)), 1, draw(vats)),
                ],
                "restrictions": {"start_time": a, "end_time": b},
            }
        )
    elements.append({"price_components": [comp("ENERGY", draw(prices), 1, draw(vats))]})
    return tariff(tid, *elements)


@FAST
@given(
    a=window_tariffs("A"),
    b=window_tariffs("B"),
    kws=st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=5),
    start_min=st.integers(min_value=0, max_value=24 * 60),
    switch_at=st.integers(min_value=1, max_value=200),
)
def test_splitting_at_a_switch_then_pricing_equals_pricing_each_part_with_its_tariff(
    a: Tariff, b: Tariff, kws: list[int], start_min: int, switch_at: int
) -> None:
    start = utc("2026-03-28T20:00:00") + dt.timedelta(minutes=start_min)
    meter = []
    wh = 0
    for k, kw in enumerate(kws):  # one sample every 40 min, whole Wh
        meter.append(MeterSample(start + dt.timedelta(minutes=40 * k), D(wh), CH))
        wh += kw * 40 * 1000 // 60
    end = start + dt.timedelta(minutes=40 * (len(kws) - 1))
    switch = start + dt.timedelta(minutes=switch_at)
    periods = split_session(
        tariff=a,
        samples=meter,
        time_zone=AMS,
        start=start,
        end=end,
        tariff_switches=[(switch, "B")],
        tariffs=[b],
    )
    # the cut: a period starts at the switch (when it is inside the session), tagged B from there
    if switch < end:
        assert switch in [p.start_date_time for p in periods]
    assert all((p.tariff_id == "B") == (p.start_date_time >= switch) for p in periods)
    assert sum(p.energy or 0 for p in periods) * 1000 == meter[-1].energy_wh
    whole = price_session(tariff=a, session=SessionInput(start, end, AMS, periods), tariffs=[b])
    first = tuple(p for p in periods if p.tariff_id == "A")
    second = tuple(p for p in periods if p.tariff_id == "B")
    want_excl = want_incl = D(0)
    for t, part, s0, s1 in (
        (a, first, start, min(switch, end)),
        (b, second, min(switch, end), end),
    ):
        if part:
            r = price_session(tariff=t, session=SessionInput(s0, s1, AMS, part))
            want_excl += r.exact.total_cost.excl_vat
            want_incl += r.exact.total_cost.incl_vat
    assert whole.exact.total_cost.excl_vat == want_excl
    assert whole.exact.total_cost.incl_vat == want_incl
