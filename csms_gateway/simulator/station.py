"""A simulated charge station: boot, status, heartbeats, sessions with meter values in its
own station time, and (through `CommandResponder`) answers to the CSMS's commands."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection

from csms_gateway.simulator.config import VOLTAGE, Barrier, SimConfig, Stats, ocpp_time
from csms_gateway.simulator.link import Link, Pending
from csms_gateway.simulator.responder import CommandResponder


@dataclass
class Session:
    """One session's plan and progress; times are station-time offsets from its start."""

    id_tag: str
    remote_start_id: int | None
    length: int  # the stop (earlier after a remote stop)
    charge_end: int  # the EV stops taking energy: parked until the stop
    ticks: list[int]  # periodic meter values and the end of charging, in order
    offline_at: int | None  # the tick sent just before the connection drops (offline replay)
    start_wh: int
    power: int
    started_at: datetime
    evse: int = 1
    txid: str = ""
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(0))  # 2.0.1 seqNo

    def energy_at(self, t: int) -> int:
        return self.start_wh + round(self.power * min(t, self.charge_end) / 3600)

    def power_at(self, t: int) -> int:
        return self.power if t < self.charge_end else 0


class Station(Link, CommandResponder):
    """One station: its connection (`Link`), its answers to the CSMS (`CommandResponder`),
    its life and sessions (here)."""

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

    # --- time ---------------------------------------------------------------------------

    def fast(self) -> bool:
        return self.cfg.speed <= 0 or time.monotonic() >= self.deadline

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
        """One session on EVSE 1: authorize and start, periodic meter values (charging, then
        parked), the stop (early when the CSMS asked for a remote stop)."""
        s = self._plan_session(id_tag, remote_start_id)
        if self.v1:
            await self._start_v1(s)
        else:
            await self._start_201(s)
        t = await self._meter(s)
        remote = self.remote_stop == s.txid
        if remote:
            s.length = t  # stopped at the last tick sent
            s.charge_end = min(s.charge_end, s.length)
        else:
            await self.advance(s.length - t)
        if self.barrier is not None and n == 0:
            await self.barrier.wait()
        await self._stop(s, remote)

    def _plan_session(self, id_tag: str | None, remote_start_id: int | None) -> Session:
        cfg = self.cfg
        length = cfg.session_minutes * 60
        charge_end = max(60, int(length * cfg.charge_fraction) // 60 * 60)
        # Station-time offsets of what happens, in order: periodic samples, the EV stops
        # taking energy (parking begins), the stop.
        ticks = sorted(
            {t for t in range(cfg.meter_interval, length, cfg.meter_interval)} | {charge_end}
        )
        if id_tag is None:
            id_tag = cfg.id_tags[(self.rng.randrange(len(cfg.id_tags)))]
        return Session(
            id_tag=id_tag,
            remote_start_id=remote_start_id,
            length=length,
            charge_end=charge_end,
            ticks=ticks,
            offline_at=ticks[0] if cfg.offline_replay and len(ticks) > 1 else None,
            start_wh=self.register_wh,
            power=self.power_w,
            started_at=self.vt,
        )

    async def _start_v1(self, s: Session) -> None:
        await self.status(s.evse, "Preparing")
        auth = await self.call("Authorize", {"idTag": s.id_tag})
        if auth.get("idTagInfo", {}).get("status") != "Accepted":
            raise RuntimeError(f"{self.identity}: {s.id_tag} not accepted: {auth}")
        started = await self.call(
            "StartTransaction",
            {
                "connectorId": s.evse,
                "idTag": s.id_tag,
                "meterStart": s.start_wh,
                "timestamp": self.stamp(),
            },
        )
        s.txid = str(started["transactionId"])
        self.active_txid = s.txid
        self.stats.sessions_started += 1
        await self.status(s.evse, "Charging")

    async def _start_201(self, s: Session) -> None:
        s.txid = str(uuid.uuid4())
        await self.status(s.evse, "Occupied")
        auth = await self.call("Authorize", {"idToken": {"idToken": s.id_tag, "type": "ISO14443"}})
        if auth.get("idTokenInfo", {}).get("status") != "Accepted":
            raise RuntimeError(f"{self.identity}: {s.id_tag} not accepted: {auth}")
        self.active_txid = s.txid
        trigger = "RemoteStart" if s.remote_start_id is not None else "Authorized"
        started = self._event(s, "Started", trigger, "Charging", "Transaction.Begin", 0)
        await self.call("TransactionEvent", started)
        self.stats.sessions_started += 1

    def _event(
        self, s: Session, kind: str, trigger: str, state: str, context: str, t: int
    ) -> dict[str, Any]:
        """A 2.0.1 TransactionEvent of `s` at station-time offset `t`."""
        payload: dict[str, Any] = {
            "eventType": kind,
            "timestamp": self.stamp(),
            "triggerReason": trigger,
            "seqNo": next(s.seq),
            "offline": self.offline or self.late(),
            "transactionInfo": {"transactionId": s.txid, "chargingState": state},
            "evse": {"id": s.evse, "connectorId": 1},
            "meterValue": [self.sample(s.energy_at(t), s.power_at(t), context)],
        }
        if kind == "Started":
            payload["idToken"] = {"idToken": s.id_tag, "type": "ISO14443"}
            if s.remote_start_id is not None:
                payload["transactionInfo"]["remoteStartId"] = s.remote_start_id
        return payload

    async def _meter(self, s: Session) -> int:
        """The periodic meter values (one goes offline with `--offline-replay`); returns the
        offset of the last one sent (earlier than planned after a remote stop)."""
        t = 0
        for tick in s.ticks:
            await self.advance(tick - t)
            if self.remote_stop == s.txid:
                break  # the CSMS asked to stop: the session ends now
            t = tick
            if self.v1:
                if tick == s.charge_end:
                    await self.status(s.evse, "SuspendedEV")
                payload = {
                    "connectorId": s.evse,
                    "transactionId": int(s.txid),
                    "values" if self.version == "1.5" else "meterValue": [
                        self.sample(s.energy_at(t), s.power_at(t), "Sample.Periodic")
                    ],
                }
                action = "MeterValues"
            else:
                payload = self._event(
                    s,
                    "Updated",
                    "ChargingStateChanged" if tick == s.charge_end else "MeterValuePeriodic",
                    "SuspendedEV" if tick >= s.charge_end else "Charging",
                    "Sample.Periodic",
                    t,
                )
                action = "TransactionEvent"
            if tick == s.offline_at:
                await self.go_offline(action, payload)
            else:
                await self.send_maybe(action, payload)
        return t

    def _stop_message(self, s: Session, remote: bool) -> tuple[str, dict[str, Any]]:
        if self.v1:
            stop: dict[str, Any] = {
                "transactionId": int(s.txid),
                "idTag": s.id_tag,
                "meterStop": s.energy_at(s.length),
                "timestamp": self.stamp(),
                "reason": "Remote" if remote else "EVDisconnected",
            }
            if self.version == "1.5":
                del stop["reason"]  # 1.5 has no stop reason
            return "StopTransaction", stop
        trigger = "RemoteStop" if remote else "EVDeparted"
        stop = self._event(s, "Ended", trigger, "Idle", "Transaction.End", s.length)
        stop["transactionInfo"]["stoppedReason"] = "Remote" if remote else "EVDisconnected"
        return "TransactionEvent", stop

    async def _stop(self, s: Session, remote: bool) -> None:
        """Send the stop (after the queue when the station was offline), report the
        connector free again and record the session."""
        stop_wh = s.energy_at(s.length)
        action, stop = self._stop_message(s, remote)
        stopped_at = self.vt
        stop_pending = Pending(f"{next(self.ids)}", action, json.dumps(stop, separators=(",", ":")))
        self.outbox.append(stop_pending)
        if self.offline:
            await self.come_online()  # the queue, the stop last
        else:
            await self._flush(until=stop_pending)
        self.stats.sessions_stopped += 1
        self.active_txid = None
        self.remote_stop = None
        self.register_wh = stop_wh
        if self.v1:
            await self.status(s.evse, "Finishing")
        await self.status(s.evse, "Available")
        self.record(
            {
                "type": "session",
                "identity": self.identity,
                "protocol": self.version,
                "transaction_id": s.txid,
                "id_tag": s.id_tag,
                "evse": s.evse,
                "started_at": ocpp_time(s.started_at),
                "charging_ended_at": ocpp_time(s.started_at + timedelta(seconds=s.charge_end)),
                "stopped_at": ocpp_time(stopped_at),
                "meter_start_wh": s.start_wh,
                "meter_stop_wh": stop_wh,
                "stop_sent": stop_pending.sent_wall,
                "stop_answered": time.time(),
                "offline_replay": s.offline_at is not None,
            }
        )
