"""The integrations app's Celery task names, and how its services queue them
(apps.common.jobs)."""

from __future__ import annotations

from apps.common.jobs import enqueue

WEBHOOK_DELIVER = "apps.integrations.webhook_deliver"
WEBHOOK_DISPATCH = "apps.integrations.webhook_dispatch"
WEBHOOK_RELAY = "apps.integrations.webhook_relay"
IDEMPOTENCY_PURGE = "apps.integrations.idempotency_purge"


def webhook_deliver(delivery_id: int) -> None:
    enqueue(WEBHOOK_DELIVER, delivery_id)


def webhook_dispatch(event_ids: list[str]) -> None:
    enqueue(WEBHOOK_DISPATCH, event_ids)
