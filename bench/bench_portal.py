"""`make bench-portal`: server time of the portal's pages with 100,000 sessions and
1,000,000 CDRs in PostgreSQL (issue 6: every list page <= 200 ms).

Builds its own database (BENCH_PORTAL_DATABASE_URL, default postgres://postgres@127.0.0.1:
5432/benchportal; kept between runs, --rebuild starts over): one tenant with 300 locations,
1,000 charge stations (2 EVSEs each), 5,000 tokens and customers, 100,000 sessions (1,000
of them active) with 10 meter values each for the newest 1,000, 1,000,000 CDRs over a year
(the newest 100,000 from those sessions), 2,000 review flags, 10,000 audit entries.

Server time: each page is requested in this process through Django's handler (the full
middleware stack, authentication, the view, its queries and the template; no network),
with a signed-in two-factor session. Per page: wall-clock p50 / p95 / max, CPU time p50 of
this process (the database's work is in wall time only), and the number of SQL queries.
One JSON line per page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_URL = os.environ.get(
    "BENCH_PORTAL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/benchportal"
)
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "100000"))
CDRS = int(os.environ.get("BENCH_CDRS", "1000000"))
TARGET_MS = 200


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


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
        DEBUG="0",
        LOG_LEVEL="WARNING",
        DATA_DIR=str(ROOT / "var" / "bench-portal"),
    )
    for name in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    return env


SETUP_SQL = [
    # 300 locations, several per address (3 car parks per street number).
    """INSERT INTO locations_location (tenant_id, created_at, updated_at, party_id, ocpi_id,
        name, address, city, postal_code, state, country, latitude, longitude, time_zone,
        parking_type, publish, opening_times, charging_when_closed)
       SELECT %(t)s, now(), now(), %(cpo)s, 'LOC' || g, 'Car park ' || g,
              'Stationsplein ' || (g / 3), 'Amsterdam', '1012AB', '', 'NLD', 52.37, 4.89,
              'Europe/Amsterdam', 'PARKING_LOT', true, NULL, true
       FROM generate_series(1, 300) g""",
    """INSERT INTO locations_chargestation (tenant_id, created_at, updated_at, identity,
        location_id, vendor, model, serial_number, firmware_version, ocpp_version,
        security_profile, password_hash, client_cert_fingerprint, enabled, last_seen_at,
        connectivity, last_boot_at, ocpp_versions, connection_id, gateway_node, roaming,
        client_cert_fingerprint_next)
       SELECT %(t)s, now(), now(), 'BENCH-' || lpad(g::text, 5, '0'),
              (SELECT min(id) FROM locations_location WHERE tenant_id = %(t)s) + (g %% 300),
              'Alfen', 'Eve Double', 'SN' || g, '6.1.' || (g %% 7), '1.6', 1, '', '', true,
              now() - (g %% 50) * interval '1 minute',
              CASE WHEN g %% 40 = 0 THEN 'offline' ELSE 'online' END, now() - interval '3 days',
              '', '', '', true, ''
       FROM generate_series(1, 1000) g""",
    """INSERT INTO locations_evse (tenant_id, created_at, updated_at, location_id,
        charge_station_id, ocpp_evse_id, uid, evse_id, status, capabilities, floor_level,
        physical_reference)
       SELECT %(t)s, now(), now(), s.location_id, s.id, e, s.identity || '-' || e,
              'NL*BCP*E' || s.id || e,
              CASE WHEN s.id %% 9 = 0 THEN 'CHARGING' WHEN s.id %% 53 = 0 THEN 'OUTOFORDER'
                   ELSE 'AVAILABLE' END, '[]'::jsonb, '', ''
       FROM locations_chargestation s, generate_series(1, 2) e WHERE s.tenant_id = %(t)s""",
    """INSERT INTO locations_connector (tenant_id, created_at, updated_at, evse_id,
        connector_id, standard, format, power_type, max_voltage, max_amperage,
        max_electric_power)
       SELECT %(t)s, now(), now(), e.id, '1', 'IEC_62196_T2', 'SOCKET', 'AC_3_PHASE', 230, 32,
              22080
       FROM locations_evse e WHERE e.tenant_id = %(t)s""",
    """INSERT INTO locations_stationconnectionevent (tenant_id, created_at, updated_at,
        charge_station_id, kind, at, node, connection_id, protocol, close_code, reason)
       SELECT %(t)s, now(), now(), s.id, k, now() - (g * 20) * interval '1 minute', 'bench-1',
              '', '1.6', NULL, ''
       FROM locations_chargestation s, generate_series(1, 4) g,
            unnest(ARRAY['DISCONNECTED', 'CONNECTED']) k
       WHERE s.tenant_id = %(t)s AND s.id %% 17 = 0""",
    """INSERT INTO tokens_token (tenant_id, created_at, updated_at, party_id, uid, type,
        contract_id, visual_number, issuer, group_id, valid, whitelist, language,
        default_profile_type, energy_contract)
       SELECT %(t)s, now(), now(), %(emsp)s, 'TOK' || lpad(g::text, 6, '0'), 'RFID',
              'NL-BEM-C' || lpad(g::text, 8, '0') || '-X', 'BEM-' || g, 'Bench eMSP', '',
              g %% 50 <> 0, 'ALLOWED', '', '', NULL
       FROM generate_series(1, 5000) g""",
    """INSERT INTO customers_customer (tenant_id, created_at, updated_at, party_id, kind, name,
        email, vat_number, address, postal_code, city, country, external_ref)
       SELECT %(t)s, now(), now(), %(emsp)s, 'person', 'Driver ' || g,
              'driver' || g || '@bench.example', '', '', '', 'Utrecht', 'NL', 'CRM-' || g
       FROM generate_series(1, 5000) g""",
    """INSERT INTO customers_contract (tenant_id, created_at, updated_at, customer_id,
        token_id, reference, valid_from, valid_until)
       SELECT %(t)s, now(), now(), c.id, k.id, 'CTR-' || c.id, now() - interval '1 year', NULL
       FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM customers_customer
             WHERE tenant_id = %(t)s) c
       JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM tokens_token
             WHERE tenant_id = %(t)s) k ON k.n = c.n""",
]

SESSIONS_SQL = """
INSERT INTO charging_chargingsession (tenant_id, created_at, updated_at, charge_station_id,
    evse_id, connector_id, token_id, id_tag, ocpp_transaction_id, status, started_at, ended_at,
    meter_start_wh, meter_stop_wh, stop_reason, time_zone, currency, energy_wh,
    live_cost_excl_vat, live_cost_incl_vat, last_event_id, live_cost_event_id, last_meter_at)
SELECT %(t)s, now(), now(), e.charge_station_id, e.id, c.id, k.id, k.uid, g::text,
       CASE WHEN g > %(n)s - 1000 THEN 'ACTIVE' ELSE 'COMPLETED' END,
       ts, CASE WHEN g > %(n)s - 1000 THEN NULL ELSE ts + interval '45 minutes' END,
       1000, CASE WHEN g > %(n)s - 1000 THEN NULL ELSE 1000 + kwh * 1000 END, '',
       'Europe/Amsterdam', 'EUR', kwh * 1000, round(kwh * 0.35 + 0.5, 4),
       round((kwh * 0.35 + 0.5) * 1.21, 4), 0, 0, ts + interval '40 minutes'
FROM (SELECT g, now() - (%(n)s - g) * interval '315 seconds' AS ts,
             round((5 + (g %% 97) * 0.4)::numeric, 4) AS kwh
      FROM generate_series(1, %(n)s) g) s
JOIN (SELECT id, charge_station_id, row_number() OVER (ORDER BY id) - 1 AS n
      FROM locations_evse WHERE tenant_id = %(t)s) e ON e.n = s.g %% 2000
JOIN locations_connector c ON c.evse_id = e.id
JOIN (SELECT id, uid, row_number() OVER (ORDER BY id) - 1 AS n FROM tokens_token
      WHERE tenant_id = %(t)s) k ON k.n = s.g %% 5000
"""

CDRS_SQL = """
INSERT INTO charging_cdr (tenant_id, created_at, updated_at, party_id, ocpi_id, kind,
    session_id, start_date_time, end_date_time, currency, total_cost_excl_vat,
    total_cost_incl_vat, total_energy_cost_excl_vat, total_energy_cost_incl_vat,
    total_fixed_cost_excl_vat, total_fixed_cost_incl_vat, total_energy_kwh, total_time_hours,
    total_parking_time_hours, data)
SELECT %(t)s, now(), now(), %(cpo)s, 'CDR' || lpad(g::text, 10, '0'), 'ORIGINAL',
       CASE WHEN g > %(total)s - %(linked)s
            THEN %(first_session)s + g - (%(total)s - %(linked)s) - 1 END,
       ts - interval '45 minutes', ts, 'EUR', round(kwh * 0.35 + 0.5, 4),
       round((kwh * 0.35 + 0.5) * 1.21, 4), round(kwh * 0.35, 4), round(kwh * 0.35 * 1.21, 4),
       0.5000, 0.6050, kwh, 0.750000, 0,
       jsonb_build_object('id', 'CDR' || lpad(g::text, 10, '0'),
         'cdr_token', jsonb_build_object('uid', 'TOK' || (g %% 5000), 'type', 'RFID'),
         'cdr_location', jsonb_build_object('id', 'LOC' || (g %% 300), 'name', 'Car park',
             'address', 'Stationsplein 1', 'city', 'Amsterdam', 'evse_uid', 'E' || (g %% 900),
             'connector_id', '1'),
         'pricing', jsonb_build_object('charging_periods', jsonb_build_array(jsonb_build_object(
             'start_date_time', to_char(ts - interval '45 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'end_date_time', to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'seconds', 2700,
             'dimensions', jsonb_build_array(
               jsonb_build_object('type', 'FLAT', 'volume', '1', 'billed_volume', '1',
                 'unit_price', '0.50', 'vat', '21', 'excl_vat', '0.5000', 'incl_vat', '0.6050'),
               jsonb_build_object('type', 'ENERGY', 'volume', kwh::text,
                 'billed_volume', kwh::text, 'unit_price', '0.35', 'vat', '21',
                 'excl_vat', round(kwh * 0.35, 4)::text,
                 'incl_vat', round(kwh * 0.35 * 1.21, 4)::text))))))
FROM (SELECT g, now() - (%(total)s - g) * interval '31.5 seconds' AS ts,
             round((5 + (g %% 97) * 0.4)::numeric, 4) AS kwh
      FROM generate_series(%(start)s, %(stop)s) g) s
"""


def prepare(rebuild: bool) -> dict[str, Any]:
    dbname = urlparse(DB_URL).path.lstrip("/")
    if rebuild:
        _psql(f'DROP DATABASE IF EXISTS "{dbname}"')
    if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"):
        _psql(f'CREATE DATABASE "{dbname}"')
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=_env(), check=True)
    os.environ.update(_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from apps.parties import api as parties
    from apps.parties.contracts import PartyRole, TenantRole

    tenant = parties.operator_ensure(slug="bench", name="Bench operator")
    cpo = parties.party_ensure(
        tenant_id=tenant, role=PartyRole.CPO, country_code="NL", party_id="BCP", name="Bench CPO"
    )
    emsp = parties.party_ensure(
        tenant_id=tenant, role=PartyRole.EMSP, country_code="NL", party_id="BEM", name="Bench eMSP"
    )
    user_id = parties.user_ensure_with_role(
        email="bench@bench.local",
        password="x" * 20,
        tenant_id=tenant,
        role=TenantRole.PLATFORM_ADMIN,
    )
    started = time.monotonic()
    p = {"t": tenant, "cpo": cpo, "emsp": emsp}
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM locations_chargestation WHERE tenant_id = %s", [tenant])
        if cur.fetchone()[0] == 0:
            for sql in SETUP_SQL:
                cur.execute(sql, p)
        cur.execute("SELECT count(*) FROM charging_chargingsession WHERE tenant_id = %s", [tenant])
        if cur.fetchone()[0] == 0:
            cur.execute(SESSIONS_SQL, {**p, "n": SESSIONS})
            cur.execute(
                """INSERT INTO charging_metervalue (tenant_id, created_at, updated_at, session_id,
                   timestamp, energy_wh, power_w, state, context, signed_data, source_index)
                   SELECT s.tenant_id, now(), now(), s.id, s.started_at + g * interval '4 minutes',
                          1000 + g * 1500, 22000, 'Charging', '', '', g
                   FROM (SELECT * FROM charging_chargingsession WHERE tenant_id = %(t)s
                         ORDER BY id DESC LIMIT 1000) s, generate_series(0, 9) g""",
                p,
            )
        cur.execute("SELECT min(id) FROM charging_chargingsession WHERE tenant_id = %s", [tenant])
        first_session = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM charging_cdr WHERE tenant_id = %s", [tenant])
        have = cur.fetchone()[0]
        linked = min(SESSIONS - 1000, CDRS)
        for start in range(have + 1, CDRS + 1, 100_000):
            stop = min(start + 99_999, CDRS)
            cur.execute(
                CDRS_SQL,
                {
                    **p,
                    "start": start,
                    "stop": stop,
                    "total": CDRS,
                    "linked": linked,
                    "first_session": first_session,
                },
            )
        cur.execute("SELECT count(*) FROM charging_reviewflag WHERE tenant_id = %s", [tenant])
        if cur.fetchone()[0] == 0:
            cur.execute(
                """INSERT INTO charging_reviewflag (tenant_id, created_at, updated_at,
                   charge_station_id, session_id, ocpp_transaction_id, reason, status, details)
                   SELECT %(t)s, now() - g * interval '1 hour', now(), s.charge_station_id, s.id,
                          s.ocpp_transaction_id, 'CLOCK_SKEW',
                          CASE WHEN g %% 4 = 0 THEN 'OPEN' ELSE 'DISMISSED' END, '{}'::jsonb
                   FROM (SELECT *, row_number() OVER (ORDER BY id) g FROM charging_chargingsession
                         WHERE tenant_id = %(t)s LIMIT 2000) s""",
                p,
            )
            cur.execute(
                """INSERT INTO parties_auditentry (tenant_id, created_at, updated_at, actor_id,
                   actor_email, actor_name, action, object_type, object_id, before, after)
                   SELECT %(t)s, now(), now(), %(u)s, 'bench@bench.local', '', 'token.block',
                          'token', g::text, '{"valid": true}'::jsonb, '{"valid": false}'::jsonb
                   FROM generate_series(1, 10000) g""",
                {**p, "u": user_id},
            )
        for table in (
            "charging_cdr",
            "charging_chargingsession",
            "locations_chargestation",
            "locations_evse",
            "tokens_token",
            "customers_customer",
        ):
            cur.execute(f"ANALYZE {table}")
        cur.execute("SELECT count(*) FROM charging_cdr WHERE tenant_id = %s", [tenant])
        cdrs = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM charging_chargingsession WHERE tenant_id = %s", [tenant])
        sessions = cur.fetchone()[0]
    emit(bench="setup", cdrs=cdrs, sessions=sessions, seconds=round(time.monotonic() - started, 1))
    return {"tenant": tenant, "user_id": user_id}


def _client(user_id: int) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(pk=user_id)
    device = TOTPDevice.objects.filter(
        user=user, confirmed=True
    ).first() or TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session["portal_auth_at"] = session["portal_seen_at"] = time.time()
    session.save()
    return client


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 1)


def pages(tenant: int) -> list[tuple[str, str, bool]]:
    """(name, URL, is a list page)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, started_at FROM charging_chargingsession WHERE tenant_id = %s "
            "ORDER BY started_at DESC, id DESC OFFSET %s LIMIT 1",
            [tenant, SESSIONS // 2],
        )
        s_id, s_at = cur.fetchone()
        cur.execute(
            "SELECT id, end_date_time FROM charging_cdr WHERE tenant_id = %s "
            "ORDER BY end_date_time DESC, id DESC OFFSET %s LIMIT 1",
            [tenant, CDRS // 2],
        )
        c_id, c_at = cur.fetchone()
        cur.execute("SELECT max(id) FROM charging_cdr WHERE tenant_id = %s", [tenant])
        cdr = cur.fetchone()[0]
        cur.execute(
            "SELECT max(id) FROM charging_chargingsession WHERE tenant_id = %s "
            "AND status = 'ACTIVE'",
            [tenant],
        )
        session = cur.fetchone()[0]
        cur.execute(
            "SELECT min(id), min(identity) FROM locations_chargestation WHERE tenant_id = %s",
            [tenant],
        )
        station, identity = cur.fetchone()
        cur.execute("SELECT min(id) FROM customers_customer WHERE tenant_id = %s", [tenant])
        customer = cur.fetchone()[0]
        cur.execute("SELECT max(id) FROM tokens_token WHERE tenant_id = %s", [tenant])
        last_token = cur.fetchone()[0]
    from urllib.parse import quote

    b = "/portal/bench/"
    return [
        ("dashboard (figures cached 60 s)", b, False),
        ("stations", b + "stations/", True),
        ("stations: status charging", b + "stations/?state=charging", True),
        ("stations: search", b + "stations/?q=BENCH-009", True),
        ("stations: live refresh (htmx)", b + "stations/?fragment=rows", True),
        ("station detail", f"{b}stations/{station}/", False),
        ("locations", b + "locations/", True),
        ("sessions", b + "sessions/", True),
        (
            f"sessions: from row {SESSIONS // 2:,} (keyset)",
            b + "sessions/?before=" + quote(f"{s_at.isoformat()}|{s_id}"),
            True,
        ),
        (
            f"sessions: newer than row {SESSIONS // 2:,} (keyset, back)",
            b + "sessions/?after=" + quote(f"{s_at.isoformat()}|{s_id}"),
            True,
        ),
        ("sessions: live (ACTIVE)", b + "sessions/?status=ACTIVE", True),
        ("sessions: one station", b + f"sessions/?station={identity}", True),
        ("session detail", f"{b}sessions/{session}/", False),
        ("cdrs", b + "cdrs/", True),
        (
            f"cdrs: from row {CDRS // 2:,} (keyset)",
            b + "cdrs/?before=" + quote(f"{c_at.isoformat()}|{c_id}"),
            True,
        ),
        (
            f"cdrs: newer than row {CDRS // 2:,} (keyset, back)",
            b + "cdrs/?after=" + quote(f"{c_at.isoformat()}|{c_id}"),
            True,
        ),
        ("cdrs: one month", b + "cdrs/?from=2026-06-01&to=2026-07-01", True),
        ("cdrs: one station", b + f"cdrs/?station={identity}", True),
        ("cdrs: by id", b + "cdrs/?q=CDR0000500000", True),
        ("cdr detail", f"{b}cdrs/{cdr}/", False),
        ("flags", b + "flags/", True),
        ("tariffs", b + "tariffs/", True),
        ("tokens", b + "tokens/", True),
        ("tokens: before the last (keyset, back)", b + f"tokens/?before={last_token}", True),
        ("tokens: search", b + "tokens/?q=C00004", True),
        ("customers", b + "customers/", True),
        ("customers: search", b + "customers/?q=driver4711", True),
        ("customer detail", f"{b}customers/{customer}/", False),
        ("audit log", b + "audit/", True),
    ]


def measure(client: Any, url: str, requests: int) -> dict[str, Any]:
    from django.db import connection, reset_queries

    walls, cpus = [], []
    for i in range(requests + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        headers = {"HTTP_HX_REQUEST": "true"} if "fragment=" in url else {}
        response = client.get(url, **headers)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert response.status_code == 200, (url, response.status_code)
        if i >= 2:  # two warm-up requests
            walls.append(wall)
            cpus.append(cpu)
    connection.force_debug_cursor = True
    reset_queries()
    client.get(url)
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    return {
        "p50_ms": _pct(walls, 0.5),
        "p95_ms": _pct(walls, 0.95),
        "max_ms": _pct(walls, 1.0),
        "cpu_p50_ms": _pct(cpus, 0.5),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the database")
    parser.add_argument("--requests", type=int, default=40, help="measured requests per page")
    args = parser.parse_args()
    info = prepare(args.rebuild)
    client = _client(info["user_id"])
    emit(bench="start", cpus=os.cpu_count(), loadavg_1m=round(os.getloadavg()[0], 2))
    missed = []
    for name, url, is_list in pages(info["tenant"]):
        result = measure(client, url, args.requests)
        met = result["p95_ms"] <= TARGET_MS if is_list else None
        if met is False:
            missed.append(name)
        emit(
            bench="portal_page",
            page=name,
            url=url,
            list_page=is_list,
            **result,
            target_ms=TARGET_MS if is_list else None,
            met=met,
        )
    # The dashboard's figures uncached: what its first request in a minute costs.
    from datetime import UTC, datetime

    from apps.charging import api as charging

    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        charging.dashboard_figures(tenant_id=info["tenant"], now=datetime.now(UTC), time_zone="UTC")
        walls.append(time.perf_counter() - t0)
    emit(
        bench="portal_query",
        what="dashboard figures, uncached (month of CDRs by day)",
        p50_ms=_pct(walls, 0.5),
        max_ms=_pct(walls, 1.0),
    )
    emit(bench="done", list_pages_missed=missed, loadavg_1m=round(os.getloadavg()[0], 2))


if __name__ == "__main__":
    main()
