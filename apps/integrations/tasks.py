"""Thin tasks: ids in, one service call. Routed to the `default` queue (by name prefix)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.integrations import services


@shared_task(
    name="apps.integrations.webhook_deliver",
    bind=True,
    max_retries=services.MAX_ATTEMPTS,
    acks_late=True,
)
def webhook_deliver(self, delivery_id: int) -> bool:  # type: ignore[no-untyped-def]
    """One attempt; on failure, the next one after an exponential back-off (bounded: the
    service gives up after MAX_ATTEMPTS and marks the delivery failed)."""
    outcome = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="apps.integrations.idempotency_purge")
def idempotency_purge() -> int:
    return services.idempotency_records_purge(now=timezone.now())
