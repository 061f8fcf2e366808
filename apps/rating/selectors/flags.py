"""The read side of rating flags: the billing part of the flagged queue (newest first) and
a CDR's flags. Flags are the rating tenant's: nobody else sees them."""

from __future__ import annotations

from typing import Any

from apps.rating.contracts import RatingFlagReason, RatingFlagRow, RatingFlagStatus
from apps.rating.models import RatingFlag

REASON_WORDS = {
    RatingFlagReason.NO_RULE: "No valid billing rule of this engine matches the session.",
    RatingFlagReason.AMBIGUOUS_RULES: (
        "More than one billing rule matches the session; exactly one must. Fix the rules "
        "named, then re-rate."
    ),
    RatingFlagReason.NO_PACKAGE: "The driver has no contract or no retail package.",
    RatingFlagReason.CURRENCY_MISMATCH: (
        "The rule's tariff is in another currency than the CDR; the platform never converts."
    ),
    RatingFlagReason.NO_VAT_RATE: (
        "Neither the tariff, the CPO contract nor the party has a VAT rate."
    ),
    RatingFlagReason.PRICING_FAILED: "The rule's tariff could not price this CDR.",
}


def rule_ids_of(detail: Any) -> tuple[int, ...]:
    """The billing rule ids a flag's detail names: `rule_ids` ([1, 2]) or `rules` ([1, 2] or
    [{"rule_id": 1, ...}, ...]); anything else names none."""
    if not isinstance(detail, dict):
        return ()
    raw = detail.get("rule_ids", detail.get("rules", []))
    ids: list[int] = []
    for item in raw if isinstance(raw, list) else []:
        value = item.get("rule_id", item.get("id")) if isinstance(item, dict) else item
        if isinstance(value, int) and not isinstance(value, bool) and value not in ids:
            ids.append(value)
    return tuple(ids)


def rating_flag_rows(
    *,
    tenant_id: int,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
    status: str | None = RatingFlagStatus.OPEN.value,
    reason: str | None = None,
    engine: str | None = None,
    cdr_id: int | None = None,
) -> list[RatingFlagRow]:
    """Newest first: the `limit` next older than `before_id`, or the `limit` next newer than
    `after_id` (the page before a page), always newest first."""
    qs = RatingFlag.objects.filter(tenant_id=tenant_id)
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(reason=reason)
    if engine:
        qs = qs.filter(engine=engine)
    if cdr_id is not None:
        qs = qs.filter(cdr_id=cdr_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    rows = list(
        qs.order_by("id" if after_id is not None else "-id").values(
            "id",
            "cdr_id",
            "cdr__ocpi_id",
            "engine",
            "reason",
            "detail",
            "status",
            "attempts",
            "flagged_at",
            "last_tried_at",
            "next_retry_at",
            "closed_at",
        )[:limit]
    )
    if after_id is not None:
        rows.reverse()
    return [
        RatingFlagRow(
            id=r["id"],
            cdr_id=r["cdr_id"],
            cdr_ocpi_id=r["cdr__ocpi_id"],
            engine=r["engine"],
            reason=r["reason"],
            detail=r["detail"] if isinstance(r["detail"], dict) else {},
            rule_ids=rule_ids_of(r["detail"]),
            status=r["status"],
            attempts=r["attempts"],
            flagged_at=r["flagged_at"],
            last_tried_at=r["last_tried_at"],
            next_retry_at=r["next_retry_at"],
            closed_at=r["closed_at"],
        )
        for r in rows
    ]
