"""CDR pipeline benchmark (``make bench-cdr-pipeline``): how many ended sessions per second
become stored, priced CDRs, with a real gateway process, real Celery worker processes and a
real broker, on PostgreSQL + Redis.

Run from the repository root::

    python bench/bench_cdr_pipeline.py --pg postgres://postgres@127.0.0.1:5432 \\
        --redis redis://127.0.0.1:6379 [--stations 200] [--sessions-per-station 5]

It creates its own database (``simbench_cdr``) and uses Redis dbs 10 and 11 (flushed), starts
one gateway (``python -m csms_gateway``) and ``--workers`` Celery workers (``--pool solo``:
one process each, no pool overhead), creates ``--stations`` stations per protocol on a
tariff with a flat fee, energy and parking, and drives them with the simulator at full speed
(``--speed max``): every station runs its sessions back to back, 60 minutes of station time
each, meter values every 15 minutes, 20 minutes parked before the stop.

Measured: from the first StopTransaction / TransactionEvent(Ended) sent to the last CDR
stored; the stop→CDR latency is the CDR's ``created_at`` minus the wall time the stop was
first sent. Verified on the way: exactly one CDR per stopped session, and its totals equal
the price computed by hand from the simulated meter data. Prints one JSON line per protocol.
Everything it created is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import gateway_harness as h


def run_protocol(
    env: h.Env, procs: h.Processes, protocol: str, args: argparse.Namespace, creds: Path
) -> dict[str, object]:
    prefix = "B16" if protocol == "1.6" else "B201"
    record = env.data_dir / f"record-{prefix}.jsonl"
    sim = subprocess.run(
        h.simulator_args(
            env,
            procs.port,
            creds,
            record,
            stations=args.stations,
            match=f"{prefix}-*",
            protocol=protocol,
            sessions_per_station=args.sessions_per_station,
            speed="max",
            duration=args.timeout,
        ),
        cwd=h.ROOT,
        capture_output=True,
        text=True,
        timeout=args.timeout + 180,
    )
    summary = json.loads(sim.stdout.strip().splitlines()[-1])
    sessions, _ = h.read_record(record)
    # Wait for the CDRs: done when there is one per session, or nothing new for 60 s.
    last_change, seen = time.monotonic(), -1
    while True:
        count = h.cdr_count(prefix)
        if count >= len(sessions):
            break
        if count != seen:
            seen, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 60:
            break
        time.sleep(0.5)
    rows = h.cdr_rows(prefix)
    checks = h.check_cdrs(sessions, rows)
    stop_sent = {(s["identity"], s["transaction_id"]): s["stop_sent"] for s in sessions}
    latencies = [
        r["created_at"].timestamp()
        - stop_sent[(r["session__charge_station__identity"], r["session__ocpp_transaction_id"])]
        for r in rows
        if (r["session__charge_station__identity"], r["session__ocpp_transaction_id"]) in stop_sent
    ]
    first_stop = min(stop_sent.values())
    last_cdr = max(r["created_at"].timestamp() for r in rows)
    seconds = last_cdr - first_stop
    return {
        "bench": "cdr_pipeline",
        "protocol": protocol,
        "stations": args.stations,
        "workers": args.workers,
        "sessions": len(sessions),
        "cdrs": len(rows),
        "seconds": round(seconds, 3),
        "cdrs_per_second": round(len(rows) / seconds, 1),
        "stop_to_cdr_ms_p50": round(h.percentile(latencies, 0.50) * 1000, 1),
        "stop_to_cdr_ms_p99": round(h.percentile(latencies, 0.99) * 1000, 1),
        **checks,
        "simulator": {
            k: summary[k]
            for k in (
                "messages",
                "errors",
                "call_errors",
                "latency_ms_p50",
                "latency_ms_p99",
                "wall_seconds",
                "messages_per_second",
            )
        },
        "ok": all(v == 0 for v in checks.values()) and len(rows) == len(sessions),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--stations", type=int, default=200, help="per protocol")
    p.add_argument("--sessions-per-station", type=int, default=5)
    p.add_argument("--protocols", default="1.6,2.0.1")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=9310)
    p.add_argument("--timeout", type=float, default=600, help="wall seconds per protocol")
    args = p.parse_args()
    env = h.Env("simbench_cdr", args.pg, args.redis, (10, 11))
    h.configure(env)
    procs = h.Processes(env, args.port)
    ok = True
    try:
        credentials = {}
        for protocol in args.protocols.split(","):
            credentials |= h.create_stations(
                args.stations, prefix="B16" if protocol == "1.6" else "B201"
            )
        creds = h.write_credentials(env, credentials)
        procs.start_gateway()
        for n in range(args.workers):
            procs.start_worker(f"bench{n}")
        procs.wait_workers(args.workers)
        for protocol in args.protocols.split(","):
            result = run_protocol(env, procs, protocol, args, creds)
            result["machine"] = h.machine()
            result["date"] = datetime.now(UTC).date().isoformat()
            print(json.dumps(result), flush=True)
            ok = ok and bool(result["ok"])
    finally:
        procs.stop_all()
        h.teardown(env)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
