"""Thin Celery tasks of the charging app: ids in, one service call, idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from apps.charging import jobs
from apps.charging.selectors import backlog
from apps.charging.services import processing

log = logging.getLogger(__name__)


@shared_task(
    name=jobs.TRANSACTION_PROCESS,
    ignore_result=True,  # nobody waits for it: no result backend round trip per task
    autoretry_for=(OperationalError, IntegrityError),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=8,
)
def transaction_process(station_id: int, ocpp_transaction_id: str) -> int | None:
    # IntegrityError: two workers created the same session at once; the retry finds it.
    return processing.transaction_process(
        station_id=station_id, ocpp_transaction_id=ocpp_transaction_id
    )


@shared_task(name=jobs.TRANSACTIONS_PROCESS, ignore_result=True)
def transactions_process(keys: list[Any]) -> int:
    """Bring many transactions up to date in one database transaction, set-based
    (`processing.transactions_process`). When the batch fails with a database error (a
    concurrent worker wrote the same CDR, the database went away), each of its transactions
    is queued again on its own as `transaction_process`, which retries with back-off.
    Returns how many were processed."""
    pairs = [(int(station), str(txid)) for station, txid in keys]
    failed = processing.transactions_process(pairs)
    for station_id, txid in failed:
        transaction_process.apply_async(args=[station_id, txid], countdown=1)
    return len(pairs) - len(failed)


@shared_task(name="apps.charging.sweep_unprocessed", ignore_result=True)
def sweep_unprocessed() -> int:
    """Re-queue transactions whose newest events were stored but never processed (a gateway
    or worker died between commit and enqueue)."""
    now = timezone.now()
    keys = backlog.unprocessed_transactions(
        older_than=now - timedelta(seconds=30), newer_than=now - timedelta(hours=1)
    )
    jobs.transactions_enqueue(keys)
    return len(keys)


@shared_task(name="apps.charging.sweep_live_costs", ignore_result=True)
def sweep_live_costs() -> int:
    """Price the live cost of every active session whose newest meter values arrived inside
    its live-cost window, now that the window is over: one query, then tasks of
    `KEYS_PER_TASK` sessions (beat runs this every `CHARGING_LIVE_COST_SECONDS`)."""
    keys = backlog.stale_live_costs(older_than=timezone.now())
    jobs.transactions_enqueue(keys)
    return len(keys)
