"""A station's OCPP-J link: the websocket (connect with backoff and fail-over, read, answer
routing) and the durable outbox of transaction messages (queued while offline, sent again
unchanged after a dropped connection)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from csms_gateway import ocppj
from csms_gateway.simulator.base import StationBase
from csms_gateway.simulator.config import TRANSACTION_ACTIONS


@dataclass
class Pending:
    message_id: str
    action: str
    text: str  # the payload as sent, byte for byte (a resend is identical)
    sent_wall: float = 0.0


class Offline(Exception):
    """Raised inside `call` when a message was queued instead of sent (station offline)."""


class Link(StationBase):
    """The connection half of `Station` (which sets these attributes)."""

    password: str
    record: Callable[[dict[str, Any]], None]
    deadline: float
    rng: random.Random
    subprotocol: str
    ws: ClientConnection | None
    reader: asyncio.Task[None] | None
    waiting: dict[str, asyncio.Future[list[Any]]]
    outbox: deque[Pending]
    offline: bool
    ids: Iterator[int]
    last_sent: float
    urls: list[str]
    url_index: int
    _connect_lock: asyncio.Lock

    # --- connection ---------------------------------------------------------------------

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
