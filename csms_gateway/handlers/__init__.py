"""OCPP message handlers per protocol version. Each handler takes the station's context and
a validated payload, makes its calls into the domain through the backend, and returns the
response payload."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apps.locations.contracts import ChargeStationAuth
from apps.tokens.contracts import AuthorizationStatus
from csms_gateway.authorizations import AuthMemory
from csms_gateway.backend import DjangoBackend
from csms_gateway.settings import GatewaySettings


@dataclass
class StationContext:
    auth: ChargeStationAuth
    version: str  # "1.5", "1.6" or "2.0.1"
    backend: DjangoBackend
    settings: GatewaySettings
    vendor: str = ""
    frame: str = ""  # the frame being handled, verbatim
    warnings: list[str] = field(default_factory=list)
    # Work that must follow the answer to the message being handled (the server starts each
    # as a task once the answer is sent): e.g. signing a CSR and sending CertificateSigned.
    after_answer: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # What this connection saw that says how a transaction is authorised (OCPI AuthMethod):
    # our Accepted Authorize answers, and (shared with its Outbound link) remote starts.
    auth_memory: AuthMemory = field(default_factory=AuthMemory)

    @property
    def station_id(self) -> int:
        return self.auth.id

    @property
    def tenant_id(self) -> int:
        return self.auth.tenant_id

    async def authorize(self, uid: str) -> str:
        """The answer for `uid` at this station (access control, ADR 0015), in the words of
        this station's OCPP version: 1.x says Invalid for Unknown and NotAtThisLocation."""
        if not uid:
            return str(AuthorizationStatus.INVALID)
        status = await self.backend.authorize(
            tenant_id=self.tenant_id, station_id=self.station_id, uid=uid
        )
        return str(status if self.version == "2.0.1" else status.for_ocpp1x())

    def authorized(self, uid: str, status: str) -> None:
        """Report the answer of an Authorize (for the `token.authorized` webhook event), and
        remember an Accepted one: a start with this uid that follows is AUTH_REQUEST."""
        if status == AuthorizationStatus.ACCEPTED.value:
            self.auth_memory.authorize_accepted(
                uid,
                time.monotonic(),
                self.backend.authorization_reference(station_id=self.station_id, uid=uid),
            )
        self.backend.authorized(
            tenant_id=self.tenant_id,
            station_id=self.station_id,
            identity=self.auth.identity,
            uid=uid,
            status=status,
        )


Handler = Callable[[StationContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def now_utc() -> datetime:
    return datetime.now(UTC)


def ocpp_time(value: datetime) -> str:
    """OCPP date-time: UTC, milliseconds, 'Z'."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_key(action: str, payload: dict[str, Any]) -> str:
    """The idempotency key of a message: a hash of its action and content. A resent
    message hashes to the same key; any other message to another."""
    canonical = json.dumps([action, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
