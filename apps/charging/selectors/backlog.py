"""What the charging worker still has to do: which transactions need processing (a task's
first question, and the sweeps' that re-queue what was stored but never processed), and the
live-cost window that holds the pricing of an active session back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Max
from django.utils import timezone

from apps.charging.contracts import CdrKind, FlagReason, SessionStatus
from apps.charging.models import Cdr, ChargingSession, OcppEvent, ReviewFlag


def live_cost_seconds() -> float:
    """At most one live-cost pricing per active session per this many seconds
    (`CHARGING_LIVE_COST_SECONDS`); a meter value inside the window is priced when it ends."""
    return float(getattr(settings, "CHARGING_LIVE_COST_SECONDS", 30))


def live_cost_window_over(live_cost_at: datetime | None, now: datetime) -> bool:
    return live_cost_at is None or (now - live_cost_at).total_seconds() >= live_cost_seconds()


def transaction_session_if_up_to_date(station_id: int, txid: str) -> int | None:
    """The session's id when it already reflects every stored event of the transaction
    (its live cost too while active; once ended, its CDR exists): the work of this task was
    done by an earlier one. Tasks are queued per batch of events, so under load several
    wait for the same transaction; the first recomputes from all events, the others stop
    here after two or three small queries."""
    pending = transactions_pending([(station_id, txid)])
    if pending.get((station_id, txid), True):
        return None
    return ChargingSession.objects.filter(
        charge_station_id=station_id, ocpp_transaction_id=txid
    ).values_list("pk", flat=True)[0]


def transactions_pending(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], bool]:
    """For each (station, transaction): whether it needs processing. Three queries for all
    of them: their sessions, their newest events, the CDRs of the completed ones."""
    wanted = set(pairs)
    stations = {station for station, _ in wanted}
    txids = {txid for _, txid in wanted}
    now = timezone.now()
    sessions = {
        (station, txid): (pk, last, status, live, live_at)
        for pk, station, txid, last, status, live, live_at in ChargingSession.objects.filter(
            charge_station_id__in=stations, ocpp_transaction_id__in=txids
        ).values_list(
            "pk",
            "charge_station_id",
            "ocpp_transaction_id",
            "last_event_id",
            "status",
            "live_cost_event_id",
            "live_cost_at",
        )
        if (station, txid) in wanted
    }
    newest = (
        {
            (station, txid): n
            for station, txid, n in OcppEvent.objects.filter(
                charge_station_id__in={s for s, _ in sessions}, ocpp_transaction_id__in=txids
            )
            .values("charge_station_id", "ocpp_transaction_id")
            .annotate(n=Max("id"))
            .values_list("charge_station_id", "ocpp_transaction_id", "n")
            if (station, txid) in sessions
        }
        if sessions
        else {}
    )
    completed = [
        pk for pk, _, status, _, _ in sessions.values() if status == SessionStatus.COMPLETED
    ]
    with_cdr = (
        set(
            Cdr.objects.filter(session_id__in=completed, kind=CdrKind.ORIGINAL.value).values_list(
                "session_id", flat=True
            )
        )
        if completed
        else set()
    )
    out = {}
    for key in pairs:
        row = sessions.get(key)
        if row is None or key not in newest:
            out[key] = True
            continue
        pk, last, status, live, live_at = row
        if newest[key] > last:
            out[key] = True
        elif status == SessionStatus.COMPLETED:
            out[key] = pk not in with_cdr
        else:  # active: its live cost is behind and may be priced again
            out[key] = live < last and live_cost_window_over(live_at, now)
    return out


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
    # A 1.x stop under an unknown id that ended a session (services.unknown_stops).
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
