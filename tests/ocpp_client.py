"""A minimal OCPP-J client for tests: real websockets, strict about what it receives."""

from __future__ import annotations

import base64
import itertools
import json
import ssl
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class CallErrorReceived(Exception):
    def __init__(self, frame: list[Any]) -> None:
        super().__init__(f"{frame[2]}: {frame[3]}")
        self.code = frame[2]
        self.description = frame[3]


def basic(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class OcppClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(
        self, action: str, payload: dict[str, Any], *, message_id: str | None = None
    ) -> dict[str, Any]:
        mid = message_id or f"m{next(self._ids)}"
        await self.ws.send(json.dumps([2, mid, action, payload]))
        frame = json.loads(await self.ws.recv())
        assert frame[1] == mid, frame
        if frame[0] == 4:
            raise CallErrorReceived(frame)
        assert frame[0] == 3, frame
        return frame[2]


def open_station(
    url: str,
    *,
    protocol: str,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Any:
    return connect(
        url,
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers or {},
        ssl=ssl_context,
        open_timeout=10,
    )
