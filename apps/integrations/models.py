"""API keys, idempotency records, webhook subscriptions and the webhook delivery log."""

from __future__ import annotations

import uuid

from django.db import models

from apps.common.models import TenantOwnedModel, choices, in_enum
from apps.integrations.contracts import DeliveryStatus


class ApiKey(TenantOwnedModel):
    """A tenant's API key. The key is `ek_<key_id>_<secret>`: `key_id` is public and
    indexed (one lookup), the secret is stored only as a salted SHA-256 (ADR 0004, 0008)."""

    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=128)
    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    # Requests per minute for this key; empty: the platform default (API_RATE_LIMIT).
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (ek_{self.key_id}_…)"


class IdempotencyRecord(TenantOwnedModel):
    """The response to a POST sent with an `Idempotency-Key`, replayed for the same key and
    the same request, refused (409) for the same key with another request."""

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    headers = models.JSONField(default=list)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_unique"),
        ]


class WebhookSubscription(TenantOwnedModel):
    """Where a tenant wants events POSTed. The signing secret must be read back to sign each
    delivery (HMAC), so it cannot be hashed: it is stored encrypted with a key from the
    environment (apps.common.crypto, ADR 0010) and shown to the tenant once."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantOwnedModel):
    """One event for one subscription: the exact body sent on every attempt, and its state."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=choices(DeliveryStatus), default=DeliveryStatus.PENDING.value
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhook_delivery_once_per_event"
            ),
            models.CheckConstraint(
                condition=in_enum("status", DeliveryStatus), name="webhook_delivery_status_valid"
            ),
        ]
        indexes = [
            # The dispatcher and the relay find deliveries by event and by state.
            models.Index(fields=["event_id"], name="webhook_delivery_event"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]
        verbose_name_plural = "webhook deliveries"


class WebhookAttempt(TenantOwnedModel):
    """The delivery log: one row per HTTP attempt."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery_id", "attempted_at", "id"]


class EventConsumer(TenantOwnedModel):
    """An internal consumer of a tenant's webhook events (issue 19: the roaming app's OCPI
    pushes). Apps below it cannot import it, so it registers here which event types it
    wants for which tenant and the task (by name) that takes them; `webhook_interest`
    counts it like a subscription, `webhook_events_emit` queues its task after commit.
    One row per (tenant, consumer), kept by the consumer itself: a small table."""

    name = models.CharField(max_length=64)  # the task name, e.g. "roaming.ocpi_events"
    events = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="event_consumer_unique"),
        ]
