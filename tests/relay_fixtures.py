"""Fixtures of the remote-command tests: a real Redis (CI's REDIS_URL, else the machine's at
127.0.0.1:6379; skipped when there is none), gateway nodes (one in this process, one a real
`python -m csms_gateway` subprocess with its own node id and port) and a simulated station
that stays connected and answers commands.

Every test uses its own key prefix (RELAY_KEY_PREFIX), so it shares no key with anything else
on that Redis, and deletes its keys at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from csms_gateway.simulator import SimConfig, Station, Stats
from tests.conftest import RunningGateway, _test_database_url, start_gateway, wait_for

NODE_TTL = 2  # seconds: a killed node counts as gone quickly
REGISTRY_TTL = 6


def relay_test_url() -> str | None:
    """CI's Redis (REDIS_URL) or the machine's; None when none answers."""
    url = os.environ.get("RELAY_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    url = url or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


class Relay:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.redis = redis.Redis.from_url(url)

    def owner(self, identity: str) -> str | None:
        value = self.redis.get(f"{self.prefix}:station:{identity}")
        return value.decode().split("|", 1)[0] if value else None

    def cleanup(self) -> None:
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            self.redis.delete(*keys)


@pytest.fixture(scope="module")
def relay_server() -> Iterator[Relay]:
    """Redis for one test module, under a key prefix of its own (deleted at the end)."""
    url = relay_test_url()
    if url is None:
        pytest.skip("needs Redis (REDIS_URL, or a server at 127.0.0.1:6379)")
    r = Relay(url, f"test-{uuid.uuid4().hex[:10]}")
    yield r
    r.cleanup()


@pytest.fixture
def relay(relay_server: Relay, settings: Any) -> Relay:
    """The relay, with this process's Django settings pointing at it."""
    settings.RELAY_REDIS_URL = relay_server.url
    settings.RELAY_KEY_PREFIX = relay_server.prefix
    return relay_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """`python -m csms_gateway` as a real process on a free port, its output in a log file;
    started with `env` over the test's environment, up once `ready()` says so."""

    def __init__(self, node_id: str, env: dict[str, str], ready: Any, what: str) -> None:
        from django.conf import settings

        from config.env import BASE_DIR

        self.node_id = node_id
        self.port = free_port()
        self.log_path = settings.DATA_DIR / f"gateway-{node_id}-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "csms_gateway"],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": _test_database_url(),
                "GATEWAY_PORT": str(self.port),
                "GATEWAY_NODE_ID": node_id,
                "PYTHONUNBUFFERED": "1",
                **env,
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(ready, timeout=60, what=what)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


class NodeProcess(GatewayProcess):
    """A gateway node on the Redis relay of `relay`."""

    def __init__(self, relay: Relay, node_id: str, env: dict[str, str] | None = None) -> None:
        super().__init__(
            node_id,
            {
                "RELAY_REDIS_URL": relay.url,
                "RELAY_KEY_PREFIX": relay.prefix,
                "GATEWAY_NODE_TTL": str(NODE_TTL),
                "GATEWAY_REGISTRY_TTL": str(REGISTRY_TTL),
                **(env or {}),
            },
            lambda: relay.redis.exists(f"{relay.prefix}:node:{node_id}"),
            f"gateway node {node_id} up",
        )


@pytest.fixture(scope="module")
def node_b(django_db_setup: None, relay_server: Relay) -> Iterator[NodeProcess]:
    """A gateway node process shared by the tests of a module (each test connects its own
    stations; a test that kills a node starts its own `NodeProcess`)."""
    node = NodeProcess(relay_server, "node-b")
    yield node
    node.stop()


@pytest.fixture
def node_a(transactional_db: None, relay: Relay) -> Iterator[RunningGateway]:
    """A second node, in this process."""
    running, stop = start_gateway(
        node_id="node-a",
        relay_url=relay.url,
        relay_prefix=relay.prefix,
        node_ttl=NODE_TTL,
        registry_ttl=REGISTRY_TTL,
    )
    yield running
    stop()


class SimStation:
    """One simulated station in a thread of its own (its own event loop), staying connected
    and answering commands, until stopped."""

    def __init__(
        self, urls: list[str], identity: str, password: str, protocol: str, **options: Any
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.stats = Stats()
        self.cfg = SimConfig(
            url=",".join(urls),
            credentials={identity: password},
            protocol=protocol,
            sessions_per_station=0,
            duration=options.pop("duration", 300),
            stay=True,
            grace=5,
            **options,
        )
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
        self.station = Station(
            identity, password, 0, self.cfg, self.stats, lambda _: None,
            time.monotonic() + self.cfg.duration, start,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._task: asyncio.Task[None] | None = None
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._task = self.loop.create_task(self.station.run())
        self.loop.run_until_complete(asyncio.gather(self._task, return_exceptions=True))

    def run(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the station's loop (e.g. one of its own CALLs)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def calls(self, action: str | None = None) -> list[Any]:
        return [c for c in list(self.station.call_log) if action in (None, c.action)]

    def stop(self) -> None:
        def cancel() -> None:
            self.station.deadline = 0
            if self._task is not None:
                self._task.cancel()

        self.loop.call_soon_threadsafe(cancel)
        self._thread.join(15)


@pytest.fixture
def sim_station() -> Iterator[Callable[..., SimStation]]:
    started: list[SimStation] = []

    def start(*args: Any, **kwargs: Any) -> SimStation:
        s = SimStation(*args, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
