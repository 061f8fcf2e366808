"""Derive sessions, meter values, flags and CDRs from the OCPP event log (run by workers).

`transaction_process` is idempotent: it recomputes a transaction's state from all its stored
events, so a redelivered task, a replayed message or a late offline upload converges on the
same rows, and the partial unique index on CDRs makes a second CDR impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

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
from apps.locations import api as locations_api
from apps.tariffs import api as tariffs_api
from apps.tokens import api as tokens_api

CLOCK_SKEW_LIMIT = timedelta(minutes=5)


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


def _token_id(id_tag: str) -> int | None:
    if not id_tag:
        return None
    refs = tokens_api.tokens_by_uid(uid=id_tag)
    valid = [r for r in refs if r.valid]
    chosen = (valid or refs or [None])[0]
    return chosen.id if chosen else None


def _create_session(
    start: OcppEvent, station_id: int, txid: str, all_events: list[OcppEvent]
) -> ChargingSession:
    ctx = locations_api.station_context(station_id=station_id)
    evse_ocpp_id = next((e.evse_ocpp_id for e in all_events if e.evse_ocpp_id), None)
    connector_ocpp_id = next((e.connector_ocpp_id for e in all_events if e.connector_ocpp_id), None)
    id_tag = next((e.id_tag for e in all_events if e.id_tag), "")
    connector = locations_api.connector_resolve(
        station_id=station_id, evse_ocpp_id=evse_ocpp_id, connector_ocpp_id=connector_ocpp_id
    )
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
        token_id=_token_id(id_tag),
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


def _store_meter_values(session: ChargingSession, events: list[OcppEvent]) -> None:
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
    MeterValue.objects.bulk_create(rows, ignore_conflicts=True)


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def build_timeline(
    session: ChargingSession, events: list[OcppEvent], end: datetime | None
) -> list[TimelinePoint]:
    """The meter timeline the pricing core splits: start register, every energy sample,
    stop register; each point with the charging state in force at its instant."""
    states: list[tuple[datetime, ChargingState]] = []
    if session.evse_id is not None:
        evse_ocpp_id = next((e.evse_ocpp_id for e in events if e.evse_ocpp_id), None)
        if evse_ocpp_id is not None:
            for ts, status, state in StatusEvent.objects.filter(
                charge_station_id=session.charge_station_id,
                evse_ocpp_id=evse_ocpp_id,
                station_timestamp__gte=session.started_at - timedelta(minutes=5),
                station_timestamp__lte=end
                or datetime.max.replace(tzinfo=session.started_at.tzinfo),
            ).values_list("station_timestamp", "status", "charging_state"):
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


def _up_to_date(station_id: int, txid: str) -> int | None:
    """The session's id when it already reflects every stored event of the transaction (and,
    once ended, has its CDR): the work of this task was done by an earlier one. Tasks are
    queued per batch of events, so under load several wait for the same transaction; the
    first recomputes from all events, the others stop here after two small queries."""
    row = (
        ChargingSession.objects.filter(charge_station_id=station_id, ocpp_transaction_id=txid)
        .values_list("pk", "last_event_id", "status")
        .first()
    )
    if row is None:
        return None
    pk, last_event_id, status = row
    newest = (
        OcppEvent.objects.filter(charge_station_id=station_id, ocpp_transaction_id=txid)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if newest is None or newest > last_event_id:
        return None
    if status == SessionStatus.COMPLETED:
        if not Cdr.objects.filter(session_id=pk, kind=CdrKind.ORIGINAL.value).exists():
            return None
    return int(pk)


def transaction_process(*, station_id: int, ocpp_transaction_id: str) -> int | None:
    """Bring the session of one transaction up to date with its events; returns its id."""
    from apps.charging.cdrs import session_finalise, session_update_live_cost

    txid = ocpp_transaction_id
    with transaction.atomic():
        if (done := _up_to_date(station_id, txid)) is not None:
            return done
        events = _order(
            list(OcppEvent.objects.filter(charge_station_id=station_id, ocpp_transaction_id=txid))
        )
        if not events:
            return None
        tenant_id = events[0].tenant_id
        _flag_clock_skew(events, station_id, txid)
        session = (
            ChargingSession.objects.select_for_update()
            .filter(charge_station_id=station_id, ocpp_transaction_id=txid)
            .first()
        )
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
            session = _create_session(start, station_id, txid, events)
        _store_meter_values(session, events)
        end = next((e for e in reversed(events) if e.kind == EventKind.ENDED), None)
        newest = max(e.id for e in events)
        if end is not None:
            if session.status != SessionStatus.COMPLETED:
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
            session.last_event_id = newest
            session.save()
            session_finalise(session, events)
        else:
            timeline = build_timeline(session, events, None)
            if timeline:
                session.energy_wh = timeline[-1].energy_wh - session.meter_start_wh
                session.last_meter_at = timeline[-1].timestamp
            session.last_event_id = newest
            session.save()
            session_update_live_cost(session, events)
        return session.pk
