"""A fleet run: every station to the end, the stops held at a barrier when asked, and the
summary."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from csms_gateway.simulator.config import Barrier, SimConfig, Stats, station_clock_start
from csms_gateway.simulator.station import Station


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def simulate(
    cfg: SimConfig,
    record: Callable[[dict[str, Any]], None] | None = None,
    release: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    release_close: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Run every station to the end; returns the summary. With `cfg.hold_stops`, once every
    running station waits before its first stop, `release` is awaited with what was sent so
    far (messages, seconds), then all stops go out at once; once every station is done with
    its sessions, `release_close` is awaited with the stop phase's figures before the
    stations disconnect."""
    stats = Stats()
    barrier = Barrier() if cfg.hold_stops else None
    identities = sorted(cfg.credentials)
    start = station_clock_start(cfg, datetime.now(UTC))
    begin = time.monotonic()
    deadline = begin + cfg.duration
    stations = [
        Station(
            identity,
            cfg.credentials[identity],
            i,
            cfg,
            stats,
            record or (lambda _: None),
            deadline,
            start,
            barrier,
        )
        for i, identity in enumerate(identities)
    ]
    tasks = [asyncio.create_task(s.run()) for s in stations]
    held: dict[str, Any] = {}
    if barrier is not None:
        opener = asyncio.create_task(
            _open_barrier(barrier, tasks, stats, begin, held, release, release_close)
        )
    _, late = await asyncio.wait(tasks, timeout=cfg.duration + cfg.grace)
    if barrier is not None:
        opener.cancel()
        await asyncio.gather(opener, return_exceptions=True)
    for task in late:
        task.cancel()
    if late:
        stats.error(f"{len(late)} stations cancelled after duration + grace")
        await asyncio.gather(*late, return_exceptions=True)
    wall = time.monotonic() - begin
    if held:
        held["before_release_messages_per_second"] = (
            round(held["messages"] / held["seconds"], 1) if held["seconds"] else None
        )
    return _summary(cfg, stats, len(stations), wall, held)


async def _open_barrier(
    barrier: Barrier,
    tasks: list[asyncio.Task[None]],
    stats: Stats,
    begin: float,
    held: dict[str, Any],
    release: Callable[[dict[str, Any]], Awaitable[None]] | None,
    release_close: Callable[[dict[str, Any]], Awaitable[None]] | None,
) -> None:
    """Once every running station waits before its first stop: `release`, then all stops;
    once all are done with their sessions: `release_close`, then they disconnect. `held`
    gets the figures of both phases."""
    while barrier.held < sum(1 for t in tasks if not t.done()):
        await asyncio.sleep(0.02)
    held.update(
        held=barrier.held,
        messages=stats.messages_sent,
        seconds=round(time.monotonic() - begin, 3),
    )
    if release is not None:
        await release(held)
    held["released_after_s"] = round(time.monotonic() - begin, 3)
    held["messages_before_release"] = stats.messages_sent
    barrier.go.set()
    while barrier.done < barrier.held and any(not t.done() for t in tasks):
        await asyncio.sleep(0.02)
    # The stop phase alone: from the release to the last station done.
    after = time.monotonic() - begin - held["released_after_s"]
    sent = stats.messages_sent - held["messages_before_release"]
    held["stop_phase_messages"] = sent
    held["stop_phase_seconds"] = round(after, 3)
    held["stop_phase_messages_per_second"] = round(sent / after, 1) if after > 0 else None
    if release_close is not None:
        await release_close(held)
    barrier.close.set()


def _summary(
    cfg: SimConfig, stats: Stats, stations: int, wall: float, held: dict[str, Any]
) -> dict[str, Any]:
    p50 = _percentile(stats.latencies, 0.50)
    p99 = _percentile(stats.latencies, 0.99)
    return {
        "stations": stations,
        "protocol": cfg.protocol,
        "speed": cfg.speed or "max",
        "offline_replay": cfg.offline_replay,
        "sessions_started": stats.sessions_started,
        "sessions_stopped": stats.sessions_stopped,
        "messages": stats.messages_sent,
        "call_results": stats.call_results,
        "call_errors": stats.call_errors,
        "errors": stats.errors,
        "reconnects": stats.reconnects,
        "connect_retries": stats.connect_retries,
        "resent": stats.resent,
        "calls_from_csms": stats.calls_answered_by_station,
        "latency_ms_p50": None if p50 is None else round(p50 * 1000, 2),
        "latency_ms_p99": None if p99 is None else round(p99 * 1000, 2),
        "wall_seconds": round(wall, 3),
        "messages_per_second": round(stats.messages_sent / wall, 1) if wall else None,
        "error_samples": stats.error_samples,
        **({"hold_stops": held} if held else {}),
    }
