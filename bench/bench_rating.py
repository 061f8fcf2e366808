"""`make bench-rating`: 1,000,000 CDRs through the three billing engines (wholesale, retail,
reimbursement) with 10,000 billing rules, on PostgreSQL.

Targets (issue 17): <= 120 s end to end including writing the rated lines on this 2-core
machine; rule matching p99 <= 50 us per CDR per engine.

The data (bench/rating_data.py) is generated once into a template database
(`hbench_rating_tpl`, or `hbench_rating_tpl_<N>` for another --cdrs) and kept between runs
(--rebuild starts over); each run clones it (CREATE DATABASE ... TEMPLATE) into
`hbench_rating_run`, so every run starts from the same unrated CDRs. Then:

1. rule matching, in this process: the facts of a sample of the CDRs (--match-sample) for
   each engine, built once, matched against the engine's RuleIndex of the rating tenant;
   each match timed on its own (p50 / p99 / max in microseconds).
2. rating, end to end: --processes worker processes (default 2: a deployment with two
   Celery workers on two cores) each call `apps.rating.api.cdrs_rate` over a disjoint
   range of CDR ids, --batch ids per call (what one `rating.rate_cdrs` task gets). The
   processes start, set Django up and connect, then all begin at once: `seconds` is from
   there to the last one done (`process_start_seconds` before it, not counted), with each
   process's CPU and its PostgreSQL backend's CPU (per CDR: what depends far less on the
   machine's load); then the rated lines and flags counted per engine in the database.
   --rate-cdrs N rates only the CDRs 1..N of the data (a shorter run on the same data).

Prints one JSON line per measurement; the last is {"bench": "done"}. The run database is
dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rating_data as data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA_VERSION = 3  # bump when rating_data changes: templates of another version are rebuilt


def emit(**fields: Any) -> None:
    fields.setdefault("loadavg_1m", round(os.getloadavg()[0], 2))
    print(json.dumps(fields, default=str), flush=True)


def _admin(pg: str) -> psycopg.Connection[Any]:
    return psycopg.connect(f"{pg}/postgres", autocommit=True)


def _django_env(pg: str, db: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{pg}/{db}",
        DATABASE_CONN_MAX_AGE="600",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DATA_DIR=str(ROOT / "var" / "bench"),
    )
    for name in ("REDIS_URL", "CACHE_URL", "DATABASE_POOL"):
        env.pop(name, None)
    return env


def _template_meta(pg: str, tpl: str) -> dict[str, Any] | None:
    with _admin(pg) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [tpl],
        ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        return dict(json.loads(row[0]))
    except ValueError:
        return None


def build_template(pg: str, tpl: str, n: int) -> None:
    started = time.monotonic()
    with _admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{tpl}"')
        conn.execute(f'CREATE DATABASE "{tpl}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_django_env(pg, tpl),
        check=True,
    )
    migrated = time.monotonic()
    with psycopg.connect(f"{pg}/{tpl}") as conn:
        for sql in data.reference_sql()[:4]:  # operators, parties, locations
            conn.execute(sql)
        tariff_ids: dict[str, int] = {}
        for i, (engine, party, ocpi_id, ocpi) in enumerate(data.tariffs(), start=1):
            tenant, party_pk = (2, 3) if party == "BEM" else (1, 1 if party == "BCP" else 2)
            conn.execute(
                "INSERT INTO tariffs_tariff (id, created_at, updated_at, tenant_id, party_id,"
                " ocpi_id, name, currency, type, engine) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                " 'EUR', 'REGULAR', %s)",
                [i, data.EPOCH, data.EPOCH, tenant, party_pk, ocpi_id, ocpi_id, engine],
            )
            conn.execute(
                "INSERT INTO tariffs_tariffversion (id, created_at, updated_at, tenant_id,"
                " tariff_id, version, effective_from, ocpi) VALUES (%s, %s, %s, %s, %s, 1, %s,"
                " %s)",
                [i, data.EPOCH, data.EPOCH, tenant, i, data.EPOCH, ocpi],
            )
            tariff_ids[ocpi_id if party == "BCP" else f"{party}/{ocpi_id}"] = i
        for sql in data.reference_sql()[4:]:
            conn.execute(sql)
        for sql in data.rules_sql(tariff_ids):
            conn.execute(sql)
        conn.commit()
        reference = time.monotonic()
        chunk = 100_000
        for lo in range(1, n + 1, chunk):
            for sql in data.cdrs_sql(n, lo, min(n, lo + chunk - 1)):
                conn.execute(sql)
            conn.commit()
        # Sequences past the fixed ids, so the services' own inserts get fresh ones.
        tables = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
            " AND table_schema = 'public' AND column_default LIKE 'nextval%%'"
        ).fetchall()
        for (table,) in tables:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" greatest((SELECT max(id) FROM {table}), 1))"
            )
        conn.commit()
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("charging_cdr", "rating_billingrule", "rating_billingruleversion")
        }
    with psycopg.connect(f"{pg}/{tpl}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    meta = json.dumps({"cdrs": n, "version": DATA_VERSION})
    with _admin(pg) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{tpl}\" IS '{meta}'")
    emit(
        bench="setup",
        template=tpl,
        cdrs=counts["charging_cdr"],
        rules=counts["rating_billingrule"],
        rule_versions=counts["rating_billingruleversion"],
        migrate_seconds=round(migrated - started, 1),
        reference_seconds=round(reference - migrated, 1),
        seconds=round(time.monotonic() - started, 1),
    )


def clone(pg: str, tpl: str, db: str) -> float:
    started = time.monotonic()
    with _admin(pg) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{tpl}"')
    return time.monotonic() - started


# The facts of a session as each engine's rating tenant sees it (BILLING.md section 2 and the
# lead's design): the CPO tenant (wholesale, reimbursement) sees the station side and the eMSP
# party as it knows it, plus contract / package / group of its own drivers only; the eMSP
# tenant (retail) sees its own eMSP party, contract, package and group, and of the station
# side only the country (the station is not its own).
FACTS_SQL = """
SELECT c.id, c.tenant_id, c.start_date_time, s.time_zone, l.country, c.party_id, l.id,
       st.id, (SELECT a.tariff_code_id FROM tariffs_tariffassignment a
               WHERE a.charge_station_id = st.id AND a.effective_from <= c.start_date_time
               ORDER BY a.effective_from DESC LIMIT 1),
       c.emsp_party_id, c.emsp_tenant_id, t.party_id, k.id, k.retail_package_id,
       k.user_group_id,
       (SELECT pa.payee_id FROM rating_payeeassignment pa
        WHERE pa.charge_station_id = st.id AND pa.effective_from <= c.start_date_time
        ORDER BY pa.effective_from DESC LIMIT 1)
FROM charging_cdr c
JOIN charging_chargingsession s ON s.id = c.session_id
JOIN locations_chargestation st ON st.id = s.charge_station_id
JOIN locations_location l ON l.id = st.location_id
LEFT JOIN tokens_token t ON t.id = c.token_id
LEFT JOIN customers_contract k ON k.id = c.contract_id
WHERE c.id = ANY(%s)
"""


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def sample_facts(pg: str, db: str, ids: list[int]) -> dict[str, list[tuple[int, Any]]]:
    """(rating tenant, SessionFacts) per engine for the sampled CDRs."""
    from billing.rating.match import SessionFacts

    out: dict[str, list[tuple[int, Any]]] = {"WHOLESALE": [], "RETAIL": [], "REIMBURSEMENT": []}
    with psycopg.connect(f"{pg}/{db}") as conn:
        rows = conn.execute(FACTS_SQL, [ids]).fetchall()
    for (_, tenant, start, tz, country, cpo, loc, st, code, emsp, emsp_tenant, tok_party,
         contract, package, group, payee) in rows:  # fmt: skip
        local = start.astimezone(ZoneInfo(tz))
        own_driver = emsp_tenant == tenant
        cpo_side = {
            "cpo_party": _s(cpo),
            "location": _s(loc),
            "station": _s(st),
            "tariff_code": _s(code),
        }
        driver = {
            "contract": _s(contract),
            "retail_package": _s(package),
            "user_group": _s(group),
        }
        if emsp is not None:
            cpo_facts = SessionFacts(
                start=start,
                local_start=local,
                country=country,
                emsp_party=_s(emsp),
                **cpo_side,
                **(driver if own_driver else {}),
            )
            out["WHOLESALE"].append((tenant, cpo_facts))
        if payee is not None:  # reimbursement rates payee stations only
            owner = SessionFacts(
                start=start, local_start=local, country=country, emsp_party=_s(emsp), **cpo_side
            )
            out["REIMBURSEMENT"].append((tenant, owner))
        if emsp_tenant is not None and package is not None:  # else NO_PACKAGE, not matched
            retail = SessionFacts(
                start=start,
                local_start=local,
                emsp_party=_s(tok_party),
                country=country,
                **(cpo_side if own_driver else {}),
                **driver,
            )
            out["RETAIL"].append((emsp_tenant, retail))
    return out


def rule_index(tenant: int, engine: str) -> Any:
    """The engine's RuleIndex for the tenant, as the rating service gets it (cached)."""
    from apps.rating import api as rating_api
    from apps.tariffs.contracts import BillingEngine

    return rating_api.rule_index(tenant_id=tenant, engine=BillingEngine(engine))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def bench_match(pg: str, db: str, n: int, sample: int) -> None:
    # A random sample (fixed seed): the CDR mix repeats every 10 ids, a stride would not.
    ids = sorted(random.Random(17).sample(range(1, n + 1), min(n, sample)))
    facts = sample_facts(pg, db, ids)
    for engine, items in facts.items():
        if not items:
            emit(bench="rule_match", engine=engine, samples=0)
            continue
        indexes: dict[int, Any] = {}
        built = time.perf_counter()
        for tenant in sorted({t for t, _ in items}):
            indexes[tenant] = rule_index(tenant, engine)
        built = time.perf_counter() - built
        times: list[float] = []
        outcomes: Counter[str] = Counter()
        clock = time.perf_counter_ns
        for tenant, f in items:
            index = indexes[tenant]
            index.match(f)  # warm
            t0 = clock()
            m = index.match(f)
            times.append((clock() - t0) / 1000)
            outcomes[m.reason or "MATCH"] += 1
        emit(
            bench="rule_match",
            engine=engine,
            rules=sum(i.size for i in indexes.values()),
            index_build_seconds=round(built, 3),
            samples=len(times),
            p50_us=round(_pct(times, 0.5), 2),
            p99_us=round(_pct(times, 0.99), 2),
            max_us=round(max(times), 2),
            outcomes=dict(outcomes),
        )


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc; 0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(lo: int, hi: int, batch: int) -> None:
    """One rating process: cdrs_rate over CDR ids lo..hi, `batch` ids per call."""
    from django.db import connection

    from apps.common.contracts import Actor
    from apps.rating import api as rating_api

    actor = Actor.system("bench-rating")
    totals: Counter[str] = Counter()
    with connection.cursor() as cur:  # this process's PostgreSQL backend (same machine)
        cur.execute("SELECT pg_backend_pid()")
        backend = int(cur.fetchone()[0])
    print(json.dumps({"ready": backend}), flush=True)  # the parent starts every clock at once
    sys.stdin.readline()
    backend_cpu = _proc_cpu_seconds(backend)
    started = time.monotonic()
    cpu = time.process_time()
    for first in range(lo, hi + 1, batch):
        ids = list(range(first, min(hi, first + batch - 1) + 1))
        outcome = rating_api.cdrs_rate(cdr_ids=ids, actor=actor)
        for key, value in dataclasses.asdict(outcome).items():
            if isinstance(value, int):
                totals[key] += value
    print(
        json.dumps(
            {
                "lo": lo,
                "hi": hi,
                "seconds": round(time.monotonic() - started, 2),
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "backend_cpu_seconds": round(_proc_cpu_seconds(backend) - backend_cpu, 2),
                **totals,
            }
        ),
        flush=True,
    )


COUNT_SQL = """
SELECT engine, kind, count(*), sum(total_excl_vat), count(DISTINCT cdr_id)
FROM rating_ratedline GROUP BY engine, kind ORDER BY engine, kind
"""
FLAGS_SQL = """
SELECT engine, reason, count(*) FROM rating_ratingflag GROUP BY engine, reason
ORDER BY engine, reason
"""


def bench_rate(pg: str, db: str, n: int, processes: int, batch: int) -> None:
    env = _django_env(pg, db)
    per = -(-n // processes)
    spawned = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                f"{lo},{min(n, lo + per - 1)}",
                "--batch",
                str(batch),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for lo in range(1, n + 1, per)
    ]
    for p in procs:  # Django set up and connected: then all start together
        assert p.stdout is not None
        json.loads(p.stdout.readline())
    started = time.monotonic()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"rating worker failed ({p.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    seconds = time.monotonic() - started
    with psycopg.connect(f"{pg}/{db}") as conn:
        lines = conn.execute(COUNT_SQL).fetchall()
        flags = conn.execute(FLAGS_SQL).fetchall()
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT cdr_id, engine FROM rating_ratedline WHERE kind ="
            " 'LINE' GROUP BY cdr_id, engine HAVING count(*) > 1) d"
        ).fetchone()[0]  # type: ignore[index]
    total_lines = sum(r[2] for r in lines)
    cpu = sum(r["cpu_seconds"] for r in results)
    backend_cpu = sum(r["backend_cpu_seconds"] for r in results)
    emit(
        bench="rating",
        cdrs=n,
        worker_cpu_ms_per_cdr=round(cpu * 1000 / n, 3),
        postgres_backend_cpu_ms_per_cdr=round(backend_cpu * 1000 / n, 3),
        processes=processes,
        batch=batch,
        seconds=round(seconds, 2),
        process_start_seconds=round(started - spawned, 2),
        cdrs_per_second=round(n / seconds, 1),
        lines=total_lines,
        lines_per_second=round(total_lines / seconds, 1),
        per_engine={
            f"{e}/{k}": {"lines": c, "cdrs": d, "total_excl_vat": str(s)} for e, k, c, s, d in lines
        },
        flags={f"{e}/{r}": c for e, r, c in flags},
        cdr_engines_with_two_lines=doubled,
        workers=results,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--cdrs", type=int, default=1_000_000)
    p.add_argument("--template", default="", help="default hbench_rating_tpl[_<cdrs>]")
    p.add_argument("--db", default="hbench_rating_run")
    p.add_argument("--rebuild", action="store_true", help="generate the template again")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--batch", type=int, default=1000, help="CDR ids per cdrs_rate call")
    p.add_argument(
        "--rate-cdrs",
        type=int,
        default=0,
        help="rate only the CDRs with ids 1..N of the data (default: all)",
    )
    p.add_argument("--match-sample", type=int, default=20_000)
    p.add_argument("--no-rate", action="store_true", help="rule matching only")
    p.add_argument("--keep", action="store_true", help="keep the run database")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if args.worker:
        import django

        django.setup()
        lo, hi = (int(x) for x in args.worker.split(","))
        worker(lo, hi, args.batch)
        return 0
    tpl = args.template or (
        "hbench_rating_tpl" if args.cdrs == 1_000_000 else f"hbench_rating_tpl_{args.cdrs}"
    )
    emit(bench="start", date=datetime.now().astimezone().isoformat(timespec="seconds"),
         cpus=os.cpu_count(), uptime=subprocess.run(["uptime"], capture_output=True,
         text=True).stdout.strip())  # fmt: skip
    meta = _template_meta(args.pg, tpl)
    if args.rebuild or meta != {"cdrs": args.cdrs, "version": DATA_VERSION}:
        build_template(args.pg, tpl, args.cdrs)
    emit(bench="clone", template=tpl, db=args.db, seconds=round(clone(args.pg, tpl, args.db), 1))
    os.environ.update(_django_env(args.pg, args.db))
    import django

    django.setup()
    try:
        bench_match(args.pg, args.db, args.cdrs, args.match_sample)
        if not args.no_rate:
            rate = min(args.rate_cdrs or args.cdrs, args.cdrs)
            bench_rate(args.pg, args.db, rate, args.processes, args.batch)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with _admin(args.pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    emit(bench="done", uptime=subprocess.run(["uptime"], capture_output=True,
         text=True).stdout.strip())  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
