"""The Django side of the command relay: find the gateway node that holds a station's socket,
hand it the command through Redis, wait for the answer.

The registry (`RelayKeys.station`) is written by the gateway nodes only; this side reads it.
Wire format: `contracts.RelayRequest` / `contracts.RelayReply` as JSON. Design and failure
modes: docs/gateway.md ("Remote commands"), docs/adr/0011-command-relay.md.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

import redis
from django.conf import settings

from apps.common.errors import ServiceUnavailable
from apps.locations.contracts import (
    CommandStatus,
    RelayKeys,
    RelayReply,
    RelayRequest,
    StationCommand,
    relay_decode_reply,
    relay_encode,
    to_json,
)

# How long past the command's own timeout the caller waits for the node's reply (the node
# answers TIMEOUT itself at the deadline; this covers the hop back through Redis).
REPLY_GRACE_SECONDS = 3.0

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def configured() -> bool:
    return bool(settings.RELAY_REDIS_URL)


def keys() -> RelayKeys:
    return RelayKeys(settings.RELAY_KEY_PREFIX)


def client() -> redis.Redis:
    """The Redis client of the relay (one per URL and process; redis-py's pool is
    thread-safe). Raises ServiceUnavailable when no Redis is configured."""
    url = settings.RELAY_REDIS_URL
    if not url:
        raise ServiceUnavailable(
            "remote commands need Redis (set REDIS_URL or RELAY_REDIS_URL): the command relay "
            "to the OCPP gateway runs through it; nothing was sent to the station"
        )
    with _lock:
        if url not in _clients:
            # No socket timeout (redis-py's default is 5 s): BLPOP waits as long as asked.
            _clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=5, socket_timeout=None, health_check_interval=30
            )
        return _clients[url]


def locate(identity: str) -> str | None:
    """The node holding the station's socket, or None (not connected to a live node)."""
    r = client()
    k = keys()
    try:
        owner = r.get(k.station(identity))
        if owner is None:
            return None
        node = owner.decode().split("|", 1)[0]
        return node if r.exists(k.node(node)) else None
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"command relay (Redis) unreachable: {exc}") from exc


def send(identity: str, command: StationCommand, *, timeout: float) -> RelayReply:
    """Hand `command` to the node holding `identity` and wait for its reply (at most
    `timeout` + a grace for the hop back). Never raises for the station's behaviour: an
    unreachable station is an OFFLINE reply, a silent one TIMEOUT."""
    r = client()
    k = keys()
    try:
        owner = r.get(k.station(identity))
        if owner is None:
            return RelayReply(
                id="",
                status=CommandStatus.OFFLINE,
                message=f"{identity} is not connected to any gateway node",
            )
        node = owner.decode().split("|", 1)[0]
        if not r.exists(k.node(node)):
            return RelayReply(
                id="",
                status=CommandStatus.OFFLINE,
                node=node,
                message=f"the gateway node {node} that held {identity} is gone",
            )
        request = RelayRequest(
            id=uuid.uuid4().hex,
            identity=identity,
            kind=command.kind,
            command=to_json(command),
            deadline=time.time() + timeout,
            reply_to="",
        )
        request = dataclasses.replace(request, reply_to=k.reply(request.id))
        pipe = r.pipeline(transaction=False)
        pipe.rpush(k.inbox(node), relay_encode(request))
        # A dead node's inbox does not grow forever: it lapses after the newest deadline.
        pipe.expire(k.inbox(node), int(timeout + 60))
        pipe.execute()
        item = r.blpop([request.reply_to], timeout=timeout + REPLY_GRACE_SECONDS)
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"command relay (Redis) unreachable: {exc}") from exc
    if item is None:
        return RelayReply(
            id=request.id,
            status=CommandStatus.TIMEOUT,
            node=node,
            message=f"no reply from gateway node {node} within {timeout:g} s",
        )
    return relay_decode_reply(item[1])
