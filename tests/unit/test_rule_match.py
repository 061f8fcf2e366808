"""Exactly one billing rule per session and engine (billing.rating.match, BILLING.md section
2): a matrix of the cases that decide it, and properties binding the matcher to its
specification and the overlap check (billing.rating.overlap) to the matcher."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.rating.match import AMBIGUOUS_RULES, NO_RULE, RuleIndex, RuleSpec, SessionFacts
from billing.rating.overlap import may_overlap, time_intervals

AMS = ZoneInfo("Europe/Amsterdam")
T = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # a Monday, 12:00 in Amsterdam


def at(start: datetime, **kw: str | None) -> SessionFacts:
    values: dict[str, str | None] = {
        "country": "NLD",
        "cpo_party": "1",
        "location": "10",
        "station": "100",
        "tariff_code": "7",
        "emsp_party": "3",
        "contract": "20",
        "retail_package": "30",
        "user_group": "40",
    }
    values.update(kw)
    return SessionFacts(start=start, local_start=start.astimezone(AMS), **values)  # type: ignore[arg-type]


def matched(rules: list[RuleSpec], facts: SessionFacts) -> int | str:
    """The matching rule id, or the reason."""
    m = RuleIndex(rules).match(facts)
    return m.rule.rule_id if m.rule is not None else str(m.reason)


def rule(rule_id: int = 1, **kw: object) -> RuleSpec:
    return RuleSpec(rule_id=rule_id, version_id=rule_id * 10, **kw)  # type: ignore[arg-type]


# --- the matrix ------------------------------------------------------------------------------


def test_none_one_two() -> None:
    assert matched([], at(T)) == NO_RULE
    assert matched([rule(1)], at(T)) == 1
    m = RuleIndex([rule(5), rule(2, cpo_scope="STATION", cpo_value="100")]).match(at(T))
    assert (m.rule, m.reason, m.candidates) == (None, AMBIGUOUS_RULES, (2, 5))


@pytest.mark.parametrize(
    ("scope", "value", "side"),
    [
        ("COUNTRY", "NLD", "cpo"),
        ("CPO_PARTY", "1", "cpo"),
        ("LOCATION", "10", "cpo"),
        ("STATION", "100", "cpo"),
        ("TARIFF_CODE", "7", "cpo"),
        ("EMSP_PARTY", "3", "emsp"),
        ("CONTRACT", "20", "emsp"),
        ("RETAIL_PACKAGE", "30", "emsp"),
        ("USER_GROUP", "40", "emsp"),
    ],
)
def test_every_scope_matches_its_value_only(scope: str, value: str, side: str) -> None:
    key = {"cpo": ("cpo_scope", "cpo_value"), "emsp": ("emsp_scope", "emsp_value")}[side]
    spec = rule(1, **{key[0]: scope, key[1]: value})
    assert matched([spec], at(T)) == 1
    assert matched([replace(spec, **{key[1]: "999"})], at(T)) == NO_RULE
    # The session without that fact (no contract, no package...) is not covered.
    field = {
        "COUNTRY": "country",
        "CPO_PARTY": "cpo_party",
        "LOCATION": "location",
        "STATION": "station",
        "TARIFF_CODE": "tariff_code",
        "EMSP_PARTY": "emsp_party",
        "CONTRACT": "contract",
        "RETAIL_PACKAGE": "retail_package",
        "USER_GROUP": "user_group",
    }[scope]
    assert matched([spec], at(T, **{field: "" if field == "country" else None})) == NO_RULE


def test_validity_from_inclusive_until_exclusive() -> None:
    spec = rule(valid_from=T, valid_until=T + timedelta(hours=1))
    assert matched([spec], at(T - timedelta(microseconds=1))) == NO_RULE
    assert matched([spec], at(T)) == 1
    assert matched([spec], at(T + timedelta(minutes=59, seconds=59))) == 1
    assert matched([spec], at(T + timedelta(hours=1))) == NO_RULE


def test_versions_hand_over_at_effective_from() -> None:
    v1 = RuleSpec(rule_id=1, version_id=11, effective_until=T)
    v2 = RuleSpec(rule_id=1, version_id=12, effective_from=T)
    index = RuleIndex([v1, v2])
    before = index.match(at(T - timedelta(microseconds=1)))
    assert before.rule is not None and before.rule.version_id == 11
    now = index.match(at(T))
    assert now.rule is not None and now.rule.version_id == 12
    # A version effective later (a price change with lead time) does not apply before.
    assert matched(
        [RuleSpec(rule_id=2, version_id=21, effective_from=T)], at(T - timedelta(1))
    ) == (NO_RULE)


def test_weekdays_and_time_windows_in_local_time() -> None:
    weekdays = rule(weekdays=0b0011111)  # Monday to Friday
    assert matched([weekdays], at(T)) == 1  # Monday
    assert matched([weekdays], at(T + timedelta(days=5))) == NO_RULE  # Saturday
    office = rule(time_from=time(8), time_until=time(18))
    local = datetime(2026, 6, 1, 8, 0, tzinfo=AMS)  # 06:00 UTC
    assert matched([office], at(local.astimezone(UTC))) == 1
    assert matched([office], at(local.astimezone(UTC) - timedelta(seconds=1))) == NO_RULE
    assert matched([office], at((local + timedelta(hours=10)).astimezone(UTC))) == NO_RULE
    assert matched([office], at((local + timedelta(hours=9, minutes=59)).astimezone(UTC))) == 1


def test_a_window_over_midnight() -> None:
    night = rule(time_from=time(22), time_until=time(6))
    day = datetime(2026, 6, 1, tzinfo=AMS)
    for hour, minute, expected in [
        (21, 59, NO_RULE),
        (22, 0, 1),
        (23, 59, 1),
        (0, 0, 1),
        (5, 59, 1),
        (6, 0, NO_RULE),
    ]:
        local = day.replace(hour=hour, minute=minute)
        assert matched([night], at(local.astimezone(UTC))) == expected, (hour, minute)
    # The weekday is the start's: Monday nights 22-06 cover Monday 00-06 and 22-24.
    monday_nights = rule(weekdays=0b0000001, time_from=time(22), time_until=time(6))
    tuesday_early = datetime(2026, 6, 2, 1, 0, tzinfo=AMS)
    assert matched([monday_nights], at(tuesday_early.astimezone(UTC))) == NO_RULE
    assert matched([monday_nights], at(day.replace(hour=1).astimezone(UTC))) == 1


def test_daylight_saving_days() -> None:
    morning = rule(time_from=time(8), time_until=time(9))
    # 06:30 UTC: 07:30 local the day before the clocks go forward, 08:30 on that day.
    assert matched([morning], at(datetime(2026, 3, 28, 6, 30, tzinfo=UTC))) == NO_RULE
    assert matched([morning], at(datetime(2026, 3, 29, 6, 30, tzinfo=UTC))) == 1
    # 02:30 happens twice when the clocks go back: both are in a 02:00-03:00 window.
    early = rule(time_from=time(2), time_until=time(3))
    assert matched([early], at(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))) == 1
    assert matched([early], at(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))) == 1
    assert matched([early], at(datetime(2026, 10, 25, 2, 30, tzinfo=UTC))) == NO_RULE  # 03:30


def test_exceptions_exclude_what_the_scopes_cover() -> None:
    nl = rule(1, cpo_scope="COUNTRY", cpo_value="NLD", exceptions=(("cpo", "STATION", "100"),))
    assert matched([nl], at(T)) == NO_RULE
    assert matched([nl], at(T, station="101")) == 1
    no_staff = rule(2, exceptions=(("emsp", "USER_GROUP", "40"),))
    assert matched([no_staff], at(T)) == NO_RULE
    assert matched([no_staff], at(T, user_group=None)) == 2
    # The exception makes two rules exactly one.
    station = rule(3, cpo_scope="STATION", cpo_value="100")
    assert matched([nl, station], at(T)) == 3


# --- properties ------------------------------------------------------------------------------

# A small world, consistent like the database: station -> location -> (country, CPO party).
LOCATIONS = {"10": ("NLD", "1"), "11": ("BEL", "1"), "12": ("NLD", "2")}
STATIONS = {"100": "10", "101": "11", "102": "12", "103": "10"}
DAYS = [T + timedelta(days=d) for d in range(-3, 4)]


@st.composite
def session_facts(draw: st.DrawFn) -> SessionFacts:
    station = draw(st.sampled_from(sorted(STATIONS)))
    location = STATIONS[station]
    country, party = LOCATIONS[location]
    start = draw(st.sampled_from(DAYS)) + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
    maybe = lambda *values: st.sampled_from([None, *values])  # noqa: E731
    return SessionFacts(
        start=start,
        local_start=start.astimezone(AMS),
        country=country,
        cpo_party=party,
        location=location,
        station=station,
        tariff_code=draw(maybe("7", "8")),
        emsp_party=draw(st.sampled_from(["3", "4"])),
        contract=draw(maybe("20", "21")),
        retail_package=draw(maybe("30", "31")),
        user_group=draw(maybe("40", "41")),
    )


CPO_KEYS = [
    ("ANY", ""),
    ("COUNTRY", "NLD"),
    ("COUNTRY", "BEL"),
    ("CPO_PARTY", "1"),
    ("CPO_PARTY", "2"),
    *(("LOCATION", loc) for loc in LOCATIONS),
    *(("STATION", s) for s in STATIONS),
    ("TARIFF_CODE", "7"),
    ("TARIFF_CODE", "8"),
]
EMSP_KEYS = [
    ("ANY", ""),
    ("EMSP_PARTY", "3"),
    ("EMSP_PARTY", "4"),
    ("CONTRACT", "20"),
    ("RETAIL_PACKAGE", "30"),
    ("RETAIL_PACKAGE", "31"),
    ("USER_GROUP", "40"),
]
HOURS = [None, *(time(h) for h in (0, 6, 8, 18, 22))]
BOUNDS = [None, *(T + timedelta(days=d, hours=h) for d in (-2, 0, 2) for h in (0, 7))]


@st.composite
def rule_specs(draw: st.DrawFn, rule_id: int = 1) -> RuleSpec:
    cpo = draw(st.sampled_from(CPO_KEYS))
    emsp = draw(st.sampled_from(EMSP_KEYS))
    lo, hi = sorted(draw(st.lists(st.sampled_from(BOUNDS[1:]), min_size=2, max_size=2)))
    valid_from = draw(st.sampled_from([None, lo]))
    valid_until = draw(st.sampled_from([None, hi])) if hi > lo else None
    exceptions = draw(
        st.lists(
            st.one_of(
                st.sampled_from(CPO_KEYS[1:]).map(lambda k: ("cpo", *k)),
                st.sampled_from(EMSP_KEYS[1:]).map(lambda k: ("emsp", *k)),
            ),
            max_size=1,
        )
    )
    time_from, time_until = draw(st.sampled_from(HOURS)), draw(st.sampled_from(HOURS))
    if time_from is not None and time_from == time_until:
        time_until = None
    return RuleSpec(
        rule_id=rule_id,
        version_id=rule_id * 10,
        cpo_scope=cpo[0],
        cpo_value=cpo[1],
        emsp_scope=emsp[0],
        emsp_value=emsp[1],
        effective_from=draw(st.sampled_from(BOUNDS)),
        valid_from=valid_from,
        valid_until=valid_until,
        weekdays=draw(st.integers(1, 127)),
        time_from=time_from,
        time_until=time_until,
        exceptions=tuple(exceptions),  # type: ignore[arg-type]
    )


@st.composite
def rule_sets(draw: st.DrawFn) -> list[RuleSpec]:
    n = draw(st.integers(0, 6))
    return [draw(rule_specs(rule_id=i + 1)) for i in range(n)]


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def covers_by_spec(r: RuleSpec, f: SessionFacts) -> bool:
    """BILLING.md section 2 read literally, without the index."""
    cpo = dict(f.cpo_keys())
    cpo_ok = r.cpo_scope == "ANY" or cpo.get(r.cpo_scope) == r.cpo_value
    emsp_ok = (r.emsp_scope, r.emsp_value) in f.emsp_keys()
    s = f.start
    in_period = all(
        [
            r.effective_from is None or s >= r.effective_from,
            r.effective_until is None or s < r.effective_until,
            r.valid_from is None or s >= r.valid_from,
            r.valid_until is None or s < r.valid_until,
        ]
    )
    local = f.local_start
    micros = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000
    in_window = bool(r.weekdays & (1 << local.weekday())) and any(
        lo <= micros < hi for lo, hi in time_intervals(r.time_from, r.time_until)
    )
    keys = set(f.cpo_keys()) | f.emsp_keys()
    excepted = any((scope, value) in keys for _side, scope, value in r.exceptions)
    return cpo_ok and emsp_ok and in_period and in_window and not excepted


@FAST
@given(rules=rule_sets(), facts=session_facts(), seed=st.randoms())
def test_the_match_is_the_specification_whatever_the_order(
    rules: list[RuleSpec], facts: SessionFacts, seed: object
) -> None:
    expected = sorted(r.rule_id for r in rules if covers_by_spec(r, facts))
    shuffled = list(rules)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    m = RuleIndex(shuffled).match(facts)
    if len(expected) == 1:
        assert m.rule is not None and m.rule.rule_id == expected[0]
    elif not expected:
        assert (m.rule, m.reason) == (None, NO_RULE)
    else:
        assert (m.rule, m.reason, m.candidates) == (None, AMBIGUOUS_RULES, tuple(expected))
    assert m == RuleIndex(rules).match(facts)


@FAST
@given(spec=rule_specs(), facts=session_facts())
def test_a_rule_never_matches_outside_its_validity(spec: RuleSpec, facts: SessionFacts) -> None:
    if RuleIndex([spec]).match(facts).rule is not None:
        assert spec.valid_from is None or facts.start >= spec.valid_from
        assert spec.valid_until is None or facts.start < spec.valid_until
        assert spec.effective_from is None or facts.start >= spec.effective_from
        assert spec.weekdays & (1 << facts.local_start.weekday())


@FAST
@given(rules=rule_sets(), facts=session_facts())
def test_a_copy_of_the_matching_rule_makes_it_ambiguous(
    rules: list[RuleSpec], facts: SessionFacts
) -> None:
    m = RuleIndex(rules).match(facts)
    if m.rule is not None:
        copy = replace(m.rule, rule_id=99, version_id=990)
        again = RuleIndex([*rules, copy]).match(facts)
        assert (again.reason, again.candidates) == (AMBIGUOUS_RULES, (m.rule.rule_id, 99))


def related(side: str, a: tuple[str, str], b: tuple[str, str]) -> bool:
    """The world's answer, as the rating app's overlap check gives it from the database."""
    if side != "cpo":
        return True
    for x, y in ((a, b), (b, a)):
        place = None
        if x[0] == "LOCATION":
            place = (x[1], *LOCATIONS[x[1]])
        elif x[0] == "STATION":
            place = (STATIONS[x[1]], *LOCATIONS[STATIONS[x[1]]])
        index = {"LOCATION": 0, "COUNTRY": 1, "CPO_PARTY": 2}.get(y[0])
        if place is not None and index is not None:
            return place[index] == y[1]
    return True


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=rule_specs(rule_id=1), b=rule_specs(rule_id=2), facts=session_facts())
def test_two_rules_the_overlap_check_clears_never_both_match(
    a: RuleSpec, b: RuleSpec, facts: SessionFacts
) -> None:
    if not may_overlap(a, b, related):
        assert RuleIndex([a, b]).match(facts).reason != AMBIGUOUS_RULES
    assert may_overlap(a, b, related) == may_overlap(b, a, related)


def test_the_overlap_check_finds_the_usual_overlaps() -> None:
    assert may_overlap(rule(1), rule(2, cpo_scope="STATION", cpo_value="100"), related)
    assert not may_overlap(
        rule(1, cpo_scope="STATION", cpo_value="100"),
        rule(2, cpo_scope="STATION", cpo_value="101"),
        related,
    )
    assert not may_overlap(
        rule(1, cpo_scope="COUNTRY", cpo_value="BEL"),
        rule(2, cpo_scope="STATION", cpo_value="100"),
        related,
    )
    assert not may_overlap(
        rule(1, time_from=time(22), time_until=time(6)),
        rule(2, time_from=time(6), time_until=time(22)),
    )
    assert not may_overlap(rule(1, effective_until=T), rule(2, effective_from=T))
    assert not may_overlap(rule(1, weekdays=0b0011111), rule(2, weekdays=0b1100000))
