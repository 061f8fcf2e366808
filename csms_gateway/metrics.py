"""Optional measurements for benchmarks (`GATEWAY_MEASURE_FILE`): the gateway-added latency
of inbound CALLs (from the read loop taking the frame to the answer written to the socket),
the event loop's lag (how late a 10 ms timer fires: what delays a frame before the read
loop takes it) and the garbage collector's full (generation 2) collections. Off by default;
when on, `SIGUSR1` writes them to the file as JSON and starts afresh (python -m csms_gateway)."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from pathlib import Path


class Meter:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.handled: list[float] = []
        self.lag: list[float] = []
        self.gc: list[tuple[int, float]] = []  # (generation, seconds) of each collection
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch_lag())
        gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc.append((info["generation"], time.perf_counter() - self._gc_started))

    async def _watch_lag(self, interval: float = 0.01) -> None:
        while True:
            begin = time.monotonic()
            await asyncio.sleep(interval)
            self.lag.append(time.monotonic() - begin - interval)

    def dump(self) -> None:
        handled, lag, self.handled, self.lag = self.handled, self.lag, [], []
        collections, self.gc = self.gc, []
        full = sorted(seconds for generation, seconds in collections if generation == 2)
        self.path.write_text(
            json.dumps(
                {
                    "handled_ms": sorted(round(x * 1000, 3) for x in handled),
                    "loop_lag_ms": sorted(round(x * 1000, 3) for x in lag),
                    "gc_collections": len(collections),
                    "gc_full_ms": [round(x * 1000, 1) for x in full],
                    "gc_frozen_objects": gc.get_freeze_count(),
                    "gc_generation2_objects": len(gc.get_objects(generation=2)),
                }
            )
        )


class GcPolicy:
    """Keeps Python's full garbage collections away from the message path.

    With 10,000 connections the collector's full (generation 2) pass walks millions of
    long-lived objects: 1-2 s with the event loop stopped (measured: docs/benchmarks.md).
    Every `freeze_seconds` the objects alive then are moved to the permanent generation
    (`gc.freeze()`, a constant-time list splice), so later collections only walk what is newer.
    The price: cyclic garbage among frozen objects (a closed connection's) is not reclaimed
    until the next full collection, which runs (`gc.unfreeze()`, `gc.collect()`) after
    `full_after_closes` connections closed, or every `full_seconds` otherwise: one pause
    right after a wave of disconnects, instead of pauses under load."""

    def __init__(
        self, *, freeze_seconds: float, full_after_closes: int, full_seconds: float
    ) -> None:
        self.freeze_seconds = freeze_seconds
        self.full_after_closes = full_after_closes
        self.full_seconds = full_seconds
        self.closes = 0
        self.full_collections = 0
        self._last_full = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.freeze_seconds > 0:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def closed(self) -> None:
        self.closes += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_seconds)
            self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        if self.closes >= self.full_after_closes or now - self._last_full >= self.full_seconds:
            gc.unfreeze()
            gc.collect()
            self.closes = 0
            self.full_collections += 1
            self._last_full = now
        gc.freeze()
