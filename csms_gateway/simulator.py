"""Charge-station simulator: `python -m csms_gateway.simulator --stations N --protocol 1.6`
(`1.5`, `1.6` or `2.0.1`).

Drives real charge stations over real websockets (the `websockets` package) against any CSMS
that speaks OCPP-J: boot, heartbeats, status notifications, authorize, then sessions with
periodic meter values (energy register, power, current), a parking phase (SuspendedEV)
before the stop. It is an outer layer: it speaks only OCPP over the network and imports
nothing of Django or the apps (import-linter contract `simulator-network-only`).

Time is virtual. Each station stamps its messages with its own clock, which advances
`--speed` station seconds per wall second (`--speed 60`: a 60-minute session in 60 s;
`--speed max`: no waiting at all). In live time (`--speed 1`, or slower) the station clock
starts now, so the CSMS sees sessions as they happen. Faster than that, so that no stamp is
ever ahead of the CSMS's clock, it starts in the past by the station time the run can
cover. A 2.0.1 station
marks an event `offline: true` when it sends it more than a minute after it happened (always
the case in compressed time: the CSMS gets history, as from a station that was offline).

Transaction messages are durable, as on a real station: a message that got no answer (the
connection dropped, the CSMS restarted) stays first in the station's outbox and is sent again
with the same content after the station reconnects. `--offline-replay` makes every session go
offline once: the station sends a meter value and drops the connection before the answer
arrives, queues the rest of the session (meter values, status changes, the stop) with their
original timestamps, then reconnects and replays the queue in order.

A station answers the CSMS's commands from state it keeps (`simulator_commands.py`:
configuration, charging profiles and the composite schedule, reservations, local list,
availability, remote start / stop of a session, firmware and log uploads with their status
notifications, a reboot after Reset); any other CALL with a CALLERROR `NotImplemented`, and a
frame of an unknown message type with the error the version defines. With `--stay` a station
stays connected after its sessions, reconnecting (and failing over to the next of several
URLs) when its connection drops. At the end the simulator prints a JSON summary; `--record
FILE` also writes one JSON line per session and per answered transaction message (what
benchmarks verify).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fnmatch
import itertools
import json
import math
import os
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from csms_gateway import ocppj
from csms_gateway.simulator_commands import CommandResponder

DEMO_ID_TAGS = ("PPY00000001", "PPY00000002", "PPY00000003", "DRV00000001", "DRV00000002")
TRANSACTION_ACTIONS = frozenset(
    {"StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent"}
)
VOLTAGE = 230  # per phase; three phases


def default_credentials_path() -> Path:
    # The same DATA_DIR rule as config.env.data_dir(), without importing the Django project.
    root = Path(__file__).resolve().parent.parent
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


@dataclass
class Pending:
    message_id: str
    action: str
    text: str  # the payload as sent, byte for byte (a resend is identical)
    sent_wall: float = 0.0


class Offline(Exception):
    """Raised inside `call` when a message was queued instead of sent (station offline)."""


class Station(CommandResponder):
    def __init__(
        self,
        identity: str,
        password: str,
        index: int,
        cfg: SimConfig,
        stats: Stats,
        record: Callable[[dict[str, Any]], None],
        deadline: float,
        clock_start: datetime,
        barrier: Barrier | None = None,
    ) -> None:
        self.identity = identity
        self.barrier = barrier
        self.password = password
        self.cfg = cfg
        self.stats = stats
        self.record = record
        self.deadline = deadline
        self.rng = random.Random(f"{cfg.seed}:{identity}")
        self.version = cfg.protocol
        self.subprotocol = f"ocpp{cfg.protocol}"
        self.v1 = cfg.protocol != "2.0.1"  # OCPP 1.5 or 1.6: the same message set, mostly
        self.last_status: dict[int, str] = {}  # 1.5: statuses are sent when they change
        self.meter_values_sent = 0
        self.vt = clock_start  # this station's virtual clock
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self.outbox: deque[Pending] = deque()
        self.offline = False
        self.ids = itertools.count(1)
        self.heartbeat_interval = cfg.heartbeat or 300.0
        self.last_sent = time.monotonic()
        self.register_wh = self.rng.randrange(0, 5_000_000)
        self.power_w = self.rng.choice([7400, 11000, 22000])
        self.urls = [u if u.endswith("/") else u + "/" for u in cfg.url.split(",") if u]
        self.url_index = index % len(self.urls)
        self._connect_lock = asyncio.Lock()
        self.active_txid: str | None = None
        self.remote_stop: str | None = None
        self.reboot_reason: str | None = None
        self.boots = 0
        self.init_responder()

    # --- connection ---------------------------------------------------------------------

    def fast(self) -> bool:
        return self.cfg.speed <= 0 or time.monotonic() >= self.deadline

    @property
    def url(self) -> str:
        return self.urls[self.url_index]

    async def _connect(self) -> None:
        async with self._connect_lock:
            if self.ws is not None and self.reader is not None and not self.reader.done():
                return  # another task of this station connected meanwhile
            await self._connect_unlocked()

    async def _connect_unlocked(self) -> None:
        token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
        delay = 0.2
        while True:
            try:
                self.ws = await connect(
                    self.url + self.identity,
                    subprotocols=[self.subprotocol],  # type: ignore[list-item]
                    additional_headers={"Authorization": f"Basic {token}"},
                    open_timeout=20,
                    close_timeout=2,
                    max_size=1 << 20,
                    compression=None,
                )
            except InvalidStatus as exc:
                if exc.response.status_code in (401, 403, 404):
                    raise RuntimeError(f"{self.identity}: refused: {exc}") from None
                self.stats.connect_retries += 1
                await asyncio.sleep(delay * (0.5 + self.rng.random()))
                delay = min(delay * 2, 5.0)
                continue
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.stats.connect_retries += 1
                self.url_index = (self.url_index + 1) % len(self.urls)  # fail over
                if time.monotonic() > self.deadline + self.cfg.grace:
                    self.stats.error(f"{self.identity}: connect: {exc!r}")
                    raise
                await asyncio.sleep(delay * (0.5 + self.rng.random()))
                delay = min(delay * 2, 5.0)
                continue
            if self.ws.subprotocol != self.subprotocol:
                await self.ws.close()
                raise RuntimeError(f"{self.identity}: the CSMS did not accept {self.subprotocol}")
            self.reader = asyncio.create_task(self._read(self.ws))
            return

    async def _disconnect(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                try:
                    frame = ocppj.parse_frame(message)
                except ocppj.OcppError as exc:
                    mid = str(exc.details.get("message_id", ""))
                    if mid:
                        await ws.send(ocppj.dump_error(mid, exc, self.version))
                    continue
                except ocppj.UnanswerableFrame as exc:
                    answer = ocppj.dump_unreadable(exc, self.version)
                    if answer is not None:
                        await ws.send(answer)
                    continue
                if isinstance(frame, ocppj.Call):
                    # A command from the CSMS: answered by its own task, so that the reader
                    # goes on delivering the answers to this station's own CALLs.
                    task = asyncio.get_running_loop().create_task(self.on_csms_call(ws, frame))
                    self._followups.add(task)
                    task.add_done_callback(self._followups.discard)
                    continue
                future = self.waiting.pop(frame.message_id, None)
                if future is not None and not future.done():
                    if isinstance(frame, ocppj.CallResult):
                        future.set_result([3, frame.message_id, frame.payload])
                    else:
                        future.set_result(
                            [4, frame.message_id, frame.code, frame.description, frame.details]
                        )
        except ConnectionClosed:
            pass
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self.waiting.clear()

    # --- messages -----------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one CALL and return its CALLRESULT payload.

        Transaction messages go through the outbox: while the station is offline they are
        queued (raises `Offline`), and one that got no answer is sent again, unchanged, on
        the next connection. Other messages are sent again too when the connection drops
        before their answer (a repeated status or heartbeat is harmless)."""
        pending = Pending(f"{next(self.ids)}", action, json.dumps(payload, separators=(",", ":")))
        if action in TRANSACTION_ACTIONS or self.offline:
            self.outbox.append(pending)
            if self.offline:
                raise Offline
            return await self._flush(until=pending)
        return await self._send(pending)

    async def _flush(self, until: Pending | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self.outbox:
            head = self.outbox[0]
            result = await self._send(head)
            self.outbox.popleft()
            if head is until:
                break
        return result

    async def _send(self, p: Pending) -> dict[str, Any]:
        first = True
        while True:
            if self.ws is None:
                await self._connect()
            assert self.ws is not None
            loop = asyncio.get_running_loop()
            future: asyncio.Future[list[Any]] = loop.create_future()
            self.waiting[p.message_id] = future
            start = time.monotonic()
            if first:
                p.sent_wall = time.time()
            else:
                self.stats.resent += 1
            try:
                await self.ws.send(f'[2,"{p.message_id}","{p.action}",{p.text}]')
                self.stats.messages_sent += 1
                self.last_sent = time.monotonic()
                frame = await asyncio.wait_for(future, self.cfg.call_timeout)
            except (ConnectionClosed, ConnectionError, TimeoutError) as exc:
                self.waiting.pop(p.message_id, None)
                self.stats.error(f"{self.identity}: {p.action}: {exc!r}")
                await self._disconnect()
                if time.monotonic() > self.deadline + self.cfg.grace:
                    raise ConnectionError(f"{p.action} not answered") from exc
                self.stats.reconnects += 1
                first = False
                await asyncio.sleep(0.2 + self.rng.random())
                continue
            self.stats.latencies.append(time.monotonic() - start)
            if frame[0] == ocppj.CALLERROR:
                self.stats.call_errors += 1
                raise RuntimeError(f"{self.identity}: {p.action}: CALLERROR {frame[2]} {frame[3]}")
            self.stats.call_results += 1
            if p.action in TRANSACTION_ACTIONS:
                self.record(
                    {
                        "type": "answered",
                        "identity": self.identity,
                        "action": p.action,
                        "payload": p.text,
                    }
                )
            return frame[2]

    async def go_offline(self, action: str, payload: dict[str, Any]) -> None:
        """Send a transaction message and drop the connection before its answer arrives:
        the station never learns whether it was stored, so it sends it again later."""
        pending = Pending(f"{next(self.ids)}", action, json.dumps(payload, separators=(",", ":")))
        self.outbox.append(pending)
        if self.ws is None:
            await self._connect()
        assert self.ws is not None
        pending.sent_wall = time.time()
        await self.ws.send(f'[2,"{pending.message_id}","{action}",{pending.text}]')
        self.stats.messages_sent += 1
        await self._disconnect()
        self.offline = True

    async def come_online(self) -> None:
        self.offline = False
        self.stats.reconnects += 1
        # Replay the queue in order: the unanswered message first, then what was queued.
        self.stats.resent += 1
        await self._flush()

    async def send_maybe(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self.call(action, payload)
        except Offline:
            return None

    # --- time ---------------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Move the station clock forward; in wall time, sleep `seconds / speed` (sending
        heartbeats when they fall due), unless running flat out."""
        self.vt += timedelta(seconds=seconds)
        if self.fast():
            return
        wall_end = time.monotonic() + seconds / self.cfg.speed
        while (now := time.monotonic()) < wall_end and not self.fast():
            due = self.last_sent + self.heartbeat_interval
            await asyncio.sleep(max(0.0, min(wall_end, due, self.deadline) - now))
            if time.monotonic() >= due and not self.offline:
                await self.call("Heartbeat", {})

    def stamp(self) -> str:
        return ocpp_time(self.vt)

    def late(self) -> bool:
        return (datetime.now(UTC) - self.vt).total_seconds() > 60

    # --- the station's life -------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._connect()
            await self.boot()
            await self.call("Heartbeat", {})
            await self.status(0, "Available")
            for evse in range(1, self.cfg.evses + 1):
                await self.status(evse, "Available")
            for n in range(self.cfg.sessions_per_station):
                if time.monotonic() >= self.deadline:
                    break
                if n:
                    await self.advance(self.cfg.gap_minutes * 60)
                await self.session(n)
            if self.cfg.stay:
                await self.idle()
            if self.barrier is not None:
                await self.barrier.finished()
        except Exception as exc:  # noqa: BLE001 - one broken station must not stop the others
            self.stats.error(f"{self.identity}: {exc!r}")
        finally:
            for task in list(self._followups):
                task.cancel()
            await asyncio.gather(*self._followups, return_exceptions=True)
            await self._disconnect()

    async def idle(self) -> None:
        """Stay connected until the deadline: heartbeats when due; after a dropped
        connection (a reboot, a gateway node gone) connect again, failing over to the next
        URL, and boot."""
        while (now := time.monotonic()) < self.deadline:
            if self.ws is None or self.reader is None or self.reader.done():
                if self.reboot_reason is not None:
                    await asyncio.sleep(self.cfg.reboot_delay)
                else:
                    self.stats.reconnects += 1
                await self._disconnect()
                await self._connect()
                await self.boot()
                await self.status(0, "Available")
                await self.status(1, "Available" if self.active_txid is None else "Charging")
                for evse in range(2, self.cfg.evses + 1):
                    await self.status(evse, "Available")
                continue
            due = self.last_sent + self.heartbeat_interval
            await asyncio.wait([self.reader], timeout=max(0.0, min(due, self.deadline) - now))
            if self.reader is not None and not self.reader.done() and time.monotonic() >= due:
                try:
                    await self.call("Heartbeat", {})
                except (ConnectionError, RuntimeError):
                    continue

    async def reboot(self, reason: str) -> None:
        """Go offline for `reboot_delay` and boot again with `reason` (a staying station's
        idle loop reconnects)."""
        await asyncio.sleep(0.05)  # the answer that triggered the reboot goes out first
        self.reboot_reason = reason
        ws = self.ws
        if ws is not None:
            await ws.close()

    async def start_remote_session(self, id_tag: str, remote_start_id: int | None) -> None:
        try:
            await self.session(-1, id_tag=id_tag, remote_start_id=remote_start_id)
        except Exception as exc:  # noqa: BLE001
            self.stats.error(f"{self.identity}: remote session: {exc!r}")

    def request_remote_stop(self, txid: str) -> None:
        self.remote_stop = txid

    def boot_payload(self) -> dict[str, Any]:
        if self.v1:
            return {
                "chargePointVendor": "SimVendor",
                "chargePointModel": "SimAC22",
                "chargePointSerialNumber": f"SIM-{self.identity}"[:25],
                "firmwareVersion": self.state.firmware_version,
            }
        return {
            "reason": self.reboot_reason or "PowerUp",
            "chargingStation": {
                "vendorName": "SimVendor",
                "model": "SimAC22",
                "serialNumber": f"SIM-{self.identity}"[:25],
                "firmwareVersion": self.state.firmware_version,
            },
        }

    async def boot(self) -> None:
        answer = await self.call("BootNotification", self.boot_payload())
        self.reboot_reason = None
        self.boots += 1
        if answer.get("status") != "Accepted":
            raise RuntimeError(f"{self.identity}: boot {answer.get('status')}")
        interval = answer.get("heartbeatInterval" if self.version == "1.5" else "interval")
        if self.cfg.heartbeat is None and isinstance(interval, int):
            self.heartbeat_interval = float(max(interval, 1))

    async def status(self, connector: int, status: str) -> None:
        if self.version == "1.5":
            # 1.5 knows Available / Occupied (plus Faulted, Unavailable, Reserved): a plugged-in
            # EV is Occupied whether it charges or not, and a status is sent when it changes.
            status = "Available" if status == "Available" else "Occupied"
            if self.last_status.get(connector) == status:
                return
            self.last_status[connector] = status
        if self.v1:
            payload: dict[str, Any] = {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": status,
                "timestamp": self.stamp(),
            }
        else:
            if connector == 0:
                return  # 2.0.1 reports per EVSE connector only
            payload = {
                "timestamp": self.stamp(),
                "connectorStatus": status,
                "evseId": connector,
                "connectorId": 1,
            }
        await self.send_maybe("StatusNotification", payload)

    def sample(self, energy_wh: int, power_w: int, context: str) -> dict[str, Any]:
        amps = round(power_w / (3 * VOLTAGE), 1)
        if self.version == "1.5":
            return self.sample_15(energy_wh, power_w, amps, context)
        if self.v1:
            values: list[dict[str, Any]] = [
                {
                    "value": str(energy_wh),
                    "context": context,
                    "unit": "Wh",
                    "measurand": "Energy.Active.Import.Register",
                    "location": "Outlet",
                },
                {
                    "value": str(power_w),
                    "context": context,
                    "unit": "W",
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                },
                {
                    "value": str(amps),
                    "context": context,
                    "unit": "A",
                    "measurand": "Current.Import",
                    "location": "Outlet",
                    "phase": "L1",
                },
            ]
        else:
            values = [
                {
                    "value": energy_wh,
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "Wh"},
                },
                {
                    "value": power_w,
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unitOfMeasure": {"unit": "W"},
                },
                {
                    "value": amps,
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": "L1",
                    "unitOfMeasure": {"unit": "A"},
                },
            ]
        return {"timestamp": self.stamp(), "sampledValue": values}

    def sample_15(self, energy_wh: int, power_w: int, amps: float, context: str) -> dict:
        """An OCPP 1.5 meter value. Both shapes seen in the field, alternately: the readings
        in `value` (the WSDL's name) or in `values`; the energy reading is the bare text once
        in a while (a reading without attributes), since Wh and the register are defaults."""
        self.meter_values_sent += 1
        n = self.meter_values_sent
        energy: Any = {
            "value": str(energy_wh),
            "context": context,
            "unit": "Wh",
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
        }
        if n % 3 == 0:
            energy = str(energy_wh)
        readings = [
            energy,
            {
                "value": str(power_w),
                "context": context,
                "unit": "W",
                "measurand": "Power.Active.Import",
            },
            {"value": str(amps), "context": context, "unit": "Amp", "measurand": "Current.Import"},
        ]
        return {"timestamp": self.stamp(), "value" if n % 2 else "values": readings}

    async def session(
        self, n: int, id_tag: str | None = None, remote_start_id: int | None = None
    ) -> None:
        cfg = self.cfg
        length = cfg.session_minutes * 60
        charge_end = max(60, int(length * cfg.charge_fraction) // 60 * 60)
        # Station-time offsets of what happens, in order: periodic samples, the EV stops
        # taking energy (parking begins), the stop.
        ticks = sorted(
            {t for t in range(cfg.meter_interval, length, cfg.meter_interval)} | {charge_end}
        )
        offline_at = ticks[0] if cfg.offline_replay and len(ticks) > 1 else None
        if id_tag is None:
            id_tag = cfg.id_tags[(self.rng.randrange(len(cfg.id_tags)))]
        start_wh = self.register_wh
        power = self.power_w

        def energy_at(t: int) -> int:
            return start_wh + round(power * min(t, charge_end) / 3600)

        started_at = self.vt
        evse = 1
        txid: str
        if self.v1:
            await self.status(evse, "Preparing")
            auth = await self.call("Authorize", {"idTag": id_tag})
            if auth.get("idTagInfo", {}).get("status") != "Accepted":
                raise RuntimeError(f"{self.identity}: {id_tag} not accepted: {auth}")
            started = await self.call(
                "StartTransaction",
                {
                    "connectorId": evse,
                    "idTag": id_tag,
                    "meterStart": start_wh,
                    "timestamp": self.stamp(),
                },
            )
            txid = str(started["transactionId"])
            self.active_txid = txid
            self.stats.sessions_started += 1
            await self.status(evse, "Charging")
        else:
            txid = str(uuid.uuid4())
            seq = itertools.count(0)
            await self.status(evse, "Occupied")
            auth = await self.call(
                "Authorize", {"idToken": {"idToken": id_tag, "type": "ISO14443"}}
            )
            if auth.get("idTokenInfo", {}).get("status") != "Accepted":
                raise RuntimeError(f"{self.identity}: {id_tag} not accepted: {auth}")

            def event(kind: str, trigger: str, state: str, context: str, t: int) -> dict:
                payload: dict[str, Any] = {
                    "eventType": kind,
                    "timestamp": self.stamp(),
                    "triggerReason": trigger,
                    "seqNo": next(seq),
                    "offline": self.offline or self.late(),
                    "transactionInfo": {"transactionId": txid, "chargingState": state},
                    "evse": {"id": evse, "connectorId": 1},
                    "meterValue": [
                        self.sample(energy_at(t), power if t < charge_end else 0, context)
                    ],
                }
                if kind == "Started":
                    payload["idToken"] = {"idToken": id_tag, "type": "ISO14443"}
                    if remote_start_id is not None:
                        payload["transactionInfo"]["remoteStartId"] = remote_start_id
                return payload

            self.active_txid = txid
            await self.call(
                "TransactionEvent",
                event(
                    "Started",
                    "RemoteStart" if remote_start_id is not None else "Authorized",
                    "Charging",
                    "Transaction.Begin",
                    0,
                ),
            )
            self.stats.sessions_started += 1

        t = 0
        for tick in ticks:
            await self.advance(tick - t)
            if self.remote_stop == txid:
                break  # the CSMS asked to stop: the session ends now
            t = tick
            if self.v1:
                if tick == charge_end:
                    await self.status(evse, "SuspendedEV")
                payload = {
                    "connectorId": evse,
                    "transactionId": int(txid),
                    "values" if self.version == "1.5" else "meterValue": [
                        self.sample(energy_at(t), power if t < charge_end else 0, "Sample.Periodic")
                    ],
                }
                action = "MeterValues"
            else:
                parked = tick >= charge_end
                payload = event(
                    "Updated",
                    "ChargingStateChanged" if tick == charge_end else "MeterValuePeriodic",
                    "SuspendedEV" if parked else "Charging",
                    "Sample.Periodic",
                    t,
                )
                action = "TransactionEvent"
            if tick == offline_at:
                await self.go_offline(action, payload)
            else:
                await self.send_maybe(action, payload)
        remote = self.remote_stop == txid
        if remote:
            length = t  # stopped at the last tick sent
            charge_end = min(charge_end, length)
        else:
            await self.advance(length - t)
        if self.barrier is not None and n == 0:
            await self.barrier.wait()
        stop_wh = energy_at(length)
        if self.v1:
            stop = {
                "transactionId": int(txid),
                "idTag": id_tag,
                "meterStop": stop_wh,
                "timestamp": self.stamp(),
                "reason": "Remote" if remote else "EVDisconnected",
            }
            if self.version == "1.5":
                del stop["reason"]  # 1.5 has no stop reason
            action = "StopTransaction"
        else:
            stop = event(
                "Ended",
                "RemoteStop" if remote else "EVDeparted",
                "Idle",
                "Transaction.End",
                length,
            )
            stop["transactionInfo"]["stoppedReason"] = "Remote" if remote else "EVDisconnected"
            action = "TransactionEvent"
        stopped_at = self.vt
        stop_pending = Pending(f"{next(self.ids)}", action, json.dumps(stop, separators=(",", ":")))
        self.outbox.append(stop_pending)
        replayed = self.offline
        if replayed:
            await self.come_online()  # the queue, the stop last
        else:
            await self._flush(until=stop_pending)
        self.stats.sessions_stopped += 1
        self.active_txid = None
        self.remote_stop = None
        self.register_wh = stop_wh
        if self.v1:
            await self.status(evse, "Finishing")
        await self.status(evse, "Available")
        self.record(
            {
                "type": "session",
                "identity": self.identity,
                "protocol": self.version,
                "transaction_id": txid,
                "id_tag": id_tag,
                "evse": evse,
                "started_at": ocpp_time(started_at),
                "charging_ended_at": ocpp_time(started_at + timedelta(seconds=charge_end)),
                "stopped_at": ocpp_time(stopped_at),
                "meter_start_wh": start_wh,
                "meter_stop_wh": stop_wh,
                "stop_sent": stop_pending.sent_wall,
                "stop_answered": time.time(),
                "offline_replay": offline_at is not None,
            }
        )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


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

        async def open_barrier() -> None:
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

        opener = asyncio.create_task(open_barrier())
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
    p50 = _percentile(stats.latencies, 0.50)
    p99 = _percentile(stats.latencies, 0.99)
    return {
        "stations": len(stations),
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


def load_credentials(path: Path, *, stations: int, match: str) -> dict[str, str]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object identity -> password")
    chosen = sorted(i for i in data if fnmatch.fnmatchcase(i, match))[:stations]
    if len(chosen) < stations:
        raise SystemExit(
            f"{path}: {len(chosen)} stations match {match!r}, {stations} asked "
            "(`python manage.py load_demo_data` writes the demo stations)"
        )
    return {i: str(data[i]) for i in chosen}


def _speed(value: str) -> float:
    if value in ("max", "0"):
        return 0.0
    speed = float(value)
    if speed <= 0:
        raise argparse.ArgumentTypeError("speed must be positive, or 'max'")
    return speed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m csms_gateway.simulator",
        description="Simulated OCPP charge stations over real websockets.",
    )
    p.add_argument("--stations", type=int, required=True, help="how many stations to run")
    p.add_argument("--protocol", choices=["1.5", "1.6", "2.0.1"], default="1.6")
    p.add_argument("--url", default="ws://127.0.0.1:9000/ocpp/", help="CSMS URL + identity")
    p.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="JSON identity -> password (default: DATA_DIR/demo-stations.json)",
    )
    p.add_argument("--match", default="*", help="only identities matching this glob")
    p.add_argument("--sessions-per-station", type=int, default=1)
    p.add_argument("--duration", type=float, default=600.0, help="wall seconds (bound)")
    p.add_argument("--speed", type=_speed, default=0.0, help="station s per wall s, or 'max'")
    p.add_argument("--session-minutes", type=int, default=60)
    p.add_argument("--meter-interval", type=int, default=900, help="station seconds")
    p.add_argument("--gap-minutes", type=int, default=5)
    p.add_argument("--offline-replay", action="store_true")
    p.add_argument("--id-tags", default=",".join(DEMO_ID_TAGS))
    p.add_argument("--heartbeat", type=float, default=None, help="wall seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--record", type=Path, default=None, help="write JSON lines here")
    p.add_argument(
        "--hold-stops",
        action="store_true",
        help="hold every first stop until all stations are there, print a JSON line "
        '{"holding": ...}, send all stops once a line is read from stdin; after the sessions '
        'print {"sessions_done": ...} and disconnect once another line is read',
    )
    p.add_argument(
        "--stay",
        action="store_true",
        help="after the sessions stay connected until --duration, answering CSMS commands "
        "(reconnect and fail over to the next of several comma-separated --url)",
    )
    p.add_argument("--answer-delay", type=float, default=0.0, help="wall s before answering")
    p.add_argument("--silent", default="", help="comma-separated CSMS actions never answered")
    p.add_argument("--evses", type=int, default=1, help="EVSEs per station (status at boot)")
    args = p.parse_args(argv)
    if args.stations < 1 or args.sessions_per_station < 0 or args.duration <= 0:
        p.error("--stations >= 1, --sessions-per-station >= 0, --duration > 0")
    if args.evses < 1:
        p.error("--evses >= 1")
    if args.session_minutes < 2 or args.meter_interval < 1:
        p.error("--session-minutes >= 2, --meter-interval >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = SimConfig(
        url=args.url,
        credentials=load_credentials(
            args.credentials or default_credentials_path(),
            stations=args.stations,
            match=args.match,
        ),
        protocol=args.protocol,
        sessions_per_station=args.sessions_per_station,
        duration=args.duration,
        speed=args.speed,
        session_minutes=args.session_minutes,
        meter_interval=args.meter_interval,
        gap_minutes=args.gap_minutes,
        offline_replay=args.offline_replay,
        id_tags=tuple(t for t in args.id_tags.split(",") if t),
        heartbeat=args.heartbeat,
        seed=args.seed,
        hold_stops=args.hold_stops,
        stay=args.stay,
        answer_delay=args.answer_delay,
        silent=frozenset(a for a in args.silent.split(",") if a),
        evses=args.evses,
    )
    out = open(args.record, "w") if args.record else None  # noqa: SIM115

    def record(line: dict[str, Any]) -> None:
        if out is not None:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")

    async def release(held: dict[str, Any]) -> None:
        print(json.dumps({"holding": held}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def release_close(held: dict[str, Any]) -> None:
        if out is not None:
            out.flush()
        print(json.dumps({"sessions_done": held}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    try:
        summary = asyncio.run(
            simulate(
                cfg,
                record,
                release if args.hold_stops else None,
                release_close if args.hold_stops else None,
            )
        )
    finally:
        if out is not None:
            out.close()
    print(json.dumps(summary), flush=True)
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
