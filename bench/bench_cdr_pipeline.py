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
(``--speed max``, its own process): one session per station, 60 minutes of station time,
meter values every 15 minutes, 20 minutes parked before the stop.

Two phases. First (not timed) every session is started and metered while the simulator holds
the stops back (``--hold-stops``); the bench waits until the workers have processed all of
that. Then all stops go out at once, and what is measured is from the first
StopTransaction / TransactionEvent(Ended) sent to the last CDR stored: ended sessions per
second that become stored, priced CDRs. The stop→CDR latency is the CDR's ``created_at``
minus the wall time the stop was first sent. The gateway's intake (messages/s the simulator
got answered) is printed separately for both phases. Verified on the way: exactly one CDR
per stopped session, and its totals equal the price computed by hand from the simulated
meter data. Prints one JSON line per protocol.
Also printed: the CPU seconds each process group used in the timed phase (gateway, workers,
the PostgreSQL backends of the bench database, the simulator) and per CDR, which depend far
less than the wall time on what else runs on the machine. ``BENCH_PYSPY=/path/to/py-spy``
records the gateway's and the workers' stacks for ``BENCH_PYSPY_S`` (4) seconds of the timed
phase into ``/tmp/spy-<protocol>-<n>.txt`` (py-spy is not a project dependency).
Everything it created is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
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
    sim = subprocess.Popen(
        h.simulator_args(
            env,
            procs.port,
            creds,
            record,
            stations=args.stations,
            match=f"{prefix}-*",
            protocol=protocol,
            sessions_per_station=1,
            speed="max",
            duration=args.timeout,
            hold_stops=True,
        ),
        cwd=h.ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdin is not None and sim.stdout is not None
    # Phase 1 (not timed): every session started and metered, every stop held back; wait
    # until the workers have processed all of it, so the timed phase is the stops alone.
    holding = json.loads(sim.stdout.readline())["holding"]
    backlog_s = h.wait_processed(prefix, holding["held"], timeout=args.timeout)
    # CPU seconds per process group over phase 2 (load-independent, unlike the wall time).
    assert procs.gateway is not None
    meter = h.CpuMeter(
        {
            "gateway": [procs.gateway.pid],
            "workers": [w.pid for w in procs.workers.values()],
            "postgres": h.database_backend_pids(env),
            "simulator": [sim.pid],  # alive until the CDRs are counted
        },
    )
    meter.start()
    machine0 = h.machine_cpu_seconds()
    if os.environ.get("BENCH_PYSPY"):
        for i, pid in enumerate([procs.gateway.pid] + [w.pid for w in procs.workers.values()]):
            subprocess.Popen(
                [
                    os.environ["BENCH_PYSPY"],
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--nonblocking",
                    "--duration",
                    os.environ.get("BENCH_PYSPY_S", "4"),
                    "-p",
                    str(pid),
                    "-o",
                    f"/tmp/spy-{protocol}-{i}.txt",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
    # Phase 2 (timed): all stops at once; from the first stop sent to the last CDR stored.
    sim.stdin.write("go\n")
    sim.stdin.flush()
    # The stations stay connected after their sessions until the CDRs are counted (real
    # stations do not hang up after a session; a wave of closes is not what is measured).
    line = sim.stdout.readline()
    if not line.startswith('{"sessions_done"'):
        raise RuntimeError(f"simulator: {line!r}")
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
        time.sleep(0.2)
    cpu = meter.stop()
    machine1 = h.machine_cpu_seconds()
    out, _ = sim.communicate(timeout=args.timeout + 180)  # closes stdin: the stations leave
    summary = json.loads(out.strip().splitlines()[-1])
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
    held = summary.get("hold_stops", {})
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
        "cpu_seconds_stop_phase": cpu,
        # The whole VM over the same span (both cores): busy, idle, stolen by the hypervisor.
        "machine_cpu_seconds": {k: round(machine1[k] - machine0[k], 2) for k in machine0},
        "cpu_ms_per_cdr": {k: round(v * 1000 / max(1, len(rows)), 2) for k, v in cpu.items()},
        "intake": {
            "before_stops_messages": held.get("messages"),
            "before_stops_seconds": held.get("seconds"),
            "before_stops_messages_per_second": held.get("before_release_messages_per_second"),
            "backlog_processed_after_s": backlog_s,
            "stop_phase_messages": held.get("stop_phase_messages"),
            "stop_phase_seconds": held.get("stop_phase_seconds"),
            "stop_phase_messages_per_second": held.get("stop_phase_messages_per_second"),
        },
        "simulator": {
            k: summary[k]
            for k in (
                "messages",
                "errors",
                "call_errors",
                "latency_ms_p50",
                "latency_ms_p99",
                "wall_seconds",
            )
        },
        "ok": all(v == 0 for v in checks.values()) and len(rows) == len(sessions) == args.stations,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", default="10,11", help="broker and result Redis dbs (flushed)")
    p.add_argument("--stations", type=int, default=1000, help="per protocol, one session each")
    p.add_argument("--protocols", default="1.6,2.0.1")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=9310)
    p.add_argument("--timeout", type=float, default=600, help="wall seconds per protocol")
    args = p.parse_args()
    env = h.Env("simbench_cdr", args.pg, args.redis, h.redis_dbs(args.redis_dbs))
    h.configure(env)
    procs = h.Processes(env, args.port)
    ok = True
    try:
        credentials: dict[str, str] = {}
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
            result["load_average_1m"] = round(os.getloadavg()[0], 2)
            result["date"] = datetime.now(UTC).date().isoformat()
            print(json.dumps(result), flush=True)
            ok = ok and bool(result["ok"])
    finally:
        procs.stop_all()
        h.teardown(env)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
