"""The gateway node's side of the embedded command relay: a local unix socket (ADR 0018).

When no Redis is configured (`RELAY_REDIS_URL` / `REDIS_URL` empty: `make run`), the one
gateway node listens on `RELAY_SOCKET` (default `DATA_DIR/relay.sock`). A web process connects,
writes one `RelayRequest` as a JSON line, and reads one `RelayReply` line back; then either
side closes. There is no registry: the node holding the socket file holds every station it
has, and a station it does not hold is OFFLINE. One node per `RELAY_SOCKET`: a second node
started on the same path takes the socket over (the newest wins, as in the Redis registry);
more nodes need Redis.

The socket file is created under a temporary name, restricted to its owner (mode 0600: whoever
can connect can command the stations) and only then renamed into place, so it is never
reachable by others, and a stale file left by a killed node is replaced. On stop the file is
removed if it is still this node's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from apps.locations.contracts import (
    CommandStatus,
    RelayReply,
    relay_decode_request,
    relay_encode,
)
from csms_gateway.commands import Outbound
from csms_gateway.relay import handle_request

log = logging.getLogger("csms_gateway.relay")

# The longest request line accepted (a SendLocalList or a certificate chain is long).
MAX_REQUEST_BYTES = 16 * 1024 * 1024


class LocalRelay:
    def __init__(self, *, path: str, node: str, links: Callable[[str], Outbound | None]) -> None:
        self.path = Path(path)
        self.node = node
        self._links = links
        self._server: asyncio.Server | None = None
        self._inode: int | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.commands_handled = 0

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(temporary), limit=MAX_REQUEST_BYTES
        )
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)
        self._inode = self.path.stat().st_ino
        log.info("command relay: node %s on the local socket %s", self.node, self.path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=2)
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()

    # No registry to keep: the stations this node holds are its live connections.
    def attach(self, identity: str, token: str) -> None:
        pass

    def detach(self, identity: str, token: str) -> None:
        pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            line = await reader.readline()
            if not line:
                return
            try:
                request = relay_decode_request(line)
            except (ValueError, TypeError, KeyError) as exc:
                log.error("command relay: unreadable request dropped: %s", exc)
                return
            if request.deadline < time.time():
                reply = RelayReply(
                    id=request.id,
                    status=CommandStatus.TIMEOUT,
                    node=self.node,
                    message="expired before it could be sent",
                )
            else:
                reply = await handle_request(request, self._links, self.node)
            self.commands_handled += 1
            writer.write(relay_encode(reply).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("command relay: local connection failed: %s", exc)
        finally:
            self._inflight.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
