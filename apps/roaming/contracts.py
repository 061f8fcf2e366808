"""Shapes and enums of the roaming app (OCPI 2.2.1 / 2.1.1 connections, ADR 0040)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class OcpiVersion(enum.StrEnum):
    V2_2_1 = "2.2.1"
    V2_1_1 = "2.1.1"


SUPPORTED_VERSIONS = (OcpiVersion.V2_2_1, OcpiVersion.V2_1_1)  # preferred first


class ConnectionStatus(enum.StrEnum):
    PENDING = "PENDING"  # token A issued or received; the handshake has not completed
    REGISTERED = "REGISTERED"  # credentials exchanged: modules may be used
    SUSPENDED = "SUSPENDED"  # by the operator: no pushes, inbound calls get 401... see ADR 0040
    CLOSED = "CLOSED"  # DELETE credentials (either side): tokens no longer accepted


class Initiator(enum.StrEnum):
    US = "US"  # we registered with the partner (we sent POST credentials with their token A)
    THEM = "THEM"  # the partner registered with us (with the token A we issued)


class InterfaceRole(enum.StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class OcpiRole(enum.StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class HubPartyStatus(enum.StrEnum):
    """HubClientInfo ConnectionStatus of one party behind a hub (own connection: CONNECTED)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class Direction(enum.StrEnum):
    IN = "IN"  # the partner called us
    OUT = "OUT"  # we called the partner


class PushStatus(enum.StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"  # the partner answered 1xxx
    FAILED = "FAILED"  # gave up after the retries (or refused by the partner: 2xxx)
    HELD = "HELD"  # the receiving party is OFFLINE behind its hub / connection suspended


class CommandDirection(enum.StrEnum):
    RECEIVED = "RECEIVED"  # CPO role: an eMSP asked us
    SENT = "SENT"  # eMSP role: we asked a CPO


# Modules by OCPI identifier; `credentials` and `versions` are configuration modules.
MODULES = (
    "credentials",
    "locations",
    "tariffs",
    "sessions",
    "cdrs",
    "tokens",
    "commands",
    "hubclientinfo",
)


@dataclass(frozen=True)
class PartyRoleRef:
    """One role of a connection's partner (credentials `roles` / 2.1.1: its single party)."""

    role: OcpiRole
    country_code: str
    party_id: str
    name: str = ""
    party_pk: int | None = None  # the tenant's PARTNER Party row, once linked
    hub_status: HubPartyStatus = HubPartyStatus.CONNECTED


@dataclass(frozen=True)
class ConnectionRef:
    id: int
    tenant_id: int
    name: str
    versions_url: str
    version: str  # "" until agreed
    status: ConnectionStatus
    initiator: Initiator
    auth_base64: bool
    is_hub: bool
    roles: tuple[PartyRoleRef, ...] = ()
    endpoints: dict[tuple[str, str], str] = field(default_factory=dict)  # (module, role) -> url
    registered_at: datetime | None = None


@dataclass(frozen=True)
class InboundAuth:
    """Who is calling, from the Authorization token of an inbound OCPI request."""

    connection_id: int
    tenant_id: int
    token_kind: str  # "A" (registration only) or "CREDENTIALS" (B or C, whichever we accept)
    status: ConnectionStatus
    version: str


@dataclass(frozen=True)
class ExchangeIn:
    """One HTTP exchange to log (both directions)."""

    tenant_id: int
    connection_id: int | None
    direction: Direction
    method: str
    url: str
    module: str
    http_status: int | None
    ocpi_status: int | None
    duration_ms: int
    request_id: str = ""
    correlation_id: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""
    response_body: str = ""
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- area "connections": what the portal shows of a connection ------------------------------------


@dataclass(frozen=True)
class ConnectionRow:
    """A connection as the portal lists it (one row, no joins)."""

    id: int
    name: str
    versions_url: str
    version: str
    status: ConnectionStatus
    initiator: Initiator
    auth_base64: bool
    is_hub: bool
    last_error: str
    registered_at: datetime | None
    suspended_at: datetime | None
    created_at: datetime
    roles: tuple[PartyRoleRef, ...] = ()


@dataclass(frozen=True)
class EndpointRow:
    module: str
    role: str  # SENDER / RECEIVER; "" in 2.1.1
    url: str


@dataclass(frozen=True)
class ExchangeRow:
    """One logged exchange (the portal's log; bodies on demand)."""

    id: int
    at: datetime
    direction: Direction
    method: str
    url: str
    module: str
    http_status: int | None
    ocpi_status: int | None
    duration_ms: int
    error: str
    request_body: str
    response_body: str
    bodies_purged: bool


@dataclass(frozen=True)
class ConnectionDetail:
    connection: ConnectionRow
    endpoints: tuple[EndpointRow, ...]
    exchanges: tuple[ExchangeRow, ...]
    pushes: dict[str, int]  # PushStatus value -> count (every status, zeros included)
