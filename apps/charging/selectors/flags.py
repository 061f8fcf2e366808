"""The review queue: flagged transactions, newest first, with what each reason means."""

from __future__ import annotations

from apps.charging.contracts import CdrKind, FlagReason, FlagRow, FlagStatus
from apps.charging.models import Cdr, ReviewFlag

REASON_WORDS = {
    FlagReason.MISSING_EVSE: "The station reported an EVSE or connector that is not configured.",
    FlagReason.NO_TARIFF: "No tariff was assigned to the station or connector at session start.",
    FlagReason.CLOCK_SKEW: "The station's clock was off by more than 5 minutes.",
    FlagReason.UNKNOWN_TRANSACTION: "A stop or meter value came for a transaction never started.",
    FlagReason.UNKNOWN_TOKEN: "The id tag matches no token.",
    FlagReason.PRICING_FAILED: "The tariff or the meter data could not be priced.",
    FlagReason.MISSING_START: "An OCPP 2.0.1 transaction arrived without its Started event.",
    FlagReason.CONFLICTING_STOP: (
        "The station sent a second, different stop for a transaction that had already ended "
        "(another time or meter reading). The first stop received was applied; the later one "
        "is kept in the message log and changed nothing."
    ),
}


def flag_rows(
    *,
    tenant_id: int,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
    status: str | None = FlagStatus.OPEN.value,
    reason: str | None = None,
) -> list[FlagRow]:
    """Newest first: the `limit` next older than `before_id`, or the `limit` next newer
    than `after_id` (the page before a page), always newest first."""
    qs = ReviewFlag.objects.filter(tenant_id=tenant_id)
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(reason=reason)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    rows = list(
        qs.order_by("id" if after_id is not None else "-id").values(
            "id",
            "reason",
            "status",
            "charge_station__identity",
            "charge_station_id",
            "ocpp_transaction_id",
            "session_id",
            "details",
            "created_at",
        )[:limit]
    )
    if after_id is not None:
        rows.reverse()
    sessions = [r["session_id"] for r in rows if r["session_id"]]
    cdrs = (
        dict(
            Cdr.objects.filter(session_id__in=sessions, kind=CdrKind.ORIGINAL.value).values_list(
                "session_id", "id"
            )
        )
        if sessions
        else {}
    )
    return [
        FlagRow(
            id=r["id"],
            reason=r["reason"],
            status=r["status"],
            station_identity=r["charge_station__identity"],
            charge_station_id=r["charge_station_id"],
            ocpp_transaction_id=r["ocpp_transaction_id"],
            session_id=r["session_id"],
            cdr_id=cdrs.get(r["session_id"]),
            details=r["details"] or {},
            created_at=r["created_at"],
        )
        for r in rows
    ]
