"""Load driver of `make bench-gateway`: one process holding a slice of the simulated stations.

Lean on purpose (the benchmark measures the server, and several of these share the machine
with it): one websocket and one reader task per station, no simulator state. It reads JSON
commands on stdin and writes JSON lines on stdout:

    start:                        connect every station (at most --concurrency handshakes at
                                  a time) and boot it            -> {"event": "connected", ...}
    {"cmd": "load", "rate": R, "seconds": S}
                                  Heartbeat / StatusNotification (connector 0) CALLs at R per
                                  second, round robin over idle stations (one outstanding CALL
                                  per station)                   -> {"event": "load", ...}
    {"cmd": "storm"}              drop every connection at once, reconnect all at once, boot
                                                                 -> {"event": "storm", ...}
    {"cmd": "quit"}

Latency is CALL sent → CALLRESULT received, measured here (so it includes this process's own
event loop and the kernel; an upper bound of what the server adds). CALLs from the server
(remote commands) are answered at once: TriggerMessage Accepted, GetConfiguration one key.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

BOOT = {"chargePointVendor": "SimVendor", "chargePointModel": "SimAC22"}
STATUS = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Conn:
    __slots__ = ("identity", "auth", "ws", "reader", "pending", "ids", "busy")

    def __init__(self, identity: str, password: str) -> None:
        self.identity = identity
        self.auth = "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[str, tuple[asyncio.Future[Any], float]] = {}
        self.ids = itertools.count(1)
        self.busy = False


class Driver:
    def __init__(self, url: str, credentials: dict[str, str], concurrency: int) -> None:
        self.url = url
        self.conns = [Conn(i, p) for i, p in credentials.items()]
        self.concurrency = concurrency
        self.latencies: list[float] = []
        self.errors = 0
        self.retries = 0
        self.commands_answered = 0
        self.retry_reasons: dict[str, int] = {}
        self.error_samples: list[str] = []

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(repr(exc)[:200])

    async def _read(self, c: Conn, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame[0] == 2:  # a command from the CSMS
                    action = frame[2]
                    if action == "GetConfiguration":
                        payload: dict[str, Any] = {
                            "configurationKey": [
                                {"key": "HeartbeatInterval", "readonly": False, "value": "3600"}
                            ]
                        }
                    elif action in ("TriggerMessage", "ClearCache", "Reset"):
                        payload = {"status": "Accepted"}
                    else:
                        await ws.send(json.dumps([4, frame[1], "NotImplemented", "", {}]))
                        continue
                    await ws.send(json.dumps([3, frame[1], payload]))
                    self.commands_answered += 1
                    continue
                waiter = c.pending.pop(frame[1], None)
                if waiter is not None:
                    future, sent = waiter
                    if not future.done():
                        future.set_result((frame, time.monotonic() - sent))
        except ConnectionClosed:
            pass
        finally:
            for future, _ in c.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("closed"))
            c.pending.clear()

    async def call(self, c: Conn, action: str, payload: dict[str, Any]) -> float:
        assert c.ws is not None
        mid = str(next(c.ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        c.pending[mid] = (future, time.monotonic())
        await c.ws.send(json.dumps([2, mid, action, payload], separators=(",", ":")))
        frame, latency = await asyncio.wait_for(future, 60)
        if frame[0] != 3:
            raise RuntimeError(f"{c.identity} {action}: {frame}")
        return float(latency)

    async def open(self, c: Conn) -> None:
        delay = 0.2
        while True:
            try:
                c.ws = await connect(
                    self.url + c.identity,
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    additional_headers={"Authorization": c.auth},
                    open_timeout=60,
                    ping_interval=None,
                    close_timeout=1,
                    compression=None,
                )
                break
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.retries += 1
                name = type(exc).__name__
                self.retry_reasons[name] = self.retry_reasons.get(name, 0) + 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        c.reader = asyncio.create_task(self._read(c, c.ws))
        await self.call(c, "BootNotification", BOOT)

    async def open_all(self, concurrency: int) -> float:
        begin = time.monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def one(c: Conn) -> None:
            async with gate:
                try:
                    await self.open(c)
                except Exception as exc:  # noqa: BLE001
                    self.error(exc)

        await asyncio.gather(*(one(c) for c in self.conns))
        return time.monotonic() - begin

    async def close_all(self) -> None:
        async def one(c: Conn) -> None:
            if c.ws is not None:
                c.ws.transport.abort()  # the network drops: no closing handshake
            if c.reader is not None:
                await asyncio.gather(c.reader, return_exceptions=True)
            c.ws, c.reader = None, None

        await asyncio.gather(*(one(c) for c in self.conns))

    async def load(self, rate: float, seconds: float) -> dict[str, Any]:
        self.latencies = []
        sent = answered = errors = skipped = 0
        cycle = itertools.cycle(self.conns)
        tasks: set[asyncio.Task[None]] = set()
        flip = itertools.cycle([True, False])

        async def one(c: Conn) -> None:
            nonlocal answered, errors
            c.busy = True
            try:
                heartbeat = next(flip)
                action = "Heartbeat" if heartbeat else "StatusNotification"
                latency = await self.call(c, action, {} if heartbeat else STATUS)
                self.latencies.append(latency)
                answered += 1
            except Exception as exc:  # noqa: BLE001
                errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(repr(exc)[:200])
            finally:
                c.busy = False

        begin = time.monotonic()
        while (elapsed := time.monotonic() - begin) < seconds:
            due = int(elapsed * rate) - sent
            for _ in range(due):
                c = next(cycle)
                if c.busy or c.ws is None:
                    skipped += 1
                    sent += 1
                    continue
                task = asyncio.create_task(one(c))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        wall = time.monotonic() - begin
        return {
            "event": "load",
            "offered": sent,
            "skipped_busy": skipped,
            "answered": answered,
            "errors": errors,
            "seconds": round(wall, 3),
            "latencies_ms": sorted(round(x * 1000, 3) for x in self.latencies),
            "error_samples": self.error_samples,
        }


async def run(args: argparse.Namespace) -> None:
    credentials = json.loads(open(args.credentials).read())
    chosen = dict(sorted(credentials.items())[args.first : args.first + args.count])
    driver = Driver(args.url, chosen, args.concurrency)
    seconds = await driver.open_all(args.concurrency)
    emit({"event": "connected", "stations": len(chosen), "seconds": round(seconds, 3),
          "errors": driver.errors, "retries": driver.retries,
          "error_samples": driver.error_samples})  # fmt: skip
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "load":
            driver.error_samples = []
            emit(await driver.load(cmd["rate"], cmd["seconds"]))
        elif cmd["cmd"] == "storm":
            await driver.close_all()
            driver.errors = driver.retries = 0
            driver.retry_reasons = {}
            seconds = await driver.open_all(len(driver.conns))  # everyone at once
            emit({"event": "storm", "stations": len(chosen), "seconds": round(seconds, 3),
                  "errors": driver.errors, "retries": driver.retries,
                  "retry_reasons": driver.retry_reasons})  # fmt: skip
        elif cmd["cmd"] == "stats":
            emit({"event": "stats", "commands_answered": driver.commands_answered})
        elif cmd["cmd"] == "quit":
            break
    await driver.close_all()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--credentials", required=True)
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--concurrency", type=int, default=200)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
