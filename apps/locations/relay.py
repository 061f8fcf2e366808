"""The Django side of the command relay: find the gateway node that holds a station's socket,
hand it the command, wait for the answer.

Two transports, one interface (`check`, `send`):

- Redis (`RELAY_REDIS_URL`, production, any number of nodes): the registry
  (`RelayKeys.station`) is written by the gateway nodes only; this side reads it and pushes
  the request on the node's inbox (ADR 0011).
- A local unix socket (`RELAY_SOCKET`, the embedded default when no Redis URL is set): the one
  gateway node on this machine listens on it; a request and its reply are one JSON line each
  over one connection (ADR 0018).

Wire format: `contracts.RelayRequest` / `contracts.RelayReply` as JSON. Design and failure
modes: docs/gateway.md ("Remote commands").
"""

from __future__ import annotations

import socket
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
    return bool(settings.RELAY_REDIS_URL or settings.RELAY_SOCKET)


def check() -> None:
    """Raise ServiceUnavailable when no transport is configured (neither Redis nor the local
    socket): callers check before they record anything."""
    if settings.RELAY_REDIS_URL:
        client()
    elif not settings.RELAY_SOCKET:
        raise ServiceUnavailable(
            "no command relay is configured (RELAY_REDIS_URL and RELAY_SOCKET are both empty): "
            "nothing was sent to the station"
        )


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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def locate(identity: str) -> str | None:
    """The node holding the station's socket, or None (not connected to a live node)."""
    r = client()
    k = keys()
    try:
        owner = r.get(k.station(identity))
        if owner is None:
            return None
        node = _text(owner).split("|", 1)[0]
        return node if r.exists(k.node(node)) else None
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"command relay (Redis) unreachable: {exc}") from exc


def _request(identity: str, command: StationCommand, timeout: float) -> RelayRequest:
    request_id = uuid.uuid4().hex
    return RelayRequest(
        id=request_id,
        identity=identity,
        kind=command.kind,
        command=to_json(command),
        deadline=time.time() + timeout,
        reply_to=keys().reply(request_id),
    )


def send(identity: str, command: StationCommand, *, timeout: float) -> RelayReply:
    """Hand `command` to the node holding `identity` and wait for its reply (at most
    `timeout` + a grace for the hop back). Never raises for the station's behaviour: an
    unreachable station is an OFFLINE reply, a silent one TIMEOUT. Raises
    ServiceUnavailable when no relay is configured or Redis is unreachable."""
    check()
    if settings.RELAY_REDIS_URL:
        return _send_redis(identity, command, timeout=timeout)
    return _send_local(settings.RELAY_SOCKET, identity, command, timeout=timeout)


def _send_local(path: str, identity: str, command: StationCommand, *, timeout: float) -> RelayReply:
    """One request line to the gateway node's local socket, one reply line back."""
    request = _request(identity, command, timeout)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            return RelayReply(
                id=request.id,
                status=CommandStatus.OFFLINE,
                message=f"the OCPP gateway is not running (nothing listens on {path}), "
                f"so {identity} is not connected",
            )
        except OSError as exc:
            raise ServiceUnavailable(f"command relay (local socket {path}): {exc}") from exc
        sock.settimeout(timeout + REPLY_GRACE_SECONDS)
        try:
            sock.sendall(relay_encode(request).encode() + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline()
        except TimeoutError:
            line = None
        except OSError:
            line = b""
    if line is None:
        return RelayReply(
            id=request.id,
            status=CommandStatus.TIMEOUT,
            message=f"no reply from the OCPP gateway within {timeout:g} s",
        )
    if not line.endswith(b"\n"):
        # The node stopped (or was killed) with the command in hand: it may have been sent.
        return RelayReply(
            id=request.id,
            status=CommandStatus.TIMEOUT,
            message="the OCPP gateway closed the connection before it replied "
            "(it stopped; the station may have received the command)",
        )
    return relay_decode_reply(line)


def _send_redis(identity: str, command: StationCommand, *, timeout: float) -> RelayReply:
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
        node = _text(owner).split("|", 1)[0]
        if not r.exists(k.node(node)):
            return RelayReply(
                id="",
                status=CommandStatus.OFFLINE,
                node=node,
                message=f"the gateway node {node} that held {identity} is gone",
            )
        request = _request(identity, command, timeout)
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
