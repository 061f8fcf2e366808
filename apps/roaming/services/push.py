"""The push outbox (ADR 0040): what we owe a partner's receiver interfaces (locations and
EVSE statuses, sessions, CDRs, tokens, command results), sent in order per connection,
retried with back-off, held while the connection is not usable or the receiving party is
OFFLINE behind its hub.

- `push_enqueue` writes one row per object version (idempotent by `key`) and, after the
  commit, queues a drain of that connection.
- `push_drain` sends the connection's pending rows oldest first. One drain per connection
  at a time (a PostgreSQL advisory lock; SQLite runs one worker), so a later version never
  overtakes an earlier one. A retryable failure (network, 429, 5xx, 3xxx) stops the drain
  and schedules the next one (Retry-After honoured); the rows behind it wait for it (a
  partner that is down is down for all of them; after MAX_ATTEMPTS, about an hour of
  back-off, the row is FAILED and the line moves on). A refusal (2xxx, other 4xx) marks
  that row FAILED with the partner's message and the drain goes on.
- `pushes_due` (beat) re-queues drains whose time came (a lost message loses nothing).
- `pushes_release` puts HELD rows back when the party returns (HubClientInfo CONNECTED) or
  the connection is resumed; the caller then re-syncs what changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.common.jobs import enqueue
from apps.parties import api as parties_api
from apps.parties.contracts import PartyKind, PartyRole
from apps.roaming import client, jobs, transport
from apps.roaming.contracts import (
    ConnectionStatus,
    ExchangeIn,
    HubPartyStatus,
    InterfaceRole,
    PushStatus,
)
from apps.roaming.models import OcpiConnection, OcpiPartyRole, OcpiPush
from apps.roaming.services.exchanges import exchanges_log

MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 3600.0
DRAIN_BATCH = 200
_LOCK_CLASS = 0x4F50  # "OP": the advisory lock space of the OCPI push drain (one per connection)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: 2, 4, 8, ... capped at an hour."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * (2 ** max(0, attempts - 1)))


def push_enqueue(
    *,
    connection_id: int,
    module: str,
    method: str,
    path: str,
    key: str,
    body: Any,
    to_party: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> int | None:
    """Owe the partner one push (due `now`, default the clock's now). Returns the new
    row's id, or None when a push with this key exists already (the same object version:
    nothing is sent twice)."""
    conn = OcpiConnection.objects.only("id", "tenant_id").get(pk=connection_id)
    try:
        with transaction.atomic():
            row = OcpiPush.objects.create(
                tenant_id=conn.tenant_id,
                connection_id=conn.pk,
                module=module,
                method=method,
                path=path,
                key=key[:200],
                body=transport.dumps(body),
                to_country_code=to_party[0] if to_party else "",
                to_party_id=to_party[1] if to_party else "",
                next_attempt_at=now or timezone.now(),
            )
    except IntegrityError:
        return None
    drain_enqueue(connection_id)
    return row.pk


def pushes_enqueue(
    *,
    connection_id: int,
    module: str,
    items: list[tuple[str, str, str, Any]],
    to_party: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """`push_enqueue` for many objects of one module at once, `items` as (method, path, key,
    body), kept in this order: one look-up of the keys already owed, one INSERT per 500
    rows, one drain queued. Returns how many rows were new (a key already owed or sent is
    skipped, as with `push_enqueue`)."""
    conn = OcpiConnection.objects.only("id", "tenant_id").get(pk=connection_id)
    keys = [key[:200] for _, _, key, _ in items]
    have: set[str] = set()
    for start in range(0, len(keys), 2000):
        have.update(
            OcpiPush.objects.filter(
                connection_id=conn.pk, key__in=keys[start : start + 2000]
            ).values_list("key", flat=True)
        )
    due = now or timezone.now()
    rows = []
    for (method, path, _, body), key in zip(items, keys, strict=True):
        if key in have:
            continue
        have.add(key)
        rows.append(
            OcpiPush(
                tenant_id=conn.tenant_id,
                connection_id=conn.pk,
                module=module,
                method=method,
                path=path,
                key=key,
                body=transport.dumps(body),
                to_country_code=to_party[0] if to_party else "",
                to_party_id=to_party[1] if to_party else "",
                next_attempt_at=due,
            )
        )
    if not rows:
        return 0
    # A concurrent enqueue of the same key between the look-up and here: the unique
    # (connection, key) keeps one row (ON CONFLICT DO NOTHING).
    OcpiPush.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    drain_enqueue(connection_id)
    return len(rows)


def drain_enqueue(connection_id: int, *, countdown: float | None = None) -> None:
    transaction.on_commit(
        lambda: enqueue(jobs.PUSH_DRAIN, connection_id, ignore_result=True, countdown=countdown)
    )


@contextmanager
def _drain_lock(connection_id: int) -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, connection_id])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, connection_id])


def _offline_parties(conn: OcpiConnection) -> set[tuple[str, str]]:
    return {
        (r.country_code.upper(), r.party_id.upper())
        for r in OcpiPartyRole.objects.filter(connection=conn).exclude(
            hub_status=HubPartyStatus.CONNECTED.value
        )
    }


def own_party(tenant_id: int, module: str) -> tuple[str, str] | None:
    """The tenant's own identity a call speaks as (routing headers' FROM): its eMSP for
    tokens and commands sent, its CPO for everything else. None when it has none."""
    role = PartyRole.EMSP if module in ("tokens", "commands") else PartyRole.CPO
    for p in parties_api.parties_of_tenant(tenant_id=tenant_id, role=role):
        if p.kind is PartyKind.OWN:
            return (p.country_code, p.party_id)
    return None


def push_drain(*, connection_id: int, now: datetime | None = None) -> int:
    """Send the connection's due pushes in order; returns how many were sent."""
    with _drain_lock(connection_id) as got:
        if not got:
            return 0  # another worker drains this connection now
        return _drain(connection_id, now)


class _Writes:
    """What a drain learnt, written in one transaction every FLUSH_EVERY pushes (one commit
    instead of two per push: measured, the commits dominated). A worker killed between a
    send and the flush sends those pushes again: receivers are idempotent by object id."""

    def __init__(self) -> None:
        self.rows: list[OcpiPush] = []
        self.log: list[ExchangeIn] = []

    def flush(self) -> None:
        if not self.rows and not self.log:
            return
        with transaction.atomic():
            exchanges_log(self.log)
            if self.rows:
                OcpiPush.objects.bulk_update(self.rows, _SAVED)
        self.rows, self.log = [], []


_SAVED = [
    "attempts", "status", "sent_at", "last_error", "next_attempt_at", "response_location",
    "updated_at",
]  # fmt: skip
FLUSH_EVERY = 50


def _drain(connection_id: int, now: datetime | None) -> int:
    conn = OcpiConnection.objects.get(pk=connection_id)
    if conn.status != ConnectionStatus.REGISTERED.value:
        OcpiPush.objects.filter(connection=conn, status=PushStatus.PENDING.value).update(
            status=PushStatus.HELD.value, last_error=f"connection {conn.status.lower()}"
        )
        return 0
    offline = _offline_parties(conn)
    endpoints = {(e.module, e.role): e.url for e in conn.endpoints.all()}
    own: dict[str, tuple[str, str] | None] = {}
    writes = _Writes()
    sent = 0
    try:
        while True:
            at = now or timezone.now()
            rows = list(
                OcpiPush.objects.filter(connection=conn, status=PushStatus.PENDING.value).order_by(
                    "id"
                )[:DRAIN_BATCH]
            )
            if not rows:
                return sent
            for row in rows:
                at = now or timezone.now()
                if row.next_attempt_at is not None and row.next_attempt_at > at:
                    # The oldest pending push waits for its retry: nothing behind it goes
                    # first (order per connection); the drain comes back then.
                    writes.flush()
                    drain_enqueue(
                        connection_id, countdown=(row.next_attempt_at - at).total_seconds()
                    )
                    return sent
                row.updated_at = at
                writes.rows.append(row)
                to = (row.to_country_code, row.to_party_id) if row.to_country_code else None
                if to is not None and (to[0].upper(), to[1].upper()) in offline:
                    row.status = PushStatus.HELD.value
                    row.last_error = "the receiving party is offline at its hub"
                    continue
                if row.path.startswith(("http://", "https://")):
                    url = row.path  # a full URL the partner gave (a command's response_url)
                else:
                    base = endpoints.get((row.module, InterfaceRole.RECEIVER.value)) or (
                        endpoints.get((row.module, ""))
                    )
                    if base is None:
                        row.status = PushStatus.FAILED.value
                        row.last_error = f"the partner lists no {row.module} receiver endpoint"
                        continue
                    url = base.rstrip("/") + "/" + row.path.lstrip("/") if row.path else base
                # A full-URL push is a CommandResult: the CPO answers the eMSP's command.
                speaks_as = (
                    "locations" if row.path.startswith(("http://", "https://")) else row.module
                )
                if speaks_as not in own:
                    own[speaks_as] = own_party(conn.tenant_id, speaks_as)
                try:
                    reply = client.call(
                        connection=conn,
                        method=row.method,
                        url=url,
                        module=row.module,
                        body=transport.loads(row.body),
                        from_party=own[speaks_as],
                        to_party=to,
                        log=writes.log,
                    )
                except client.OcpiCallFailed as exc:
                    row.attempts += 1
                    row.last_error = str(exc)[:2000]
                    if exc.retryable and row.attempts < MAX_ATTEMPTS:
                        wait = (
                            exc.retry_after
                            if exc.retry_after is not None
                            else backoff(row.attempts)
                        )
                        row.next_attempt_at = at + timedelta(seconds=wait)
                        writes.flush()
                        drain_enqueue(connection_id, countdown=wait)
                        return sent  # keep the order: nothing after this row goes first
                    row.status = PushStatus.FAILED.value
                    continue
                row.attempts += 1
                row.status = PushStatus.SENT.value
                row.sent_at = at
                row.last_error = ""
                row.response_location = reply.location[:500]
                sent += 1
                if len(writes.rows) >= FLUSH_EVERY:
                    writes.flush()
            writes.flush()
    finally:
        writes.flush()


def pushes_due(*, now: datetime) -> int:
    """Queue a drain for every connection with a due PENDING push; returns how many."""
    ids = list(
        OcpiPush.objects.filter(status=PushStatus.PENDING.value, next_attempt_at__lte=now)
        .values_list("connection_id", flat=True)
        .distinct()
    )
    for cid in ids:
        enqueue(jobs.PUSH_DRAIN, cid, ignore_result=True)
    return len(ids)


def pushes_release(
    *,
    connection_id: int,
    country_code: str | None = None,
    party_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """HELD -> PENDING, due `now` (all of a connection's, or one party's behind a hub);
    queues a drain."""
    qs = OcpiPush.objects.filter(connection_id=connection_id, status=PushStatus.HELD.value)
    if country_code and party_id:
        qs = qs.filter(to_country_code__iexact=country_code, to_party_id__iexact=party_id)
    n = qs.update(status=PushStatus.PENDING.value, next_attempt_at=now or timezone.now())
    if n:
        drain_enqueue(connection_id)
    return n
