"""OCPP 1.x stops sent under a transaction id we never issued (the station lost our
StartTransaction answer, or sends -1 / 0), matched to the session they end where that is
unambiguous (docs/gateway.md "Unknown stops").

Of the sessions in progress at the station at the stop's time, exactly one fits it (started
at or before it, meter start not above its meter stop, same idTag when it carries one), and
that one is still active, has no stop of its own in the log (processed or not) and is not
matched to another stop. The session gets the stop (`matched_stop_event`, its lock taken
here) and ends with it; what is not matched is flagged UNKNOWN_TRANSACTION. Judging by the
sessions in progress at the stop's time, not by those active now, keeps the verdict on a
stop the same when it is processed again later.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from apps.charging.contracts import EventKind, FlagReason, SessionStatus
from apps.charging.models import ChargingSession, OcppEvent
from apps.charging.services.batch import Writes, sessions_lock
from apps.charging.services.timeline import flag_clock_skew

Key = tuple[int, str]
# A session in progress around the stops: (pk, station, transaction id, started_at,
# ended_at, meter_start_wh, id_tag, status, matched_stop_event_id).
Around = tuple[Any, ...]


def match_unknown_stops(
    orphans: dict[Key, list[OcppEvent]],
    sessions: dict[Key, ChargingSession],
    writes: Writes,
) -> dict[Key, ChargingSession]:
    """Match the orphans' stops to sessions; flag what stays unmatched (`writes`).

    Set-based: three queries for the batch (stops matched before, the stations' sessions
    around the stops, those sessions' own stops) and one to lock the matched sessions (added
    to `sessions`). Returns the matched sessions by transaction key, to be processed with
    the batch."""
    stops = sorted(
        (e for evs in orphans.values() for e in evs if e.kind == EventKind.ENDED),
        key=lambda e: (e.station_timestamp, e.id),
    )
    done = _matched_before(stops)
    stops = [e for e in stops if e.id not in done]
    around = _sessions_around(stops)
    chosen, verdicts = _choose(stops, around, _ending(around))
    sessions |= sessions_lock([k for k in chosen if k not in sessions])
    matched: dict[Key, ChargingSession] = {}
    for key, stop in chosen.items():
        session = sessions.get(key)
        if session is not None and session.matched_stop_event_id == stop.id:
            done.add(stop.id)  # a concurrent worker matched it while this one waited
            continue
        if (
            session is None
            or session.status != SessionStatus.ACTIVE
            or session.matched_stop_event_id is not None
        ):  # a concurrent worker got there first
            verdicts[stop.id] = {"fitting_sessions": [key[1]], "unmatched": "ended meanwhile"}
            continue
        session.matched_stop_event_id = stop.id
        matched[key] = session
    matched_ids = {s.matched_stop_event_id for s in matched.values()} | done
    _flag_unmatched(orphans, matched_ids, verdicts, writes)
    return matched


def _matched_before(stops: list[OcppEvent]) -> set[int]:
    """The stops a session took in an earlier run."""
    if not stops:
        return set()
    return set(
        ChargingSession.objects.filter(matched_stop_event_id__in=[e.id for e in stops]).values_list(
            "matched_stop_event_id", flat=True
        )
    )


def _sessions_around(stops: list[OcppEvent]) -> dict[int, list[Around]]:
    """By station: its sessions in progress at some time between the first and last stop."""
    around: dict[int, list[Around]] = {}
    if not stops:
        return around
    for row in (
        ChargingSession.objects.filter(
            charge_station_id__in={e.charge_station_id for e in stops},
            started_at__lte=max(e.station_timestamp for e in stops),
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=min(e.station_timestamp for e in stops)))
        .values_list(
            "pk",
            "charge_station_id",
            "ocpp_transaction_id",
            "started_at",
            "ended_at",
            "meter_start_wh",
            "id_tag",
            "status",
            "matched_stop_event_id",
        )
    ):
        around.setdefault(row[1], []).append(row)
    return around


def _ending(around: dict[int, list[Around]]) -> set[Key]:
    """Active sessions with a stop of their own in the log (processed in this batch or
    queued): they may fit a stop but never take it."""
    active = {
        (r[1], r[2]) for rows in around.values() for r in rows if r[7] == SessionStatus.ACTIVE
    }
    if not active:
        return set()
    return set(
        OcppEvent.objects.filter(
            charge_station_id__in={station for station, _ in active},
            ocpp_transaction_id__in={txid for _, txid in active},
            kind=EventKind.ENDED.value,
        ).values_list("charge_station_id", "ocpp_transaction_id")
    )


def _choose(
    stops: list[OcppEvent], around: dict[int, list[Around]], ending: set[Key]
) -> tuple[dict[Key, OcppEvent], dict[int, dict[str, object]]]:
    """(the stop each free fitting session takes, why the others were not matched)."""
    chosen: dict[Key, OcppEvent] = {}
    verdicts: dict[int, dict[str, object]] = {}  # why a stop was not matched
    taken: set[int] = set()
    for stop in stops:
        at = stop.station_timestamp
        fitting = [
            r
            for r in around.get(stop.charge_station_id, [])
            if r[3] <= at
            and (r[4] is None or r[4] > at)
            and (stop.meter_wh is None or r[5] <= stop.meter_wh)
            and (not stop.id_tag or r[6] == stop.id_tag)
        ]
        free = (
            len(fitting) == 1
            and fitting[0][7] == SessionStatus.ACTIVE
            and fitting[0][8] is None
            and fitting[0][0] not in taken
            and (stop.charge_station_id, fitting[0][2]) not in ending
        )
        if free:
            taken.add(fitting[0][0])
            chosen[(stop.charge_station_id, fitting[0][2])] = stop
        else:
            verdicts[stop.id] = {
                "fitting_sessions": [r[2] for r in fitting],
                "unmatched": "ambiguous" if len(fitting) > 1 else "no active session fits",
            }
    return chosen, verdicts


def _flag_unmatched(
    orphans: dict[Key, list[OcppEvent]],
    matched_ids: set[int | None],
    verdicts: dict[int, dict[str, object]],
    writes: Writes,
) -> None:
    for (station_id, txid), evs in orphans.items():
        left = [e for e in evs if e.id not in matched_ids]
        if not left or (len(left) < len(evs) and all(e.kind != EventKind.ENDED for e in left)):
            # Every stop of this id was matched: updates sent under it are not billing
            # data of their own.
            continue
        last = left[-1]
        writes.flag(
            tenant_id=last.tenant_id,
            station_id=station_id,
            txid=txid,
            reason=FlagReason.UNKNOWN_TRANSACTION,
            event=last,
            details={
                "kinds": [e.kind for e in left],
                "id_tag": next((e.id_tag for e in left if e.id_tag), ""),
                "station_timestamp": last.station_timestamp.isoformat(),
                **verdicts.get(last.id, {}),
            },
        )
        flag_clock_skew(left, station_id, txid, writes)
