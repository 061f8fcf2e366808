"""Benchmark of the pricing core (``make bench-pricing``).

Run from the repository root: ``python bench/bench_pricing.py [--quick]``. Prints one JSON
object per line:

* per case (simple kWh; kWh + time + parking with step sizes; time-of-use with 4 windows;
  48-element dynamic tariff) and for the mix: CDRs per second on one core and the p99 time per
  CDR, pricing already-parsed sessions with ``price_session``;
* the floor: the same simple kWh sessions priced by a three-line Decimal loop, and the ratio;
* the end-to-end run: 1,000,000 CDRs generated as JSON lines in a temp dir (not kept), then
  read, parsed (``jsonio.loads_exact`` + ``parse_cdr_session``) and priced by both cores
  (multiprocessing), with the wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.pricing import (  # noqa: E402
    ChargingPeriod,
    SessionInput,
    Tariff,
    parse_cdr_session,
    parse_tariff,
    periods_to_ocpi,
    price_session,
)
from billing.pricing.jsonio import loads_exact, loads_exact_stdlib  # noqa: E402
from billing.pricing.serialize import iso  # noqa: E402

TZ = "Europe/Amsterdam"
D = Decimal
UTC = dt.UTC


def _tariff(tid: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "BEN",
        "id": tid,
        "currency": "EUR",
        "elements": elements,
        "last_updated": "2026-01-01T00:00:00Z",
    }


def _c(kind: str, price: str, step: int = 1, vat: str | None = "21") -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": D(price), "step_size": step}
    if vat is not None:
        out["vat"] = D(vat)
    return out


def tariff_documents() -> dict[str, dict[str, Any]]:
    simple = _tariff("simple", [{"price_components": [_c("ENERGY", "0.25")]}])
    ktp = _tariff(
        "kwh_time_parking",
        [
            {
                "price_components": [
                    _c("FLAT", "0.50", 0),
                    _c("ENERGY", "0.30", 100),
                    _c("TIME", "1.20", 60),
                    _c("PARKING_TIME", "6.00", 300),
                ]
            }
        ],
    )
    windows = [
        ("00:00", "07:00", "0.20"),
        ("07:00", "12:00", "0.30"),
        ("12:00", "17:00", "0.25"),
        ("17:00", "22:00", "0.40"),
    ]
    tou = _tariff(
        "tou4",
        [
            {
                "price_components": [_c("ENERGY", p)],
                "restrictions": {"start_time": a, "end_time": b},
            }
            for a, b, p in windows
        ]
        + [{"price_components": [_c("ENERGY", "0.22")]}],
    )
    dyn_elements = []
    for i in range(48):
        a = f"{i // 2:02d}:{30 * (i % 2):02d}"
        j = (i + 1) % 48
        b = f"{j // 2:02d}:{30 * (j % 2):02d}"
        price = D("0.60") + D(i % 12) / 10
        dyn_elements.append(
            {
                "price_components": [_c("TIME", str(price), 60)],
                "restrictions": {"start_time": a, "end_time": b},
            }
        )
    dyn_elements.append({"price_components": [_c("ENERGY", "0.25")]})
    dyn = _tariff("dynamic48", dyn_elements)
    return {"simple": simple, "kwh_time_parking": ktp, "tou4": tou, "dynamic48": dyn}


def _hours(seconds: int) -> Decimal:
    return (D(seconds) / 3600).quantize(D("0.000001"))


def _local_edges(
    start: dt.datetime, end: dt.datetime, every_minutes: Sequence[int]
) -> list[dt.datetime]:
    """UTC instants of local HH:MM edges (minutes of day) between start and end."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TZ)
    out = []
    day = start.astimezone(tz).date()
    while True:
        for m in every_minutes:
            local = dt.datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz)
            t = local.astimezone(UTC)
            if start < t < end:
                out.append(t)
        day += dt.timedelta(days=1)
        if dt.datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC) >= end:
            break
    return sorted(out)


def make_session(case: str, rng: random.Random) -> SessionInput:
    """A realistic session for ``case``, cut like a CPO would cut it for that tariff."""
    start = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(
        seconds=rng.randrange(0, 330 * 86400)
    )
    charge = rng.randrange(15 * 60, 5 * 3600)
    kw = D(rng.choice([7, 11, 22, 50]))
    parking = rng.randrange(0, 2 * 3600) if case == "kwh_time_parking" else 0
    end = start + dt.timedelta(seconds=charge + parking)
    charge_end = start + dt.timedelta(seconds=charge)
    if case == "tou4":
        cuts = _local_edges(start, charge_end, [0, 420, 720, 1020, 1320])
    elif case == "dynamic48":
        cuts = _local_edges(start, charge_end, list(range(0, 1440, 30)))
    else:
        cuts = []
    bounds = [start, *cuts, charge_end]
    periods = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        secs = int((b - a).total_seconds())
        wh = (kw * secs / 3600 * 1000).quantize(D(1))
        periods.append(ChargingPeriod(start_date_time=a, energy=wh / 1000, time=_hours(secs)))
    if parking:
        periods.append(
            ChargingPeriod(start_date_time=charge_end, energy=D(0), parking_time=_hours(parking))
        )
    return SessionInput(start, end, TZ, tuple(periods))


def floor_loop(sessions: Sequence[SessionInput]) -> None:
    price, vat, cent = D("0.25"), D("1.21"), D("0.01")
    for s in sessions:
        excl = sum(p.energy for p in s.charging_periods if p.energy) * price
        (excl.quantize(cent, ROUND_HALF_UP), (excl * vat).quantize(cent, ROUND_HALF_UP))


def time_loop(fn: Callable[[], None], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_case(tariff: Tariff, sessions: Sequence[SessionInput]) -> dict[str, Any]:
    def run() -> None:
        for s in sessions:
            price_session(tariff=tariff, session=s).totals  # noqa: B018 - rounding is lazy

    elapsed = time_loop(run)
    per_call = []
    clock = time.perf_counter_ns
    for s in sessions:
        t0 = clock()
        price_session(tariff=tariff, session=s).totals  # noqa: B018
        per_call.append(clock() - t0)
    per_call.sort()
    p99 = per_call[int(len(per_call) * 0.99) - 1] / 1000
    return {
        "n": len(sessions),
        "cdrs_per_s_per_core": round(len(sessions) / elapsed),
        "p99_us": round(p99, 1),
        "mean_us": round(elapsed / len(sessions) * 1e6, 2),
    }


def bench_mix(
    tariffs: dict[str, Tariff], mix: Sequence[tuple[str, SessionInput]]
) -> dict[str, Any]:
    pairs = [(tariffs[c], s) for c, s in mix]

    def run() -> None:
        for t, s in pairs:
            price_session(tariff=t, session=s).totals  # noqa: B018 - rounding is lazy

    elapsed = time_loop(run)
    per_call = []
    clock = time.perf_counter_ns
    for t, s in pairs:
        t0 = clock()
        price_session(tariff=t, session=s).totals  # noqa: B018
        per_call.append(clock() - t0)
    per_call.sort()
    return {
        "n": len(pairs),
        "cdrs_per_s_per_core": round(len(pairs) / elapsed),
        "p99_us": round(per_call[int(len(per_call) * 0.99) - 1] / 1000, 1),
        "mean_us": round(elapsed / len(pairs) * 1e6, 2),
    }


# ---- end to end: JSON lines, both cores ----------------------------------------------------

_WORKER_TARIFFS: dict[str, Tariff] = {}


def _worker_init() -> None:
    for name, doc in tariff_documents().items():
        _WORKER_TARIFFS[name] = parse_tariff(doc)


_SAMPLE_EVERY = 5_000


def _price_line(line: bytes, loads: Callable[[bytes], Any]) -> tuple[str, ...]:
    """Decode, parse and price one JSON line; the rounded totals and warnings as text."""
    cdr = loads(line)
    tariff = _WORKER_TARIFFS[cdr["charging_periods"][0]["tariff_id"]]
    result = price_session(tariff=tariff, session=parse_cdr_session(cdr, time_zone=TZ))
    return (*(str(x) for amount in result.totals for x in amount), repr(result.warnings))


def _worker(job: tuple[str, int, int]) -> tuple[int, str, list[tuple[bytes, tuple[str, ...]]]]:
    """Price the lines that start in [begin, end) of the file: read, decode, parse, price.

    Returns the count, the sum of total_cost excl. VAT, and every ``_SAMPLE_EVERY``-th line
    with its result, for the parent to check against the single-process reference path."""
    path, begin, end = job
    loads = loads_exact
    tariffs = _WORKER_TARIFFS
    with open(path, "rb") as fh:
        fh.seek(begin)
        blob = fh.read(end - begin)
        rest = fh.readline()  # finish the last line of this chunk
    if begin:
        # the partial first line belongs to the previous chunk
        cut = blob.find(b"\n")
        blob = blob[cut + 1 :] if cut >= 0 else b""
    n = 0
    total = D(0)
    sample: list[tuple[bytes, tuple[str, ...]]] = []
    for line in (blob + rest).splitlines():
        cdr = loads(line)
        tariff = tariffs[cdr["charging_periods"][0]["tariff_id"]]
        session = parse_cdr_session(cdr, time_zone=TZ)
        result = price_session(tariff=tariff, session=session)
        totals = result.totals
        total += totals.total_cost.excl_vat
        if n % _SAMPLE_EVERY == 0:
            sample.append(
                (line, (*(str(x) for amount in totals for x in amount), repr(result.warnings)))
            )
        n += 1
    return n, str(total), sample


def _verify(samples: list[tuple[bytes, tuple[str, ...]]]) -> int:
    """Re-price the sampled lines in this process with the reference path (stdlib JSON with
    ``parse_float=Decimal``); the number of lines whose totals or warnings differ."""
    _worker_init()
    return sum(1 for line, got in samples if _price_line(line, loads_exact_stdlib) != got)


def write_jsonl(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    cases = ["simple", "kwh_time_parking", "tou4", "dynamic48"]
    pool = {c: [make_session(c, rng) for _ in range(500)] for c in cases}
    lines = {c: [] for c in cases}  # type: dict[str, list[str]]
    for c in cases:
        for s in pool[c]:
            periods = periods_to_ocpi(s.charging_periods)
            for p in periods:
                p["tariff_id"] = c
            lines[c].append(
                json.dumps(
                    {
                        "start_date_time": iso(s.start),
                        "end_date_time": iso(s.end),
                        "charging_periods": periods,
                    },
                    separators=(",", ":"),
                )
            )
    with path.open("w") as fh:
        for i in range(count):
            c = cases[i % 4]
            fh.write(lines[c][rng.randrange(500)])
            fh.write("\n")


def bench_jsonl(count: int, processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cdrs.jsonl"
        t0 = time.perf_counter()
        write_jsonl(path, count)
        gen = time.perf_counter() - t0
        size = path.stat().st_size
        chunk = size // processes
        jobs = [
            (str(path), i * chunk, size if i == processes - 1 else (i + 1) * chunk)
            for i in range(processes)
        ]
        ctx = multiprocessing.get_context("fork")
        t0 = time.perf_counter()
        with ctx.Pool(processes, initializer=_worker_init) as pool:
            results = pool.map(_worker, jobs)
        wall = time.perf_counter() - t0
        samples = [x for _, _, sample in results for x in sample]
        mismatches = _verify(samples)
        breakdown = _breakdown(path, min(count, 20_000))
    priced = sum(n for n, _, _ in results)
    return {
        "cdrs": priced,
        "processes": processes,
        "wall_s": round(wall, 2),
        "cdrs_per_s": round(priced / wall),
        "file_mb": round(size / 1e6, 1),
        "generate_s": round(gen, 2),
        "verified_sample": len(samples),
        "sample_mismatches": mismatches,
        "one_core_us_per_cdr": breakdown,
    }


def _breakdown(path: Path, count: int) -> dict[str, float]:
    """Where the end-to-end time goes, on one core, for the first ``count`` lines."""
    _worker_init()
    with path.open("rb") as fh:
        lines = [next(fh) for _ in range(count)]
    text_lines = [line.decode() for line in lines]
    decode = json.JSONDecoder(parse_float=D).decode
    t0 = time.perf_counter()
    [decode(line) for line in text_lines]
    t1 = time.perf_counter()
    stdlib_decode = t1 - t0
    t0 = time.perf_counter()
    cdrs = [loads_exact(line) for line in lines]
    t1 = time.perf_counter()
    sessions = [parse_cdr_session(c, time_zone=TZ) for c in cdrs]
    t2 = time.perf_counter()
    tariffs = [_WORKER_TARIFFS[c["charging_periods"][0]["tariff_id"]] for c in cdrs]
    t3 = time.perf_counter()
    for t, s in zip(tariffs, sessions, strict=True):
        price_session(tariff=t, session=s).totals  # noqa: B018
    t4 = time.perf_counter()
    n = len(lines)
    return {
        "json_decode": round((t1 - t0) / n * 1e6, 1),
        "json_decode_stdlib_for_comparison": round(stdlib_decode / n * 1e6, 1),
        "parse_cdr_session": round((t2 - t1) / n * 1e6, 1),
        "price_session_totals": round((t4 - t3) / n * 1e6, 1),
        "avg_periods": round(sum(len(s.charging_periods) for s in sessions) / n, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer sessions, 100,000 JSON lines")
    ap.add_argument("--jsonl", type=int, default=None, help="JSON lines to re-price")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args(argv)
    per_case = 2_000 if args.quick else 20_000
    jsonl = args.jsonl if args.jsonl is not None else (100_000 if args.quick else 1_000_000)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
    }
    try:
        meta["load_average_1m_at_start"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    print(json.dumps({"bench": "pricing", "meta": meta}), flush=True)

    tariffs = {name: parse_tariff(doc) for name, doc in tariff_documents().items()}
    rng = random.Random(42)
    sessions = {c: [make_session(c, rng) for _ in range(per_case)] for c in tariffs}
    results = {}
    for case, t in tariffs.items():
        r = bench_case(t, sessions[case])
        avg_periods = sum(len(s.charging_periods) for s in sessions[case]) / per_case
        r["avg_periods"] = round(avg_periods, 2)
        results[case] = r
        print(json.dumps({"bench": "pricing", "case": case, **r}), flush=True)
    mix = [(c, sessions[c][i]) for i in range(per_case) for c in tariffs]
    rng.shuffle(mix)
    rmix = bench_mix(tariffs, mix)
    print(
        json.dumps(
            {
                "bench": "pricing",
                "case": "mix",
                **rmix,
                "target_cdrs_per_s_per_core": 50_000,
                "target_met": rmix["cdrs_per_s_per_core"] >= 50_000,
            }
        ),
        flush=True,
    )
    # The floor and the simple case timed back to back, best of 7 rounds each, so that the
    # ratio is not distorted by the (noisy, shared) machine drifting between measurements.
    simple = sessions["simple"]
    simple_t = tariffs["simple"]

    def run_simple() -> None:
        for s in simple:
            price_session(tariff=simple_t, session=s).totals  # noqa: B018

    floor_s = core_s = float("inf")
    for _ in range(7):
        floor_s = min(floor_s, time_loop(lambda: floor_loop(simple), repeat=1))
        core_s = min(core_s, time_loop(run_simple, repeat=1))
    floor_rate = round(len(simple) / floor_s)
    core_rate = round(len(simple) / core_s)
    ratio = floor_rate / core_rate
    print(
        json.dumps(
            {
                "bench": "pricing",
                "case": "floor_decimal_loop",
                "n": len(simple),
                "cdrs_per_s_per_core": floor_rate,
                "simple_cdrs_per_s_per_core_same_rounds": core_rate,
                "simple_vs_floor_ratio": round(ratio, 2),
                "target_ratio": 5,
                "target_met": ratio <= 5,
            }
        ),
        flush=True,
    )
    if jsonl:
        r = bench_jsonl(jsonl, args.processes)
        print(
            json.dumps(
                {
                    "bench": "pricing",
                    "case": "jsonl_end_to_end",
                    **r,
                    "target_wall_s_for_1m": 20,
                    "target_met": (r["wall_s"] < 20) if r["cdrs"] >= 1_000_000 else None,
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
