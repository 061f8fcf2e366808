"""The gateway node's side of the command relay (Redis): the station → node registry and the
node's command inbox.

Keys (`apps.locations.contracts.RelayKeys`, prefix `RELAY_KEY_PREFIX`):

- `station:<identity>` = `<node>|<connection token>`, TTL `registry_ttl`. Set when a station
  connects (the newest connection wins, on whichever node); refreshed by the node holding it
  every `registry_ttl / 3` seconds, but only while it still names that node's connection (a
  compare-and-expire script); deleted on disconnect only if it still names that connection.
  A node that finds one of its entries taken over closes its (stale) connection. A node that
  dies stops refreshing: its entries lapse within `registry_ttl`, and at once become moot for
  callers because its `node:<id>` key (TTL `node_ttl`) lapses first.
- `node:<id>`: this node is alive.
- `inbox:<id>`: command requests for this node (a list; callers RPUSH, the node BLPOPs).
- `reply:<request id>`: where the node RPUSHes the reply (expires after a minute).

Redis being down does not stop the gateway: stations keep being served; commands fail on the
caller's side (ServiceUnavailable) and the registry is rewritten when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from apps.locations.contracts import (
    CommandStatus,
    RelayKeys,
    RelayReply,
    RelayRequest,
    relay_decode_request,
    relay_encode,
)
from csms_gateway.commands import Outbound, execute

log = logging.getLogger("csms_gateway.relay")

# Extend the TTL of each key whose value is still ours; return the indexes of those taken.
_REFRESH = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('EXPIRE', key, ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost
"""
_DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
REFRESH_BATCH = 500
BLPOP_SECONDS = 5


class Relay:
    def __init__(
        self,
        *,
        url: str,
        prefix: str,
        node: str,
        links: Callable[[str], Outbound | None],
        on_lost: Callable[[str, str], None],
        node_ttl: int = 15,
        registry_ttl: int = 90,
    ) -> None:
        self.node = node
        self.keys = RelayKeys(prefix)
        self._url = url
        self._links = links  # identity -> the live connection's Outbound, if any
        self._on_lost = on_lost  # (identity, token): another connection took the station
        self._node_ttl = node_ttl
        self._registry_ttl = registry_ttl
        self._owned: dict[str, str] = {}  # identity -> our connection token
        self._ops: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._redis: aioredis.Redis | None = None
        self._inbox_redis: aioredis.Redis | None = None
        self.commands_handled = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self._url, socket_connect_timeout=5)
        # BLPOP holds its connection: a client of its own, whose socket timeout is longer
        # than the BLPOP's (redis-py's default, 5 s, would cut the wait).
        self._inbox_redis = aioredis.Redis.from_url(
            self._url, socket_connect_timeout=5, socket_timeout=BLPOP_SECONDS + 10
        )
        self._refresh_script = self._redis.register_script(_REFRESH)
        self._delete_script = self._redis.register_script(_DELETE_IF_OURS)
        try:
            await self._redis.set(self.keys.node(self.node), str(time.time()), ex=self._node_ttl)
        except RedisError as exc:
            log.error("command relay: Redis unreachable at start (%s); retrying", exc)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._registry_writer(), name="relay-registry"),
            loop.create_task(self._refresh_forever(), name="relay-refresh"),
            loop.create_task(self._inbox_forever(), name="relay-inbox"),
        ]
        log.info("command relay: node %s on %s (prefix %s)", self.node, self._url, self.keys.prefix)

    async def stop(self) -> None:
        # Bounded: a command cancelled inside redis-py may not return promptly, and a
        # stopping node must not hang on it.
        tasks = [*self._tasks, *self._inflight]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        if self._redis is not None:
            try:
                # Leave at once: callers see our stations as offline now, not in node_ttl.
                pipe = self._redis.pipeline(transaction=False)
                pipe.delete(self.keys.node(self.node))
                for identity, token in self._owned.items():
                    pipe.eval(_DELETE_IF_OURS, 1, self.keys.station(identity), self._value(token))
                await pipe.execute()
            except RedisError:
                pass
            await self._redis.aclose()
        if self._inbox_redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._inbox_redis.aclose(), 2)

    # --- registry --------------------------------------------------------------------------

    def _value(self, token: str) -> str:
        return f"{self.node}|{token}"

    def attach(self, identity: str, token: str) -> None:
        """A station connected here: it is ours (whatever any node said before)."""
        self._owned[identity] = token
        self._ops.put_nowait(("set", identity, token))

    def detach(self, identity: str, token: str) -> None:
        if self._owned.get(identity) == token:
            del self._owned[identity]
        self._ops.put_nowait(("del", identity, token))

    async def _registry_writer(self) -> None:
        """Registry writes in arrival order, many per round trip (a reconnect storm)."""
        assert self._redis is not None
        while True:
            ops = [await self._ops.get()]
            await asyncio.sleep(0.005)  # let a storm's writes gather: one round trip for many
            while not self._ops.empty() and len(ops) < 1000:
                ops.append(self._ops.get_nowait())
            while True:
                try:
                    pipe = self._redis.pipeline(transaction=False)
                    for op, identity, token in ops:
                        key, value = self.keys.station(identity), self._value(token)
                        if op == "set":
                            pipe.set(key, value, ex=self._registry_ttl)
                        else:
                            pipe.eval(_DELETE_IF_OURS, 1, key, value)
                    await pipe.execute()
                    break
                except RedisError as exc:
                    # Not lost: the refresh loop rewrites what we own once Redis is back.
                    log.warning("command relay: registry write failed (%s); retrying", exc)
                    await asyncio.sleep(1)
                    ops = [op for op in ops if op[0] == "del"]
                    if not ops:
                        break

    async def _refresh_forever(self) -> None:
        interval = max(1.0, min(self._node_ttl, self._registry_ttl) / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except RedisError as exc:
                log.warning("command relay: refresh failed: %s", exc)
            except Exception:  # noqa: BLE001 - the loop must survive
                log.exception("command relay: refresh failed")

    async def refresh(self) -> None:
        """Say the node is alive; extend our entries; give up the ones taken elsewhere. An
        entry that lapsed (Redis restarted, or was unreachable for a TTL) is written again."""
        assert self._redis is not None
        await self._redis.set(self.keys.node(self.node), str(time.time()), ex=self._node_ttl)
        owned = list(self._owned.items())
        for start in range(0, len(owned), REFRESH_BATCH):
            batch = owned[start : start + REFRESH_BATCH]
            keys = [self.keys.station(identity) for identity, _ in batch]
            args: list[Any] = [self._registry_ttl, *(self._value(t) for _, t in batch)]
            lost = await self._refresh_script(keys=keys, args=args)
            if not lost:
                continue
            missing = []
            for index in lost:
                identity, token = batch[int(index) - 1]
                value = await self._redis.get(self.keys.station(identity))
                current = value.decode(errors="replace") if isinstance(value, bytes) else value
                if current is None:
                    missing.append((identity, token))
                elif current == self._value(token):
                    continue  # written by the registry writer meanwhile: ours after all
                elif self._owned.get(identity) == token:
                    # Another connection (here or on another node) holds the station now.
                    log.warning(
                        "command relay: %s is registered as %s, not as this node's %s: "
                        "closing this connection",
                        identity,
                        current,
                        token,
                    )
                    del self._owned[identity]
                    self._on_lost(identity, token)
            if missing:
                pipe = self._redis.pipeline(transaction=False)
                for identity, token in missing:
                    pipe.set(
                        self.keys.station(identity),
                        self._value(token),
                        ex=self._registry_ttl,
                        nx=True,
                    )
                await pipe.execute()

    # --- commands --------------------------------------------------------------------------

    async def _inbox_forever(self) -> None:
        assert self._inbox_redis is not None
        inbox = self.keys.inbox(self.node)
        while True:
            try:
                item = await self._inbox_redis.blpop([inbox], timeout=BLPOP_SECONDS)
            except RedisError as exc:
                log.warning("command relay: inbox read failed (%s); retrying", exc)
                await asyncio.sleep(1)
                continue
            if item is None:
                continue
            task = asyncio.get_running_loop().create_task(self._handle(item[1]))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _handle(self, raw: bytes | str) -> None:
        try:
            request = relay_decode_request(raw)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("command relay: unreadable request dropped: %s", exc)
            return
        if request.deadline < time.time():
            # The caller has given up (e.g. this node was restarted with a backlog).
            log.info("command relay: %s for %s expired unsent", request.kind, request.identity)
            return
        reply = await handle_request(request, self._links, self.node)
        self.commands_handled += 1
        await self._reply(request, reply)

    async def _reply(self, request: RelayRequest, reply: RelayReply) -> None:
        assert self._redis is not None
        for attempt in range(3):
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.rpush(request.reply_to, relay_encode(reply))
                pipe.expire(request.reply_to, 60)
                await pipe.execute()
                return
            except RedisError as exc:
                log.warning("command relay: reply failed (%s), attempt %d", exc, attempt + 1)
                await asyncio.sleep(0.5)


async def handle_request(
    request: RelayRequest, links: Callable[[str], Outbound | None], node: str
) -> RelayReply:
    """Carry out one relayed command on this node (whichever transport brought it): OFFLINE
    when the station is not connected here, else the station's answer (`execute`)."""
    link = links(request.identity)
    if link is None:
        reply = RelayReply(
            id=request.id,
            status=CommandStatus.OFFLINE,
            node=node,
            message=f"{request.identity} is not connected to gateway node {node}",
        )
    else:
        reply = await execute(link, request, node)
    log.info(
        "command %s %s → %s: %s %s",
        request.kind,
        request.identity,
        reply.ocpp_action or "-",
        reply.status,
        reply.station_status,
    )
    return reply
