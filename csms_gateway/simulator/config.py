"""The simulator's configuration, counters and the clock rule: what a run is asked to do
(`SimConfig`), what it counted (`Stats`), where the station clocks start."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEMO_ID_TAGS = ("PPY00000001", "PPY00000002", "PPY00000003", "DRV00000001", "DRV00000002")
TRANSACTION_ACTIONS = frozenset(
    {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"}
)
VOLTAGE = 230  # per phase; three phases


def default_credentials_path() -> Path:
    # The same DATA_DIR rule as config.env.data_dir(), without importing the Django project.
    root = Path(__file__).resolve().parent.parent.parent
    return Path(os.environ.get("DATA_DIR", str(root / "var"))) / "demo-stations.json"


def ocpp_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SimConfig:
    url: str
    credentials: dict[str, str]  # identity -> Basic-auth password
    protocol: str = "1.6"  # "1.5", "1.6" or "2.0.1"
    sessions_per_station: int = 1
    duration: float = 600.0  # wall seconds; then no new session, the current one finishes
    speed: float = 0.0  # station seconds per wall second; 0 = as fast as possible
    session_minutes: int = 60
    charge_fraction: float = 2 / 3  # charging for this part of the session, then parked
    meter_interval: int = 900  # station seconds between periodic meter values
    gap_minutes: int = 5  # station time between two sessions of a station
    offline_replay: bool = False
    id_tags: tuple[str, ...] = DEMO_ID_TAGS
    heartbeat: float | None = None  # wall seconds; default: the interval the CSMS sets
    call_timeout: float = 30.0
    seed: int = 1
    grace: float = 120.0  # wall seconds after `duration` before everything is cancelled
    # Every station waits before the stop of its first session until all stations are there
    # and `simulate`'s `release` returns (benchmarks: all sessions metered, then all stops).
    hold_stops: bool = False
    # After its sessions, stay connected until `duration` (heartbeats; reconnects and boots
    # again after a dropped connection, trying the URLs of `url` in turn) and answer the
    # CSMS's commands (`simulator_commands`).
    stay: bool = False
    answer_delay: float = 0.0  # wall seconds before answering a CSMS CALL
    silent: frozenset[str] = frozenset()  # CSMS actions this station never answers
    # EVSEs (one connector each) the station has: each reports its status after a boot;
    # sessions run on EVSE 1.
    evses: int = 1
    firmware_step: float = 0.2  # wall seconds between firmware / log status notifications
    reboot_delay: float = 0.3  # wall seconds a reboot (Reset, firmware) stays offline


@dataclass
class Stats:
    sessions_started: int = 0
    sessions_stopped: int = 0
    messages_sent: int = 0
    call_results: int = 0
    call_errors: int = 0
    errors: int = 0  # connection failures, timeouts, refused handshakes
    reconnects: int = 0
    connect_retries: int = 0  # refused / failed handshakes, retried with backoff
    resent: int = 0
    calls_answered_by_station: int = 0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(text[:200])


@dataclass
class Barrier:
    """Where stations wait before their first stop (`--hold-stops`), and, after their
    sessions, before they disconnect (real stations stay connected after a session: the
    benchmark's timed phase must not include a wave of closes)."""

    held: int = 0
    go: asyncio.Event = field(default_factory=asyncio.Event)
    done: int = 0
    close: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self) -> None:
        self.held += 1
        await self.go.wait()

    async def finished(self) -> None:
        self.done += 1
        await self.close.wait()


def station_clock_start(cfg: SimConfig, now: datetime) -> datetime:
    """Where the stations' clocks start. Live time (speed up to 1: a station second takes at
    least a wall second) starts at `now`, so what the stations report is happening now. A
    faster replay starts in the past by the station time it can cover, so that its
    timestamps never run into the future."""
    now = now.replace(microsecond=0)
    if 0 < cfg.speed <= 1:
        return now
    length = cfg.session_minutes * 60 + cfg.gap_minutes * 60
    span = cfg.sessions_per_station * length + 600
    if cfg.speed > 0:
        span = min(span, int(cfg.speed * cfg.duration) + length + 600)
    return now - timedelta(seconds=span)
