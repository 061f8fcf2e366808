"""The baseline of `make bench-gateway`: an OCPP 1.6 server built on the `ocpp` library
(mobilityhouse/ocpp) with its defaults, as its documentation shows it: `websockets.serve`, one
`ocpp.v16.ChargePoint` per connection, `@on` handlers. The library validates every message
with jsonschema (in the default thread pool) and converts keys between camelCase and
snake_case. No authentication, no database: it answers BootNotification, Heartbeat and
StatusNotification, the load of the benchmark, and so is strictly less work than the gateway.

    python bench/ocpp_baseline.py --port 9401
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as BaseChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.typing import Subprotocol


class ChargePoint(BaseChargePoint):
    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: object) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(),
            interval=3600,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs: object) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: object) -> call_result.StatusNotification:
        return call_result.StatusNotification()


async def on_connect(websocket: websockets.ServerConnection) -> None:
    assert websocket.request is not None  # set once the handshake is done
    identity = websocket.request.path.strip("/").rsplit("/", 1)[-1]
    cp = ChargePoint(identity, websocket)
    try:
        await cp.start()
    except websockets.exceptions.ConnectionClosed:
        pass


async def main(port: int) -> None:
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    server = await websockets.serve(
        on_connect, "127.0.0.1", port, subprotocols=[Subprotocol("ocpp1.6")], backlog=4096
    )
    print(f"ocpp baseline listening on {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9401)
    asyncio.run(main(p.parse_args().port))
