"""The outbound side of one station connection (`Outbound`: one CALL at a time, answers matched
by message id) and `execute`: one relayed command built, sent, answered and read back."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from apps.locations.contracts import (
    CommandStatus,
    RelayReply,
    RelayRequest,
    RemoteStart,
    command_from_json,
    to_json,
)
from csms_gateway import ocppj, schemas
from csms_gateway.authorizations import AuthMemory
from csms_gateway.commands.common import Invalid, plain
from csms_gateway.commands.tables import MAPPINGS, build

# Connection tokens: unique per process (a random prefix per process, then a counter), cheaper
# than a uuid4 each (os.urandom is a system call: ~0.2 ms on this VM, 10,000 in a storm).
_TOKEN_PREFIX = os.urandom(6).hex()
_TOKENS = itertools.count(1)


class Outbound:
    """CSMS → station CALLs of one connection: one outstanding at a time (OCPP-J), the next
    ones wait in line (FIFO); answers are matched by message id."""

    __slots__ = (
        "send",
        "version",
        "identity",
        "token",
        "auth_memory",
        "_pending",
        "_lock",
        "_closed",
    )

    def __init__(self, send: Callable[[str], Awaitable[None]], version: str, identity: str):
        self.send = send
        self.version = version
        self.identity = identity
        self.token = f"{_TOKEN_PREFIX}{next(_TOKENS):x}"  # names this connection (registry)
        # Remote starts sent on this connection: a start that follows is COMMAND (OCPI).
        self.auth_memory = AuthMemory()
        self._pending: dict[str, asyncio.Future[ocppj.CallResult | ocppj.CallError]] = {}
        self._lock: asyncio.Lock | None = None  # created on first use (10,000 idle links)
        self._closed = False

    def resolve(self, frame: ocppj.CallResult | ocppj.CallError) -> bool:
        """Deliver an answer; False when nothing waits for it (late or unknown id)."""
        future = self._pending.pop(frame.message_id, None)
        if future is None or future.done():
            return False
        future.set_result(frame)
        return True

    def close(self) -> None:
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._pending.clear()

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float,
        *,
        encode: Callable[[str, str, dict[str, Any]], str] = ocppj.dump_call,
    ) -> ocppj.CallResult | ocppj.CallError:
        """Send one CALL once the previous one is answered (or timed out) and wait for its
        answer; `timeout` covers the wait in line too. `encode` writes the frame (message
        id, action, payload). Raises TimeoutError or ConnectionError."""
        if self._closed:
            raise ConnectionError("connection closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with asyncio.timeout_at(deadline):
            async with self._lock:
                if self._closed:
                    raise ConnectionError("connection closed")
                message_id = uuid.uuid4().hex
                future: asyncio.Future[ocppj.CallResult | ocppj.CallError] = loop.create_future()
                self._pending[message_id] = future
                try:
                    await self.send(encode(message_id, action, payload))
                    return await future
                finally:
                    self._pending.pop(message_id, None)


# A remote start that ended so is forgotten: no start can follow it.
_REMOTE_START_REFUSED = frozenset(
    {
        CommandStatus.REJECTED,
        CommandStatus.FAILED,
        CommandStatus.NOT_SUPPORTED,
        CommandStatus.OFFLINE,
    }
)


async def execute(link: Outbound, request: RelayRequest, node: str) -> RelayReply:
    """Run one relayed command on `link` and say what became of it (never raises).

    A remote start is remembered on the link before it leaves (the station may start before
    its answer reaches us), so that the start which follows is reported as COMMAND with the
    command's id as its reference (csms_gateway/authorizations.py); forgotten again
    when the station refuses it."""
    base: dict[str, Any] = {"id": request.id, "protocol": link.version, "node": node}
    try:
        command = command_from_json(request.kind, request.command)
    except (TypeError, ValueError, KeyError) as exc:
        return RelayReply(status=CommandStatus.FAILED, invalid=(f"$: {exc}",), **base)
    if not isinstance(command, RemoteStart):
        return await _execute(link, request, command, base)
    # The reference: the command's own id (the platform sets it to the audit row's id, which
    # 2.0.1 sends as remoteStartId), the relay id when there is none.
    reference = request.id if command.remote_start_id is None else str(command.remote_start_id)
    link.auth_memory.remote_start_sent(command.id_tag, reference, time.monotonic())
    reply = await _execute(link, request, command, base)
    if reply.status in _REMOTE_START_REFUSED:
        link.auth_memory.remote_start_refused(command.id_tag, reference)
    return reply


async def _execute(
    link: Outbound, request: RelayRequest, command: Any, base: dict[str, Any]
) -> RelayReply:
    try:
        action, payload = build(link.version, command)
    except LookupError as exc:
        return RelayReply(status=CommandStatus.NOT_SUPPORTED, message=str(exc), **base)
    except Invalid as exc:
        return RelayReply(status=CommandStatus.FAILED, invalid=(str(exc),), **base)
    base.update(ocpp_action=action, ocpp_request=payload)
    remaining = request.deadline - time.time()
    if remaining <= 0:
        return RelayReply(
            status=CommandStatus.TIMEOUT, message="expired before it could be sent", **base
        )
    try:
        frame = await link.call(action, payload, remaining)
    except TimeoutError:
        return RelayReply(
            status=CommandStatus.TIMEOUT,
            message=f"no answer from the station within {remaining:.1f} s "
            "(the wait behind earlier commands to it included)",
            **base,
        )
    except ConnectionError:
        return RelayReply(
            status=CommandStatus.OFFLINE,
            message="the station disconnected before answering (it may have acted on it)",
            **base,
        )
    if isinstance(frame, ocppj.CallError):
        unsupported = frame.code in ("NotImplemented", "NotSupported")
        return RelayReply(
            status=CommandStatus.NOT_SUPPORTED if unsupported else CommandStatus.FAILED,
            station_status=frame.code,
            message=frame.description,
            response=plain(frame.details) or None,
            **base,
        )
    response = plain(frame.payload)
    try:
        schemas.validate(link.version, action, response, response=True)
    except ocppj.OcppError as exc:
        return RelayReply(
            status=CommandStatus.FAILED,
            message=f"the station's answer breaks the OCPP schema: {exc.description}",
            response=response,
            **base,
        )
    mapping = MAPPINGS[link.version][command.kind]
    try:
        parsed = mapping.parse(frame.payload)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        return RelayReply(
            status=CommandStatus.FAILED,
            message=f"the station's answer could not be read: {exc!r}",
            response=response,
            **base,
        )
    return RelayReply(
        status=parsed.status,
        station_status=parsed.station_status,
        message=parsed.message,
        data=to_json(parsed.data) if parsed.data is not None else None,
        response=response,
        **base,
    )
