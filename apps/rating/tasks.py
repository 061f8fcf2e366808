"""Thin Celery tasks of the rating app (queue `billing`): ids in, one service call,
idempotent. Acknowledged late (settings): a worker killed mid-batch has its message
redelivered, and its transaction was rolled back, so the batch is rated once (ADR 0031)."""

from __future__ import annotations

from celery import shared_task
from django.db import IntegrityError, OperationalError

from apps.common.contracts import Actor
from apps.rating import jobs
from apps.rating.services import rating

ACTOR = Actor.system("rating worker")


@shared_task(
    name=jobs.RATE_CDRS,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # IntegrityError: another writer rated one of these CDRs at the same moment (the unique
    # line number); the retry finds its lines and skips them.
    autoretry_for=(OperationalError, IntegrityError),
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=8,
)
def rate_cdrs(cdr_ids: list[int]) -> int:
    """Rate these CDRs; returns the number of lines written."""
    return rating.cdrs_rate(cdr_ids=[int(i) for i in cdr_ids], actor=ACTOR).lines_written


@shared_task(name=jobs.RETRY_FLAGS, ignore_result=True, acks_late=True)
def retry_flags() -> int:
    """Beat: flagged CDRs whose retry is due."""
    return rating.flags_retry(actor=ACTOR).lines_written


@shared_task(name=jobs.SWEEP_UNRATED, ignore_result=True, acks_late=True)
def sweep_unrated() -> int:
    """Beat: CDRs that no engine has looked at (rating was off, a message was lost)."""
    return rating.cdrs_sweep_unrated(actor=ACTOR).lines_written
