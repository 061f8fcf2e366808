from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.db import connection

# Webhook receivers in the tests listen on 127.0.0.1: let the outbound client call loopback
# (and nothing else it refuses; ADR 0017), here and in the worker processes tests start.
os.environ.setdefault("OUTBOUND_HTTP_ALLOW_LOOPBACK", "1")


@pytest.fixture(scope="session", autouse=True)
def _outbound_loopback_allowed() -> None:
    from django.conf import settings

    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = True


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    """Test users' passwords hashed with one round of MD5, not the product's PBKDF2 (a
    million rounds: 0.3 s a user, measured; the portal's worlds create a dozen users per
    test). Only the tests: config/settings.py keeps Django's default hashers, and the
    product's password checks go through the same `check_password` either way."""
    from django.conf import settings
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(scope="session", autouse=True)
def _flush_again_after_a_deadlock() -> None:
    """A transactional test ends with a flush (TRUNCATE of every table, one transaction).
    A gateway node process shared by a module's tests may still be writing then (a station's
    disconnect, its last-seen time), and PostgreSQL may pick the flush as the victim of the
    deadlock between them. The flush rolled back as a whole: run it again (the node's
    write goes through first)."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    handle = flush.Command.handle
    if getattr(handle, "retries_deadlocks", False):
        return

    def handle_with_retry(self: Any, *args: Any, **options: Any) -> Any:
        for attempt in range(5):
            try:
                return handle(self, *args, **options)
            except CommandError as exc:
                if "deadlock detected" not in str(exc.__cause__) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return None

    handle_with_retry.retries_deadlocks = True  # type: ignore[attr-defined]
    flush.Command.handle = handle_with_retry  # type: ignore[method-assign]


class TotpClock:
    """The clock django-otp checks TOTP codes against, held still by the test: a code made
    with `code()` is the one the server expects, however slow the run (a code made from the
    wall clock while the server reads it a step later is refused, or sets a drift that
    refuses the next one). `next_step()` moves to the next 30-second step (a code is
    accepted once per step)."""

    START = 1_767_225_600 + 7  # a fixed instant, 7 s into a step

    def __init__(self) -> None:
        self.now = float(self.START)

    def time(self) -> float:  # stands in for the `time` module in django-otp's TOTP device
        return self.now

    def code(self, secret: str) -> str:
        import pyotp

        return str(pyotp.TOTP(secret).at(self.now))

    def next_step(self) -> None:
        self.now += 30


@pytest.fixture
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> TotpClock:
    """Hold django-otp's TOTP clock still (also for a live server: it runs in this process)."""
    from django_otp.plugins.otp_totp import models as totp_models

    clock = TotpClock()
    monkeypatch.setattr(totp_models, "time", clock)
    return clock


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run .ci/run (DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# --- end-to-end fixtures: a gateway on a real port, a real worker process -------------------

import asyncio  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402


def _test_database_url() -> str:
    from django.db import connection as conn

    s = conn.settings_dict
    if conn.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def worker_process(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[subprocess.Popen[str]]:
    """A real Celery worker process on every queue, using the test database."""
    from config.env import BASE_DIR

    name = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1"}
    from django.conf import settings

    log_path = settings.DATA_DIR / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "w")  # noqa: SIM115
    args = "worker -Q charging,billing,roaming,default --pool threads --concurrency 2"
    args += " --without-gossip --without-mingle --without-heartbeat --loglevel INFO"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args.split(), "-n", f"{name}@%h"],
        cwd=BASE_DIR,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    from apps.common.tasks import ping

    # Ready when it has executed a task: nothing sent later can be missed.
    assert ping.apply_async(args=["ready"]).get(timeout=60)["token"] == "ready"
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()


class RunningGateway:
    def __init__(self, gateway: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.gateway = gateway
        self.loop = loop

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.ports[0]}/ocpp/"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.gateway.ports[1]}/ocpp/"


def start_gateway(**overrides: Any) -> tuple[RunningGateway, Callable[[], None]]:
    from csms_gateway.server import Gateway
    from csms_gateway.settings import GatewaySettings

    settings = GatewaySettings(port=0, **overrides)
    loop = asyncio.new_event_loop()
    gateway = Gateway(settings)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(gateway.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "gateway did not start"

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return RunningGateway(gateway, loop), stop


@pytest.fixture
def gateway(transactional_db: None) -> Iterator[RunningGateway]:
    running, stop = start_gateway()
    yield running
    stop()


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


from apps.rating import api as rating_api  # noqa: E402
from tests.journey_fixtures import station  # noqa: E402, F401  (a fixture shared by suites)
from tests.relay_fixtures import node_a, node_b, relay, relay_server, sim_station  # noqa: E402, F401
from tests.webhook_receiver import receiver  # noqa: E402, F401  (a fixture shared by suites)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    """Templates name static files; tests serve them from the app folders (no collectstatic,
    so no manifest of hashed names)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_rule_indexes() -> None:
    """The rating app caches each tenant's rule index per process, keyed by the highest
    rule version id; SQLite reuses the ids of a rolled-back test's rows, so each test starts
    with no cached index."""
    rating_api.rule_index_cache_clear()
