"""`make bench-api`: the REST API against 1,000,000 CDRs in PostgreSQL.

Builds its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
benchapi): migrates it and inserts 1,000,000 CDRs with one INSERT ... SELECT per 100,000
rows (kept between runs; --rebuild starts over). Starts uvicorn on 127.0.0.1 with the
platform's ASGI application, loads it with a bounded client loop, prints one JSON line per
measurement and stops the server.

Targets (issue 7): a page of 100 CDRs p99 <= 50 ms at any depth; bulk upsert of 10,000
tokens <= 2 s; single token upsert >= 500 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchapi")
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/7")
CDRS = int(os.environ.get("BENCH_CDRS", "1000000"))
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))


def emit(**fields: Any) -> None:
    fields.setdefault("loadavg_1m", round(os.getloadavg()[0], 2))
    print(json.dumps(fields), flush=True)


_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every process in the server's process group: uvicorn's
    supervisor and its workers (not PostgreSQL, Redis or the client)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


class CpuMeter:
    """Server and client CPU time over a phase, per request: the figure that does not
    depend on what else runs on the machine (wall-clock latency does)."""

    def __init__(self, server_pgid: int) -> None:
        self.pgid = server_pgid
        self.server = group_cpu_seconds(server_pgid)
        self.client = self._client()

    @staticmethod
    def _client() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def per_request(self, requests: int) -> dict[str, float]:
        server = group_cpu_seconds(self.pgid) - self.server
        client = self._client() - self.client
        return {
            "server_cpu_ms_per_request": round(server * 1000 / max(requests, 1), 3),
            "client_cpu_ms_per_request": round(client * 1000 / max(requests, 1), 3),
        }


def _psql(sql: str, db: str = "postgres") -> str:
    u = urlparse(DB_URL)
    cmd = [
        "psql",
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        "-d",
        db,
        "-tAc",
        sql,
    ]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DATABASE_CONN_MAX_AGE="600",
        DATABASE_POOL=os.environ.get("BENCH_DATABASE_POOL", "1"),
        CACHE_URL=CACHE_URL,
        API_RATE_LIMIT="10000000/min",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DATA_DIR=str(ROOT / "var" / "bench"),
    )
    env.pop("REDIS_URL", None)
    return env


def prepare(rebuild: bool) -> dict[str, Any]:
    dbname = urlparse(DB_URL).path.lstrip("/")
    if rebuild:
        _psql(f'DROP DATABASE IF EXISTS "{dbname}"')
    if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"):
        _psql(f'CREATE DATABASE "{dbname}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_env(),
        check=True,
    )
    os.environ.update(_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from apps.common.contracts import Actor
    from apps.integrations import api as integrations_api
    from apps.parties import api as parties_api
    from apps.parties.contracts import PartyRole

    tenant = parties_api.operator_ensure(slug="bench", name="Bench operator")
    cpo = parties_api.party_ensure(
        tenant_id=tenant, role=PartyRole.CPO, country_code="NL", party_id="BCP", name="Bench CPO"
    )
    parties_api.party_ensure(
        tenant_id=tenant,
        role=PartyRole.EMSP,
        country_code="NL",
        party_id="BEM",
        name="Bench eMSP",
    )
    _, key = integrations_api.api_key_create(
        tenant_id=tenant,
        name="bench",
        scopes=["*:read", "*:write"],
        actor=Actor.system("bench"),
    )
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM charging_cdr WHERE tenant_id = %s", [tenant])
        have = cur.fetchone()[0]
    started = time.monotonic()
    chunk = 100_000
    with connection.cursor() as cur:
        for start in range(have, CDRS, chunk):
            stop = min(start + chunk, CDRS)
            cur.execute(
                INSERT_CDRS, {"tenant": tenant, "party": cpo, "start": start + 1, "stop": stop}
            )
        if have < CDRS:
            # As autovacuum would: statistics, and the visibility map for index-only scans.
            cur.execute("VACUUM ANALYZE charging_cdr")
        cur.execute(
            "SELECT count(*), min(id), max(id) FROM charging_cdr WHERE tenant_id = %s", [tenant]
        )
        count, min_id, max_id = cur.fetchone()
    emit(
        bench="setup",
        cdrs=count,
        inserted=max(0, CDRS - have),
        seconds=round(time.monotonic() - started, 1),
    )
    connection.close()
    return {"key": key, "min_id": min_id, "max_id": max_id, "count": count}


# One year of CDRs, one every 31.5 s, each with a charging period, token and location, in the
# OCPI shape (numbers in `data` are JSON numbers).
INSERT_CDRS = """
INSERT INTO charging_cdr (
    tenant_id, created_at, updated_at, party_id, ocpi_id, kind, start_date_time,
    end_date_time, currency, total_cost_excl_vat, total_cost_incl_vat,
    total_energy_cost_excl_vat, total_energy_cost_incl_vat, total_fixed_cost_excl_vat,
    total_fixed_cost_incl_vat, total_energy_kwh, total_time_hours, total_parking_time_hours,
    data)
SELECT %(tenant)s, now(), now(), %(party)s, 'CDR' || lpad(g::text, 10, '0'), 'ORIGINAL',
       ts - interval '45 minutes', ts, 'EUR', round(kwh * 0.35 + 0.5, 4),
       round((kwh * 0.35 + 0.5) * 1.21, 4), round(kwh * 0.35, 4), round(kwh * 0.35 * 1.21, 4),
       0.5000, 0.6050, kwh, 0.750000, 0,
       jsonb_build_object(
         'country_code', 'NL', 'party_id', 'BCP', 'id', 'CDR' || lpad(g::text, 10, '0'),
         'session_id', 'S' || g, 'auth_method', 'WHITELIST',
         'cdr_token', jsonb_build_object('country_code', 'NL', 'party_id', 'BEM',
             'uid', 'TOK' || (g %% 5000), 'type', 'RFID', 'contract_id', 'NL-BEM-C' || (g %% 5000)),
         'cdr_location', jsonb_build_object('id', 'LOC' || (g %% 300), 'address', 'Stationsplein 1',
             'city', 'Amsterdam', 'country', 'NLD', 'evse_uid', 'EVSE' || (g %% 900),
             'evse_id', 'NL*BCP*E' || (g %% 900), 'connector_id', '1',
             'connector_standard', 'IEC_62196_T2', 'connector_format', 'SOCKET',
             'connector_power_type', 'AC_3_PHASE',
             'coordinates', jsonb_build_object('latitude', '52.3791283', 'longitude', '4.9003620')),
         'tariffs', '[]'::jsonb,
         'charging_periods', jsonb_build_array(jsonb_build_object(
             'start_date_time', to_char(ts - interval '45 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'dimensions', jsonb_build_array(
                 jsonb_build_object('type', 'ENERGY', 'volume', kwh),
                 jsonb_build_object('type', 'TIME', 'volume', 0.75)))))
FROM (
    SELECT g, timestamptz '2025-11-22 00:00:00+00' + g * interval '31.5 seconds' AS ts,
           round((5 + (g %% 97) * 0.4)::numeric, 4) AS kwh
    FROM generate_series(%(start)s, %(stop)s) AS g
) s
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("uvicorn")),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=_env(),
            start_new_session=True,
        )

    def wait(self, key: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = request(Client(self.port, key), "GET", "/api/v1/tokens?limit=1")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def request(client: Client, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    client.conn.request(method, path, body=data, headers=client.headers)
    response = client.conn.getresponse()
    return response.status, response.read()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 2)


def bench_cdr_pages(port: int, key: str, info: dict[str, Any], requests: int, pgid: int) -> None:
    import base64

    client = Client(port, key)
    span = info["max_id"] - info["min_id"]
    for depth in (0.0, 0.25, 0.5, 0.75, 0.9999):
        after = info["min_id"] + int(span * depth) - 1
        cursor = base64.urlsafe_b64encode(f"v1:{after}".encode()).decode().rstrip("=")
        path = "/api/v1/cdrs?limit=100" + (f"&cursor={cursor}" if depth else "")
        times = []
        request(client, "GET", path)  # warm: this depth's pages into the buffer cache
        meter = CpuMeter(pgid)
        for _ in range(requests):
            t = time.perf_counter()
            status, body = request(client, "GET", path)
            times.append(time.perf_counter() - t)
            assert status == 200, body[:300]
        rows = len(json.loads(body)["data"])
        emit(
            bench="cdr_page",
            depth=depth,
            rows=rows,
            requests=requests,
            p50_ms=_pct(times, 0.5),
            p99_ms=_pct(times, 0.99),
            max_ms=_pct(times, 1.0),
            **meter.per_request(requests),
        )
    # Yesterday's CDRs, relative to the data's last day: a date filter walked page by page.
    times = []
    path = "/api/v1/cdrs?limit=100&date_from=2026-11-20T00:00:00Z&date_to=2026-11-21T00:00:00Z"
    pages = 0
    rows = 0
    while path and pages < 100:
        t = time.perf_counter()
        status, body = request(client, "GET", path)
        times.append(time.perf_counter() - t)
        page = json.loads(body)
        rows += len(page["data"])
        pages += 1
        nxt = page["next_cursor"]
        path = (path.split("&cursor=")[0] + f"&cursor={nxt}") if nxt else ""
    emit(
        bench="cdr_day_walk",
        pages=pages,
        rows=rows,
        p50_ms=_pct(times, 0.5),
        p99_ms=_pct(times, 0.99),
        max_ms=_pct(times, 1.0),
    )


def _token(uid: str) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "BEM",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-BEM-{uid}",
        "issuer": "Bench eMSP",
    }


def bench_bulk(port: int, key: str, runs: int) -> None:
    client = Client(port, key)
    stamp = int(time.time())
    for run in range(runs):
        # Run 0 creates 10,000 new tokens; later runs update the same 10,000.
        items = [_token(f"BULK{stamp}-{i:05d}") for i in range(10_000)]
        for item in items:
            item["issuer"] = f"Bench eMSP run {run}"
        t = time.perf_counter()
        status, body = request(client, "POST", "/api/v1/tokens/bulk", {"items": items})
        seconds = time.perf_counter() - t
        assert status == 200, body[:500]
        report = json.loads(body)
        emit(
            bench="token_bulk_upsert",
            run=run,
            items=10_000,
            created=report["created"],
            updated=report["updated"],
            seconds=round(seconds, 3),
        )


WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local uid = "W" .. (counter %% 2000)
  local body = '{"contract_id":"NL-BEM-' .. uid .. '","issuer":"Bench","type":"RFID",' ..
               '"visual_number":"' .. counter .. '"}'
  return wrk.format("PUT", "/api/v1/tokens/NL/BEM/" .. uid,
                    {["Authorization"] = "Bearer %s", ["Content-Type"] = "application/json"},
                    body)
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def bench_single_upsert_wrk(
    port: int, key: str, seconds: float, connections: int, pgid: int
) -> None:
    """Single upserts from `wrk` (C, one thread, keep-alive connections, a Lua script for
    the PUT bodies): a load generator that leaves the two cores to the server."""
    script = ROOT / "var" / "bench" / "put_token.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(WRK_SCRIPT % key)
    meter = CpuMeter(pgid)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    emit(
        bench="token_single_upsert",
        client="wrk -t1",
        connections=connections,
        seconds=seconds,
        requests=requests,
        errors=int(bad.group(1)) if bad else 0,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        **meter.per_request(requests),
    )


def bench_single_upsert(
    port: int, key: str, seconds: float, threads: int, pgid: int | None = None
) -> None:
    stop_at = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads

    def loop(n: int) -> None:
        client = Client(port, key)
        i = 0
        while time.monotonic() < stop_at:
            uid = f"ONE{n}-{i % 2000}"
            body = {
                "contract_id": f"NL-BEM-{uid}",
                "issuer": "Bench",
                "type": "RFID",
                "visual_number": str(i),
            }
            t = time.perf_counter()
            status, _ = request(client, "PUT", f"/api/v1/tokens/NL/BEM/{uid}", body)
            latencies[n].append(time.perf_counter() - t)
            if status not in (200, 201):
                errors[n] += 1
            i += 1

    meter = CpuMeter(pgid) if pgid else None
    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    flat = [x for lat in latencies for x in lat]
    emit(
        bench="token_single_upsert",
        threads=threads,
        seconds=round(elapsed, 1),
        requests=len(flat),
        errors=sum(errors),
        rps=round(len(flat) / elapsed, 1),
        p50_ms=_pct(flat, 0.5),
        p99_ms=_pct(flat, 0.99),
        client="python threads",
        **(meter.per_request(len(flat)) if meter else {}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the database")
    parser.add_argument("--page-requests", type=int, default=300)
    parser.add_argument("--upsert-seconds", type=float, default=15)
    parser.add_argument("--threads", type=int, default=8, help="python client threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    args = parser.parse_args()
    info = prepare(args.rebuild)
    port = _free_port()
    server = Server(port)
    try:
        server.wait(info["key"])
        emit(
            bench="server",
            url=f"http://127.0.0.1:{port}",
            workers=WORKERS,
            cpus=os.cpu_count(),
            database_pool=_env()["DATABASE_POOL"],
        )
        pgid = server.proc.pid
        bench_cdr_pages(port, info["key"], info, args.page_requests, pgid)
        bench_bulk(port, info["key"], runs=3)
        if shutil.which("wrk"):
            bench_single_upsert_wrk(port, info["key"], args.upsert_seconds, args.connections, pgid)
        else:
            emit(bench="note", message="wrk not installed (apt-get install wrk): python client")
            bench_single_upsert(port, info["key"], args.upsert_seconds, args.threads, pgid)
        emit(bench="done")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
