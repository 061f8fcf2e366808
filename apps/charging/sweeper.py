from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Max

from apps.charging.contracts import FlagReason, SessionStatus
from apps.charging.models import ChargingSession, OcppEvent, ReviewFlag
from apps.charging.rebuild import live_cost_seconds


def stale_live_costs(*, older_than: datetime) -> list[tuple[int, str]]:
    """Active sessions whose live cost is behind their events and whose live-cost window
    was over by `older_than` (a partial index keeps this to the active sessions)."""
    return sorted(
        ChargingSession.objects.filter(
            status=SessionStatus.ACTIVE.value,
            live_cost_event_id__lt=F("last_event_id"),
            live_cost_at__lt=older_than - timedelta(seconds=live_cost_seconds()),
        ).values_list("charge_station_id", "ocpp_transaction_id")
    )


def unprocessed_transactions(
    *, older_than: datetime, newer_than: datetime
) -> list[tuple[int, str]]:
    """(station, transaction) pairs with an event newer than what their session reflects,
    or with no session, no UNKNOWN_TRANSACTION flag yet and a newest event that is not a
    stop matched to another transaction's session."""
    newest = (
        OcppEvent.objects.filter(received_at__lt=older_than, received_at__gt=newer_than)
        .values("charge_station_id", "ocpp_transaction_id")
        .annotate(newest=Max("id"))
    )
    pending = {(r["charge_station_id"], r["ocpp_transaction_id"]): r["newest"] for r in newest}
    if not pending:
        return []
    stations = {station for station, _ in pending}
    seen = {
        (station, txid): last
        for station, txid, last in ChargingSession.objects.filter(
            charge_station_id__in=stations
        ).values_list("charge_station_id", "ocpp_transaction_id", "last_event_id")
    }
    flagged = set(
        ReviewFlag.objects.filter(
            charge_station_id__in=stations, reason=FlagReason.UNKNOWN_TRANSACTION.value
        ).values_list("charge_station_id", "ocpp_transaction_id")
    )
    unseen = {newest_id for key, newest_id in pending.items() if key not in seen}
    # A 1.x stop under an unknown id that ended a session (rebuild._match_unknown_stops).
    matched = (
        set(
            ChargingSession.objects.filter(matched_stop_event_id__in=unseen).values_list(
                "matched_stop_event_id", flat=True
            )
        )
        if unseen
        else set()
    )
    out = []
    for key, newest_id in pending.items():
        if key in seen:
            if seen[key] < newest_id:
                out.append(key)
        elif key not in flagged and newest_id not in matched:
            out.append(key)
    return sorted(out)
