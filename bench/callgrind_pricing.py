"""Instruction counts of the pricing hot path (A/B evidence on a shared machine).

Run under callgrind (``make callgrind-pricing`` does this) with a marker: every call of
``os.getppid()`` makes callgrind dump its counters (``--dump-before=getppid``), so each dump
holds the instructions of one measured segment and nothing else. The workload is fixed:
the bench's own session generator (seed 42, 100 sessions per case, each priced 3 times with
``.totals``) and the first 400 lines of a JSON-lines file written by ``write_jsonl``
(decoded with ``loads_exact``, parsed with ``parse_cdr_session``, priced), with
``PYTHONHASHSEED=0`` and the garbage collector off. Then the general path: 100 sessions
of the kWh/time/parking shape priced 3 times with a restricted tariff (``RESTRICTED``), and
the per-period breakdown (``.periods``, built by the general path) of 100 sessions of each
of the four cases.

``--root`` selects the source tree to measure (e.g. ``/work/main`` for a before/after pair
with the same script). ``--report DIR`` reads the dump files of a finished run and prints
one JSON line: instructions per unit of each segment.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

SEGMENTS = (
    ("price_simple", 300),
    ("price_kwh_time_parking", 300),
    ("price_tou4", 300),
    ("price_dynamic48", 300),
    ("json_decode", 400),
    ("parse_cdr_session", 400),
    ("price_jsonl", 400),
    ("price_restricted", 300),
    ("breakdown_general", 400),
)

# A tariff the fast paths do not take (kWh and duration restrictions): the general path,
# element selection per period.
RESTRICTED = {
    "country_code": "NL",
    "party_id": "BEN",
    "id": "restricted",
    "currency": "EUR",
    "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.35"), "vat": Decimal("21"), "step_size": 1}
            ],
            "restrictions": {"max_kwh": Decimal("20")},
        },
        {
            "price_components": [
                {"type": "TIME", "price": Decimal("2.40"), "vat": Decimal("21"), "step_size": 60}
            ],
            "restrictions": {"min_duration": 3600},
        },
        {
            "price_components": [
                {"type": "FLAT", "price": Decimal("0.50"), "vat": Decimal("21"), "step_size": 0},
                {
                    "type": "ENERGY",
                    "price": Decimal("0.25"),
                    "vat": Decimal("21"),
                    "step_size": 100,
                },
                {
                    "type": "PARKING_TIME",
                    "price": Decimal("6.00"),
                    "vat": Decimal("21"),
                    "step_size": 300,
                },
            ]
        },
    ],
}


def run(root: str) -> None:
    sys.path.insert(0, root)
    from bench import bench_pricing as bp
    from billing.pricing import parse_cdr_session, parse_tariff, price_session
    from billing.pricing.jsonio import loads_exact

    tariffs = {name: parse_tariff(doc) for name, doc in bp.tariff_documents().items()}
    rng = random.Random(42)
    sessions = {c: [bp.make_session(c, rng) for _ in range(100)] for c in tariffs}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cdrs.jsonl"
        bp.write_jsonl(path, 400)
        lines = path.read_bytes().splitlines()
    # warm caches (time-zone days, compiled tables) outside the measured segments
    for case, t in tariffs.items():
        for s in sessions[case]:
            price_session(tariff=t, session=s).totals  # noqa: B018
    for line in lines:
        cdr = loads_exact(line)
        tariff = tariffs[cdr["charging_periods"][0]["tariff_id"]]
        price_session(tariff=tariff, session=parse_cdr_session(cdr, time_zone=bp.TZ)).totals  # noqa: B018
    restricted = parse_tariff(RESTRICTED)
    for s in sessions["kwh_time_parking"]:
        price_session(tariff=restricted, session=s).totals  # noqa: B018
    for case, t in tariffs.items():
        for s in sessions[case]:
            price_session(tariff=t, session=s).periods  # noqa: B018
    gc.disable()
    mark = os.getppid
    mark()  # dump 1: the setup (ignored)
    for case, t in tariffs.items():
        for _ in range(3):
            for s in sessions[case]:
                price_session(tariff=t, session=s).totals  # noqa: B018
        mark()
    cdrs = [loads_exact(line) for line in lines]
    mark()
    parsed = [parse_cdr_session(c, time_zone=bp.TZ) for c in cdrs]
    mark()
    for c, s in zip(cdrs, parsed, strict=True):
        price_session(tariff=tariffs[c["charging_periods"][0]["tariff_id"]], session=s).totals  # noqa: B018
    mark()
    for _ in range(3):
        for s in sessions["kwh_time_parking"]:
            price_session(tariff=restricted, session=s).totals  # noqa: B018
    mark()
    for case, t in tariffs.items():
        for s in sessions[case]:
            price_session(tariff=t, session=s).periods  # noqa: B018
    mark()


def report(directory: str) -> dict[str, float]:
    dumps = sorted(
        Path(directory).glob("callgrind.out.*"),
        key=lambda p: int(p.name.rsplit(".", 1)[1]) if p.name.count(".") > 2 else 1 << 30,
    )
    totals: list[int] = []
    for p in dumps:
        for line in p.read_text().splitlines():
            if line.startswith("summary:") or line.startswith("totals:"):
                totals.append(int(line.split()[1]))
                break
    # dumps: setup, then one per segment (the last file holds what follows the last mark)
    measured = totals[1 : 1 + len(SEGMENTS)]
    return {name: round(n / units, 1) for (name, units), n in zip(SEGMENTS, measured, strict=True)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--report", metavar="DIR")
    args = ap.parse_args()
    if args.report:
        print(json.dumps({"bench": "callgrind_pricing", **report(args.report)}))
        return 0
    run(args.root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
