"""Kill test (``make bench-kill``): nothing billed is lost or doubled when the gateway or a
worker is killed mid-run.

Run from the repository root::

    python bench/kill_test.py --pg postgres://postgres@127.0.0.1:5432 \\
        --redis redis://127.0.0.1:6379 [--stations 1000]

Own database ``simbench_kill``, Redis dbs 12 and 13 (flushed), dropped at the end. One
gateway, two Celery workers (``--pool solo``), ``--stations`` simulated stations (half on
OCPP 1.6, half on 2.0.1), one session each, all active at once (full speed). Phase 1: once
the sessions are under way, SIGKILL the gateway and start it again; the stations reconnect
and resend their unanswered transaction messages unchanged. Phase 2: SIGKILL a worker (the
task it held is neither acknowledged nor redelivered before Redis's visibility timeout) and
start it again. Then the sweeper (``apps.charging.sweep_unprocessed``, run by beat in
production, called here every 10 s) re-queues what was stored but never processed.

Verified at the end, and printed as JSON:

* every session the simulator stopped has exactly one CDR, with the expected totals;
* every transaction message that got a CALLRESULT is in ``charging_ocppevent`` (by the
  gateway's idempotency key, recomputed from the payload the station sent);
* no duplicate events: one row per (station, key), at most one start and one end per
  transaction;
* no session without its CDR after the sweeper ran.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import gateway_harness as h


def _events_started(prefix: str) -> int:
    from apps.charging.models import OcppEvent

    return OcppEvent.objects.filter(
        charge_station__identity__startswith=prefix, kind="STARTED"
    ).count()


def _sweep() -> int:
    from config.celery import app

    return int(app.send_task("apps.charging.sweep_unprocessed").get(timeout=120))


def verify(prefix: str, sessions: list[dict[str, Any]], answered: list[dict[str, Any]]) -> dict:
    from django.db.models import Count

    from apps.charging.models import Cdr, ChargingSession, OcppEvent
    from apps.locations.models import ChargeStation
    from csms_gateway.handlers import message_key

    station_ids = dict(
        ChargeStation.objects.filter(identity__startswith=prefix).values_list("identity", "id")
    )
    events = OcppEvent.objects.filter(charge_station_id__in=station_ids.values())
    stored = set(events.values_list("charge_station_id", "idempotency_key"))
    missing = 0
    for a in answered:
        # As the gateway does: parse (numbers as Decimal), then hash the payload as sent.
        payload = json.loads(a["payload"], parse_float=Decimal)
        key = message_key(a["action"], payload)
        if (station_ids[a["identity"]], key) not in stored:
            missing += 1
    per_kind = Counter(
        (r["charge_station_id"], r["ocpp_transaction_id"], r["kind"])
        for r in events.values("charge_station_id", "ocpp_transaction_id", "kind")
        if r["kind"] in ("STARTED", "ENDED")
    )
    sessions_db = ChargingSession.objects.filter(charge_station_id__in=station_ids.values())
    cdr_checks = h.check_cdrs(sessions, h.cdr_rows(prefix))
    return {
        "stopped_sessions": len(sessions),
        "cdrs": Cdr.objects.filter(session__in=sessions_db).count(),
        **cdr_checks,
        "answered_transaction_messages": len(answered),
        "answered_messages_missing_from_event_log": missing,
        "events": events.count(),
        "duplicate_event_keys": len(
            events.values("charge_station_id", "idempotency_key")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        ),
        "transactions_with_two_starts_or_ends": sum(1 for n in per_kind.values() if n > 1),
        "sessions": sessions_db.count(),
        "db_sessions_without_cdr": sessions_db.filter(cdrs__isnull=True).count(),
        "transactions_without_session": len(
            set(events.values_list("charge_station_id", "ocpp_transaction_id"))
            - set(sessions_db.values_list("charge_station_id", "ocpp_transaction_id"))
        ),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--redis", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-dbs", default="12,13", help="broker and result Redis dbs (flushed)")
    p.add_argument("--stations", type=int, default=1000, help="half per protocol")
    p.add_argument("--port", type=int, default=9320)
    p.add_argument("--kill-gateway-after", type=float, default=20, help="wall seconds")
    p.add_argument("--kill-worker-after", type=float, default=60, help="wall seconds")
    p.add_argument("--timeout", type=float, default=900, help="wall seconds, whole run")
    args = p.parse_args()
    env = h.Env("simbench_kill", args.pg, args.redis, h.redis_dbs(args.redis_dbs))
    h.configure(env)
    procs = h.Processes(env, args.port)
    prefix = "K"
    halves = {"1.6": "K16", "2.0.1": "K201"}
    result: dict[str, Any] = {"bench": "kill_test", "machine": h.machine()}
    sims: list[tuple[str, subprocess.Popen[str], Path]] = []
    try:
        credentials: dict[str, str] = {}
        for n, station_prefix in enumerate(halves.values()):
            count = args.stations // 2 + (args.stations % 2 if n == 0 else 0)
            credentials |= h.create_stations(count, prefix=station_prefix)
        creds = h.write_credentials(env, credentials)
        procs.start_gateway()
        procs.start_worker("kill0")
        procs.start_worker("kill1")
        procs.wait_workers(2)
        begin = time.monotonic()
        for protocol, station_prefix in halves.items():
            record = env.data_dir / f"record-{station_prefix}.jsonl"
            sim_args = h.simulator_args(
                env, args.port, creds, record, stations=sum(
                    1 for i in credentials if i.startswith(station_prefix + "-")
                ), match=f"{station_prefix}-*", protocol=protocol, speed="max",
                duration=args.timeout / 2,
            )  # fmt: skip
            proc = subprocess.Popen(sim_args, cwd=h.ROOT, stdout=subprocess.PIPE, text=True)
            sims.append((protocol, proc, record))
        # Phase 1: the gateway dies with every session under way.
        time.sleep(args.kill_gateway_after)
        started_before = _events_started(prefix)
        procs.kill_gateway()
        result["gateway_killed_at_s"] = round(time.monotonic() - begin, 1)
        result["starts_stored_when_gateway_killed"] = started_before
        time.sleep(2)
        procs.start_gateway()
        # Phase 2: a worker dies while it works through the backlog.
        time.sleep(max(0.0, args.kill_worker_after - (time.monotonic() - begin)))
        procs.kill_worker("kill0")
        result["worker_killed_at_s"] = round(time.monotonic() - begin, 1)
        time.sleep(2)
        procs.start_worker("kill0")
        summaries = {}
        for protocol, proc, _ in sims:
            out, _ = proc.communicate(timeout=args.timeout)
            summaries[protocol] = json.loads(out.strip().splitlines()[-1])
        result["simulators_done_at_s"] = round(time.monotonic() - begin, 1)
        sessions: list[dict[str, Any]] = []
        answered: list[dict[str, Any]] = []
        for _, _, record in sims:
            s, a = h.read_record(record)
            sessions += s
            answered += a
        # Converge: the sweeper re-queues transactions stored but not processed (>30 s old).
        requeued = 0
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            report = verify(prefix, sessions, answered)
            if (
                report["sessions_without_cdr"] == 0
                and report["db_sessions_without_cdr"] == 0
                and report["transactions_without_session"] == 0
                and report["cdrs"] >= len(sessions)
            ):
                break
            time.sleep(10)
            requeued += _sweep()
        result["converged_at_s"] = round(time.monotonic() - begin, 1)
        result["sweeper_requeued"] = requeued
        result |= verify(prefix, sessions, answered)
        result["simulator"] = {
            protocol: {
                k: s[k]
                for k in (
                    "stations",
                    "sessions_started",
                    "sessions_stopped",
                    "messages",
                    "reconnects",
                    "resent",
                    "errors",
                    "call_errors",
                )
            }
            for protocol, s in summaries.items()
        }
        result["date"] = datetime.now(UTC).date().isoformat()
        lost = (
            result["sessions_without_cdr"]
            + result["db_sessions_without_cdr"]
            + result["answered_messages_missing_from_event_log"]
            + result["transactions_without_session"]
        )
        doubled = (
            result["sessions_with_two_cdrs"]
            + result["duplicate_event_keys"]
            + result["transactions_with_two_starts_or_ends"]
        )
        result["lost"] = lost
        result["duplicated"] = doubled
        result["ok"] = (
            lost == 0
            and doubled == 0
            and result["cdrs_with_wrong_totals"] == 0
            and result["stopped_sessions"] == args.stations
        )
        print(json.dumps(result), flush=True)
    finally:
        for _, proc, _ in sims:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        procs.stop_all()
        h.teardown(env)
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
