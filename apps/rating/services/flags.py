"""Rating flags: a CDR one engine could not rate, and its retry schedule (BILLING.md section
2). At most one OPEN flag per CDR and engine (a partial unique constraint); retried every
RATING_RETRY_INTERVAL_HOURS; RESOLVED once rated; DROPPED when still failing
RATING_RETRY_DAYS after it was first flagged (listed, never invoiced)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.rating.contracts import RatingFlagReason, RatingFlagStatus
from apps.rating.models import RatingFlag
from apps.tariffs.contracts import BillingEngine


def retry_interval() -> timedelta:
    return timedelta(hours=settings.RATING_RETRY_INTERVAL_HOURS)


def retry_window() -> timedelta:
    return timedelta(days=settings.RATING_RETRY_DAYS)


def flag_new(
    *,
    tenant_id: int,
    cdr_id: int,
    engine: BillingEngine,
    reason: RatingFlagReason,
    detail: dict[str, Any],
    now: datetime,
) -> RatingFlag:
    """An OPEN flag (not saved: the caller writes a batch's flags in one statement)."""
    return RatingFlag(
        tenant_id=tenant_id,
        cdr_id=cdr_id,
        engine=engine.value,
        reason=reason.value,
        detail=detail,
        status=RatingFlagStatus.OPEN.value,
        attempts=1,
        flagged_at=now,
        last_tried_at=now,
        next_retry_at=now + retry_interval(),
    )


def flag_tried_again(
    flag: RatingFlag,
    *,
    reason: RatingFlagReason,
    detail: dict[str, Any],
    now: datetime,
    may_drop: bool = True,
) -> None:
    """The flagged CDR failed again: the next retry, or DROPPED once the retry window from
    its first flagging has passed (`may_drop` False: a re-rate from the flagged queue only
    records the attempt)."""
    flag.reason = reason.value
    flag.detail = detail
    flag.attempts += 1
    flag.last_tried_at = now
    if may_drop and now >= flag.flagged_at + retry_window():
        flag.status = RatingFlagStatus.DROPPED.value
        flag.next_retry_at = None
        flag.closed_at = now
    else:
        flag.next_retry_at = now + retry_interval()
    flag.save(
        update_fields=[
            "reason",
            "detail",
            "attempts",
            "last_tried_at",
            "status",
            "next_retry_at",
            "closed_at",
            "updated_at",
        ]
    )


def flags_resolve(flag_ids: Iterable[int], *, now: datetime) -> int:
    """Close these flags as RESOLVED (their CDR x engine is rated now)."""
    ids = list(flag_ids)
    if not ids:
        return 0
    return RatingFlag.objects.filter(pk__in=ids).update(
        status=RatingFlagStatus.RESOLVED.value, next_retry_at=None, closed_at=now, updated_at=now
    )


def flags_due(*, now: datetime, after_id: int, limit: int) -> list[tuple[int, int, str]]:
    """OPEN flags whose retry is due, by id after `after_id`: (flag id, CDR id, engine)."""
    return list(
        RatingFlag.objects.filter(
            status=RatingFlagStatus.OPEN.value, next_retry_at__lte=now, pk__gt=after_id
        )
        .order_by("pk")
        .values_list("pk", "cdr_id", "engine")[:limit]
    )
