"""Benchmark of billing rule matching (``make bench-rule-match``): issue 17's target is a p99
of at most 50 µs per CDR per engine.

Run from the repository root: ``python bench/bench_rule_match.py [--quick]``. Pure Python, no
database: it builds 10,000 rules per engine (``billing.rating.match.RuleSpec``) with the
scopes each engine uses in practice (no two rules of an engine with the same scope pair:
an overlap is what the editor warns about), indexes them (``RuleIndex``) and matches 100,000 random
sessions against each index, timing every match alone. Prints one JSON object per engine
(p50, p99 and max in µs; how many matched, had no rule, were ambiguous) and one summary.

The rules, per engine (every rule has 1 to 3 versions; a tenth have a weekday or local-time
window, a twentieth an exception, a tenth a validity period):

* WHOLESALE: CPO party x eMSP party (the roaming agreements), plus station, location and
  tariff-code overrides for single eMSPs;
* RETAIL: retail package x CPO party / country, contracts (fleet deals), user groups;
* REIMBURSEMENT: one rule per home or workplace charger (STATION x ANY), a few per location.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.rating.match import RuleIndex, RuleSpec, SessionFacts  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
COUNTRIES = [("NLD", "Europe/Amsterdam"), ("BEL", "Europe/Brussels"), ("DEU", "Europe/Berlin")]


class World:
    """Ids of one tenant's network and customers, consistent like the database's."""

    def __init__(self, rnd: random.Random, scale: int) -> None:
        self.cpo_parties = [str(i) for i in range(1, 41)]
        self.emsp_parties = [str(i) for i in range(100, 100 + max(30, scale // 20))]
        n_locations = max(100, scale // 2)
        self.locations: dict[str, tuple[str, str, str]] = {}  # id -> (country, tz, party)
        for i in range(n_locations):
            country, tz = rnd.choices(COUNTRIES, weights=[6, 2, 2])[0]
            self.locations[str(10_000 + i)] = (country, tz, rnd.choice(self.cpo_parties))
        location_ids = list(self.locations)
        self.stations = {str(100_000 + i): rnd.choice(location_ids) for i in range(scale * 2)}
        self.station_ids = list(self.stations)
        self.tariff_codes = [str(i) for i in range(500, 700)]
        self.contracts = [str(1_000_000 + i) for i in range(scale * 10)]
        self.packages = [str(i) for i in range(2_000, 2_000 + max(60, scale // 20))]
        self.groups = [str(i) for i in range(3_000, 3_030)]

    def facts(self, rnd: random.Random) -> SessionFacts:
        station = rnd.choice(self.station_ids)
        location = self.stations[station]
        country, tz, party = self.locations[location]
        start = T0 + timedelta(seconds=rnd.randrange(int(YEAR.total_seconds())))
        has_contract = rnd.random() < 0.8
        return SessionFacts(
            start=start,
            local_start=start.astimezone(ZoneInfo(tz)),
            country=country,
            cpo_party=party,
            location=location,
            station=station,
            tariff_code=rnd.choice(self.tariff_codes) if rnd.random() < 0.9 else None,
            emsp_party=rnd.choice(self.emsp_parties),
            contract=rnd.choice(self.contracts) if has_contract else None,
            retail_package=rnd.choice(self.packages) if has_contract else None,
            user_group=rnd.choice(self.groups) if has_contract and rnd.random() < 0.2 else None,
        )


def _versions(
    rnd: random.Random, rule_id: int, cpo: tuple[str, str], emsp: tuple[str, str]
) -> list[RuleSpec]:
    """1 to 3 versions of one rule, with the windows and exceptions some rules have."""
    n = rnd.choices([1, 2, 3], weights=[6, 3, 1])[0]
    starts = sorted(T0 - YEAR + timedelta(days=rnd.randrange(700)) for _ in range(n))
    out = []
    for i, start in enumerate(starts):
        weekdays, time_from, time_until = 127, None, None
        if rnd.random() < 0.1:
            weekdays = rnd.choice([0b0011111, 0b1100000, 127])
            hour = rnd.choice([0, 7, 18, 22])
            time_from, time_until = dtime(hour), dtime((hour + rnd.choice([4, 8, 10])) % 24)
        valid_from = valid_until = None
        if rnd.random() < 0.1:
            valid_from = T0 + timedelta(days=rnd.randrange(200))
            valid_until = valid_from + timedelta(days=rnd.randrange(30, 200))
        exceptions: tuple[tuple[str, str, str], ...] = ()
        if rnd.random() < 0.05:
            exceptions = (("cpo", "STATION", str(100_000 + rnd.randrange(1000))),)
        out.append(
            RuleSpec(
                rule_id=rule_id,
                version_id=rule_id * 10 + i,
                cpo_scope=cpo[0],
                cpo_value=cpo[1],
                emsp_scope=emsp[0],
                emsp_value=emsp[1],
                effective_from=start,
                effective_until=starts[i + 1] if i + 1 < n else None,
                valid_from=valid_from,
                valid_until=valid_until,
                weekdays=weekdays,
                time_from=time_from,
                time_until=time_until,
                exceptions=exceptions,
            )
        )
    return out


def _scopes(
    w: World, rnd: random.Random, engine: str
) -> Callable[[], tuple[tuple[str, str], tuple[str, str]]]:
    def wholesale() -> tuple[tuple[str, str], tuple[str, str]]:
        r = rnd.random()
        emsp = ("EMSP_PARTY", rnd.choice(w.emsp_parties))
        if r < 0.7:
            return ("CPO_PARTY", rnd.choice(w.cpo_parties)), emsp
        if r < 0.85:
            return ("STATION", rnd.choice(w.station_ids)), emsp
        if r < 0.95:
            return ("LOCATION", rnd.choice(list(w.locations))), emsp
        return ("TARIFF_CODE", rnd.choice(w.tariff_codes)), emsp

    def retail() -> tuple[tuple[str, str], tuple[str, str]]:
        r = rnd.random()
        package = ("RETAIL_PACKAGE", rnd.choice(w.packages))
        if r < 0.5:
            return ("CPO_PARTY", rnd.choice(w.cpo_parties)), package
        if r < 0.7:
            return ("COUNTRY", rnd.choice(COUNTRIES)[0]), package
        if r < 0.95:
            return ("ANY", ""), ("CONTRACT", rnd.choice(w.contracts))
        return ("COUNTRY", rnd.choice(COUNTRIES)[0]), ("USER_GROUP", rnd.choice(w.groups))

    def reimbursement() -> tuple[tuple[str, str], tuple[str, str]]:
        if rnd.random() < 0.95:
            return ("STATION", rnd.choice(w.station_ids)), ("ANY", "")
        return ("LOCATION", rnd.choice(list(w.locations))), ("ANY", "")

    return {"WHOLESALE": wholesale, "RETAIL": retail, "REIMBURSEMENT": reimbursement}[engine]


def _percentile(sorted_ns: list[int], p: float) -> float:
    i = min(len(sorted_ns) - 1, int(round(p / 100 * (len(sorted_ns) - 1))))
    return sorted_ns[i] / 1000


def run(rules_per_engine: int, n_facts: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    world = World(rnd, rules_per_engine)
    facts = [world.facts(rnd) for _ in range(n_facts)]
    out = []
    for engine in ("WHOLESALE", "RETAIL", "REIMBURSEMENT"):
        scope = _scopes(world, rnd, engine)
        specs = [
            v
            for rule_id in range(1, rules_per_engine + 1)
            for v in _versions(rnd, rule_id, *scope())
        ]
        t = time.perf_counter()
        index = RuleIndex(specs)
        build_ms = (time.perf_counter() - t) * 1000
        timings = []
        outcome = {"matched": 0, "NO_RULE": 0, "AMBIGUOUS_RULES": 0}
        clock = time.perf_counter_ns
        match = index.match
        for f in facts:
            t0 = clock()
            m = match(f)
            timings.append(clock() - t0)
            outcome["matched" if m.rule is not None else str(m.reason)] += 1
        timings.sort()
        out.append(
            {
                "bench": "rule_match",
                "engine": engine,
                "rules": rules_per_engine,
                "rule_versions": len(specs),
                "facts": n_facts,
                "index_build_ms": round(build_ms, 1),
                "p50_us": round(_percentile(timings, 50), 2),
                "p99_us": round(_percentile(timings, 99), 2),
                "max_us": round(timings[-1] / 1000, 2),
                "mean_us": round(statistics.fmean(timings) / 1000, 2),
                "matched": outcome["matched"],
                "no_rule": outcome["NO_RULE"],
                "ambiguous": outcome["AMBIGUOUS_RULES"],
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=10_000, help="rules per engine")
    parser.add_argument("--facts", type=int, default=100_000, help="sessions matched")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--quick", action="store_true", help="1,000 rules, 5,000 sessions")
    args = parser.parse_args()
    rules, n_facts = (1_000, 5_000) if args.quick else (args.rules, args.facts)
    started = time.perf_counter()
    results = run(rules, n_facts, args.seed)
    for r in results:
        print(json.dumps(r), flush=True)
    worst = max(r["p99_us"] for r in results)
    print(
        json.dumps(
            {
                "bench": "rule_match_summary",
                "target_p99_us": 50,
                "worst_p99_us": worst,
                "ok": worst <= 50,
                "wall_s": round(time.perf_counter() - started, 1),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load": [round(x, 2) for x in os.getloadavg()],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
