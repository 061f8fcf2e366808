"""Derive sessions, meter values, flags and CDRs from the OCPP event log (run by workers).

`transaction_process` is idempotent: it recomputes a transaction's state from all its stored
events, so a redelivered task, a replayed message or a late offline upload converges on the
same rows, and the partial unique index on CDRs makes a second CDR impossible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.charging.contracts import (
    CdrKind,
    ChargingState,
    EventKind,
    FlagReason,
    SessionStatus,
    state_for_status,
)
from apps.charging.models import (
    Cdr,
    ChargingSession,
    MeterValue,
    OcppEvent,
    ReviewFlag,
    StatusEvent,
)
from apps.charging.webhooks import WebhookOutbox
from apps.locations import api as locations_api
from apps.locations.contracts import ConnectorRef, StationContext
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRef
from apps.tariffs import api as tariffs_api
from apps.tokens import api as tokens_api
from apps.tokens.contracts import TokenRef
from billing import pricing

log = logging.getLogger(__name__)
CLOCK_SKEW_LIMIT = timedelta(minutes=5)


class Lookups:
    """What the transactions of one task share, looked up once per task: station contexts
    (prefetched for the whole task in one query), connectors, tokens, parties, and parsed
    tariffs (by tariff version: a version is append-only, so its snapshot never changes).
    Lives for one task only, so nothing here outlives a change by more than that task."""

    def __init__(self) -> None:
        self._stations: dict[int, StationContext] = {}
        self._connectors: dict[tuple[int, int | None, int | None], ConnectorRef | None] = {}
        self._tokens: dict[str, list[TokenRef]] = {}
        self._parties: dict[int, PartyRef] = {}
        self._tariffs: dict[int, pricing.Tariff] = {}
        # (station, evse OCPP id) -> [(station time, status, charging state)] for the stations
        # in `_status_stations`, from `_status_since` on, in the order of the table's index.
        self._statuses: dict[tuple[int, int], list[tuple[datetime, str, str]]] = {}
        self._status_stations: set[int] = set()
        self._status_since: datetime | None = None
        # Webhook events of the task, written once at its end (apps/charging/webhooks.py).
        self.webhooks = WebhookOutbox()

    def prefetch_statuses(self, events: dict[tuple[int, str], list[OcppEvent]]) -> None:
        """The status events the transactions' timelines may need, in one query: their
        stations', from five minutes before the earliest event of any of them on."""
        stamps = [e.station_timestamp for evs in events.values() for e in evs]
        if not stamps:
            return
        since = min(stamps) - timedelta(minutes=5)
        stations = {station for station, _ in events}
        for station, evse, ts, status, state in (
            StatusEvent.objects.filter(charge_station_id__in=stations, station_timestamp__gte=since)
            .order_by("charge_station_id", "evse_ocpp_id", "station_timestamp", "id")
            .values_list(
                "charge_station_id", "evse_ocpp_id", "station_timestamp", "status", "charging_state"
            )
        ):
            self._statuses.setdefault((station, evse), []).append((ts, status, state))
        self._status_stations = stations
        self._status_since = since

    def statuses(
        self, station_id: int, evse_ocpp_id: int, start: datetime, end: datetime
    ) -> list[tuple[datetime, str, str]]:
        if station_id in self._status_stations and self._status_since is not None:
            if start >= self._status_since:
                return [
                    row
                    for row in self._statuses.get((station_id, evse_ocpp_id), [])
                    if start <= row[0] <= end
                ]
        return list(
            StatusEvent.objects.filter(
                charge_station_id=station_id,
                evse_ocpp_id=evse_ocpp_id,
                station_timestamp__gte=start,
                station_timestamp__lte=end,
            ).values_list("station_timestamp", "status", "charging_state")
        )

    def prefetch_stations(self, station_ids: set[int]) -> None:
        missing = station_ids - self._stations.keys()
        if missing:
            self._stations.update(locations_api.station_contexts(station_ids=missing))

    def station(self, station_id: int) -> StationContext:
        if station_id not in self._stations:
            self._stations[station_id] = locations_api.station_context(station_id=station_id)
        return self._stations[station_id]

    def prefetch_connectors(self, events: dict[tuple[int, str], list[OcppEvent]]) -> None:
        """The connectors the transactions' events name, in one query for all."""
        keys = {
            (
                station_id,
                next((e.evse_ocpp_id for e in evs if e.evse_ocpp_id), None),
                next((e.connector_ocpp_id for e in evs if e.connector_ocpp_id), None),
            )
            for (station_id, _), evs in events.items()
        }
        keys -= self._connectors.keys()
        if keys:
            self._connectors.update(locations_api.connectors_resolve(keys=keys))

    def connector(
        self, station_id: int, evse_ocpp_id: int | None, connector_ocpp_id: int | None
    ) -> ConnectorRef | None:
        key = (station_id, evse_ocpp_id, connector_ocpp_id)
        if key not in self._connectors:
            self._connectors[key] = locations_api.connector_resolve(
                station_id=station_id,
                evse_ocpp_id=evse_ocpp_id,
                connector_ocpp_id=connector_ocpp_id,
            )
        return self._connectors[key]

    def tokens(self, uid: str) -> list[TokenRef]:
        if uid not in self._tokens:
            self._tokens[uid] = tokens_api.tokens_by_uid(uid=uid)
        return self._tokens[uid]

    def party(self, pk: int) -> PartyRef:
        if pk not in self._parties:
            self._parties[pk] = parties_api.party_by_pk(pk=pk)
        return self._parties[pk]

    def tariff(self, session: ChargingSession) -> pricing.Tariff:
        assert session.tariff_snapshot is not None
        version = session.tariff_version_id
        if version is None:
            return pricing.parse_tariff(session.tariff_snapshot)
        if version not in self._tariffs:
            self._tariffs[version] = pricing.parse_tariff(session.tariff_snapshot)
        return self._tariffs[version]


def live_cost_seconds() -> float:
    """At most one live-cost pricing per active session per this many seconds
    (`CHARGING_LIVE_COST_SECONDS`); a meter value inside the window is priced when it ends."""
    return float(getattr(settings, "CHARGING_LIVE_COST_SECONDS", 30))


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    timestamp: datetime
    energy_wh: Decimal
    state: ChargingState
    current_a: Decimal | None
    power_w: Decimal | None


def _flag(
    *,
    tenant_id: int,
    station_id: int,
    txid: str,
    reason: FlagReason,
    details: dict[str, object],
    session: ChargingSession | None = None,
    event: OcppEvent | None = None,
) -> None:
    ReviewFlag.objects.get_or_create(
        charge_station_id=station_id,
        ocpp_transaction_id=txid,
        reason=reason.value,
        defaults={"tenant_id": tenant_id, "session": session, "event": event, "details": details},
    )


def _order(events: list[OcppEvent]) -> list[OcppEvent]:
    rank = {EventKind.STARTED: 0, EventKind.UPDATED: 1, EventKind.ENDED: 2}
    return sorted(
        events,
        key=lambda e: (
            (
                e.seq_no if e.seq_no is not None else -1,
                e.station_timestamp,
                rank[EventKind(e.kind)],
                e.id,
            )
            if e.protocol.startswith("2.")
            else (e.station_timestamp, rank[EventKind(e.kind)], e.id)
        ),
    )


def _flag_clock_skew(events: list[OcppEvent], station_id: int, txid: str) -> None:
    for e in events:
        ahead = e.station_timestamp - e.received_at
        # A station clock ahead of ours is always wrong. Behind is normal for an offline
        # upload; it is skew only when the message says it is live (2.0.1 offline=false).
        live = e.protocol.startswith("2.") and not e.offline
        if ahead > CLOCK_SKEW_LIMIT or (live and -ahead > CLOCK_SKEW_LIMIT):
            _flag(
                tenant_id=e.tenant_id,
                station_id=station_id,
                txid=txid,
                reason=FlagReason.CLOCK_SKEW,
                event=e,
                details={
                    "station_timestamp": e.station_timestamp.isoformat(),
                    "received_at": e.received_at.isoformat(),
                    "offset_seconds": int(ahead.total_seconds()),
                },
            )
            return


def _token_id(id_tag: str, lookups: Lookups) -> int | None:
    if not id_tag:
        return None
    refs = lookups.tokens(id_tag)
    valid = [r for r in refs if r.valid]
    chosen = (valid or refs or [None])[0]
    return chosen.id if chosen else None


def _create_session(
    start: OcppEvent, station_id: int, txid: str, all_events: list[OcppEvent], lookups: Lookups
) -> ChargingSession:
    ctx = lookups.station(station_id)
    evse_ocpp_id = next((e.evse_ocpp_id for e in all_events if e.evse_ocpp_id), None)
    connector_ocpp_id = next((e.connector_ocpp_id for e in all_events if e.connector_ocpp_id), None)
    id_tag = next((e.id_tag for e in all_events if e.id_tag), "")
    connector = lookups.connector(station_id, evse_ocpp_id, connector_ocpp_id)
    started_at = start.station_timestamp
    snapshot = tariffs_api.tariff_for_session(
        charge_station_id=station_id,
        connector_id=connector.id if connector else None,
        at=started_at,
    )
    meter_start = start.meter_wh
    if meter_start is None:
        meter_start = next(
            (Decimal(s["energy_wh"]) for e in all_events for s in e.samples if "energy_wh" in s),
            Decimal(0),
        )
    session = ChargingSession.objects.create(
        tenant_id=ctx.tenant_id,
        charge_station_id=station_id,
        evse_id=connector.evse_id if connector else None,
        connector_id=connector.id if connector else None,
        token_id=_token_id(id_tag, lookups),
        id_tag=id_tag,
        ocpp_transaction_id=txid,
        status=SessionStatus.ACTIVE.value,
        started_at=started_at,
        meter_start_wh=meter_start,
        time_zone=ctx.time_zone or "",
        tariff_version_id=snapshot.tariff_version_id if snapshot else None,
        tariff_snapshot=snapshot.ocpi if snapshot else None,
        currency=snapshot.currency if snapshot else "",
    )
    if connector is None:
        _flag(
            tenant_id=ctx.tenant_id,
            station_id=station_id,
            txid=txid,
            reason=FlagReason.MISSING_EVSE,
            session=session,
            details={"evse_ocpp_id": evse_ocpp_id, "connector_ocpp_id": connector_ocpp_id},
        )
    if snapshot is None:
        _flag(
            tenant_id=ctx.tenant_id,
            station_id=station_id,
            txid=txid,
            reason=FlagReason.NO_TARIFF,
            session=session,
            details={"started_at": started_at.isoformat()},
        )
    if id_tag and session.token_id is None:
        _flag(
            tenant_id=ctx.tenant_id,
            station_id=station_id,
            txid=txid,
            reason=FlagReason.UNKNOWN_TOKEN,
            session=session,
            details={"id_tag": id_tag},
        )
    return session


def _store_meter_values(
    session: ChargingSession,
    events: list[OcppEvent],
    sink: list[MeterValue] | None = None,
) -> None:
    rows = []
    for e in events:
        for index, s in enumerate(e.samples):
            rows.append(
                MeterValue(
                    tenant_id=session.tenant_id,
                    session=session,
                    timestamp=datetime.fromisoformat(s["timestamp"]),
                    energy_wh=_dec(s.get("energy_wh")),
                    power_w=_dec(s.get("power_w")),
                    current_a=_dec(s.get("current_a")),
                    soc_percent=_dec(s.get("soc_percent")),
                    context=s.get("context", ""),
                    signed_data=s.get("signed_data", ""),
                    state=e.charging_state,
                    source_event=e,
                    source_index=index,
                )
            )
    if sink is not None:
        sink.extend(rows)  # the caller inserts them (one INSERT per task)
        return
    MeterValue.objects.bulk_create(rows, ignore_conflicts=True)


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def build_timeline(
    session: ChargingSession,
    events: list[OcppEvent],
    end: datetime | None,
    lookups: Lookups | None = None,
) -> list[TimelinePoint]:
    """The meter timeline the pricing core splits: start register, every energy sample,
    stop register; each point with the charging state in force at its instant."""
    states: list[tuple[datetime, ChargingState]] = []
    if session.evse_id is not None:
        evse_ocpp_id = next((e.evse_ocpp_id for e in events if e.evse_ocpp_id), None)
        if evse_ocpp_id is not None:
            for ts, status, state in (lookups or Lookups()).statuses(
                session.charge_station_id,
                evse_ocpp_id,
                session.started_at - timedelta(minutes=5),
                end or datetime.max.replace(tzinfo=session.started_at.tzinfo),
            ):
                mapped = ChargingState(state) if state else state_for_status(status)
                if mapped is not None:
                    states.append((ts, mapped))
    for e in events:
        if e.charging_state:
            states.append((e.station_timestamp, ChargingState(e.charging_state)))
    states.sort(key=lambda item: item[0])

    def state_at(ts: datetime) -> ChargingState:
        current = ChargingState.CHARGING
        for when, state in states:
            if when > ts:
                break
            if state is not ChargingState.IDLE:
                current = state
        return current

    raw: dict[datetime, dict[str, Decimal | None]] = {}
    raw[session.started_at] = {"energy_wh": session.meter_start_wh}
    for e in events:
        for s in e.samples:
            ts = datetime.fromisoformat(s["timestamp"])
            point = raw.setdefault(ts, {})
            for name in ("energy_wh", "power_w", "current_a"):
                if s.get(name) is not None:
                    point[name] = Decimal(str(s[name]))
    if end is not None and session.meter_stop_wh is not None:
        raw.setdefault(end, {})["energy_wh"] = session.meter_stop_wh
    points: list[TimelinePoint] = []
    last_energy = session.meter_start_wh
    for ts in sorted(raw):
        if ts < session.started_at or (end is not None and ts > end):
            continue
        values = raw[ts]
        energy = values.get("energy_wh")
        if energy is None or energy < last_energy:
            # Power/current-only samples and register glitches do not move the register.
            energy = last_energy
        last_energy = energy
        points.append(
            TimelinePoint(ts, energy, state_at(ts), values.get("current_a"), values.get("power_w"))
        )
    return points


def _live_cost_done(last_event_id: int, live_cost_event_id: int) -> bool:
    return live_cost_event_id >= last_event_id


def _up_to_date(station_id: int, txid: str) -> int | None:
    """The session's id when it already reflects every stored event of the transaction
    (its live cost too while active; once ended, its CDR exists): the work of this task was
    done by an earlier one. Tasks are queued per batch of events, so under load several
    wait for the same transaction; the first recomputes from all events, the others stop
    here after two or three small queries."""
    pending = _pending([(station_id, txid)])
    if pending.get((station_id, txid), True):
        return None
    return ChargingSession.objects.filter(
        charge_station_id=station_id, ocpp_transaction_id=txid
    ).values_list("pk", flat=True)[0]


def _pending(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], bool]:
    """For each (station, transaction): whether it needs processing. Three queries for all
    of them: their sessions, their newest events, the CDRs of the completed ones."""
    wanted = set(pairs)
    stations = {station for station, _ in wanted}
    txids = {txid for _, txid in wanted}
    sessions = {
        (station, txid): (pk, last, status, live)
        for pk, station, txid, last, status, live in ChargingSession.objects.filter(
            charge_station_id__in=stations, ocpp_transaction_id__in=txids
        ).values_list(
            "pk",
            "charge_station_id",
            "ocpp_transaction_id",
            "last_event_id",
            "status",
            "live_cost_event_id",
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
    completed = [pk for pk, _, status, _ in sessions.values() if status == SessionStatus.COMPLETED]
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
        pk, last, status, live = row
        if newest[key] > last:
            out[key] = True
        elif status == SessionStatus.COMPLETED:
            out[key] = pk not in with_cdr
        else:
            out[key] = not _live_cost_done(last, live)
    return out


def _load_events(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], list[OcppEvent]]:
    wanted = set(pairs)
    out: dict[tuple[int, str], list[OcppEvent]] = {key: [] for key in pairs}
    for e in OcppEvent.objects.filter(
        charge_station_id__in={station for station, _ in wanted},
        ocpp_transaction_id__in={txid for _, txid in wanted},
    ).defer("frame"):
        key = (e.charge_station_id, e.ocpp_transaction_id)
        if key in wanted:
            out[key].append(e)
    return out


def transactions_process(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Bring many transactions up to date, each in its own database transaction, with the
    lookups they share made once: which need work (three queries for all), their events (one
    query), their stations' contexts (one query). Returns the pairs that failed with a
    database error (to be retried on their own)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return []
    pending = [key for key, todo in _pending(pairs).items() if todo]
    if not pending:
        return []
    events = _load_events(pending)
    lookups = Lookups()
    lookups.prefetch_stations({station for station, _ in pending})
    lookups.prefetch_connectors(events)
    lookups.prefetch_statuses(events)
    failed = []
    meter_values: list[MeterValue] = []
    try:
        # One database transaction (one commit, one fsync) for the whole task; each
        # transaction is processed in a savepoint of its own, so one failure stays alone.
        # The meter values of those that succeeded are inserted at the end, in one INSERT.
        with transaction.atomic():
            for station_id, txid in pending:
                rows: list[MeterValue] = []
                try:
                    transaction_process(
                        station_id=station_id,
                        ocpp_transaction_id=txid,
                        events=events[(station_id, txid)],
                        lookups=lookups,
                        meter_values=rows,
                    )
                    meter_values += rows
                except (OperationalError, IntegrityError):
                    log.warning(
                        "processing %s %s failed; queued again", station_id, txid, exc_info=True
                    )
                    failed.append((station_id, txid))
                except Exception:  # noqa: BLE001 - one broken transaction must not stop the rest
                    # Not retried blindly: logged; the sweeper finds it again while it lags.
                    log.exception("processing %s %s failed", station_id, txid)
            MeterValue.objects.bulk_create(meter_values, ignore_conflicts=True, batch_size=1000)
            lookups.webhooks.emit()
    except (OperationalError, IntegrityError):
        # The commit (or the connection) failed: nothing of this task was stored.
        log.warning("processing %d transactions failed; queued again", len(pending), exc_info=True)
        return pending
    return failed


def transaction_process(
    *,
    station_id: int,
    ocpp_transaction_id: str,
    events: list[OcppEvent] | None = None,
    lookups: Lookups | None = None,
    meter_values: list[MeterValue] | None = None,
) -> int | None:
    """Bring the session of one transaction up to date with its events; returns its id.

    `events` (all events of the transaction, loaded by the caller) skips the up-to-date
    check and the loading; they are loaded again under the session's lock if a concurrent
    run has processed newer ones meanwhile. `meter_values`: the meter-value rows are added
    to it instead of inserted (the caller inserts them in the same database transaction)."""
    from apps.charging.cdrs import session_finalise, session_update_live_cost

    if lookups is None:  # on its own (not in a batch): its webhook events are written here
        lookups = Lookups()
        with transaction.atomic():
            pk = transaction_process(
                station_id=station_id,
                ocpp_transaction_id=ocpp_transaction_id,
                events=events,
                lookups=lookups,
                meter_values=meter_values,
            )
            lookups.webhooks.emit()
        return pk
    txid = ocpp_transaction_id
    with transaction.atomic(), lookups.webhooks.unit():
        if events is None:
            if (done := _up_to_date(station_id, txid)) is not None:
                return done
            events = _load_events([(station_id, txid)])[(station_id, txid)]
        if not events:
            return None
        session = (
            ChargingSession.objects.select_for_update()
            .filter(charge_station_id=station_id, ocpp_transaction_id=txid)
            .first()
        )
        if session is not None and session.last_event_id > max(e.id for e in events):
            # Another run got newer events first: derive from all of them, never go back.
            events = _load_events([(station_id, txid)])[(station_id, txid)]
        events = _order(events)
        tenant_id = events[0].tenant_id
        _flag_clock_skew(events, station_id, txid)
        start = next((e for e in events if e.kind == EventKind.STARTED), None)
        if session is None:
            if start is None:
                if events[0].protocol.startswith("2."):
                    start = events[0]
                    _flag(
                        tenant_id=tenant_id,
                        station_id=station_id,
                        txid=txid,
                        reason=FlagReason.MISSING_START,
                        event=start,
                        details={"first_event": start.kind},
                    )
                else:
                    _flag(
                        tenant_id=tenant_id,
                        station_id=station_id,
                        txid=txid,
                        reason=FlagReason.UNKNOWN_TRANSACTION,
                        event=events[-1],
                        details={
                            "kinds": [e.kind for e in events],
                            "id_tag": next((e.id_tag for e in events if e.id_tag), ""),
                            "station_timestamp": events[-1].station_timestamp.isoformat(),
                        },
                    )
                    return None
            session = _create_session(start, station_id, txid, events, lookups)
            lookups.webhooks.session_started(
                tenant_id=session.tenant_id, session_id=session.pk, at=session.started_at
            )
        _store_meter_values(session, events, meter_values)
        end = next((e for e in reversed(events) if e.kind == EventKind.ENDED), None)
        newest = max(e.id for e in events)
        if end is not None:
            completed_here = session.status != SessionStatus.COMPLETED
            if completed_here:
                stop_wh = end.meter_wh
                if stop_wh is None:
                    stop_wh = max(
                        [
                            Decimal(s["energy_wh"])
                            for e in events
                            for s in e.samples
                            if "energy_wh" in s
                        ]
                        or [session.meter_start_wh]
                    )
                session.ended_at = max(end.station_timestamp, session.started_at)
                session.meter_stop_wh = max(stop_wh, session.meter_start_wh)
                session.stop_reason = end.reason
                session.status = SessionStatus.COMPLETED.value
                session.energy_wh = session.meter_stop_wh - session.meter_start_wh
                lookups.webhooks.session_ended(
                    tenant_id=session.tenant_id, session_id=session.pk, at=session.ended_at
                )
            session.last_event_id = newest
            session.save()
            session_finalise(session, events, lookups, completed_here=completed_here)
        else:
            timeline = build_timeline(session, events, None, lookups)
            if timeline:
                session.energy_wh = timeline[-1].energy_wh - session.meter_start_wh
                session.last_meter_at = timeline[-1].timestamp
            previous = session.last_event_id
            session.last_event_id = newest
            _live_cost(session, events, timeline, lookups, session_update_live_cost, previous)
            session.save()
        return session.pk


def _live_cost(
    session: ChargingSession,
    events: list[OcppEvent],
    timeline: list[TimelinePoint],
    lookups: Lookups,
    price: Any,
    previous_last_event_id: int,
) -> None:
    """Price the active session now, or, when it was priced less than `live_cost_seconds()`
    ago, come back when that window ends: one delayed task per window (queued by the run
    that first falls behind). Until its live cost reflects its newest event the session
    does not count as up to date, and the sweeper re-queues it if the come-back was lost."""
    if not session.tariff_snapshot or not session.time_zone or session.last_meter_at is None:
        session.live_cost_event_id = session.last_event_id  # nothing to price yet
        return
    now = timezone.now()
    window = live_cost_seconds()
    if session.live_cost_at is not None and (now - session.live_cost_at).total_seconds() < window:
        if session.live_cost_event_id < previous_last_event_id:
            return  # already behind: the run that fell behind queued the come-back
        wait = window - (now - session.live_cost_at).total_seconds()
        key = (session.charge_station_id, session.ocpp_transaction_id)

        def come_back() -> None:
            from apps.charging.tasks import enqueue_live_cost

            enqueue_live_cost(key[0], key[1], countdown=wait + 0.1)

        transaction.on_commit(come_back)
        return
    price(session, events, timeline, lookups)
    session.live_cost_event_id = session.last_event_id
    if session.last_meter_at > session.started_at:
        # The window opens with the first meter value; the price at the start (the flat
        # fee) does not hold the first meter value back.
        session.live_cost_at = now
