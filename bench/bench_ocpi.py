"""`make bench-ocpi`: issue 19's Speed targets for OCPI roaming, on PostgreSQL.

Builds its own database (BENCH_OCPI_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
bench_ocpi): migrates it and inserts a CPO with --locations locations of
--evses-per-location EVSEs (one station and one connector per EVSE) with bulk_create, kept
between runs (--rebuild starts over; a larger --locations adds the missing ones). Then, per
phase (--phases), prints one JSON line per measurement with `meets_target`, the correctness
counts, a {"bench": "summary"} line and {"bench": "done"}:

- pull: a partner eMSP's full paginated pull of GET /ocpi/2.2.1/cpo/locations through the
  real view (Django's test Client, in process: no HTTP server), following Link with the
  partner's token, after one untimed request and `gc.freeze()` (as the web process,
  config/asgi.py); page p50/p99 per offset band (tenths of the list), the whole pull's wall
  time; items, pages, duplicates. Target: page p99 <= 50 ms at any offset.
- push: --cdrs CDR pushes into the push outbox (apps.roaming.services.push.push_enqueue),
  drained by `push_drain` to a loopback HTTP receiver that answers 500 to every 100th
  request, so retries happen. The back-off waits are not slept: the drain is given the time
  (`now=`) at which the failed row is due again. Target: >= 500 CDRs/s sent; every CDR
  arrived exactly once.
- receive: --cdrs CDRs POSTed to /ocpi/2.2.1/emsp/cdrs after the partner CPO PUT its tariff
  and location: by default (--receive-mode server) to real uvicorn worker processes as the
  Procfile starts them (--workers, default the core count; Django's psycopg pool) by
  --clients concurrent keep-alive HTTP clients on loopback, CPU per CDR of the server
  processes and their PostgreSQL backends; --receive-mode inprocess: the test Client, one
  request at a time, CPU of this process; each is stored, re-priced against the
  tariff and billed (apps.roaming.services.emsp_cdrs.cdr_receive). Target: >= 300 CDRs/s;
  every CDR stored and billed once (repeats answer 200 and store nothing).
- status: --status-changes StatusNotifications recorded as the gateway records them (one
  every --status-interval s); a real Celery worker process runs `roaming.ocpi_events` and the
  push drain; latency from the commit to the EVSE PATCH at the loopback receiver. Target:
  p95 <= 2 s; every change arrived exactly once.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlparse, urlsplit, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DB_URL = os.environ.get("BENCH_OCPI_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ocpi")
PULL_TOKEN = "bench-ocpi-pull-partner-token-0123456789"
CPO_TOKEN = "bench-ocpi-cpo-partner-token-0123456789"
TOKENS = 100  # the eMSP's drivers whose CDRs come in

TARGET_PAGE_P99_MS = 50.0
TARGET_PUSH_PER_S = 500.0
TARGET_RECEIVE_PER_S = 300.0
TARGET_STATUS_P95_S = 2.0


def emit(**fields: Any) -> None:
    fields.setdefault("loadavg_1m", round(os.getloadavg()[0], 2))
    print(json.dumps(fields, default=str), flush=True)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 2)


def _psql(sql: str) -> str:
    u = urlparse(DB_URL)
    cmd = [
        "psql", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432),
        "-U", u.username or "postgres", "-d", "postgres", "-tAc", sql,
    ]  # fmt: skip
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


# The Redis dbs of this bench's broker and results (docs/benchmarks.md): never the test
# suite's (0 / 1), whose worker would otherwise take this bench's tasks to its own database.
REDIS_DBS = (8, 9)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DEBUG="0",
        LOG_LEVEL="WARNING",
        OUTBOUND_HTTP_ALLOW_LOOPBACK="1",
        DATA_DIR=str(ROOT / "var" / "bench"),
    )
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:  # without Redis: the filesystem broker in this bench's own DATA_DIR
        server = urlunparse(urlparse(redis_url)._replace(path=""))
        env.update(
            REDIS_URL=f"{server}/{REDIS_DBS[0]}",
            CELERY_BROKER_URL=f"{server}/{REDIS_DBS[0]}",
            CELERY_RESULT_BACKEND=f"{server}/{REDIS_DBS[1]}",
        )
    return env


def _flush_redis() -> None:
    """Empty this bench's broker and result dbs (a message left by an earlier run is not
    this run's)."""
    env = _env()
    if env.get("CELERY_BROKER_URL", "").startswith("redis"):
        import redis

        for url in (env["CELERY_BROKER_URL"], env["CELERY_RESULT_BACKEND"]):
            redis.Redis.from_url(url).flushdb()


def _auth(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


# --- the database -------------------------------------------------------------------------


def prepare(*, rebuild: bool, locations: int, evses_per_location: int) -> dict[str, Any]:
    dbname = urlparse(DB_URL).path.lstrip("/")
    if rebuild:
        _psql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    if not _psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"):
        _psql(f'CREATE DATABASE "{dbname}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_env(),
        check=True,
    )
    _flush_redis()
    os.environ.update(_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    started = time.monotonic()
    cpo = _cpo_world()
    added = _locations(cpo["tenant_id"], cpo["party_pk"], locations, evses_per_location)
    emsp = _emsp_world()
    from apps.locations.models import Evse, Location

    emit(
        bench="setup",
        database=dbname,
        locations=Location.objects.filter(party_id=cpo["party_pk"]).count(),
        evses=Evse.objects.filter(location__party_id=cpo["party_pk"]).count(),
        added_locations=added,
        seconds=round(time.monotonic() - started, 1),
    )
    return {"cpo": cpo, "emsp": emsp}


def _connection(tenant: Any, name: str, token: str, **fields: Any) -> Any:
    from apps.common import crypto
    from apps.roaming import transport
    from apps.roaming.models import OcpiConnection

    conn, _ = OcpiConnection.objects.get_or_create(
        tenant=tenant,
        name=name,
        defaults=dict(
            versions_url="http://127.0.0.1:9/ocpi/versions",
            version="2.2.1",
            status="REGISTERED",
            initiator="US",
            our_token_digest=transport.token_digest(token),
            their_token_encrypted=crypto.encrypt("their-" + token),
            auth_base64=True,
            **fields,
        ),
    )
    return conn


def _cpo_world() -> dict[str, Any]:
    """Our CPO tenant (NL*BCP) with two REGISTERED eMSP partners: one pulls our locations,
    one receives our CDR pushes (its endpoint is the loopback receiver of each run)."""
    from apps.parties.models import Operator, Party
    from apps.roaming.models import OcpiPartyRole

    tenant, _ = Operator.objects.get_or_create(slug="bench-ocpi-cpo", defaults={"name": "CPO"})
    party, _ = Party.objects.get_or_create(
        tenant=tenant,
        role="CPO",
        country_code="NL",
        party_id="BCP",
        defaults={"kind": "OWN", "name": "Bench CPO"},
    )
    Party.objects.get_or_create(
        tenant=tenant,
        role="EMSP",
        country_code="DE",
        party_id="BEM",
        defaults={"kind": "PARTNER", "name": "Bench eMSP"},
    )
    pull = _connection(tenant, "pull partner", PULL_TOKEN, publish_all_locations=True)
    push = _connection(tenant, "push partner", "bench-ocpi-push-" + "x" * 24)
    for conn in (pull, push):
        OcpiPartyRole.objects.get_or_create(
            tenant=tenant, connection=conn, role="EMSP", country_code="DE", party_id="BEM"
        )
    return {
        "tenant_id": tenant.pk,
        "party_pk": party.pk,
        "pull_connection": pull.pk,
        "push_connection": push.pk,
    }


def _locations(tenant_id: int, party_pk: int, wanted: int, per_location: int) -> int:
    """Locations LOC000000.. up to `wanted`, each with `per_location` EVSEs on one station,
    one connector each; inserted 1,000 locations at a time."""
    from django.db import connection, transaction

    from apps.locations.models import ChargeStation, Connector, Evse, Location

    have = Location.objects.filter(party_id=party_pk).count()
    chunk = 1000
    for start in range(have, wanted, chunk):
        stop = min(start + chunk, wanted)
        with transaction.atomic():
            locs = Location.objects.bulk_create(
                Location(
                    tenant_id=tenant_id,
                    party_id=party_pk,
                    ocpi_id=f"LOC{i:06d}",
                    name=f"Bench location {i}",
                    address=f"Stationsplein {i % 200 + 1}",
                    city="Amsterdam",
                    postal_code="1012AB",
                    country="NLD",
                    latitude=Decimal("52.3") + Decimal(i % 1000) / 10000,
                    longitude=Decimal("4.9") + Decimal(i // 1000) / 10000,
                    time_zone="Europe/Amsterdam",
                )
                for i in range(start, stop)
            )
            stations = ChargeStation.objects.bulk_create(
                ChargeStation(
                    tenant_id=tenant_id,
                    location=loc,
                    identity=f"BENCH-{loc.ocpi_id}",
                    vendor="Alfen",
                    model="Eve Double",
                    ocpp_version="1.6",
                )
                for loc in locs
            )
            evses = Evse.objects.bulk_create(
                Evse(
                    tenant_id=tenant_id,
                    location=loc,
                    charge_station=st,
                    ocpp_evse_id=n + 1,
                    uid=f"{loc.ocpi_id}-E{n + 1}",
                    evse_id=f"NL*BCP*E{loc.ocpi_id[3:]}{n + 1}",
                    status="AVAILABLE",
                )
                for loc, st in zip(locs, stations, strict=True)
                for n in range(per_location)
            )
            Connector.objects.bulk_create(
                Connector(
                    tenant_id=tenant_id,
                    evse=e,
                    connector_id="1",
                    standard="IEC_62196_T2",
                    format="SOCKET",
                    power_type="AC_3_PHASE",
                    max_voltage=230,
                    max_amperage=32,
                    max_electric_power=22080,
                )
                for e in evses
            )
    if have < wanted:
        with connection.cursor() as cur:
            for table in ("locations_location", "locations_evse", "locations_connector"):
                cur.execute(f"VACUUM ANALYZE {table}")
    return max(0, wanted - have)


def _emsp_world() -> dict[str, Any]:
    """Our eMSP tenant (NL*EMS) with a REGISTERED CPO partner (DE*CPO, VAT 19 %) whose CDRs
    come in, and TOKENS of our drivers' tokens the CDRs name."""
    from apps.parties.models import Operator, Party
    from apps.roaming.models import OcpiEndpoint, OcpiPartyRole
    from apps.tokens.models import Token

    tenant, _ = Operator.objects.get_or_create(slug="bench-ocpi-emsp", defaults={"name": "eMSP"})
    own, _ = Party.objects.get_or_create(
        tenant=tenant,
        role="EMSP",
        country_code="NL",
        party_id="EMS",
        defaults={"kind": "OWN", "name": "Bench eMSP"},
    )
    partner, _ = Party.objects.get_or_create(
        tenant=tenant,
        role="CPO",
        country_code="DE",
        party_id="CPO",
        defaults={"kind": "PARTNER", "name": "Partner CPO", "vat_rate": Decimal("19")},
    )
    conn = _connection(tenant, "CPO partner", CPO_TOKEN)
    OcpiPartyRole.objects.get_or_create(
        tenant=tenant,
        connection=conn,
        role="CPO",
        country_code="DE",
        party_id="CPO",
        defaults={"partner": partner},
    )
    for module, role in (("locations", "SENDER"), ("tariffs", "SENDER"), ("cdrs", "SENDER")):
        OcpiEndpoint.objects.get_or_create(
            tenant=tenant,
            connection=conn,
            module=module,
            role=role,
            defaults={"url": f"http://127.0.0.1:9/ocpi/cpo/2.2.1/{module}"},
        )
    for n in range(TOKENS):
        Token.objects.get_or_create(
            tenant=tenant,
            party=own,
            uid=f"04B{n:05X}",
            defaults={"type": "RFID", "contract_id": f"NL-EMS-C{n:08d}-X", "issuer": "Bench"},
        )
    return {"tenant_id": tenant.pk, "connection": conn.pk}


# --- pull ---------------------------------------------------------------------------------


def bench_pull(world: dict[str, Any], rounds: int) -> dict[str, Any]:
    from django.test import Client

    from apps.roaming import transport

    client = Client(HTTP_AUTHORIZATION=_auth(PULL_TOKEN))
    # As the web process: its first request loads the views (not timed here either), and
    # config/asgi.py freezes what start-up loaded out of the collector's generations (a
    # full collection over the whole heap of this process: 100-150 ms, on 4 % of pages).
    client.get("/ocpi/2.2.1/cpo/locations?limit=1")
    gc.freeze()
    times: list[tuple[int, float]] = []  # (offset, seconds)
    walls: list[float] = []
    total = pages = items = evses = duplicates = errors = 0
    for _ in range(rounds):
        seen: set[str] = set()
        pages = items = evses = 0
        path: str | None = "/ocpi/2.2.1/cpo/locations"
        offset = 0
        started = time.perf_counter()
        while path:
            t = time.perf_counter()
            resp = client.get(path)
            times.append((offset, time.perf_counter() - t))
            body = transport.loads(resp.content)
            if resp.status_code != 200 or body.get("status_code") != 1000:
                errors += 1
                break
            total = int(resp["X-Total-Count"])
            pages += 1
            for loc in body["data"]:
                duplicates += loc["id"] in seen
                seen.add(loc["id"])
                evses += len(loc.get("evses") or ())
            items += len(body["data"])
            link = transport.parse_next_link(resp.get("Link", ""))
            if link:
                parts = urlsplit(link)
                path = f"{parts.path}?{parts.query}"
                offset = int(dict(q.split("=", 1) for q in parts.query.split("&"))["offset"])
            else:
                path = None
        walls.append(time.perf_counter() - started)
    worst = 0.0
    for band in range(10):
        lo, hi = total * band // 10, total * (band + 1) // 10
        sample = [s for o, s in times if lo <= o < hi]
        if not sample:
            continue
        p99 = _pct(sample, 0.99)
        worst = max(worst, p99)
        emit(
            bench="pull_page",
            offsets=f"{lo}-{hi - 1}",
            pages=len(sample),
            p50_ms=_pct(sample, 0.5),
            p99_ms=p99,
            max_ms=_pct(sample, 1.0),
            target_p99_ms=TARGET_PAGE_P99_MS,
            meets_target=p99 <= TARGET_PAGE_P99_MS,
        )
    clean = errors == 0 and duplicates == 0 and items == total
    result = {
        "bench": "pull",
        "rounds": rounds,
        "total_count": total,
        "pages": pages,
        "items": items,
        "evses": evses,
        "duplicates": duplicates,
        "errors": errors,
        "wall_s": [round(w, 2) for w in walls],
        "page_p50_ms": _pct([s for _, s in times], 0.5),
        "page_p99_ms": _pct([s for _, s in times], 0.99),
        "worst_band_p99_ms": worst,
        "counts_clean": clean,
        "meets_target": clean and worst <= TARGET_PAGE_P99_MS,
    }
    emit(**result)
    return result


# --- push ---------------------------------------------------------------------------------


class Receiver:
    """A loopback OCPI CDR receiver (HTTP/1.1 keep-alive): answers 500 to every
    `fail_every`-th request, else 200 / 1000, and counts the CDR ids it accepted."""

    def __init__(self, fail_every: int) -> None:
        self.accepted: Counter[str] = Counter()
        self.patches: list[tuple[float, str, str]] = []  # (monotonic arrival, path, status)
        self.requests = 0
        self.failed = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.requests += 1
                    fail = fail_every > 0 and outer.requests % fail_every == 0
                    if fail:
                        outer.failed += 1
                    else:
                        outer.accepted[json.loads(raw)["id"]] += 1
                out = (
                    b'{"status_code": 3000, "timestamp": "2026-12-07T12:00:00Z"}'
                    if fail
                    else b'{"status_code": 1000, "timestamp": "2026-12-07T12:00:00Z"}'
                )
                self.send_response(500 if fail else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_PATCH(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.patches.append((time.monotonic(), self.path, json.loads(raw)["status"]))
                out = b'{"status_code": 1000, "timestamp": "2026-12-07T12:00:00Z"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/ocpi/emsp/2.2.1/cdrs"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/ocpi/emsp/2.2.1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def push_cdr_body(n: int, run: str) -> dict[str, Any]:
    """A realistic 2.2.1 CDR of ours (the shape apps.roaming.objects.cdr_object renders)."""
    return {
        "country_code": "NL",
        "party_id": "BCP",
        "id": f"P{run}-{n:07d}",
        "start_date_time": "2026-12-01T10:00:00Z",
        "end_date_time": "2026-12-01T11:00:00Z",
        "cdr_token": {
            "country_code": "DE",
            "party_id": "BEM",
            "uid": f"04C{n % 5000:05X}",
            "type": "RFID",
            "contract_id": f"DE-BEM-C{n % 5000:08d}-X",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": f"LOC{n % 10000:06d}",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "postal_code": "1012AB",
            "country": "NLD",
            "coordinates": {"latitude": "52.3791283", "longitude": "4.9003620"},
            "evse_uid": f"LOC{n % 10000:06d}-E1",
            "evse_id": f"NL*BCP*E{n % 10000:06d}1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "tariffs": [
            {
                "country_code": "NL",
                "party_id": "BCP",
                "id": "AC",
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [
                            {
                                "type": "ENERGY",
                                "price": Decimal("0.35"),
                                "vat": Decimal("21"),
                                "step_size": 1,
                            }
                        ]
                    }
                ],
                "last_updated": "2026-11-01T00:00:00Z",
            }
        ],  # fmt: skip
        "charging_periods": [
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal("12.5")},
                    {"type": "TIME", "volume": Decimal("1")},
                ],
                "tariff_id": "AC",
            }
        ],
        "total_cost": {"excl_vat": Decimal("4.38"), "incl_vat": Decimal("5.30")},
        "total_energy_cost": {"excl_vat": Decimal("4.38"), "incl_vat": Decimal("5.30")},
        "total_energy": Decimal("12.5"),
        "total_time": Decimal("1"),
        "last_updated": "2026-12-01T11:05:00Z",
    }


@contextmanager
def _no_celery() -> Iterator[None]:
    """The bench drives the drain itself: no drain jobs to the broker."""
    from apps.roaming.services import push

    with mock.patch.object(push, "drain_enqueue"):
        yield


def bench_push(world: dict[str, Any], cdrs: int, fail_every: int) -> dict[str, Any]:
    from django.utils import timezone

    from apps.roaming.models import OcpiEndpoint, OcpiExchange, OcpiPush
    from apps.roaming.services import push

    conn_id = world["push_connection"]
    receiver = Receiver(fail_every)
    try:
        OcpiPush.objects.filter(connection_id=conn_id).delete()
        OcpiExchange.objects.filter(connection_id=conn_id).delete()
        OcpiEndpoint.objects.update_or_create(
            tenant_id=world["tenant_id"],
            connection_id=conn_id,
            module="cdrs",
            role="RECEIVER",
            defaults={"url": receiver.url},
        )
        run = f"{int(time.time())}"
        bodies = [push_cdr_body(n, run) for n in range(cdrs)]
        with _no_celery():
            started = time.perf_counter()
            for body in bodies:
                push.push_enqueue(
                    connection_id=conn_id,
                    module="cdrs",
                    method="POST",
                    path="",
                    key=f"cdr:{body['id']}",
                    body=body,
                    to_party=("DE", "BEM"),
                )
            enqueue_s = time.perf_counter() - started
            now = timezone.now()
            drains = sent = 0
            started = time.perf_counter()
            pending = OcpiPush.objects.filter(connection_id=conn_id, status="PENDING")
            while True:
                sent += push.push_drain(connection_id=conn_id, now=now)
                drains += 1
                # The oldest pending row holds the line (order per connection): its time.
                head = pending.order_by("id").values_list("next_attempt_at", flat=True)[:1]
                if not head:
                    break
                due = head[0]
                now = max(now, due)  # the back-off passes (not slept: see the docstring)
            drain_s = time.perf_counter() - started
    finally:
        receiver.close()
    statuses = Counter(
        OcpiPush.objects.filter(connection_id=conn_id).values_list("status", flat=True)
    )
    once = sum(1 for c in receiver.accepted.values() if c == 1)
    clean = (
        len(receiver.accepted) == cdrs
        and once == cdrs
        and statuses.get("SENT", 0) == cdrs
        and sent == cdrs
    )
    rate = sent / drain_s
    result = {
        "bench": "push",
        "cdrs": cdrs,
        "enqueue_per_s": round(cdrs / enqueue_s, 1),
        "drain_s": round(drain_s, 2),
        "drains": drains,
        "receiver_requests": receiver.requests,
        "receiver_500s": receiver.failed,
        "arrived": len(receiver.accepted),
        "arrived_once": once,
        "arrived_twice_or_more": sum(1 for c in receiver.accepted.values() if c > 1),
        "outbox": dict(statuses),
        "sent_per_s": round(rate, 1),
        "target_per_s": TARGET_PUSH_PER_S,
        "counts_clean": clean,
        "meets_target": clean and rate >= TARGET_PUSH_PER_S,
    }
    emit(**result)
    return result


# --- receive ------------------------------------------------------------------------------


def tariff_doc() -> dict[str, Any]:
    """0.30/kWh and 2.00/h charging time, 19 % VAT, EUR."""
    return {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {
                        "type": "ENERGY",
                        "price": Decimal("0.30"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                    {
                        "type": "TIME",
                        "price": Decimal("2.00"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                ]
            }
        ],  # fmt: skip
        "last_updated": "2026-12-01T09:00:00Z",
    }


def location_doc() -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "Loc1",
        "publish": True,
        "address": "Hauptstr. 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": "Europe/Berlin",
        "evses": [
            {
                "uid": "Evse1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "tariff_ids": ["T1"],
                        "last_updated": "2026-12-01T10:00:00Z",
                    }
                ],
                "last_updated": "2026-12-01T10:00:00Z",
            }
        ],
        "last_updated": "2026-12-01T10:00:00Z",
    }


def received_cdr_doc(n: int, run: str) -> dict[str, Any]:
    """12.5 kWh over one hour with T1: energy 3.75, time 2.00, total 5.75 excl. VAT."""
    return {
        "country_code": "DE",
        "party_id": "CPO",
        "id": f"R{run}-{n:07d}",
        "start_date_time": "2026-12-01T10:00:00Z",
        "end_date_time": "2026-12-01T11:00:00Z",
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": f"04B{n % TOKENS:05X}",
            "type": "RFID",
            "contract_id": f"NL-EMS-C{n % TOKENS:08d}-X",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "Loc1",
            "address": "Hauptstr. 1",
            "city": "Berlin",
            "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": "Evse1",
            "evse_id": "DE*CPO*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal("12.5")},
                    {"type": "TIME", "volume": Decimal("1")},
                ],
                "tariff_id": "T1",
            }
        ],
        "total_cost": {"excl_vat": Decimal("5.75"), "incl_vat": Decimal("6.84")},
        "total_energy_cost": {"excl_vat": Decimal("3.75"), "incl_vat": Decimal("4.46")},
        "total_time_cost": {"excl_vat": Decimal("2.00"), "incl_vat": Decimal("2.38")},
        "total_energy": Decimal("12.5"),
        "total_time": Decimal("1"),
        "last_updated": "2026-12-01T11:05:00Z",
    }


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc; 0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


def _children(pid: int) -> list[int]:
    """The process and all its descendants (from /proc)."""
    found = [pid]
    for p in found:
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The web process as the Procfile starts it (`uvicorn config.asgi:application
    --no-access-log --lifespan off`), with `workers` worker processes, on a free loopback
    port, the bench database and Django's psycopg pool (DATABASE_POOL=1); ready once
    /healthz answers."""

    def __init__(self, workers: int, extra_env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        log = ROOT / "var" / "bench" / "bench_ocpi_web.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "w")  # noqa: SIM115
        env = {**_env(), "DATABASE_POOL": "1", "OCPI_BASE_URL": self.base, **(extra_env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers), "--no-access-log",
             "--lifespan", "off"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        import http.client

        deadline = time.monotonic() + 90
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start (see {log})")
            time.sleep(0.2)  # polling the server's start-up, not timing anything

    def cpu_seconds(self) -> float:
        return sum(_proc_cpu_seconds(p) for p in _children(self.proc.pid))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _pg_backends_cpu(exclude: int) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend on the bench database but ours."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s",
            [exclude],
        )
        return {int(pid): _proc_cpu_seconds(int(pid)) for (pid,) in cur.fetchall()}


def _post_all(
    port: int, path: str, bodies: list[bytes], headers: dict[str, str], clients: int
) -> tuple[Counter[int], list[float]]:
    """POST each body once over `clients` concurrent keep-alive HTTP/1.1 connections
    (threads, http.client); the statuses and each request's time."""
    import http.client

    statuses: Counter[int] = Counter()
    times: list[float] = []
    lock = threading.Lock()
    queue = iter(enumerate(bodies))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[tuple[int, float]] = []
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                break
            t = time.perf_counter()
            conn.request("POST", path, body=item[1], headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((resp.status, time.perf_counter() - t))
        conn.close()
        with lock:
            for status, took in mine:
                statuses[status] += 1
                times.append(took)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, times


def bench_receive(
    world: dict[str, Any],
    cdrs: int,
    *,
    mode: str = "server",
    workers: int = 2,
    clients: int = 8,
    server_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`mode` "server": real uvicorn worker processes and `clients` concurrent HTTP
    clients over loopback (CPU: the server processes and their PostgreSQL backends);
    "inprocess": Django's test Client, one at a time (CPU: this process and its backend)."""
    from django.test import Client

    from apps.charging.models import Cdr
    from apps.roaming import transport
    from apps.roaming.models import ForeignCdr

    tenant_id = world["tenant_id"]
    client = Client(HTTP_AUTHORIZATION=_auth(CPO_TOKEN))
    base = "/ocpi/2.2.1/emsp"
    for path, doc in (
        ("/tariffs/DE/CPO/T1", tariff_doc()),
        ("/locations/DE/CPO/Loc1", location_doc()),
    ):
        resp = client.put(base + path, data=transport.dumps(doc), content_type="application/json")
        assert resp.status_code in (200, 201), resp.content[:500]
    run = f"{int(time.time())}"
    bodies = [transport.dumps(received_cdr_doc(n, run)) for n in range(cdrs)]
    statuses: Counter[int] = Counter()
    repeats: Counter[int] = Counter()
    times: list[float] = []
    backend = _backend_pid()
    client_ms = None  # the HTTP clients' CPU (this process), server mode only
    if mode == "inprocess":
        cpu0, pg0 = time.process_time(), _proc_cpu_seconds(backend)
        started = time.perf_counter()
        for raw in bodies:
            t = time.perf_counter()
            resp = client.post(base + "/cdrs", data=raw, content_type="application/json")
            times.append(time.perf_counter() - t)
            statuses[resp.status_code] += 1
        wall = time.perf_counter() - started
        # CPU per CDR, the figure the shared machine's load does not inflate much: this
        # process (test client and server in one) and its PostgreSQL backend.
        cpu_ms = (time.process_time() - cpu0) * 1000 / max(cdrs, 1)
        pg_ms = (_proc_cpu_seconds(backend) - pg0) * 1000 / max(cdrs, 1)
        # Repeats of the first 10: answered 200, nothing stored or billed again.
        for raw in bodies[:10]:
            resp = client.post(base + "/cdrs", data=raw, content_type="application/json")
            repeats[resp.status_code] += 1
    else:
        server = Server(workers, server_env)
        headers = {
            "Authorization": _auth(CPO_TOKEN),
            "Content-Type": "application/json",
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "CPO",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EMS",
        }
        try:
            # Warm-up: every worker and client connection past its first request (imports,
            # pool connections), on GETs of an unknown CDR: nothing stored.
            _post_all(server.port, "/healthz", [b""] * (clients * 4), {}, clients)
            pg_before = _pg_backends_cpu(backend)
            cpu0, client0 = server.cpu_seconds(), time.process_time()
            started = time.perf_counter()
            encoded = [b.encode() for b in bodies]
            statuses, times = _post_all(server.port, base + "/cdrs", encoded, headers, clients)
            wall = time.perf_counter() - started
            cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / max(cdrs, 1)
            client_ms = (time.process_time() - client0) * 1000 / max(cdrs, 1)
            pg_after = _pg_backends_cpu(backend)
            pg_ms = (
                sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
                * 1000
                / max(cdrs, 1)
            )
            repeats, _ = _post_all(server.port, base + "/cdrs", encoded[:10], headers, 2)
        finally:
            server.stop()
    prefix = f"R{run}-"
    stored = ForeignCdr.objects.filter(tenant_id=tenant_id, cdr_id__startswith=prefix)
    stored_n = stored.count()
    distinct = stored.values("cdr_id").distinct().count()
    billed = Cdr.objects.filter(emsp_tenant_id=tenant_id, ocpi_id__startswith=prefix).count()
    not_billed = sum(
        1
        for flags in stored.values_list("flags", flat=True)
        if any(f.get("rule") == "not_billed" for f in flags or ())
    )
    repriced_equal = stored.filter(total_cost_excl_vat=Decimal("5.75")).count()
    clean = (
        statuses == Counter({201: cdrs})
        and repeats == Counter({200: 10})
        and stored_n == distinct == cdrs
        and billed == cdrs
        and not_billed == 0
    )
    rate = cdrs / wall
    result = {
        "bench": "receive",
        "mode": mode,
        "workers": workers if mode == "server" else None,
        "clients": clients if mode == "server" else 1,
        "cpu_of": "uvicorn processes" if mode == "server" else "bench process (client+server)",
        "server_env": server_env or {},
        "cdrs": cdrs,
        "wall_s": round(wall, 2),
        "received_per_s": round(rate, 1),
        "p50_ms": _pct(times, 0.5),
        "p99_ms": _pct(times, 0.99),
        "process_cpu_ms_per_cdr": round(cpu_ms, 2),
        "postgres_cpu_ms_per_cdr": round(pg_ms, 2),
        "client_cpu_ms_per_cdr": None if client_ms is None else round(client_ms, 2),
        "http_statuses": dict(statuses),
        "repeat_statuses": dict(repeats),
        "stored": stored_n,
        "stored_distinct": distinct,
        "billed": billed,
        "not_billed": not_billed,
        "total_5_75_excl_vat": repriced_equal,
        "target_per_s": TARGET_RECEIVE_PER_S,
        "counts_clean": clean,
        "meets_target": clean and rate >= TARGET_RECEIVE_PER_S,
    }
    emit(**result)
    return result


# --- status -------------------------------------------------------------------------------


class Worker:
    """A real Celery worker process on every queue (as tests/conftest.py worker_process),
    on the bench database; ready once it has executed a ping."""

    def __init__(self) -> None:
        args = "worker -Q charging,billing,roaming,default --pool threads --concurrency 2"
        args += " --without-gossip --without-mingle --without-heartbeat --loglevel WARNING"
        log = ROOT / "var" / "bench" / "bench_ocpi_worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args.split(), "-n",
             f"bench-ocpi-{os.getpid()}@%h"],
            cwd=ROOT,
            env={**_env(), "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        from apps.common.tasks import ping

        assert ping.apply_async(args=["ready"]).get(timeout=90)["token"] == "ready"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def bench_status(world: dict[str, Any], changes: int, interval: float) -> dict[str, Any]:
    """`changes` StatusNotifications, one every `interval` s, each recorded as the gateway
    does (charging's status_events_record and locations' evse_status_reports_record in one
    transaction: the `station.status_changed` event into the webhook outbox); the real worker
    runs the `roaming.ocpi_events` task and the push drain; the latency is from the commit
    to the EVSE PATCH arriving at the loopback receiver."""
    from django.db import transaction
    from django.utils import timezone

    from apps.charging import api as charging_api
    from apps.charging.contracts import StatusEventIn
    from apps.locations import api as locations_api
    from apps.locations.contracts import EvseStatusReport
    from apps.locations.models import Evse
    from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPush
    from apps.roaming.services import cpo_push

    tenant_id, conn_id = world["tenant_id"], world["push_connection"]
    receiver = Receiver(0)
    worker: Worker | None = None
    sent_at: dict[tuple[str, str], float] = {}
    try:
        OcpiPush.objects.filter(connection_id=conn_id).delete()
        OcpiConnection.objects.filter(pk=conn_id).update(publish_all_locations=True)
        OcpiEndpoint.objects.update_or_create(
            tenant_id=tenant_id,
            connection_id=conn_id,
            module="locations",
            role="RECEIVER",
            defaults={"url": receiver.base + "/locations"},
        )
        cpo_push.cpo_interest_sync(tenant_id=tenant_id)
        worker = Worker()
        evses = list(
            Evse.objects.filter(tenant_id=tenant_id)
            .order_by("id")
            .values_list("charge_station_id", "ocpp_evse_id", "uid", "status")[:changes]
        )
        for n, (station, ocpp_evse, uid, status) in enumerate(evses):
            ocpp = "Charging" if status == "AVAILABLE" else "Available"
            ocpi = "CHARGING" if ocpp == "Charging" else "AVAILABLE"
            at = timezone.now()
            with transaction.atomic():
                charging_api.status_events_record(
                    events=[
                        StatusEventIn(
                            tenant_id=tenant_id,
                            station_id=station,
                            evse_ocpp_id=ocpp_evse,
                            connector_ocpp_id=1,
                            status=ocpp,
                            charging_state=None,
                            station_timestamp=at,
                            received_at=at,
                        )
                    ]
                )
                locations_api.evse_status_reports_record(
                    reports=[
                        EvseStatusReport(
                            tenant_id=tenant_id,
                            station_id=station,
                            evse_ocpp_id=ocpp_evse,
                            connector_ocpp_id=1,
                            ocpp_status=ocpp,
                            station_timestamp=at,
                        )
                    ]
                )
            sent_at[(uid, ocpi)] = time.monotonic()
            if n + 1 < len(evses):
                time.sleep(interval)  # the notifications' pace (a load, not a wait)
        deadline = time.monotonic() + 60
        while len(receiver.patches) < len(sent_at) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        receiver.close()
        if worker is not None:
            worker.stop()
    got: Counter[tuple[str, str]] = Counter()
    latencies = []
    for arrived, path, status in receiver.patches:
        uid = path.rstrip("/").rsplit("/", 1)[-1]
        got[(uid, status)] += 1
        if (uid, status) in sent_at and got[(uid, status)] == 1:
            latencies.append(arrived - sent_at[(uid, status)])
    arrived_once = sum(1 for k in sent_at if got[k] == 1)
    clean = arrived_once == len(sent_at) and sum(got.values()) == len(sent_at)
    p95 = round(_pct(latencies, 0.95) / 1000, 3) if latencies else None
    result = {
        "bench": "status",
        "changes": len(sent_at),
        "interval_s": interval,
        "arrived": len(latencies),
        "arrived_once": arrived_once,
        "patches": sum(got.values()),
        "p50_s": round(_pct(latencies, 0.5) / 1000, 3) if latencies else None,
        "p95_s": p95,
        "max_s": round(_pct(latencies, 1.0) / 1000, 3) if latencies else None,
        "target_p95_s": TARGET_STATUS_P95_S,
        "counts_clean": clean,
        "meets_target": bool(clean and p95 is not None and p95 <= TARGET_STATUS_P95_S),
    }
    emit(**result)
    return result


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", default="pull,push,receive,status")
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--evses-per-location", type=int, default=5)
    parser.add_argument("--cdrs", type=int, default=5000)
    parser.add_argument("--pull-rounds", type=int, default=3)
    parser.add_argument("--status-changes", type=int, default=200)
    parser.add_argument("--status-interval", type=float, default=0.05, help="seconds between")
    parser.add_argument("--fail-every", type=int, default=100, help="receiver 500 every N")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the database")
    parser.add_argument(
        "--receive-mode",
        choices=("server", "inprocess"),
        default="server",
        help="receive through uvicorn worker processes over loopback HTTP, or the test Client",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="uvicorn's")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable of the web server (e.g. OCPI_FAST_PATHS=0); repeatable",
    )
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"pull", "push", "receive", "status"}
    if unknown:
        parser.error(f"unknown phases: {sorted(unknown)}")
    world = prepare(
        rebuild=args.rebuild,
        locations=args.locations,
        evses_per_location=args.evses_per_location,
    )
    summary: dict[str, Any] = {}
    if "pull" in phases:
        r = bench_pull(world["cpo"], args.pull_rounds)
        summary["pull"] = {k: r[k] for k in ("worst_band_p99_ms", "wall_s", "meets_target")}
    if "push" in phases:
        r = bench_push(world["cpo"], args.cdrs, args.fail_every)
        summary["push"] = {k: r[k] for k in ("sent_per_s", "meets_target")}
    if "receive" in phases:
        r = bench_receive(
            world["emsp"],
            args.cdrs,
            mode=args.receive_mode,
            workers=args.workers,
            clients=args.clients,
            server_env=dict(v.split("=", 1) for v in args.server_env),
        )
        summary["receive"] = {k: r[k] for k in ("received_per_s", "meets_target")}
    if "status" in phases:
        r = bench_status(world["cpo"], args.status_changes, args.status_interval)
        summary["status"] = {k: r[k] for k in ("p95_s", "meets_target")}
    emit(bench="summary", cpus=os.cpu_count(), **summary)
    emit(bench="done")


if __name__ == "__main__":
    main()
