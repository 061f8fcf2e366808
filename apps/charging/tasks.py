"""Thin Celery tasks of the charging app: ids in, one service call, idempotent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from celery import shared_task
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from apps.charging import rebuild, sweeper


@shared_task(
    name="apps.charging.transaction_process",
    autoretry_for=(OperationalError, IntegrityError),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=8,
)
def transaction_process(station_id: int, ocpp_transaction_id: str) -> int | None:
    # IntegrityError: two workers created the same session at once; the retry finds it.
    return rebuild.transaction_process(
        station_id=station_id, ocpp_transaction_id=ocpp_transaction_id
    )


def enqueue_transaction_processing(keys: Iterable[tuple[int, str]]) -> None:
    for station_id, txid in keys:
        transaction_process.apply_async(args=[station_id, txid])


@shared_task(name="apps.charging.sweep_unprocessed")
def sweep_unprocessed() -> int:
    """Re-queue transactions whose newest events were stored but never processed (a gateway
    or worker died between commit and enqueue)."""
    now = timezone.now()
    keys = sweeper.unprocessed_transactions(
        older_than=now - timedelta(seconds=30), newer_than=now - timedelta(hours=1)
    )
    enqueue_transaction_processing(keys)
    return len(keys)
