"""OCPP 2.0.1 CostUpdated from the live price.

Workers price an active session's running cost as its meter values arrive and publish it on
a Redis channel after commit (`apps.charging.live_cost_feed`). Each gateway node subscribes;
the node holding the station's websocket sends `CostUpdated {totalCost, transactionId}`
(the total including VAT, in the session's currency, as an exact JSON number) when the
station speaks 2.0.1. Stations on 1.x get nothing: 1.5 / 1.6 have no cost message (vendor
DataTransfer conventions are not implemented).

This is a small publish/subscribe of its own, not the command relay: no answer is awaited
(the station's CALLRESULT is read and dropped by the server like any answer to a call it
did not wait for), and a missed message is superseded by the next pricing seconds later.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import simplejson

from apps.charging import api as charging_api
from csms_gateway import ocppj, schemas

log = logging.getLogger(__name__)


class CostUpdates:
    def __init__(self, redis_url: str, connections: Mapping[str, Any]) -> None:
        self.redis_url = redis_url
        self.channel = charging_api.live_cost_channel(redis_url)
        self._connections = connections  # identity -> ServerConnection (the server's map)
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self.subscribed = asyncio.Event()
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        import redis.asyncio

        delay = 0.5
        while True:
            client = redis.asyncio.Redis.from_url(self.redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    delay = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self.deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarts: subscribe again, with back-off
                self.subscribed.clear()
                log.warning("live-cost subscription lost; again in %.1f s", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                await client.aclose()

    async def deliver(self, data: bytes | str) -> bool:
        """Send one published live cost to its station if this node holds it; True if sent."""
        try:
            message = json.loads(data)
            identity = str(message["identity"])
            total = Decimal(str(message["total_cost_incl_vat"]))
            transaction_id = str(message["transaction_id"])
        except (ValueError, KeyError, TypeError, InvalidOperation):
            log.warning("ignored a malformed live-cost message: %r", data)
            return False
        connection = self._connections.get(identity)
        if connection is None or connection.subprotocol != "ocpp2.0.1":
            return False
        auth = getattr(connection, "station_auth", None)
        if auth is None or auth.id != message.get("station_id"):
            return False
        payload = {"totalCost": total, "transactionId": transaction_id}
        schemas.validate("2.0.1", "CostUpdated", payload, response=False)
        frame = simplejson.dumps(
            [ocppj.CALL, f"cost-{next(self._ids)}", "CostUpdated", payload],
            use_decimal=True,  # the exact amount, never through float
            separators=(",", ":"),
        )
        try:
            await connection.send(frame)
        except Exception:  # noqa: BLE001 - the connection closed meanwhile
            return False
        self.sent += 1
        return True
