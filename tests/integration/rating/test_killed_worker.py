"""A worker killed in the middle of a rating batch loses nothing and doubles nothing
(PostgreSQL, Redis, real Celery worker processes; ADR 0031).

The batch is one transaction that first takes an advisory lock per CDR: the test waits
until the worker holds them (the batch is under way, nothing committed), kills it with
SIGKILL, checks that no line was written, starts a second worker, and waits for the broker
to hand the unacknowledged message back (acks late; a visibility timeout of 2 s here).
Every CDR then has exactly one line. The message is sent again (a redelivery after the
work was done): still one line each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import connection

from apps.charging.models import Cdr, ChargingSession
from apps.rating.jobs import RATE_CDRS
from apps.rating.models import RatedLine, RatingFlag
from tests.conftest import _test_database_url, wait_for
from tests.integration.rating import builders as b

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = f"billing-killtest-{uuid.uuid4().hex[:6]}"  # no other worker of the suite takes it
CDRS = 3000


@pytest.fixture
def broker() -> redis.Redis:
    if connection.vendor != "postgresql":
        pytest.skip("the killed-worker test runs on PostgreSQL (advisory locks, a real worker)")
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs the Redis broker (CELERY_BROKER_URL=redis://...)")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis does not answer")
    return client


class Worker:
    def __init__(self, name: str) -> None:
        from config.env import BASE_DIR

        self.log_path = settings.DATA_DIR / f"rating-{name}-{uuid.uuid4().hex[:6]}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115
        args = f"worker -Q {QUEUE} --pool solo --without-gossip --without-mingle"
        args += " --without-heartbeat --loglevel INFO"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args.split(), "-n", f"{name}@%h"],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": _test_database_url(),
                "PYTHONUNBUFFERED": "1",
                "CELERY_VISIBILITY_TIMEOUT": "2",
                "RATING_BATCH_SIZE": str(CDRS * 2),  # the whole message is one transaction
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def _many_cdrs(w: b.World, n: int) -> list[int]:
    sessions = ChargingSession.objects.bulk_create(
        [
            ChargingSession(
                tenant=w.cpo_tenant,
                charge_station=w.station,
                evse=w.connector.evse,
                connector=w.connector,
                ocpp_transaction_id=f"kill-{i}",
                started_at=b.T0 + timedelta(minutes=i),
                ended_at=b.T0 + timedelta(minutes=i, hours=1),
                meter_start_wh=Decimal(0),
                time_zone="Europe/Amsterdam",
            )
            for i in range(n)
        ]
    )
    template = b.cdr(w, kwh="10")  # one through the factory; the others copy its shape
    rows = []
    for i, s in enumerate(sessions):
        start = s.started_at
        end = start + timedelta(hours=1)
        data = dict(template.data)
        data["start_date_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        data["end_date_time"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        data["charging_periods"] = [
            {
                "start_date_time": data["start_date_time"],
                "dimensions": [
                    {"type": "ENERGY", "volume": float(1 + i % 50)},
                    {"type": "TIME", "volume": 1.0},
                ],
            }
        ]
        rows.append(
            Cdr(
                tenant=w.cpo_tenant,
                party=w.cpo_party,
                ocpi_id=f"KILL{i:06d}",
                session=s,
                start_date_time=start,
                end_date_time=end,
                currency="EUR",
                total_cost_excl_vat=Decimal(0),
                total_energy_kwh=Decimal(1 + i % 50),
                total_time_hours=Decimal(1),
                token=w.token,
                token_source="OWN",
                emsp_party=w.emsp_party,
                emsp_tenant=w.emsp_tenant,
                contract=w.contract,
                customer=w.customer,
                data=data,
                annotations={"time_zone": "Europe/Amsterdam"},
            )
        )
    Cdr.objects.bulk_create(rows)
    return list(Cdr.objects.order_by("pk").values_list("pk", flat=True))


def _advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [0x5241],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _send(ids: list[int]) -> None:
    current_app.send_task(RATE_CDRS, args=[ids], queue=QUEUE, ignore_result=True)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    broker: redis.Redis, workers: list[Worker]
) -> None:
    w = b.world(cpo_vat="21", emsp_vat="21")
    tv = b.tariff(w.cpo_tenant, w.cpo_party, "WHOLESALE", [b.energy("0.25")])
    b.rule(w.cpo_tenant, "WHOLESALE", tariff_version=tv)
    b.rule(w.cpo_tenant, "RETAIL", pricing="COST_PLUS", markup_percent=Decimal("5"))
    ids = _many_cdrs(w, CDRS)
    assert len(ids) == CDRS + 1
    broker.delete(QUEUE)

    first = Worker("doomed")
    workers.append(first)
    _send(ids)
    wait_for(lambda: _advisory_locks_held() >= len(ids), timeout=120, what="the batch's locks")
    first.kill()

    assert first.proc.returncode == -signal.SIGKILL
    assert RatedLine.objects.count() == 0  # killed before its commit: nothing half-written

    workers.append(Worker("heir"))
    wait_for(lambda: RatedLine.objects.count() >= 2 * len(ids), timeout=180, what="the redelivery")
    _send(ids)  # the same message once more, after the work was done
    _send(ids[:10])
    wait_for(
        lambda: broker.llen(QUEUE) == 0 and broker.hlen("unacked") == 0,
        timeout=60,
        what="the queue to drain and every message to be acknowledged",
    )
    wait_for(lambda: _advisory_locks_held() == 0, timeout=60, what="the last batch to end")

    per_cdr = {}
    for cdr_id, engine, seq in RatedLine.objects.values_list("cdr_id", "engine", "seq"):
        per_cdr.setdefault(cdr_id, []).append((engine, seq))
    assert set(per_cdr) == set(ids)
    assert {tuple(sorted(v)) for v in per_cdr.values()} == {(("RETAIL", 1), ("WHOLESALE", 1))}
    assert RatedLine.objects.count() == 2 * len(ids)
    assert not RatingFlag.objects.exists()
    line: Any = RatedLine.objects.get(cdr_id=ids[1], engine="WHOLESALE")  # 1 kWh (i = 0)
    assert (line.total_excl_vat, line.vat, line.total_incl_vat) == (
        Decimal("0.25"),
        Decimal("0.05"),
        Decimal("0.30"),
    )
