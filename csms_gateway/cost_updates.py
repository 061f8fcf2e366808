"""OCPP 2.0.1 CostUpdated from the live price.

Workers price an active session's running cost as its meter values arrive and publish it on
a Redis channel after commit (`charging.services.live_cost_feed`). Each gateway node subscribes;
the node holding the station's websocket sends `CostUpdated {totalCost, transactionId}`
(the total including VAT, in the session's currency, as an exact JSON number) when the
station speaks 2.0.1. Stations on 1.x get nothing: 1.5 / 1.6 have no cost message (vendor
DataTransfer conventions are not implemented).

This is a small publish/subscribe of its own, not the command relay (a missed message is
superseded by the next pricing seconds later, so nothing is stored or retried). The CALL goes
through the station's outbound line (`csms_gateway.commands.Outbound`) like a remote command:
OCPP-J allows one outstanding CSMS → station CALL, so a CostUpdated waits behind a running
command and the station's answer is matched and consumed. Each delivery runs as a task of its
own: the subscription never waits on a station.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import simplejson

from apps.charging import api as charging_api
from csms_gateway import ocppj, schemas
from csms_gateway.commands import Outbound

log = logging.getLogger(__name__)


def _dump_exact(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return simplejson.dumps(
        [ocppj.CALL, message_id, action, payload],
        use_decimal=True,  # the exact amount, never through float
        separators=(",", ":"),
    )


class CostUpdates:
    def __init__(
        self,
        redis_url: str,
        connections: Mapping[str, Any],
        links: Callable[[str], Outbound | None],
        *,
        answer_timeout: float = 30.0,
    ) -> None:
        self.redis_url = redis_url
        self.channel = charging_api.live_cost_channel(redis_url)
        self._connections = connections  # identity -> ServerConnection (the server's map)
        self._links = links  # identity -> the connection's outbound line
        self._answer_timeout = answer_timeout
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()
        self.sent = 0  # CostUpdated frames handed to a station's line
        self.answered = 0  # ... and answered by the station

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
        link = self._links(identity)
        if link is None:
            return False
        payload = {"totalCost": total, "transactionId": transaction_id}
        schemas.validate("2.0.1", "CostUpdated", payload, response=False)
        task = asyncio.get_running_loop().create_task(self._send(link, payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def _send(self, link: Outbound, payload: dict[str, Any]) -> None:
        self.sent += 1
        try:
            answer = await link.call(
                "CostUpdated", payload, self._answer_timeout, encode=_dump_exact
            )
        except (TimeoutError, ConnectionError):
            return  # the station went away or did not answer: the next pricing supersedes it
        if isinstance(answer, ocppj.CallError):
            log.info("%s answered CostUpdated with %s", link.identity, answer)
            return
        self.answered += 1
