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

Rating (issue 17): `--rating off,on` (the default) measures the same pipeline twice in one
run, on separate stations: first with RATING_ENABLED=0 in the workers (stations B16-*,
B201-*), then with RATING_ENABLED=1 (R16-*, R201-*): every stored CDR is queued for rating
on the `billing` queue, which the same workers consume beside `charging`. The rating phase
has one billing rule per engine covering every session (wholesale, retail cost-plus,
reimbursement for a payee on every station), so each CDR gets three rated lines. Its line
adds how many CDRs were rated, the time from the first stop to the last rated line or flag
(`stop_to_last_rated_s`, `rated_cdrs_per_second`) and the lines and flags written.
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


def _prefix(protocol: str, rating: str) -> str:
    """Station identities of one phase: B16-*, B201-* (rating off), R16-*, R201-* (on)."""
    return ("R" if rating == "on" else "B") + ("16" if protocol == "1.6" else "201")


def run_protocol(
    env: h.Env,
    procs: h.Processes,
    protocol: str,
    args: argparse.Namespace,
    creds: Path,
    prefix: str,
) -> dict[str, object]:
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
    rated = wait_rated(prefix, len(rows), first_stop) if prefix.startswith("R") else {}
    return {
        "bench": "cdr_pipeline",
        "protocol": protocol,
        "rating": "on" if prefix.startswith("R") else "off",
        **rated,
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


# Billing for the rating phase (tenant bench-cpo; the stations' own eMSP party issues the bench
# card, so every CDR is an own charge): one rule per engine covering every session
# (wholesale at the station tariff, retail cost-plus 5 % for the driver's retail package,
# reimbursement at an owner's energy rate minus 0.02 / kWh for the payee on every station),
# a CPO contract with 21 % VAT. Written with SQL: the bench sets up data, the services of
# the rating app are what it measures.
BILLING_SQL = """
WITH t AS (SELECT id FROM parties_operator WHERE slug = 'bench-cpo'),
cpo AS (SELECT p.id FROM parties_party p, t WHERE p.tenant_id = t.id AND p.role = 'CPO'),
emsp AS (SELECT p.id FROM parties_party p, t WHERE p.tenant_id = t.id AND p.role = 'EMSP'),
tok AS (SELECT k.id FROM tokens_token k, t WHERE k.tenant_id = t.id AND k.uid = %(uid)s),
tariff AS (SELECT r.id FROM tariffs_tariff r, t WHERE r.tenant_id = t.id AND r.ocpi_id = 'BENCH'),
rb AS (INSERT INTO tariffs_tariff (created_at, updated_at, tenant_id, party_id, ocpi_id, name,
                                   currency, type, engine)
       SELECT now(), now(), t.id, cpo.id, 'BENCH-OWNER', 'owner', 'EUR', 'REGULAR',
              'REIMBURSEMENT' FROM t, cpo RETURNING id, tenant_id),
rbv AS (INSERT INTO tariffs_tariffversion (created_at, updated_at, tenant_id, tariff_id,
                                          version, effective_from, ocpi)
        SELECT now(), now(), rb.tenant_id, rb.id, 1, '2026-01-01', %(owner)s::jsonb FROM rb),
pkg AS (INSERT INTO customers_retailpackage (created_at, updated_at, tenant_id, name,
                                             description)
        SELECT now(), now(), t.id, 'Bench package', '' FROM t RETURNING id),
cus AS (INSERT INTO customers_customer (created_at, updated_at, tenant_id, party_id, kind, name,
            email, vat_number, address, postal_code, city, country, external_ref)
        SELECT now(), now(), t.id, emsp.id, 'person', 'Bench driver', '', '', '', '', '', 'NL',
               'BENCH-1' FROM t, emsp RETURNING id),
con AS (INSERT INTO customers_contract (created_at, updated_at, tenant_id, customer_id, token_id,
            reference, version, retail_package_id, valid_from)
        SELECT now(), now(), t.id, cus.id, tok.id, 'BENCH-K1', 1, pkg.id, '2026-01-01'
        FROM t, cus, tok, pkg),
cc AS (INSERT INTO rating_cpocontract (created_at, updated_at, tenant_id, party_id, reference)
       SELECT now(), now(), t.id, cpo.id, 'BENCH-CPO' FROM t, cpo RETURNING id, tenant_id),
ccv AS (INSERT INTO rating_cpocontractversion (created_at, updated_at, tenant_id, contract_id,
            version, effective_from, vat_country, vat_rate, rounding_mode, payee_name,
            payee_iban, payee_bic, payee_address)
        SELECT now(), now(), cc.tenant_id, cc.id, 1, '2026-01-01', 'NL', 21, 'ROUND_HALF_UP',
               '', '', '', '' FROM cc),
pay AS (INSERT INTO rating_payee (created_at, updated_at, tenant_id, kind, name, email,
            vat_number, iban, bic, address, postal_code, city, country, external_ref)
        SELECT now(), now(), t.id, 'SITE_HOST', 'Bench owner', '', '', '', '', '', '', '', 'NL',
               'BENCH-P1' FROM t RETURNING id, tenant_id),
pas AS (INSERT INTO rating_payeeassignment (created_at, updated_at, tenant_id,
            charge_station_id, payee_id, effective_from)
        SELECT now(), now(), pay.tenant_id, s.id, pay.id, '2026-01-01'
        FROM pay JOIN locations_chargestation s ON s.tenant_id = pay.tenant_id),
rules AS (INSERT INTO rating_billingrule (created_at, updated_at, tenant_id, engine, name)
          SELECT now(), now(), t.id, e, 'Bench ' || e
          FROM t, unnest(ARRAY['WHOLESALE', 'RETAIL', 'REIMBURSEMENT']) e
          RETURNING id, tenant_id, engine)
INSERT INTO rating_billingruleversion (created_at, updated_at, tenant_id, rule_id, version,
    effective_from, active, pricing, tariff_id, markup_percent, margin_per_kwh,
    margin_per_kwh_currency, cpo_scope, cpo_scope_value, emsp_scope, emsp_scope_value,
    weekdays, exceptions, reason)
SELECT now(), now(), rules.tenant_id, rules.id, 1, '2026-01-01', true,
       CASE rules.engine WHEN 'RETAIL' THEN 'COST_PLUS' ELSE 'TARIFF' END,
       CASE rules.engine WHEN 'WHOLESALE' THEN tariff.id WHEN 'REIMBURSEMENT' THEN rb.id END,
       CASE rules.engine WHEN 'RETAIL' THEN 5 END,
       CASE rules.engine WHEN 'REIMBURSEMENT' THEN 0.02 END,
       CASE rules.engine WHEN 'REIMBURSEMENT' THEN 'EUR' END,
       'ANY', '', 'ANY', '', 127, '[]', 'bench'
FROM rules, tariff, rb
"""
OWNER_TARIFF = {
    **h.TARIFF,
    "id": "BENCH-OWNER",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}]}
    ],
}


def billing_setup() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(BILLING_SQL, {"uid": h.ID_TAG, "owner": json.dumps(OWNER_TARIFF)})


RATED_SQL = """
SELECT count(DISTINCT c.id), max(greatest(l.created_at, f.flagged_at))
FROM charging_cdr c
JOIN charging_chargingsession s ON s.id = c.session_id
JOIN locations_chargestation st ON st.id = s.charge_station_id
LEFT JOIN rating_ratedline l ON l.cdr_id = c.id
LEFT JOIN rating_ratingflag f ON f.cdr_id = c.id
WHERE st.identity LIKE %s AND (l.id IS NOT NULL OR f.id IS NOT NULL)
"""
RATED_BY_ENGINE_SQL = """
SELECT 'lines/' || l.engine, count(*) FROM rating_ratedline l
JOIN charging_cdr c ON c.id = l.cdr_id JOIN charging_chargingsession s ON s.id = c.session_id
JOIN locations_chargestation st ON st.id = s.charge_station_id
WHERE st.identity LIKE %s GROUP BY 1
UNION ALL
SELECT 'flags/' || f.engine || '/' || f.reason, count(*) FROM rating_ratingflag f
JOIN charging_cdr c ON c.id = f.cdr_id JOIN charging_chargingsession s ON s.id = c.session_id
JOIN locations_chargestation st ON st.id = s.charge_station_id
WHERE st.identity LIKE %s GROUP BY 1
"""


def wait_rated(prefix: str, cdrs: int, first_stop: float) -> dict[str, object]:
    """Wait until every CDR of the phase has rated lines or flags (or nothing new for 60 s):
    how long after the first stop the last one was rated, and what was written."""
    from django.db import connection

    like = prefix + "-%"
    last_change, seen = time.monotonic(), -1
    while True:
        with connection.cursor() as cur:
            cur.execute(RATED_SQL, [like])
            done, last = cur.fetchone()
        if done >= cdrs:
            break
        if done != seen:
            seen, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > 60:
            break
        time.sleep(0.5)
    with connection.cursor() as cur:
        cur.execute(RATED_BY_ENGINE_SQL, [like, like])
        written = dict(cur.fetchall())
    seconds = (last.timestamp() - first_stop) if last is not None else None
    return {
        "rated_cdrs": done,
        "stop_to_last_rated_s": None if seconds is None else round(seconds, 3),
        "rated_cdrs_per_second": round(done / seconds, 1) if seconds else None,
        "rating_written": written,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", default="10,11", help="broker and result Redis dbs (flushed)")
    p.add_argument("--db", default="simbench_cdr", help="its database (dropped at the end)")
    p.add_argument("--stations", type=int, default=1000, help="per protocol, one session each")
    p.add_argument("--protocols", default="1.6,2.0.1")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=9310)
    p.add_argument("--timeout", type=float, default=600, help="wall seconds per protocol")
    p.add_argument(
        "--rating",
        default="off,on",
        help="phases: off (RATING_ENABLED=0) and/or on (=1: every CDR queued for rating on"
        " the billing queue, which the same workers consume)",
    )
    args = p.parse_args()
    phases = args.rating.split(",")
    env = h.Env(args.db, args.pg, args.redis, h.redis_dbs(args.redis_dbs))
    h.configure(env)
    procs = h.Processes(env, args.port)
    ok = True
    try:
        credentials: dict[str, str] = {}
        for rating in phases:
            for protocol in args.protocols.split(","):
                credentials |= h.create_stations(args.stations, prefix=_prefix(protocol, rating))
        if "on" in phases:
            billing_setup()
        creds = h.write_credentials(env, credentials)
        procs.start_gateway()
        for rating in phases:
            for n in range(args.workers):
                procs.start_worker(f"bench{n}", {"RATING_ENABLED": "1" if rating == "on" else "0"})
            procs.wait_workers(args.workers)
            for protocol in args.protocols.split(","):
                result = run_protocol(env, procs, protocol, args, creds, _prefix(protocol, rating))
                result["machine"] = h.machine()
                result["load_average_1m"] = round(os.getloadavg()[0], 2)
                result["date"] = datetime.now(UTC).date().isoformat()
                print(json.dumps(result), flush=True)
                ok = ok and bool(result["ok"])
            procs.stop_workers()
    finally:
        procs.stop_all()
        h.teardown(env)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
