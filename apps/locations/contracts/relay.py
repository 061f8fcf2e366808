"""The command relay's wire format (Redis, or the local socket), shared by `apps.locations`
and the gateway: key names, and one JSON request and reply per command."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec

from apps.locations.contracts.codec import to_json
from apps.locations.contracts.commands import CommandKind, CommandStatus, Wire


@dataclass(frozen=True, slots=True)
class RelayKeys:
    """Redis key names under one prefix.

    - `station(identity)`: the node holding the station's socket, `"<node>|<connection>"`,
      with a TTL the node keeps refreshing while the connection lives;
    - `node(node)`: present while the node is alive (short TTL, refreshed);
    - `inbox(node)`: the list of command requests for that node;
    - `reply(request_id)`: the list the node pushes the answer to.
    """

    prefix: str = "ocpp"

    def station(self, identity: str) -> str:
        return f"{self.prefix}:station:{identity}"

    def node(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def inbox(self, node: str) -> str:
        return f"{self.prefix}:inbox:{node}"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}:reply:{request_id}"


class RelayRequest(Wire, frozen=True):
    id: str  # unique (uuid4 hex)
    identity: str
    kind: CommandKind
    command: dict[str, Any]  # to_json(the command)
    deadline: float  # Unix time after which the node must not send the CALL any more
    reply_to: str


class RelayReply(Wire, frozen=True):
    id: str
    status: CommandStatus
    station_status: str = ""
    message: str = ""
    data: dict[str, Any] | None = None  # to_json(the CommandAnswer)
    ocpp_action: str = ""
    ocpp_request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    protocol: str = ""
    node: str = ""
    # The request breaks the OCPP schema of the station's version: nothing was sent.
    invalid: tuple[str, ...] = ()


def relay_encode(message: RelayRequest | RelayReply) -> str:
    return json.dumps(to_json(message), separators=(",", ":"))


def relay_decode_request(raw: bytes | str) -> RelayRequest:
    """Raises ValueError (`msgspec.DecodeError`) for anything but one valid request."""
    return msgspec.json.decode(raw, type=RelayRequest)


def relay_decode_reply(raw: bytes | str) -> RelayReply:
    return msgspec.json.decode(raw, type=RelayReply)
