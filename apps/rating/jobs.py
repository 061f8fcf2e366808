"""The rating app's task names (apps.common.jobs, ADR 0026). Names start with `rating.`:
the `billing` queue takes them (CELERY_TASK_ROUTES), so a rating backlog never delays the
charging worker. Charging queues `rating.rate_cdrs` by this name after it stores CDRs."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from apps.common.jobs import enqueue

RATE_CDRS = "rating.rate_cdrs"
RETRY_FLAGS = "rating.retry_flags"
SWEEP_UNRATED = "rating.sweep_unrated"


def cdrs_rate_enqueue(cdr_ids: Iterable[int]) -> None:
    """Publish the rating of these CDRs, RATING_BATCH_SIZE per message."""
    ordered = sorted(set(cdr_ids))
    size = settings.RATING_BATCH_SIZE
    for i in range(0, len(ordered), size):
        enqueue(RATE_CDRS, ordered[i : i + size], ignore_result=True)
