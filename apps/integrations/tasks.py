"""Thin tasks: ids in, one service call. Routed to the `default` queue (by name prefix)."""

from __future__ import annotations

from celery import Task, shared_task
from django.utils import timezone

from apps.integrations import jobs, services


@shared_task(
    name=jobs.WEBHOOK_DELIVER,
    bind=True,
    max_retries=services.MAX_ATTEMPTS,
    acks_late=True,
)
def webhook_deliver(self: Task, delivery_id: int) -> bool:
    """One attempt; on failure, the next one after an exponential back-off (bounded: the
    service gives up after MAX_ATTEMPTS and marks the delivery failed)."""
    outcome = services.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now())
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name=jobs.IDEMPOTENCY_PURGE)
def idempotency_purge() -> int:
    return services.idempotency_records_purge(now=timezone.now())


@shared_task(name=jobs.WEBHOOK_DISPATCH)
def webhook_dispatch(event_ids: list[str]) -> int:
    """Fan the deliveries of committed events out to `webhook_deliver` (one message from the
    emitter per batch of events, however many deliveries)."""
    return len(services.webhook_events_dispatch(event_ids=event_ids))


@shared_task(name=jobs.WEBHOOK_RELAY)
def webhook_relay() -> int:
    return len(services.webhook_relay(now=timezone.now()))
