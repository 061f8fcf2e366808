"""What one ended session costs a worker (``make bench-worker-cost``): CPU time and database
statements per CDR of the charging worker's batch path, measured in one process on a fixed
backlog, so the figure hardly depends on what else runs on the machine.

Run from the repository root::

    python bench/worker_cost.py --pg postgres://postgres@127.0.0.1:5432 \\
        --redis redis://127.0.0.1:6379 [--stations 500] [--rounds 3] [--profile FILE] \
        [--dump FILE] [--protocols W16,W201] [--keys-per-task N] [--callgrind]

Prepared once per run (not measured): its own database ``simbench_worker`` and Redis dbs 10
and 11, a gateway process and one Celery worker, ``--stations`` stations per protocol on the
bench tariff (FLAT + energy + parking), one simulated session each driven by the simulator
(60 minutes of station time, meter values every 15 minutes, 20 minutes parked). The worker
processes the starts and meter values; then the worker is stopped, the stops go out and are
stored by the gateway (nothing processes them), and the database is saved with ``pg_dump``.

Measured, ``--rounds`` times: the database is restored from the dump, and the ended
transactions are processed in this process exactly as a worker does
(``tasks.transactions_process`` on chunks of ``KEYS_PER_TASK``), timing the process CPU time
(``time.process_time``) and wall time, counting SQL statements, and checking one CDR per
session with the hand-computed totals. Prints one JSON line per protocol and round;
``--profile FILE`` also writes a cProfile of the last round (``pstats``-readable);
``--dump FILE`` keeps the prepared backlog for the next run (remove it after a migration);
``--keys-per-task`` measures another task size; ``--callgrind``, under
``valgrind --tool=callgrind --instr-atstart=no``, counts the instructions of the measured
loop only (repeatable whatever the machine's load: the A/B figure).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import time
from pathlib import Path

import gateway_harness as h


def prepare(env: h.Env, args: argparse.Namespace, dump: Path) -> None:
    credentials: dict[str, str] = {}
    for prefix in ("W16", "W201"):
        credentials |= h.create_stations(args.stations, prefix=prefix)
    creds = h.write_credentials(env, credentials)
    procs = h.Processes(env, args.port)
    try:
        procs.start_gateway()
        procs.start_worker("prep")
        procs.wait_workers(1)
        for protocol, prefix in (("1.6", "W16"), ("2.0.1", "W201")):
            sim = subprocess.Popen(
                h.simulator_args(
                    env,
                    procs.port,
                    creds,
                    env.data_dir / f"record-{prefix}.jsonl",
                    stations=args.stations,
                    match=f"{prefix}-*",
                    protocol=protocol,
                    sessions_per_station=1,
                    speed="max",
                    duration=600,
                    hold_stops=True,
                ),
                cwd=h.ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert sim.stdin is not None and sim.stdout is not None
            holding = json.loads(sim.stdout.readline())["holding"]
            h.wait_processed(prefix, holding["held"], timeout=600)
            procs.kill_worker("prep")  # nothing processes the stops from here on
            sim.stdin.write("go\n")
            sim.stdin.flush()
            sim.communicate(timeout=780)
            if protocol == "1.6":
                h._flush_redis(env)  # the stops' queued tasks: nobody processes them
                procs.start_worker("prep")
                procs.wait_workers(1)
    finally:
        procs.stop_all()
    from django.db import connections

    connections.close_all()
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), env.database_url], check=True, cwd=h.ROOT)


def restore(env: h.Env, dump: Path) -> None:
    from django.db import connections

    connections.close_all()
    h._admin_sql(env, f'DROP DATABASE IF EXISTS "{env.name}" WITH (FORCE)')
    h._admin_sql(env, f'CREATE DATABASE "{env.name}"')
    subprocess.run(["pg_restore", "-d", env.database_url, str(dump)], check=True)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def ended_pairs(prefix: str) -> list[tuple[int, str]]:
    from apps.charging.models import OcppEvent

    return sorted(
        set(
            OcppEvent.objects.filter(
                kind="ENDED", charge_station__identity__startswith=prefix + "-"
            ).values_list("charge_station_id", "ocpp_transaction_id")
        )
    )


def _callgrind(on: bool) -> None:
    """Switch valgrind's instrumentation of this process on or off (`--callgrind`)."""
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def measure(
    env: h.Env,
    prefix: str,
    profile: cProfile.Profile | None,
    callgrind: bool = False,
    keys_per_task: int = 0,
) -> dict[str, object]:
    from django.db import connection

    from apps.charging import jobs, tasks

    pairs = ended_pairs(prefix)
    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    size = keys_per_task or jobs.KEYS_PER_TASK
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    connection.ensure_connection()
    with connection.execute_wrapper(count):
        if callgrind:
            _callgrind(True)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        for chunk in chunks:
            tasks.transactions_process.run([list(k) for k in chunk])
        if profile is not None:
            profile.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if callgrind:
            _callgrind(False)
    sessions, _ = h.read_record(env.data_dir / f"record-{prefix}.jsonl")
    checks = h.check_cdrs(sessions, h.cdr_rows(prefix))
    n = len(pairs)
    return {
        "bench": "worker_cost",
        "prefix": prefix,
        "sessions": n,
        "tasks": len(chunks),
        "cpu_ms_per_cdr": round(cpu * 1000 / n, 3),
        "wall_ms_per_cdr": round(wall * 1000 / n, 3),
        "statements_per_cdr": round(statements / n, 2),
        "cdrs_per_second_one_process": round(n / wall, 1),
        **checks,
        "ok": all(v == 0 for v in checks.values()) and len(sessions) == n,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", default="10,11", help="broker and result Redis dbs (flushed)")
    p.add_argument("--stations", type=int, default=500, help="per protocol")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--port", type=int, default=9320)
    p.add_argument("--profile", type=Path, help="write a cProfile of the last round here")
    p.add_argument("--dump", type=Path, help="reuse (or write) this pg_dump of the backlog")
    p.add_argument("--protocols", default="W16,W201", help="which backlogs to measure")
    p.add_argument("--keys-per-task", type=int, default=0, help="default: KEYS_PER_TASK")
    p.add_argument(
        "--callgrind",
        action="store_true",
        help="run under `valgrind --tool=callgrind --instr-atstart=no`: instruments only the "
        "measured loop (instruction counts: repeatable whatever the machine's load)",
    )
    args = p.parse_args()
    env = h.Env("simbench_worker", args.pg, args.redis, h.redis_dbs(args.redis_dbs))
    h.configure(env)
    # Tasks the measured code publishes (retries, live-cost come-backs) go to the broker and
    # are never consumed here.
    dump = args.dump or env.data_dir / "backlog.dump"
    ok = True
    try:
        if args.dump is None or not dump.exists():
            prepare(env, args, dump)
        for r in range(args.rounds):
            for prefix in args.protocols.split(","):
                restore(env, dump)
                last = r == args.rounds - 1 and prefix == args.protocols.split(",")[-1]
                prof = cProfile.Profile() if (args.profile and last) else None
                result = measure(env, prefix, prof, args.callgrind, args.keys_per_task)
                result |= {
                    "round": r + 1,
                    "machine": h.machine(),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                }
                print(json.dumps(result), flush=True)
                ok = ok and bool(result["ok"])
                if prof is not None:
                    prof.dump_stats(str(args.profile))
    finally:
        h.teardown(env)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
