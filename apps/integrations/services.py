"""Writes of the integrations app: API keys, idempotency records, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import simplejson
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from apps.common import crypto, outbound
from apps.common.contracts import Actor
from apps.common.errors import NotFound, Problem, ValidationFailed
from apps.common.secrets import generate_secret, hash_secret, verify_secret
from apps.common.services import check_version, validated_save
from apps.integrations import jobs
from apps.integrations.consumers import consumers_notify
from apps.integrations.contracts import (
    ALL_SCOPES,
    KEY_PREFIX,
    SCOPE_ACTIONS,
    SUBSCRIBABLE_EVENTS,
    ApiKeyRef,
    ApiPrincipal,
    AttemptOutcome,
    DeliveryStatus,
    IdempotencyOutcome,
    WebhookEventIn,
    WebhookEventType,
)
from apps.integrations.models import (
    ApiKey,
    IdempotencyRecord,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from apps.parties import api as parties_api

# --- API keys -------------------------------------------------------------------------------

LAST_USED_RESOLUTION = timedelta(seconds=60)  # at most one write per key per minute


def _normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = [s.strip() for s in scopes if s.strip()]
    allowed = set(ALL_SCOPES) | {f"*:{a}" for a in SCOPE_ACTIONS}
    bad = [s for s in wanted if s not in allowed]
    if bad or not wanted:
        raise ValidationFailed(
            "invalid scopes",
            problems=tuple(
                Problem("scopes", f"unknown scope {s!r}; use <resource>:read|write or *:read")
                for s in bad
            )
            or (Problem("scopes", "at least one scope is required"),),
        )
    return tuple(sorted(set(wanted)))


def _key_ref(key: ApiKey) -> ApiKeyRef:
    return ApiKeyRef(
        id=key.pk,
        tenant_id=key.tenant_id,
        key_id=key.key_id,
        name=key.name,
        scopes=tuple(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _audit(
    *, tenant_id: int, actor: Actor, action: str, key: ApiKeyRef, before: Any, after: Any
) -> None:
    parties_api.audit(tenant_id, actor, action, "api_key", key.id, before=before, after=after)


def _key_summary(key: ApiKeyRef) -> dict[str, Any]:
    """What the audit log keeps of a key: never its secret."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "scopes": list(key.scopes),
        "revoked_at": key.revoked_at,
    }


@transaction.atomic
def api_key_create(
    *,
    tenant_id: int,
    name: str,
    scopes: Iterable[str],
    actor: Actor,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKeyRef, str]:
    """A new API key. Returns it with the full key, which is shown once and never stored.
    Audited in the tenant with the actor."""
    secret = generate_secret()
    key = ApiKey(
        tenant_id=tenant_id,
        key_id=secrets.token_hex(6),
        secret_hash=hash_secret(secret),
        name=name,
        scopes=list(_normalise_scopes(scopes)),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    validated_save(key)
    ref = _key_ref(key)
    _audit(
        tenant_id=tenant_id,
        actor=actor,
        action="api_key.create",
        key=ref,
        before=None,
        after=_key_summary(ref),
    )
    return ref, f"{KEY_PREFIX}_{key.key_id}_{secret}"


@transaction.atomic
def api_key_revoke(*, tenant_id: int, api_key_id: int, now: datetime, actor: Actor) -> None:
    """Revoke a key of this tenant (NotFound for any other key: another tenant's key is
    never touched). Immediate, also for cached authentications; revoking a revoked key
    changes and audits nothing."""
    key = ApiKey.objects.for_tenant(tenant_id).select_for_update().filter(pk=api_key_id).first()
    if key is None:
        raise NotFound(f"no API key {api_key_id} in this tenant")
    if key.revoked_at is not None:
        return
    before = _key_ref(key)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=now)
    key.revoked_at = now
    _audit(
        tenant_id=tenant_id,
        actor=actor,
        action="api_key.revoke",
        key=before,
        before=_key_summary(before),
        after=_key_summary(_key_ref(key)),
    )
    key_id = key.key_id
    _AUTH_CACHE.pop(key_id, None)
    transaction.on_commit(lambda: _mark_revoked(key_id))


# Authentication cache (per process): key id -> (fetched at, secret hash, principal, last
# used). A key's row is read at most once per AUTH_CACHE_SECONDS per process; revocation is
# immediate all the same: `api_key_revoke` drops the entry here and marks the key revoked in
# the shared cache, which the REST layer reads in the same round trip as the rate-limit
# counter (`revoked_marker`), and a process that sees the mark drops its entry too.
AUTH_CACHE_SECONDS = 30.0
_AUTH_CACHE: dict[str, tuple[float, str, ApiPrincipal, datetime | None]] = {}
REVOKED_MARKER_PREFIX = "apikey:revoked:"


def revoked_marker(key_id: str) -> str:
    """The shared-cache key that says this API key was revoked."""
    return REVOKED_MARKER_PREFIX + key_id


def api_key_forget(*, key_id: str) -> None:
    """Drop a key from this process's authentication cache."""
    _AUTH_CACHE.pop(key_id, None)


def _mark_revoked(key_id: str) -> None:
    from django.core.cache import cache

    _AUTH_CACHE.pop(key_id, None)
    # Longer than any process keeps a cached entry; after that the row itself says revoked.
    cache.set(revoked_marker(key_id), 1, timeout=int(AUTH_CACHE_SECONDS) + 60)


def api_key_authenticate(*, presented: str, now: datetime) -> ApiPrincipal | None:
    """The principal for a presented key, or None. One indexed lookup by the public key id
    (then cached in this process, see AUTH_CACHE_SECONDS), a constant-time comparison of the
    secret's hash; `last_used_at` is written at most once a minute per key."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    hit = _AUTH_CACHE.get(parts[1])
    clock = time.monotonic()
    if hit is not None and clock - hit[0] < AUTH_CACHE_SECONDS:
        _, secret_hash, principal, last_used = hit
        if not verify_secret(parts[2], secret_hash):
            return None
        stale = now - LAST_USED_RESOLUTION
        if last_used is None or last_used < stale:
            ApiKey.objects.filter(pk=principal.key_pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
            ).update(last_used_at=now)
            _AUTH_CACHE[parts[1]] = (hit[0], secret_hash, principal, now)
        return principal
    row = (
        ApiKey.objects.filter(key_id=parts[1], revoked_at__isnull=True, tenant__is_active=True)
        .values(
            "pk",
            "key_id",
            "tenant_id",
            "name",
            "scopes",
            "secret_hash",
            "rate_limit_per_minute",
            "last_used_at",
        )
        .first()
    )
    if row is None or not verify_secret(parts[2], row["secret_hash"]):
        return None
    stale = now - LAST_USED_RESOLUTION
    if row["last_used_at"] is None or row["last_used_at"] < stale:
        # Conditional, so concurrent requests write it once; skipped (no query) when fresh.
        ApiKey.objects.filter(pk=row["pk"]).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
    principal = ApiPrincipal(
        key_pk=row["pk"],
        key_id=row["key_id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        scopes=frozenset(row["scopes"]),
        rate_limit_per_minute=row["rate_limit_per_minute"],
    )
    if len(_AUTH_CACHE) > 10_000:
        _AUTH_CACHE.clear()
    last_used = row["last_used_at"]
    if last_used is None or last_used < stale:
        last_used = now
    _AUTH_CACHE[row["key_id"]] = (clock, row["secret_hash"], principal, last_used)
    return principal


# --- Idempotency ----------------------------------------------------------------------------

IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotency_claim(
    *, tenant_id: int, key: str, fingerprint: str, now: datetime
) -> IdempotencyOutcome:
    """Claim an idempotency key inside the caller's transaction.

    Call it in the same `transaction.atomic()` block as the operation and
    `idempotency_complete`. A concurrent request with the same key blocks on the unique index
    until the first commits, then replays its response (PostgreSQL); SQLite serialises writers.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_claim must run inside the operation's transaction")
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "invalid Idempotency-Key",
            problems=(Problem("Idempotency-Key", "must be 1 to 255 characters"),),
        )
    IdempotencyRecord.objects.for_tenant(tenant_id).filter(key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                tenant_id=tenant_id,
                key=key,
                fingerprint=fingerprint,
                status_code=0,
                content_type="",
                body=b"",
                expires_at=now + IDEMPOTENCY_TTL,
            )
        return IdempotencyOutcome(action="run")
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.for_tenant(tenant_id).get(key=key)
    if record.fingerprint != fingerprint:
        return IdempotencyOutcome(action="mismatch")
    return IdempotencyOutcome(
        action="replay",
        status_code=record.status_code,
        content_type=record.content_type,
        body=bytes(record.body),
        headers=tuple((str(k), str(v)) for k, v in record.headers),
    )


def idempotency_complete(
    *,
    tenant_id: int,
    key: str,
    status_code: int,
    content_type: str,
    body: bytes,
    headers: Iterable[tuple[str, str]],
) -> None:
    IdempotencyRecord.objects.for_tenant(tenant_id).filter(key=key).update(
        status_code=status_code, content_type=content_type, body=body, headers=list(headers)
    )


def idempotency_records_purge(*, now: datetime) -> int:
    """Delete expired records (run daily by the scheduler)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now).delete()
    return deleted


# --- Webhooks -------------------------------------------------------------------------------

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = outbound.CONNECT_TIMEOUT_SECONDS + outbound.READ_TIMEOUT_SECONDS
# How long a claimed attempt counts as in flight (the HTTP timeout and a margin).
ATTEMPT_LEASE = timedelta(seconds=HTTP_TIMEOUT_SECONDS + 5)
SIGNATURE_HEADER = "Webhook-Signature"


def _validate_events(events: Iterable[str]) -> list[str]:
    events = list(events)
    bad = [e for e in events if e not in SUBSCRIBABLE_EVENTS]
    problems = [
        Problem(f"events[{i}]", f"unknown event {e!r}") for i, e in enumerate(events) if e in bad
    ]
    if not events:
        problems.append(Problem("events", "at least one event type is required"))
    if problems:
        raise ValidationFailed("invalid webhook subscription", problems=tuple(problems))
    return sorted(set(events))


def _check_url(url: str) -> None:
    """Refuse a target the platform may not call (loopback, private, link-local, ... hosts,
    by their literal address or every address the name resolves to; ADR 0017)."""
    try:
        outbound.check_target(url)
    except outbound.BlockedDestination as exc:
        raise ValidationFailed(
            "invalid webhook subscription", problems=(Problem("url", str(exc)),)
        ) from None


def _audit_webhook(
    tenant_id: int, actor: Actor, action: str, sub_id: int, *, before: Any, after: Any
) -> None:
    parties_api.audit(tenant_id, actor, action, "webhook", sub_id, before=before, after=after)


def _audited(sub: WebhookSubscription) -> dict[str, Any]:
    """What the audit log keeps of a subscription (never its secret)."""
    return {"url": sub.url, "events": sub.events, "description": sub.description}


@transaction.atomic
def webhook_subscription_create(
    *, tenant_id: int, url: str, events: Iterable[str], actor: Actor, description: str = ""
) -> tuple[int, str]:
    """A new subscription; returns its id and its signing secret (shown once). A URL whose
    host is or resolves to a non-public address is refused (ValidationFailed on `url`)."""
    _check_url(url)
    secret = "whsec_" + generate_secret()
    sub = WebhookSubscription(
        tenant_id=tenant_id,
        url=url,
        events=_validate_events(events),
        description=description,
        secret_encrypted=crypto.encrypt(secret),
    )
    validated_save(sub)
    _audit_webhook(tenant_id, actor, "webhook.create", sub.pk, before=None, after=_audited(sub))
    return sub.pk, secret


@transaction.atomic
def webhook_subscription_update(
    *, tenant_id: int, subscription_id: int, if_match: str | None, actor: Actor, **values: Any
) -> None:
    sub = (
        WebhookSubscription.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=subscription_id)
        .first()
    )
    if sub is None:
        raise NotFound(f"no webhook subscription {subscription_id} in this tenant")
    check_version(sub, if_match)
    if "url" in values:
        _check_url(values["url"])
    if "events" in values:
        values["events"] = _validate_events(values["events"])
    before = _audited(sub)
    for field, value in values.items():
        setattr(sub, field, value)
    validated_save(sub)
    _audit_webhook(tenant_id, actor, "webhook.update", sub.pk, before=before, after=_audited(sub))


@transaction.atomic
def webhook_subscription_delete(
    *, tenant_id: int, subscription_id: int, actor: Actor, if_match: str | None = None
) -> None:
    sub = (
        WebhookSubscription.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=subscription_id)
        .first()
    )
    if sub is None:
        raise NotFound(f"no webhook subscription {subscription_id} in this tenant")
    check_version(sub, if_match)
    before = _audited(sub)
    sub.delete()
    _audit_webhook(tenant_id, actor, "webhook.delete", subscription_id, before=before, after=None)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def webhook_secrets_reencrypt() -> int:
    """Re-encrypt every signing secret with the first of ENCRYPTION_KEYS (key rotation)."""
    done = 0
    for pk, stored in WebhookSubscription.objects.values_list("pk", "secret_encrypted"):
        WebhookSubscription.objects.filter(pk=pk).update(secret_encrypted=crypto.reencrypt(stored))
        done += 1
    return done


def _event_body(event_id: uuid.UUID, type: str, created_at: datetime, data: Any) -> str:
    return simplejson.dumps(
        {"id": str(event_id), "type": type, "created_at": _iso(created_at), "data": data},
        use_decimal=True,
        separators=(",", ":"),
        default=lambda o: _iso(o) if isinstance(o, datetime) else str(o),
    )


# Event ids are UUIDv5 of (tenant, type, fact key) under this namespace: the same fact always
# has the same id, and the unique (subscription, event_id) makes a second emission a no-op.
EVENT_NAMESPACE = uuid.UUID("5f1e0c8e-8a8b-4c39-9d7c-6f2e7a6b0d11")


def webhook_event_id(*, tenant_id: int, type: str, key: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{tenant_id}:{type}:{key}")


def webhook_events_emit(*, events: Iterable[WebhookEventIn], now: datetime) -> int:
    """The transactional outbox: record many events for every active subscription that wants
    them, in the caller's transaction, with one query for the subscriptions and one INSERT
    for the deliveries; when the caller's transaction commits, one message queues their
    dispatch. A rolled-back caller leaves nothing; an event emitted again (same tenant, type
    and key) inserts nothing (ON CONFLICT DO NOTHING on (subscription, event_id)); the relay
    (`webhook_relay`, every minute) queues deliveries whose dispatch message was lost.
    Returns the number of new delivery rows (0 when nobody subscribed or all were recorded
    before; then nothing is queued)."""
    events = list(events)
    if not events:
        return 0
    consumers_notify(events)
    subs: dict[int, list[tuple[int, frozenset[str]]]] = {}
    for pk, tenant_id, wanted in WebhookSubscription.objects.filter(
        tenant_id__in={e.tenant_id for e in events}, is_active=True
    ).values_list("pk", "tenant_id", "events"):
        subs.setdefault(tenant_id, []).append((pk, frozenset(wanted)))
    wanted_by: list[tuple[WebhookEventIn, str, uuid.UUID, list[int]]] = []
    for e in events:
        type = WebhookEventType(e.type).value
        targets = [pk for pk, wanted in subs.get(e.tenant_id, ()) if type in wanted]
        if targets:
            event_id = webhook_event_id(tenant_id=e.tenant_id, type=type, key=e.key)
            wanted_by.append((e, type, event_id, targets))
    if not wanted_by:
        return 0
    # An event emitted again must not queue its delivery again: a second task for a delivery
    # whose first attempt is under way would send it twice (the attempt lease stops that, but
    # only once the first attempt is claimed). One look-up for what is already recorded.
    recorded = set(
        WebhookDelivery.objects.filter(
            event_id__in=[event_id for _, _, event_id, _ in wanted_by]
        ).values_list("subscription_id", "event_id")
    )
    rows = []
    event_ids = []
    for e, type, event_id, targets in wanted_by:
        new = [pk for pk in targets if (pk, event_id) not in recorded]
        if not new:
            continue
        body = _event_body(event_id, type, e.occurred_at, e.data)
        event_ids.append(str(event_id))
        rows += [
            WebhookDelivery(
                tenant_id=e.tenant_id,
                subscription_id=pk,
                event_id=event_id,
                event_type=type,
                body=body,
                next_attempt_at=now,
            )
            for pk in new
        ]
    if not rows:
        return 0
    # A concurrent emit of the same event between the look-up and here still inserts one row
    # (ON CONFLICT DO NOTHING on (subscription, event_id)); its extra dispatch finds the
    # delivery attempted or in flight and sends nothing.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)

    def dispatch() -> None:
        jobs.webhook_dispatch(event_ids)

    transaction.on_commit(dispatch)
    return len(rows)


def webhook_events_dispatch(*, event_ids: Iterable[str]) -> list[int]:
    """Queue one delivery task per never-attempted delivery of these events (run by the
    `webhook_dispatch` task, off the emitter's hot path)."""
    ids = list(
        WebhookDelivery.objects.filter(
            event_id__in=[uuid.UUID(e) for e in event_ids],
            status=DeliveryStatus.PENDING.value,
            attempts=0,
        )
        .order_by("id")
        .values_list("pk", flat=True)
    )
    _enqueue(ids)
    return ids


RELAY_GRACE = timedelta(minutes=2)


def webhook_relay(*, now: datetime, limit: int = 1000) -> list[int]:
    """The outbox relay: queue pending deliveries that are due for more than RELAY_GRACE and
    so were never queued (the emitting process died between commit and publish) or lost
    their retry message. A delivery queued twice is sent once per attempt: attempts are
    claimed with a conditional UPDATE."""
    ids = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING.value, next_attempt_at__lt=now - RELAY_GRACE
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(ids)
    return ids


def _enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        jobs.webhook_deliver(delivery_id)


def _create_deliveries(
    *,
    subscriptions: Iterable[WebhookSubscription],
    event_id: uuid.UUID,
    type: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[int]:
    body = simplejson.dumps(
        {"id": str(event_id), "type": type, "created_at": _iso(now), "data": payload},
        use_decimal=True,
        separators=(",", ":"),
        default=lambda o: _iso(o) if isinstance(o, datetime) else str(o),
    )
    ids = []
    for sub in subscriptions:
        delivery, _ = WebhookDelivery.objects.get_or_create(
            subscription=sub,
            event_id=event_id,
            defaults={
                "tenant_id": sub.tenant_id,
                "event_type": type,
                "body": body,
                "next_attempt_at": now,
            },
        )
        ids.append(delivery.pk)
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


@transaction.atomic
def webhook_event_emit(
    *,
    tenant_id: int,
    type: WebhookEventType | str,
    payload: Mapping[str, Any],
    now: datetime,
    event_id: uuid.UUID | None = None,
) -> list[int]:
    """Record one event for every active subscription of the tenant that wants it, and queue
    its deliveries when the caller's transaction commits. Emitting the same `event_id` again
    creates nothing new (natural idempotency for redelivered callers)."""
    type = WebhookEventType(type).value
    subs = [
        s
        for s in WebhookSubscription.objects.for_tenant(tenant_id).filter(is_active=True)
        if type in s.events
    ]
    return _create_deliveries(
        subscriptions=subs,
        event_id=event_id or uuid.uuid4(),
        type=type,
        payload=payload,
        now=now,
    )


@transaction.atomic
def webhook_test_send(*, tenant_id: int, subscription_id: int, now: datetime, actor: Actor) -> int:
    """Queue a `ping` event to one subscription (whatever events it subscribed to)."""
    sub = WebhookSubscription.objects.for_tenant(tenant_id).filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound(f"no webhook subscription {subscription_id} in this tenant")
    (delivery_id,) = _create_deliveries(
        subscriptions=[sub],
        event_id=uuid.uuid4(),
        type=WebhookEventType.PING.value,
        payload={"subscription_id": sub.pk},
        now=now,
    )
    _audit_webhook(
        tenant_id, actor, "webhook.test", sub.pk, before=None, after={"delivery_id": delivery_id}
    )
    return delivery_id


def webhook_signature(*, secret: str, timestamp: int, body: str) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as sent in Webhook-Signature."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff_seconds(attempt: int) -> int:
    """Delay before attempt `attempt + 1` after `attempt` failed: 30 s, 60 s, 120 s, ... 1 h."""
    return int(min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS))


Sender = Callable[[str, bytes, dict[str, str]], int]


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST through the shared outbound client: the target is checked (every address) before
    connecting, redirects are not followed (a 3xx is a failed attempt), timeouts bound it."""
    return outbound.client().post(url, body=body, headers=headers).status


def webhook_delivery_attempt(
    *, delivery_id: int, now: datetime, send: Sender | None = None
) -> AttemptOutcome:
    """Make one attempt at a pending delivery and log it. Idempotent: a delivery that already
    succeeded or was given up is not sent again; two workers cannot attempt the same try
    (the attempt is claimed with a conditional UPDATE)."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).select_related("subscription").first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        done = delivery is not None and delivery.status == DeliveryStatus.SUCCEEDED
        return AttemptOutcome(delivered=done, retry_in=None, status_code=None, error="")
    # A delivery can be queued twice (its event emitted again, the relay). While another
    # worker's attempt is in flight (claimed, not yet logged, claimed less than
    # ATTEMPT_LEASE ago: a worker that died mid-attempt does not block it for good), a
    # second task does not send it again.
    if (
        delivery.attempts
        and delivery.last_attempt_at is not None
        and delivery.last_attempt_at > now - ATTEMPT_LEASE
        and WebhookAttempt.objects.filter(delivery_id=delivery.pk).count() < delivery.attempts
    ):
        return AttemptOutcome(delivered=False, retry_in=None, status_code=None, error="in flight")
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING.value, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, last_attempt_at=now)
    if claimed != 1:
        return AttemptOutcome(delivered=False, retry_in=None, status_code=None, error="claimed")
    attempt = delivery.attempts + 1
    sub = delivery.subscription
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "evcharge-webhooks/1",
        "Webhook-Id": str(delivery.event_id),
        "Webhook-Event": delivery.event_type,
        "Webhook-Attempt": str(attempt),
        SIGNATURE_HEADER: webhook_signature(
            secret=crypto.decrypt(sub.secret_encrypted), timestamp=timestamp, body=delivery.body
        ),
    }
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        status_code = (send or _http_post)(sub.url, delivery.body.encode(), headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except Exception as exc:  # network errors of every kind are a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    delivered = not error
    retry_in = None if delivered or attempt >= MAX_ATTEMPTS else backoff_seconds(attempt)
    with transaction.atomic():
        WebhookAttempt.objects.create(
            tenant_id=delivery.tenant_id,
            delivery_id=delivery.pk,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
        if delivered:
            status = DeliveryStatus.SUCCEEDED
        elif retry_in is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status.value,
            last_status_code=status_code,
            last_error=error,
            delivered_at=now if delivered else None,
            next_attempt_at=now + timedelta(seconds=retry_in) if retry_in else None,
        )
    return AttemptOutcome(
        delivered=delivered, retry_in=retry_in, status_code=status_code, error=error
    )
