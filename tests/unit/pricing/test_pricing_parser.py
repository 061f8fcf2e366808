"""Strict parsing (PRICING.md point 10), 2.1.1 conversion and the OCPI round trip."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import (
    InputIssue,
    PricingInputError,
    parse_cdr_session,
    parse_tariff,
    price_session,
    tariff_to_ocpi,
)
from billing.pricing.collect import DATETIME_RE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pricing"


def _tariff(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "ABC",
        "id": "t1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    }
    base.update(extra)
    return base


def _location_211(**extra: Any) -> dict[str, Any]:
    """The 2.1.1 spec's CDR example location (a whole Location object), plus ``extra``."""
    cdr = json.loads((FIXTURES / "cdr_example_211.json").read_text(), parse_float=Decimal)
    location: dict[str, Any] = cdr["location"]
    location.update(extra)
    return location


def _issues(data: Any, version: str = "2.2.1") -> list[tuple[str, str]]:
    with pytest.raises(PricingInputError) as exc:
        parse_tariff(data, ocpi_version=version)
    return [(i.path, i.message) for i in exc.value.issues]


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "tariffs").glob("*.json")), ids=lambda p: p.name
)
def test_every_spec_tariff_parses_and_round_trips(path: Path) -> None:
    data = json.loads(path.read_text(), parse_float=Decimal)
    tariff = parse_tariff(data)
    again = parse_tariff(json.loads(json.dumps(tariff_to_ocpi(tariff))))
    assert again == tariff
    assert tariff_to_ocpi(again) == tariff_to_ocpi(tariff)


def test_misspelled_restriction_names_its_path_and_suggests() -> None:
    data = _tariff(
        elements=[
            {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]},
            {
                "price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}],
                "restrictions": {"max_kwhh": 10},
            },
        ]
    )
    assert _issues(data) == [
        ("$.elements[1].restrictions.max_kwhh", "unknown key (did you mean 'max_kwh'?)")
    ]
    with pytest.raises(PricingInputError) as exc:
        parse_tariff(data)
    assert (
        str(exc.value) == "$.elements[1].restrictions.max_kwhh: unknown key (did you mean "
        "'max_kwh'?)"
    )


def test_all_errors_are_collected_not_only_the_first() -> None:
    data = {
        "country_code": "NLD",
        "id": "t1",
        "currency": "euro",
        "colour": "red",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": -1, "step_size": 1.5, "vat": 21},
                    {"type": "KWH", "price": "0.2", "step_size": 1},
                ],
                "restrictions": {
                    "start_time": "24:00",
                    "end_date": "2015-02-30",
                    "min_kwh": 10,
                    "max_kwh": 5,
                    "day_of_week": ["MONDAY", "MONDAY", "FUNDAY"],
                    "min_duration": -1,
                },
            },
            {"price_components": []},
        ],
        "min_price": {"excl_vat": 5},
        "max_price": {"excl_vat": 1, "incl_vat": 1.21},
    }
    assert _issues(data) == [
        ("$.colour", "unknown key"),
        ("$.country_code", "longer than 2 characters"),
        ("$.party_id", "required"),
        ("$.currency", "expected an ISO 4217 code such as EUR, got 'euro'"),
        ("$.min_price.excl_vat", "must not exceed max_price.excl_vat"),
        ("$.elements[0].restrictions.start_time", "expected HH:MM (00:00-23:59), got '24:00'"),
        ("$.elements[0].restrictions.end_date", "no such date: '2015-02-30'"),
        ("$.elements[0].restrictions.min_duration", "must be >= 0, got -1"),
        ("$.elements[0].restrictions.max_kwh", "must be above min_kwh (10): max_kwh is exclusive"),
        ("$.elements[0].restrictions.day_of_week[1]", "MONDAY listed twice"),
        (
            "$.elements[0].restrictions.day_of_week[2]",
            "must be one of FRIDAY, MONDAY, SATURDAY, SUNDAY, THURSDAY, TUESDAY, WEDNESDAY; "
            "got 'FUNDAY'",
        ),
        ("$.elements[0].price_components[0].price", "must be >= 0, got -1"),
        ("$.elements[0].price_components[0].step_size", "expected an integer, got 1.5"),
        (
            "$.elements[0].price_components[1].type",
            "must be one of ENERGY, FLAT, PARKING_TIME, TIME; got 'KWH'",
        ),
        ("$.elements[0].price_components[1].price", "expected a number, got string '0.2'"),
        ("$.elements[1].price_components", "must not be empty"),
    ]


def test_reservation_element_only_allows_flat_and_time() -> None:
    data = _tariff(
        elements=[
            {
                "price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}],
                "restrictions": {"reservation": "RESERVATION"},
            }
        ]
    )
    assert _issues(data) == [
        (
            "$.elements[0].price_components[0].type",
            "a reservation element can only have FLAT and TIME components",
        )
    ]


def test_impossible_values() -> None:
    data = _tariff(
        start_date_time="2026-02-01T00:00:00Z",
        end_date_time="2026-01-01T00:00:00Z",
        elements=[
            {
                "price_components": [{"type": "TIME", "price": 1, "step_size": 60, "vat": 120}],
                "restrictions": {
                    "min_duration": 600,
                    "max_duration": 600,
                    "start_date": "2026-01-02",
                    "end_date": "2026-01-02",
                },
            }
        ],
    )
    assert _issues(data) == [
        ("$.end_date_time", "must be after start_date_time"),
        ("$.elements[0].restrictions.end_date", "must be after start_date (end_date is exclusive)"),
        (
            "$.elements[0].restrictions.max_duration",
            "must be above min_duration (600): it is exclusive",
        ),
        (
            "$.elements[0].price_components[0].vat",
            "a VAT percentage above 100 is not plausible: 120",
        ),
    ]


def test_timestamps_must_be_utc() -> None:
    assert _issues(_tariff(last_updated="2026-01-01T01:00:00+01:00")) == [
        (
            "$.last_updated",
            "expected an OCPI DateTime in UTC (e.g. 2015-06-29T20:39:09Z), got "
            "'2026-01-01T01:00:00+01:00'",
        )
    ]
    # no designator means UTC; fractional seconds are allowed
    t = parse_tariff(_tariff(last_updated="2016-12-29T17:45:09.2"))
    assert t.last_updated is not None and t.last_updated.utcoffset() is not None


def test_vat_omitted_is_not_vat_zero() -> None:
    omitted = parse_tariff(_tariff())
    zero = parse_tariff(
        _tariff(
            elements=[
                {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 0, "step_size": 1}]}
            ]
        )
    )
    assert omitted.elements[0].price_components[0].vat is None
    assert zero.elements[0].price_components[0].vat == 0
    assert "vat" not in tariff_to_ocpi(omitted)["elements"][0]["price_components"][0]
    assert tariff_to_ocpi(zero)["elements"][0]["price_components"][0]["vat"] == 0


def test_2_1_1_tariff_is_converted_and_rejects_2_2_1_only_keys() -> None:
    data = {
        "id": "11",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": "2.50", "step_size": 1}]},
            {
                "price_components": [{"type": "TIME", "price": 1.00, "step_size": 900}],
                "restrictions": {"max_power": 32.00},
            },
        ],
        "last_updated": "2015-06-29T20:39:09Z",
    }
    tariff = parse_tariff(data, ocpi_version="2.1.1")
    assert tariff.country_code is None and tariff.source_version == "2.1.1"
    assert tariff.elements[0].price_components[0].price == Decimal("2.50")
    assert tariff.elements[0].price_components[0].vat is None  # 2.1.1 has no VAT
    out = tariff_to_ocpi(tariff)
    assert out["elements"][1] == {
        "price_components": [{"type": "TIME", "price": 1, "step_size": 900}],
        "restrictions": {"max_power": 32},
    }
    bad = dict(
        data,
        elements=[
            {
                "price_components": [{"type": "TIME", "price": 1, "vat": 10, "step_size": 1}],
                "restrictions": {"max_current": 16},
            }
        ],
    )
    assert _issues(bad, "2.1.1") == [
        ("$.elements[0].restrictions.max_current", "unknown key (did you mean 'max_duration'?)"),
        ("$.elements[0].price_components[0].vat", "unknown key"),
    ]
    with pytest.raises(PricingInputError):
        parse_tariff(data)  # 2.1.1 document read as 2.2.1: country_code etc. missing


def test_2_1_1_cdr_with_location_time_zone_and_string_price() -> None:
    # The 2.1.1 spec's CDR example: TIME "2.00"/h, step 300, 21:39:09-23:37:32 (7103 s -> 7200 s)
    tariff = parse_tariff(
        {
            "id": "12",
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "TIME", "price": "2.00", "step_size": 300}]}
            ],
            "last_updated": "2015-02-02T14:15:01Z",
        },
        ocpi_version="2.1.1",
    )
    cdr = {
        "id": "12345",
        "start_date_time": "2015-06-29T21:39:09Z",
        "stop_date_time": "2015-06-29T23:37:32Z",
        "location": _location_211(time_zone="Europe/Brussels"),
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2015-06-29T21:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
            }
        ],
        "total_cost": 4.00,
        "total_energy": 15.342,
        "total_time": 1.973,
    }
    session = parse_cdr_session(cdr, ocpi_version="2.1.1")
    assert session.time_zone == "Europe/Brussels"
    result = price_session(tariff=tariff, session=session)
    # no VAT in 2.1.1: incl = excl
    assert (result.totals.total_cost.excl_vat, result.totals.total_cost.incl_vat) == (
        Decimal("4.00"),
        Decimal("4.00"),
    )


def test_2_1_1_power_restriction_without_power_dimensions_is_an_error() -> None:
    # 2.1.1 tariffs may restrict on power but 2.1.1 CDRs carry no power dimension: point 10
    # says this is an error, not a guess.
    data = json.loads((FIXTURES / "tariff_211_complex.json").read_text(), parse_float=Decimal)
    tariff = parse_tariff(data, ocpi_version="2.1.1")
    cdr = {
        "start_date_time": "2015-06-29T07:30:00Z",
        "stop_date_time": "2015-06-29T10:15:00Z",
        "location": _location_211(time_zone="Europe/Berlin"),
        "charging_periods": [
            {
                "start_date_time": "2015-06-29T07:30:00Z",
                "dimensions": [
                    {"type": "TIME", "volume": 2.75},
                    {"type": "MAX_CURRENT", "volume": 16},
                ],
            }
        ],
    }
    session = parse_cdr_session(cdr, ocpi_version="2.1.1")
    with pytest.raises(PricingInputError) as exc:
        price_session(tariff=tariff, session=session)
    assert exc.value.issues == (
        InputIssue(
            "$.charging_periods[0].dimensions",
            "MAX_POWER is required by $.elements[1].restrictions.max_power",
        ),
    )


def test_cdr_errors_name_their_paths() -> None:
    cdr = {
        "start_date_time": "2026-01-15T10:00:00Z",
        "end_date_time": "2026-01-15T09:00:00Z",
        "total_cots": 3,
        "charging_periods": [
            {
                "start_date_time": "2026-01-15T10:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": 1},
                    {"type": "ENERGY", "volume": 2},
                    {"type": "PARKING_TIME", "volume": -1},
                    {"type": "FLAT", "volume": 1},
                ],
            },
            {"start_date_time": "2026-01-15T09:30:00Z", "dimensions": [], "tarif_id": "x"},
        ],
    }
    with pytest.raises(PricingInputError) as exc:
        parse_cdr_session(cdr, time_zone="Mars/Olympus")
    assert [(i.path, i.message) for i in exc.value.issues] == [
        ("$.total_cots", "unknown key (did you mean 'total_cost'?)"),
        ("$.end_date_time", "is before start_date_time"),
        ("$.time_zone", "unknown IANA time zone 'Mars/Olympus'"),
        ("$.charging_periods[0].start_date_time", "is after the session end"),
        ("$.charging_periods[0].dimensions[1].type", "ENERGY appears twice in one period"),
        ("$.charging_periods[0].dimensions[2].volume", "a duration cannot be negative: -1"),
        (
            "$.charging_periods[0].dimensions[3].type",
            "must be one of CURRENT, ENERGY, ENERGY_EXPORT, ENERGY_IMPORT, MAX_CURRENT, MAX_POWER, "
            "MIN_CURRENT, MIN_POWER, PARKING_TIME, POWER, RESERVATION_TIME, STATE_OF_CHARGE, TIME; "
            "got 'FLAT'",
        ),
        ("$.charging_periods[1].tarif_id", "unknown key (did you mean 'tariff_id'?)"),
        ("$.charging_periods[1].start_date_time", "is before the previous period's start"),
        ("$.charging_periods[1].start_date_time", "is after the session end"),
        ("$.charging_periods[1].dimensions", "must not be empty"),
    ]


def test_cdr_without_time_zone_is_an_error_never_utc() -> None:
    cdr = {
        "start_date_time": "2026-01-15T10:00:00Z",
        "end_date_time": "2026-01-15T11:00:00Z",
        "charging_periods": [
            {
                "start_date_time": "2026-01-15T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 1}],
            }
        ],
    }
    with pytest.raises(PricingInputError) as exc:
        parse_cdr_session(cdr)
    assert exc.value.issues[0].path == "$.time_zone"


def _all_fixture_cdrs() -> list[dict[str, Any]]:
    out = []
    for name in ("spec_cases.json", "greenflux_cases.json"):
        data = json.loads((FIXTURES / name).read_text(), parse_float=Decimal)
        out.extend(case["cdr"] for case in data["cases"])
    return out


def test_fast_cdr_parser_agrees_with_the_collecting_parser(monkeypatch: Any) -> None:
    import billing.pricing.parse as parse_module

    cdrs = _all_fixture_cdrs()
    fast = [parse_module._fast_session(c, "Europe/Berlin", "2.2.1") for c in cdrs]
    assert all(s is not None for s in fast)
    monkeypatch.setattr(parse_module, "_fast_session", lambda *a: None)
    slow = [parse_cdr_session(c, time_zone="Europe/Berlin") for c in cdrs]
    assert fast == slow


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda c: c.update(extra=1), "$.extra"),
        (lambda c: c["charging_periods"][0].update(foo=1), "$.charging_periods[0].foo"),
        (
            lambda c: c["charging_periods"][0]["dimensions"].append(
                {"type": "ENERGY", "volume": 1}
            ),
            "$.charging_periods[0].dimensions[1].type",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume=True),
            "$.charging_periods[0].dimensions[0].volume",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume="1"),
            "$.charging_periods[0].dimensions[0].volume",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume=Decimal("NaN")),
            "$.charging_periods[0].dimensions[0].volume",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(type="KWH"),
            "$.charging_periods[0].dimensions[0].type",
        ),
        (
            lambda c: c["charging_periods"][0].update(start_date_time="2026-01-15T10:00:00+01:00"),
            "$.charging_periods[0].start_date_time",
        ),
        (lambda c: c.update(end_date_time="2026-01-15 11:00:00"), "$.end_date_time"),
        (
            lambda c: c["charging_periods"][0].update(tariff_id=12),
            "$.charging_periods[0].tariff_id",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"].append({"type": "TIME", "volume": -1}),
            "$.charging_periods[0].dimensions[1].volume",
        ),
    ],
)
def test_every_anomaly_falls_back_to_the_collecting_parser(mutate: Any, path: str) -> None:
    cdr = {
        "start_date_time": "2026-01-15T10:00:00Z",
        "end_date_time": "2026-01-15T11:00:00Z",
        "charging_periods": [
            {
                "start_date_time": "2026-01-15T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": Decimal(5)}],
            }
        ],
    }
    mutate(cdr)
    with pytest.raises(PricingInputError) as exc:
        parse_cdr_session(cdr, time_zone="Europe/Amsterdam")
    assert path in [i.path for i in exc.value.issues]


def test_2_1_1_tariff_round_trips_with_its_source_version() -> None:
    data = json.loads((FIXTURES / "tariff_211_complex.json").read_text(), parse_float=Decimal)
    tariff = parse_tariff(data, ocpi_version="2.1.1")
    again = parse_tariff(tariff_to_ocpi(tariff), ocpi_version=tariff.source_version)
    assert again == tariff


_DIM_TYPES = ["ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME", "MIN_CURRENT", "MAX_POWER"]
_DIM_TYPES += ["STATE_OF_CHARGE", "CURRENT", "FLAT"]


@settings(max_examples=200, deadline=None)
@given(
    periods=st.lists(
        st.tuples(
            st.integers(-60, 7200),
            st.lists(
                st.tuples(
                    st.sampled_from(_DIM_TYPES),
                    st.one_of(
                        st.decimals(-5, 50, places=3),
                        st.integers(-2, 50),
                        st.floats(-1, 50, allow_nan=False),
                        st.just(True),
                    ),
                ),
                max_size=4,
            ),
            st.sampled_from([None, "t1", 7]),
        ),
        max_size=4,
    ),
    extra_key=st.sampled_from([None, "total_cost", "total_cots"]),
    end_offset=st.integers(-60, 20000),
)
def test_fast_cdr_parser_equals_the_collecting_parser_on_generated_cdrs(
    periods: list[tuple[int, list[tuple[str, Any]], Any]],
    extra_key: str | None,
    end_offset: int,
) -> None:
    """The fast path gives the collecting parser's session, or defers to it (None)."""
    import billing.pricing.parse as parse_module

    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)

    def ts(offset: int) -> str:
        return (start + dt.timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")

    cdr: dict[str, Any] = {
        "start_date_time": ts(0),
        "end_date_time": ts(end_offset),
        "charging_periods": [],
    }
    t = 0
    for step, dims, tariff_id in periods:
        t += step
        p: dict[str, Any] = {
            "start_date_time": ts(t),
            "dimensions": [{"type": k, "volume": v} for k, v in dims],
        }
        if tariff_id is not None:
            p["tariff_id"] = tariff_id
        cdr["charging_periods"].append(p)
    if extra_key is not None:
        cdr[extra_key] = {"excl_vat": 1}
    fast = parse_module._fast_session(cdr, "Europe/Amsterdam", "2.2.1")
    slow: Any
    original = parse_module._fast_session
    parse_module._fast_session = lambda *a: None  # type: ignore[assignment]
    try:
        slow = parse_cdr_session(cdr, time_zone="Europe/Amsterdam")
    except PricingInputError as exc:
        slow = exc.issues
    finally:
        parse_module._fast_session = original  # type: ignore[assignment]
    if fast is not None:
        assert fast == slow
        assert repr(fast) == repr(slow)  # the same Decimals, exponents included
        assert fast.epochs == slow.epochs


def _reference_datetime(value: Any) -> dt.datetime | None:
    """The strict reading: DATETIME_RE, then fromisoformat, naive = UTC."""
    if not isinstance(value, str) or not DATETIME_RE.match(value):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


@settings(max_examples=400, deadline=None)
@given(
    base=st.datetimes(
        min_value=dt.datetime(1900, 1, 1),  # noqa: DTZ001 - naive bounds for a naive strategy
        max_value=dt.datetime(2999, 1, 1),  # noqa: DTZ001
    ),
    edits=st.lists(
        st.tuples(
            st.integers(0, 19),
            st.sampled_from(list("0123456789-:TZ+. tz/\u0663\u00e9") + ["", "00"]),
        ),
        max_size=3,
    ),
)
def test_fast_datetime_accepts_exactly_what_the_regex_and_fromisoformat_accept(
    base: dt.datetime, edits: list[tuple[int, str]]
) -> None:
    from billing.pricing.parse import _fast_datetime

    text = base.replace(microsecond=0).isoformat() + "Z"
    for pos, char in edits:
        text = text[:pos] + char + text[pos + 1 :]
    got, want = _fast_datetime(text), _reference_datetime(text)
    assert got == want
    if got is not None and want is not None:
        assert got.tzinfo == want.tzinfo and got.utcoffset() == want.utcoffset()
