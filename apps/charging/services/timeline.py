"""The events of one transaction in time: their order, which stop counts, a station clock
that is off, and the meter timeline the pricing core splits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from apps.charging.contracts import ChargingState, EventKind, FlagReason, state_for_status
from apps.charging.models import ChargingSession, OcppEvent
from apps.charging.services.batch import Lookups, Writes

CLOCK_SKEW_LIMIT = timedelta(minutes=5)


def order_events(events: list[OcppEvent]) -> list[OcppEvent]:
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


def first_stop_wins(events: list[OcppEvent]) -> tuple[list[OcppEvent], list[OcppEvent]]:
    """(the events that count, the later stops). The first stop the gateway received (the
    event log order: `OcppEvent.id`) ends the transaction, whatever the timestamps say; a
    later stop (a 1.x StopTransaction sent again with another meter reading, a 2.0.1
    `Ended` resent under the same `seqNo` with a later timestamp) is a different message
    (another idempotency key), kept in the log and flagged `CONFLICTING_STOP`, never
    applied: it adds no meter values and moves no end. So the same messages give the same
    session and CDR however the worker's runs split them. Order is kept."""
    stops = sorted((e for e in events if e.kind == EventKind.ENDED), key=lambda e: e.id)
    if len(stops) < 2:
        return events, []
    later = {e.id for e in stops[1:]}
    return [e for e in events if e.id not in later], stops[1:]


def flag_clock_skew(events: list[OcppEvent], station_id: int, txid: str, writes: Writes) -> None:
    for e in events:
        ahead = e.station_timestamp - e.received_at
        # A station clock ahead of ours is always wrong. Behind is normal for an offline
        # upload; it is skew only when the message says it is live (2.0.1 offline=false).
        live = e.protocol.startswith("2.") and not e.offline
        if ahead > CLOCK_SKEW_LIMIT or (live and -ahead > CLOCK_SKEW_LIMIT):
            writes.flag(
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


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    timestamp: datetime
    energy_wh: Decimal
    state: ChargingState
    current_a: Decimal | None
    power_w: Decimal | None


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
