"""What the gateway benchmarks share: their own PostgreSQL database and Redis dbs (created
and dropped here), bench stations with a known tariff, a gateway process, Celery worker
processes, the simulator as a subprocess, and the checks that every stopped session became
exactly one CDR with the expected totals.

Import this module before Django: `configure()` sets the environment, then sets Django up.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
CENT = Decimal("0.01")

# FLAT 0.50, ENERGY 0.30 / kWh, PARKING_TIME 3.00 / h per minute, VAT 21 % (as the journeys).
TARIFF = {
    "country_code": "NL",
    "party_id": "BEN",
    "id": "BENCH",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 3.00, "vat": 21.0, "step_size": 60},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}
ID_TAG = "BENCH0000001"


def machine() -> str:
    return f"{os.cpu_count()} cores / {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB"  # noqa: E501


@dataclass
class Env:
    name: str
    pg: str  # postgres://user@host:port (no database)
    redis: str  # redis://host:port (no db)
    redis_dbs: tuple[int, int]
    data_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = ROOT / "var" / self.name
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def database_url(self) -> str:
        return f"{self.pg}/{self.name}"

    def vars(self) -> dict[str, str]:
        broker = f"{self.redis}/{self.redis_dbs[0]}"
        return {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "DATABASE_CONN_MAX_AGE": "600",
            "REDIS_URL": broker,
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": f"{self.redis}/{self.redis_dbs[1]}",
            "DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }


def _admin_sql(env: Env, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{env.pg}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def machine_cpu_seconds() -> dict[str, float]:
    """This VM's CPU seconds so far from /proc/stat: busy, idle, and stolen (time the
    hypervisor gave our virtual CPUs' turn to other guests: when it is high, every figure of
    a run is lower for reasons outside it)."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return {
        "busy": (user + nice + system + irq + softirq) / tick,
        "idle": (idle + iowait) / tick,
        "steal": steal / tick,
    }


def redis_dbs(text: str) -> tuple[int, int]:
    """`--redis-dbs 10,11`: the broker's and the results' Redis dbs of a bench."""
    broker, results = (int(x) for x in text.split(","))
    return broker, results


def _flush_redis(env: Env) -> None:
    import redis

    for db in env.redis_dbs:
        redis.Redis.from_url(f"{env.redis}/{db}").flushdb()


def configure(env: Env) -> None:
    """Fresh database and Redis dbs, environment set, Django set up and migrated."""
    _admin_sql(env, f'DROP DATABASE IF EXISTS "{env.name}" WITH (FORCE)')
    _admin_sql(env, f'CREATE DATABASE "{env.name}"')
    _flush_redis(env)
    os.environ.update(env.vars())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def teardown(env: Env) -> None:
    from django.db import connections

    connections.close_all()
    _admin_sql(env, f'DROP DATABASE IF EXISTS "{env.name}" WITH (FORCE)')
    _flush_redis(env)


def create_stations(count: int, *, prefix: str = "BENCH") -> dict[str, str]:
    """`count` stations (one EVSE, one connector each) on the bench tariff; identity ->
    password. Plus the token the simulator authorises with."""
    from django.db import transaction

    from apps.common.contracts import Actor
    from apps.locations import api as locations
    from apps.locations.contracts import SecurityProfile
    from apps.parties import api as parties
    from apps.parties.contracts import PartyRole
    from apps.tariffs import api as tariffs
    from apps.tokens import api as tokens
    from apps.tokens.contracts import TokenInput

    epoch = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    credentials: dict[str, str] = {}
    with transaction.atomic():
        op = parties.operator_ensure(slug="bench-cpo", name="Bench CPO")
        party = parties.party_ensure(
            tenant_id=op, role=PartyRole.CPO, country_code="NL", party_id="BEN", name="Bench"
        )
        tariff_id = tariffs.tariff_upsert(
            tenant_id=op, party_id=party, ocpi_id="BENCH", name="bench", currency="EUR",
            type="REGULAR",
        )  # fmt: skip
        if not tariffs.tariff_versions_count(tariff_id=tariff_id):
            tariffs.tariff_version_add(tariff_id=tariff_id, ocpi=TARIFF, effective_from=epoch,
                                       now=epoch)  # fmt: skip
        code = tariffs.tariff_code_upsert(
            tenant_id=op, code="DEFAULT", tariff_id=tariff_id, description="bench"
        )
        # The stations' tenant issues the bench card: Authorize looks only there (ADR 0015).
        parties.party_ensure(
            tenant_id=op, role=PartyRole.EMSP, country_code="NL", party_id="BEN", name="Bench"
        )
        tokens.token_put(
            tenant_id=op, actor=Actor.system("bench"), data=TokenInput(
                country_code="NL", party_id="BEN", uid=ID_TAG, type="RFID",
                contract_id="NL-BEN-C00000001-X", issuer="Bench", visual_number="B-1",
            ),
        )  # fmt: skip
        loc = locations.location_upsert(
            tenant_id=op, party_id=party, ocpi_id="BENCHLOC", name="Bench car park",
            address="Benchstraat 1", city="Amsterdam", postal_code="1012AB", country="NLD",
            latitude=Decimal("52.37"), longitude=Decimal("4.89"), time_zone="Europe/Amsterdam",
        )  # fmt: skip
        for i in range(1, count + 1):
            identity = f"{prefix}-{i:05d}"
            station = locations.charge_station_upsert(
                tenant_id=op, identity=identity, location_id=loc, vendor="SimVendor",
                model="SimAC22", security_profile=SecurityProfile.BASIC.value,
            )  # fmt: skip
            tariffs.tariff_code_assign(
                tenant_id=op, charge_station_id=station, tariff_code_id=code, effective_from=epoch
            )
            evse = locations.evse_upsert(
                tenant_id=op, uid=f"{identity}-1", location_id=loc, charge_station_id=station,
                ocpp_evse_id=1, evse_id=f"NL*BEN*E{i:05d}",
            )  # fmt: skip
            locations.connector_upsert(
                tenant_id=op, evse_id=evse, connector_id="1", standard="IEC_62196_T2",
                format="SOCKET", power_type="AC_3_PHASE", max_voltage=230, max_amperage=32,
                max_electric_power=22080,
            )  # fmt: skip
            credentials[identity] = locations.charge_station_reset_password(station_id=station)
    return credentials


def write_credentials(env: Env, credentials: dict[str, str]) -> Path:
    path = env.data_dir / "stations.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(credentials, f)
    return path


# --- processes ------------------------------------------------------------------------------


class Processes:
    def __init__(self, env: Env, port: int) -> None:
        self.env = env
        self.port = port
        self.gateway: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[Any] = []

    def _spawn(self, name: str, args: list[str], extra: dict[str, str]) -> subprocess.Popen:
        log = open(self.env.data_dir / f"{name}.log", "ab")  # noqa: SIM115
        self._logs.append(log)
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **self.env.vars(), **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_gateway(self) -> None:
        self.gateway = self._spawn(
            "gateway", [PY, "-m", "csms_gateway"], {"GATEWAY_PORT": str(self.port)}
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gateway did not start")

    def kill_gateway(self) -> None:
        assert self.gateway is not None
        self.gateway.send_signal(signal.SIGKILL)
        self.gateway.wait()

    def start_worker(self, name: str, extra: dict[str, str] | None = None) -> None:
        args = [PY, "-m", "celery", "-A", "config", "worker", "-Q",
                "charging,billing,roaming,default", "--pool", "solo", "-n", f"{name}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING"]  # fmt: skip
        self.workers[name] = self._spawn(name, args, extra or {})

    def stop_workers(self) -> None:
        """Stop every worker (SIGTERM: each finishes its task) and forget them."""
        for p in self.workers.values():
            p.terminate()
        for p in self.workers.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.workers.clear()

    def kill_worker(self, name: str) -> None:
        proc = self.workers[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def wait_workers(self, count: int, timeout: float = 90) -> None:
        """Ready when `count` distinct worker processes have executed a task."""
        from apps.common.tasks import ping

        pids: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(pids) < count and time.monotonic() < deadline:
            results = [ping.apply_async(args=["ready"]) for _ in range(4 * count)]
            for r in results:
                try:
                    pids.add(r.get(timeout=max(1.0, deadline - time.monotonic()))["pid"])
                except Exception:  # noqa: BLE001
                    pass
        if len(pids) < count:
            raise RuntimeError(f"only {len(pids)} of {count} workers answered")

    def stop_all(self) -> None:
        procs = [p for p in [self.gateway, *self.workers.values()] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self._logs:
            log.close()


def simulator_args(
    env: Env, port: int, credentials: Path, record: Path, **options: Any
) -> list[str]:
    args = [PY, "-m", "csms_gateway.simulator", "--url", f"ws://127.0.0.1:{port}/ocpp/",
            "--credentials", str(credentials), "--record", str(record),
            "--id-tags", ID_TAG]  # fmt: skip
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, str(value)]
    return args


def read_record(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sessions: list[dict[str, Any]] = []
    answered: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        (sessions if item["type"] == "session" else answered).append(item)
    return sessions, answered


# --- checks ---------------------------------------------------------------------------------


def expected_totals(s: dict[str, Any]) -> tuple[Decimal, Decimal]:
    kwh = Decimal(s["meter_stop_wh"] - s["meter_start_wh"]) / 1000
    parked = datetime.fromisoformat(s["stopped_at"]) - datetime.fromisoformat(
        s["charging_ended_at"]
    )
    exact = (
        Decimal("0.50")
        + kwh * Decimal("0.30")
        + Decimal(int(parked.total_seconds())) / 3600 * Decimal("3.00")
    )
    return (
        exact.quantize(CENT, rounding=ROUND_HALF_UP),
        (exact * Decimal("1.21")).quantize(CENT, rounding=ROUND_HALF_UP),
    )


def cdr_rows(prefix: str) -> list[dict[str, Any]]:
    from apps.charging.models import Cdr  # the bench reads the store directly

    return list(
        Cdr.objects.filter(session__charge_station__identity__startswith=prefix).values(
            "session_id",
            "session__charge_station__identity",
            "session__ocpp_transaction_id",
            "created_at",
            "total_cost_excl_vat",
            "total_cost_incl_vat",
        )
    )


def cdr_count(prefix: str) -> int:
    from apps.charging.models import Cdr

    return Cdr.objects.filter(session__charge_station__identity__startswith=prefix).count()


def check_cdrs(sessions: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, int]:
    """Exactly one CDR per stopped session, each with the expected totals."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["session__charge_station__identity"], r["session__ocpp_transaction_id"])
        by_key.setdefault(key, []).append(r)
    missing = doubled = wrong = 0
    for s in sessions:
        found = by_key.get((s["identity"], s["transaction_id"]), [])
        if not found:
            missing += 1
            continue
        if len(found) > 1:
            doubled += 1
        if (found[0]["total_cost_excl_vat"], found[0]["total_cost_incl_vat"]) != (
            expected_totals(s)
        ):
            wrong += 1
    known = {(s["identity"], s["transaction_id"]) for s in sessions}
    return {
        "sessions_without_cdr": missing,
        "sessions_with_two_cdrs": doubled,
        "cdrs_with_wrong_totals": wrong,
        "cdrs_for_no_simulated_session": sum(1 for k in by_key if k not in known),
    }


def wait_processed(prefix: str, sessions: int, *, timeout: float) -> float:
    """Seconds until the workers reflect every stored event of `sessions` sessions of the
    stations `prefix`-* (each session's `last_event_id` is its newest event's id)."""
    from django.db import connection

    sql = """
        SELECT count(*) FILTER (WHERE s.last_event_id >= e.newest), count(*)
        FROM (SELECT charge_station_id, ocpp_transaction_id, max(id) AS newest
              FROM charging_ocppevent GROUP BY 1, 2) e
        JOIN locations_chargestation st ON st.id = e.charge_station_id
        LEFT JOIN charging_chargingsession s
          ON s.charge_station_id = e.charge_station_id
         AND s.ocpp_transaction_id = e.ocpp_transaction_id
        WHERE st.identity LIKE %s
    """
    begin = time.monotonic()
    while time.monotonic() - begin < timeout:
        with connection.cursor() as cur:
            cur.execute(sql, [prefix + "-%"])
            done, total = cur.fetchone()
        if done >= sessions and total == sessions:
            return round(time.monotonic() - begin, 3)
        time.sleep(0.2)
    raise RuntimeError(f"workers did not catch up with {sessions} sessions in {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the command name: state is field 3, utime 14, stime 15 (1-based, man proc)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backend_pids(env: Env) -> list[int]:
    """The PostgreSQL server processes serving connections to the bench's own database."""
    import psycopg

    with psycopg.connect(f"{env.pg}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [env.name]
        ).fetchall()
    return [r[0] for r in rows]


class CpuMeter:
    """CPU seconds used by named groups of processes between `start()` and `stop()`: the
    load-independent figure of a run on a shared machine (wall time depends on what else
    runs; CPU time per unit of work much less). `reaped`: a child process that exits (and is
    waited for) before `stop()`; its CPU time is then read from this process's
    children's resource usage, so exactly one such child may be reaped in between."""

    def __init__(self, groups: dict[str, list[int]], reaped: tuple[str, int] | None = None):
        self.groups = groups
        self.reaped = reaped
        self.begin: dict[str, float] = {}
        self.children_begin = 0.0

    def _read(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}

    @staticmethod
    def _children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        self.begin = self._read()
        self.children_begin = self._children()
        if self.reaped is not None:
            self.begin[self.reaped[0]] = cpu_seconds(self.reaped[1])

    def stop(self) -> dict[str, float]:
        end = self._read()
        out = {name: round(end[name] - self.begin[name], 3) for name in self.groups}
        if self.reaped is not None:
            name = self.reaped[0]
            total = self._children() - self.children_begin
            out[name] = round(total - self.begin[name], 3)
        return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))
    return ordered[index]
