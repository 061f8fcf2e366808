"""Shapes other apps and the REST layer see of API keys, idempotency and webhooks."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Resources an API key may be granted `read` and/or `write` on. A scope is `<resource>:read`
# or `<resource>:write`; `*:read` / `*:write` grant every resource.
SCOPE_RESOURCES = (
    "tokens",
    "customers",
    "locations",
    "tariffs",
    "sessions",
    "cdrs",
    "commands",
    "webhooks",
    "partners",  # partner parties (ADR 0027)
    "billing",  # billing rules, CPO contracts, payees, HCC flags, retail packages, groups
    "rated_lines",  # rated lines per CDR and per period, settlement reports
    "invoices",  # billing runs, invoices, statements, credit notes and their files (ADR 0035)
    "finance",  # chart-of-accounts mapping, exclusions, adjustments, preview, export batches
)
SCOPE_ACTIONS = ("read", "write")
ALL_SCOPES = tuple(f"{r}:{a}" for r in SCOPE_RESOURCES for a in SCOPE_ACTIONS)

KEY_PREFIX = "ek"


class WebhookEventType(enum.StrEnum):
    SESSION_STARTED = "session.started"
    SESSION_ENDED = "session.ended"
    CDR_CREATED = "cdr.created"
    STATION_STATUS_CHANGED = "station.status_changed"
    TOKEN_AUTHORIZED = "token.authorized"
    INVOICE_FINALIZED = "invoice.finalized"  # an invoice or self-billing statement got its number
    CREDIT_NOTE_FINALIZED = "credit_note.finalized"
    # Internal only (the roaming app's OCPI pushes, issue 19), never offered to subscribers:
    # a running session's live cost was priced again (at most once per live-cost window).
    SESSION_UPDATED = "session.updated"
    # Internal only: a token was created or changed through the tokens app's service (the
    # roaming app PUTs our eMSP tokens to connected CPOs).
    TOKEN_CHANGED = "token.changed"
    # Sent only by the test endpoint, never by the platform on its own.
    PING = "ping"


# Event types only internal consumers (`event_consumer_set`) receive.
INTERNAL_EVENTS = frozenset(
    {WebhookEventType.SESSION_UPDATED.value, WebhookEventType.TOKEN_CHANGED.value}
)
SUBSCRIBABLE_EVENTS = tuple(
    e.value
    for e in WebhookEventType
    if e is not WebhookEventType.PING and e.value not in INTERNAL_EVENTS
)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up after the last attempt


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who is calling: the API key and its tenant. Every read and write is scoped by it."""

    key_pk: int
    key_id: str
    tenant_id: int
    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None

    def allows(self, resource: str, action: str) -> bool:
        return f"{resource}:{action}" in self.scopes or f"*:{action}" in self.scopes


@dataclass(frozen=True, slots=True)
class ApiKeyRef:
    id: int
    tenant_id: int
    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IdempotencyOutcome:
    """What `idempotency_claim` decided: run the operation, replay a stored response, or
    refuse (the key was used with another request)."""

    action: str  # "run" | "replay" | "mismatch"
    status_code: int = 0
    content_type: str = ""
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookSubscriptionRecord:
    id: int
    url: str
    events: tuple[str, ...]
    description: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """Result of one delivery attempt: `retry_in` seconds when another attempt is due."""

    delivered: bool
    retry_in: int | None
    status_code: int | None
    error: str


@dataclass(frozen=True, slots=True)
class WebhookEventIn:
    """One fact to tell a tenant's subscribers about. `key` names the fact (`session:42`,
    `cdr:17`, `evse:5:2026-03-02T08:00:00Z`): the event id is derived from tenant, type and
    key, so emitting the same fact twice (a replayed message, a redelivered task) delivers
    it once. `occurred_at` is the event's `created_at`; `data` its payload (JSON-able,
    Decimals kept exact)."""

    tenant_id: int
    type: WebhookEventType
    key: str
    occurred_at: datetime
    data: Mapping[str, Any]
