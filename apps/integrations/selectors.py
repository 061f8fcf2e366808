"""Reads of the integrations app."""

from __future__ import annotations

from collections.abc import Iterable

from apps.common.errors import NotFound
from apps.common.services import version_tag
from apps.integrations.contracts import (
    ApiKeyRef,
    DeliveryStatus,
    WebhookDeliveryRecord,
    WebhookSubscriptionRecord,
)
from apps.integrations.models import ApiKey, EventConsumer, WebhookDelivery, WebhookSubscription


def api_key_list(*, tenant_id: int) -> list[ApiKeyRef]:
    """The tenant's API keys, active first, newest first (never a secret: only hashes are
    stored, and not returned)."""
    keys = ApiKey.objects.for_tenant(tenant_id).order_by("revoked_at", "-created_at", "-id")
    return [
        ApiKeyRef(
            id=k.pk,
            tenant_id=k.tenant_id,
            key_id=k.key_id,
            name=k.name,
            scopes=tuple(k.scopes),
            created_at=k.created_at,
            last_used_at=k.last_used_at,
            revoked_at=k.revoked_at,
        )
        for k in keys
    ]


def _sub(s: WebhookSubscription) -> WebhookSubscriptionRecord:
    return WebhookSubscriptionRecord(
        id=s.pk,
        url=s.url,
        events=tuple(s.events),
        description=s.description,
        is_active=s.is_active,
        created_at=s.created_at,
        updated_at=s.updated_at,
        etag=version_tag(s),
    )


def webhook_subscription_list(
    *, tenant_id: int, after_id: int | None, limit: int
) -> list[WebhookSubscriptionRecord]:
    qs = WebhookSubscription.objects.for_tenant(tenant_id).order_by("id")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_sub(s) for s in qs[:limit]]


def webhook_subscription_get(*, tenant_id: int, subscription_id: int) -> WebhookSubscriptionRecord:
    s = WebhookSubscription.objects.for_tenant(tenant_id).filter(pk=subscription_id).first()
    if s is None:
        raise NotFound(f"no webhook subscription {subscription_id} in this tenant")
    return _sub(s)


def _delivery(d: WebhookDelivery) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        id=d.pk,
        subscription_id=d.subscription_id,
        event_id=str(d.event_id),
        event_type=d.event_type,
        status=DeliveryStatus(d.status),
        attempts=d.attempts,
        created_at=d.created_at,
        last_attempt_at=d.last_attempt_at,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
    )


def webhook_delivery_list(
    *,
    tenant_id: int,
    subscription_id: int,
    after_id: int | None,
    limit: int,
    status: str | None = None,
) -> list[WebhookDeliveryRecord]:
    webhook_subscription_get(tenant_id=tenant_id, subscription_id=subscription_id)
    qs = WebhookDelivery.objects.for_tenant(tenant_id).filter(subscription_id=subscription_id)
    if status:
        qs = qs.filter(status=status)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_delivery(d) for d in qs.order_by("id")[:limit]]


def webhook_delivery_get(*, tenant_id: int, delivery_id: int) -> WebhookDeliveryRecord:
    d = WebhookDelivery.objects.for_tenant(tenant_id).filter(pk=delivery_id).first()
    if d is None:
        raise NotFound(f"no webhook delivery {delivery_id} in this tenant")
    return _delivery(d)


def webhook_interest(*, tenant_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """The event types each of these tenants has an active subscription for (one query;
    tenants without any are absent). Callers ask first and build no payload nobody wants."""
    wanted: dict[int, set[str]] = {}
    ids = set(tenant_ids)
    if not ids:
        return {}
    # Internal consumers (the roaming app's OCPI pushes) count as subscribers: one query.
    subscriptions = (
        WebhookSubscription.objects.filter(tenant_id__in=ids, is_active=True)
        .order_by()
        .values_list("tenant_id", "events")
    )
    consumers = (
        EventConsumer.objects.filter(tenant_id__in=ids)
        .order_by()
        .values_list("tenant_id", "events")
    )
    for tenant_id, events in subscriptions.union(consumers, all=True):
        wanted.setdefault(tenant_id, set()).update(events)
    return {t: frozenset(e) for t, e in wanted.items()}
