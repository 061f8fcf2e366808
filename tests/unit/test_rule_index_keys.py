"""`RuleIndex` keyed by CPO and eMSP scope finds exactly the rules a scan of every rule
finds (the index is an optimisation of `make bench-rating`, not a change of meaning)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.match import RuleIndex, RuleSpec, SessionFacts, covers

T0 = datetime(2026, 3, 1, tzinfo=UTC)
VALUES = ("1", "2", "3")
CPO = [("ANY", "")] + [(s, v) for s in ("COUNTRY", "LOCATION", "STATION") for v in VALUES]
EMSP = [("ANY", "")] + [(s, v) for s in ("EMSP_PARTY", "RETAIL_PACKAGE") for v in VALUES]


@st.composite
def rules(draw: st.DrawFn) -> list[RuleSpec]:
    out = []
    for rule_id in range(1, draw(st.integers(0, 25)) + 1):
        cpo = draw(st.sampled_from(CPO))
        emsp = draw(st.sampled_from(EMSP))
        start = draw(st.one_of(st.none(), st.integers(0, 10)))
        out.append(
            RuleSpec(
                rule_id=rule_id,
                version_id=rule_id,
                cpo_scope=cpo[0],
                cpo_value=cpo[1],
                emsp_scope=emsp[0],
                emsp_value=emsp[1],
                valid_from=None if start is None else T0 + timedelta(days=start),
                weekdays=draw(st.sampled_from((127, 31, 96))),
                time_from=draw(st.sampled_from((None, time(7), time(22)))),
                exceptions=tuple(
                    draw(st.lists(st.sampled_from([("cpo", "STATION", "1"), ("emsp", *EMSP[1])])))
                ),
            )
        )
    return out


@st.composite
def facts(draw: st.DrawFn) -> SessionFacts:
    start = T0 + timedelta(hours=draw(st.integers(0, 24 * 14)))

    def value() -> str | None:
        return draw(st.one_of(st.none(), st.sampled_from(VALUES)))

    return SessionFacts(
        start=start,
        local_start=start,
        country=draw(st.sampled_from(("", *VALUES))),
        location=value(),
        station=value(),
        emsp_party=value(),
        retail_package=value(),
    )


@settings(max_examples=300, deadline=None)
@given(rules(), facts())
def test_index_finds_what_a_scan_of_every_rule_finds(
    specs: list[RuleSpec], f: SessionFacts
) -> None:
    cpo_keys = set(f.cpo_keys())
    emsp_keys = f.emsp_keys()
    scanned = [
        r.rule_id
        for r in specs
        if (r.cpo_scope, r.cpo_value) in cpo_keys and covers(r, f, emsp_keys)
    ]
    assert [r.rule_id for r in RuleIndex(specs).candidates(f)] == sorted(scanned)
