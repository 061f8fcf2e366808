"""Derive sessions, meter values, flags and CDRs from the OCPP event log (run by workers).

`transaction_process` is idempotent: it recomputes a transaction's state from all its stored
events, so a redelivered task, a replayed message or a late offline upload converges on the
same rows, and the partial unique index on CDRs makes a second CDR impossible.

A task's transactions are processed together (`transactions_process`): the lookups they
share are made once (`batch.Lookups`), everything they write is collected and written in a
handful of statements at the end (`batch.Writes`), in one database transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from apps.charging.contracts import CdrKind, EventKind, FlagReason, SessionStatus, TokenSource
from apps.charging.models import Cdr, ChargingSession, MeterValue, OcppEvent
from apps.charging.selectors.backlog import (
    live_cost_window_over,
    transaction_session_if_up_to_date,
    transactions_pending,
)
from apps.charging.selectors.events import events_by_ids, events_by_transaction
from apps.charging.services import cdrs
from apps.charging.services.batch import Lookups, Writes, sessions_lock
from apps.charging.services.timeline import (
    TimelinePoint,
    build_timeline,
    first_stop_wins,
    flag_clock_skew,
    order_events,
)
from apps.charging.services.unknown_stops import match_unknown_stops
from apps.common.bulk import insert_rows
from apps.tariffs import api as tariffs_api

log = logging.getLogger(__name__)

Key = tuple[int, str]
# The flags a new session needs once its row exists (reason, details).
NewFlags = list[tuple[FlagReason, dict[str, object]]]


def transactions_process(pairs: list[Key]) -> list[Key]:
    """Bring many transactions up to date in one database transaction (one commit), with
    the lookups they share made once: which need work (three queries for all), their events
    (one query), their stations' contexts (one query), connectors, status events; then
    `process` (set-based). Returns the pairs to retry one by one: all of them when the
    batch failed with a database error (a concurrent worker wrote the same CDR, the
    database went away) — nothing of it was stored."""
    pairs = sorted(set(pairs))
    if not pairs:
        return []
    pending = [key for key, todo in transactions_pending(pairs).items() if todo]
    if not pending:
        return []
    events = events_by_transaction(pending)
    lookups = Lookups()
    lookups.prefetch_stations({station for station, _ in pending})
    lookups.prefetch_connectors(events)
    lookups.prefetch_statuses(events)
    lookups.prefetch_tokens(events)
    try:
        with transaction.atomic():
            process(pending, events, lookups)
    except (OperationalError, IntegrityError):
        log.warning("processing %d transactions failed; queued again", len(pending), exc_info=True)
        return pending
    return []


def transaction_process(*, station_id: int, ocpp_transaction_id: str) -> int | None:
    """Bring the session of one transaction up to date with its events; returns its id.
    Database errors propagate (the task retries with back-off)."""
    key = (station_id, ocpp_transaction_id)
    with transaction.atomic():
        if (done := transaction_session_if_up_to_date(station_id, ocpp_transaction_id)) is not None:
            return done
        events = events_by_transaction([key])
        if not events[key]:
            return None
        return process([key], events, Lookups()).get(key)


def process(
    keys: list[Key],
    events: dict[Key, list[OcppEvent]],
    lookups: Lookups,
) -> dict[Key, int | None]:
    """Bring these transactions' sessions up to date with their events, inside the caller's
    database transaction, set-based: their sessions locked in one query, new sessions
    inserted in one, then every meter value, session change, CDR and flag of the batch in
    one statement each (`Writes`). Returns each transaction's session id (None: nothing to
    derive, e.g. a stop for an unknown transaction, flagged). A transaction whose events
    cannot be processed (a bug, bad data) is logged and left out; the others go on."""
    writes = Writes(lookups.webhooks)
    out: dict[Key, int | None] = {}
    keys = [k for k in keys if events.get(k)]
    sessions = sessions_lock(keys)
    created, orphans = _create_sessions(keys, sessions, events, lookups, writes, out)
    if orphans:
        matched = _match_orphans(orphans, sessions, writes)
        keys += [k for k in matched if k not in keys]
        for key, found in matched.items():
            out[key] = found.pk
        if missing := [k for k in matched if k not in events]:
            events = {**events, **events_by_transaction(missing)}
            # The matched sessions' status events, from their starts on (one query).
            lookups.prefetch_statuses({k: events[k] for k in matched})
    events = _all_events(sessions, events)
    with_cdr = _sessions_with_cdr(sessions)
    for key in keys:
        session = sessions.get(key)
        if session is not None:
            out[key] = _apply_one(
                session, events[key], created.get(key, []), lookups, writes, with_cdr
            )
    writes.write()
    lookups.webhooks.emit()  # in the caller's transaction: a rollback emits nothing
    return out


def _create_sessions(
    keys: list[Key],
    sessions: dict[Key, ChargingSession],
    events: dict[Key, list[OcppEvent]],
    lookups: Lookups,
    writes: Writes,
    out: dict[Key, int | None],
) -> tuple[dict[Key, NewFlags], dict[Key, list[OcppEvent]]]:
    """The sessions the transactions without one start, inserted together and added to
    `sessions` locked; a concurrent worker may have inserted one of them first (ON CONFLICT
    DO NOTHING), so all are read back locked, whoever wrote them. Returns (the flags each
    new session needs, the 1.x transactions with no start: stops or updates under an id we
    never issued, matched or flagged once the new sessions exist)."""
    created: dict[Key, NewFlags] = {}
    orphans: dict[Key, list[OcppEvent]] = {}
    new_rows = []
    for key in keys:
        if key in sessions:
            continue
        station_id, txid = key
        evs = order_events(events[key])
        start = next((e for e in evs if e.kind == EventKind.STARTED), None)
        try:
            if start is None:
                if not evs[0].protocol.startswith("2."):
                    orphans[key] = evs
                    out[key] = None
                    continue
                start = evs[0]
                writes.flag(
                    tenant_id=start.tenant_id,
                    station_id=station_id,
                    txid=txid,
                    reason=FlagReason.MISSING_START,
                    event=start,
                    details={"first_event": start.kind},
                )
            row, flags = _new_session(start, station_id, txid, evs, lookups)
        except Exception:  # noqa: BLE001 - one broken transaction must not stop the rest
            log.exception("processing %s %s failed", station_id, txid)
            out[key] = None
            continue
        new_rows.append(row)
        created[key] = flags
    if new_rows:
        insert_rows(ChargingSession, new_rows, ignore_conflicts=True)
        sessions |= sessions_lock(list(created))
        for key in created:  # the rows exist now, whatever happens to the rest
            if key in sessions:
                s = sessions[key]
                lookups.webhooks.session_started(
                    tenant_id=s.tenant_id, session_id=s.pk, at=s.started_at
                )
    return created, orphans


def _match_orphans(
    orphans: dict[Key, list[OcppEvent]], sessions: dict[Key, ChargingSession], writes: Writes
) -> dict[Key, ChargingSession]:
    try:
        return match_unknown_stops(orphans, sessions, writes)
    except (OperationalError, IntegrityError):
        raise  # the database transaction is broken: the whole batch is retried
    except Exception:  # noqa: BLE001 - a bug here must not stop the batch: flag them all
        log.exception("matching %d unknown stops failed", len(orphans))
        for (station_id, txid), evs in orphans.items():
            writes.flag(
                tenant_id=evs[-1].tenant_id,
                station_id=station_id,
                txid=txid,
                reason=FlagReason.UNKNOWN_TRANSACTION,
                event=evs[-1],
                details={"kinds": [e.kind for e in evs], "unmatched": "matching failed"},
            )
        return {}


def _all_events(
    sessions: dict[Key, ChargingSession], events: dict[Key, list[OcppEvent]]
) -> dict[Key, list[OcppEvent]]:
    """`events`, completed: a concurrent run processed newer events than these (derive from
    all of them), or a stop matched to a session (now or earlier) is one of its events,
    though it is logged under the transaction id the station sent (one query each)."""
    stale = [
        key
        for key, session in sessions.items()
        if key in events and session.last_event_id > max(e.id for e in events[key])
    ]
    if stale:
        events = {**events, **events_by_transaction(stale)}
    attach = {
        s.matched_stop_event_id: key
        for key, s in sessions.items()
        if key in events
        and s.matched_stop_event_id is not None
        and all(e.id != s.matched_stop_event_id for e in events[key])
    }
    if attach:
        for stop in events_by_ids(attach):
            events[attach[stop.id]] = [*events[attach[stop.id]], stop]
    return events


def _sessions_with_cdr(sessions: dict[Key, ChargingSession]) -> set[int]:
    """Of the sessions completed before this run, those with their CDR (one query)."""
    done_before = [s.pk for s in sessions.values() if s.status == SessionStatus.COMPLETED]
    if not done_before:
        return set()
    return set(
        Cdr.objects.filter(session_id__in=done_before, kind=CdrKind.ORIGINAL.value).values_list(
            "session_id", flat=True
        )
    )


def _apply_one(
    session: ChargingSession,
    events: list[OcppEvent],
    new_flags: NewFlags,
    lookups: Lookups,
    writes: Writes,
    with_cdr: set[int],
) -> int | None:
    """One transaction of the batch; its session id, or None when its processing failed
    (what it collected is dropped, the batch goes on)."""
    station_id, txid = session.charge_station_id, session.ocpp_transaction_id
    marks = writes.marks()
    try:
        with lookups.webhooks.unit():  # a failure drops this transaction's events too
            evs = order_events(events)
            flag_clock_skew(evs, station_id, txid, writes)
            for reason, details in new_flags:
                writes.flag(
                    tenant_id=session.tenant_id,
                    station_id=station_id,
                    txid=txid,
                    reason=reason,
                    details=details,
                    session=session,
                )
            _apply(session, evs, lookups, writes, with_cdr)
        return session.pk
    except (OperationalError, IntegrityError):
        raise  # the database transaction is broken: the whole batch is retried
    except Exception:  # noqa: BLE001 - one broken transaction must not stop the rest
        # Not retried blindly: logged; the sweeper finds it again while it lags.
        log.exception("processing %s %s failed", station_id, txid)
        writes.rewind(marks, session.pk)
        return None


def _apply(
    session: ChargingSession,
    events: list[OcppEvent],
    lookups: Lookups,
    writes: Writes,
    with_cdr: set[int],
) -> None:
    """One transaction's events applied to its (locked) session: meter values, the end and
    its CDR, or the live cost. Only collects what to write."""
    newest = max(e.id for e in events)  # a later stop counts as seen, not as applied
    events, later_stops = first_stop_wins(events)
    # The meter values of events up to `last_event_id` were stored with it (same database
    # transaction): only newer events add rows.
    _store_meter_values(session, [e for e in events if e.id > session.last_event_id], writes)
    _take_token_and_auth(session, events, lookups, writes)
    end = next((e for e in reversed(events) if e.kind == EventKind.ENDED), None)
    if end is not None:
        if later_stops:
            _flag_later_stops(session, end, later_stops, writes)
        _end(session, end, events, newest, lookups, writes, with_cdr)
    else:
        timeline = build_timeline(session, events, None, lookups)
        if timeline:
            session.energy_wh = timeline[-1].energy_wh - session.meter_start_wh
            session.last_meter_at = timeline[-1].timestamp
        session.last_event_id = newest
        _live_cost(session, events, timeline, lookups)
        writes.sessions[session.pk] = session


def _take_token_and_auth(
    session: ChargingSession, events: list[OcppEvent], lookups: Lookups, writes: Writes
) -> None:
    if not session.id_tag and (id_tag := next((e.id_tag for e in events if e.id_tag), "")):
        # A 2.0.1 transaction that began on the cable names its token in a later event: the
        # session takes it whichever run sees that event (as when one run sees them all).
        session.id_tag = id_tag
        unknown = _attribute(session, lookups)
        if unknown is not None:
            writes.flag(
                tenant_id=session.tenant_id,
                station_id=session.charge_station_id,
                txid=session.ocpp_transaction_id,
                reason=FlagReason.UNKNOWN_TOKEN,
                session=session,
                details=unknown,
            )
    if not session.auth_method:
        # The first event that says how it was authorised (a 1.x start; the 2.0.1 event that
        # first names the token or the remote start), whichever run sees it.
        said = next((e for e in events if e.auth_method), None)
        if said is not None:
            session.auth_method = said.auth_method
            session.authorization_reference = said.authorization_reference


def _end(
    session: ChargingSession,
    end: OcppEvent,
    events: list[OcppEvent],
    newest: int,
    lookups: Lookups,
    writes: Writes,
    with_cdr: set[int],
) -> None:
    """The session ends with `end` (unless it ended before) and gets its CDR."""
    completed_here = session.status != SessionStatus.COMPLETED
    if completed_here:
        stop_wh = end.meter_wh
        if stop_wh is None:
            stop_wh = max(
                [Decimal(s["energy_wh"]) for e in events for s in e.samples if "energy_wh" in s]
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
    writes.sessions[session.pk] = session
    # A CDR is written once, under the session's lock, only after completion: one that
    # completes here has none yet; one completed before has one unless pricing failed.
    if completed_here or session.pk not in with_cdr:
        cdr = cdrs.cdr_build(session, events, lookups, writes)
        if cdr is not None:
            writes.cdrs.append(cdr)
            with_cdr.add(session.pk)


def _live_cost(
    session: ChargingSession,
    events: list[OcppEvent],
    timeline: list[TimelinePoint],
    lookups: Lookups,
) -> None:
    """Price the active session now, unless it was priced less than `live_cost_seconds()`
    ago: then its live cost stays behind its newest event until the window is over, and the
    live-cost sweep (`tasks.sweep_live_costs`, every window, batched like any other work)
    brings it up to date. No task per session per window: with many active sessions a
    delayed task each cost more than the pricing (docs/benchmarks.md, CDR pipeline)."""
    if not session.tariff_snapshot or not session.time_zone or session.last_meter_at is None:
        session.live_cost_event_id = session.last_event_id  # nothing to price yet
        return
    now = timezone.now()
    if not live_cost_window_over(session.live_cost_at, now):
        return
    cdrs.session_update_live_cost(session, events, timeline, lookups)
    session.live_cost_event_id = session.last_event_id
    if session.last_meter_at > session.started_at:
        # The window opens with the first meter value; the price at the start (the flat
        # fee) does not hold the first meter value back.
        session.live_cost_at = now
        # Internal consumers (OCPI: a Session PATCH to the eMSP) learn of the new figures,
        # at most once per window like the pricing itself.
        lookups.webhooks.session_updated(tenant_id=session.tenant_id, session_id=session.pk, at=now)


def _attribute(session: ChargingSession, lookups: Lookups) -> dict[str, object] | None:
    """Resolve the session's token from its id tag (ADR 0027: the station tenant's own
    tokens, then its partners' where the station admits roaming, then marketplace tenants')
    and set the token, how it was found and whose driver it is on the session. Returns the
    UNKNOWN_TOKEN flag's details when no token resolves (None when one does, or no id tag):
    with "ambiguous" and the candidates' ids when two tokens tie in one tier."""
    session.token_id = None
    session.token_source = ""
    session.emsp_party_id = None
    session.emsp_tenant_id = None
    if not session.id_tag:
        return None
    found = lookups.resolve_token(session.charge_station_id, session.id_tag)
    if found.token is None or found.tier is None:
        details: dict[str, object] = {"id_tag": session.id_tag}
        if found.ambiguous:
            details |= {"ambiguous": True, "token_ids": list(found.ambiguous)}
        return details
    session.token_id = found.token.id
    session.token_source = TokenSource(found.tier.value).value
    session.emsp_party_id, session.emsp_tenant_id = lookups.emsp_of(
        session.charge_station_id, found
    )
    return None


def _new_session(
    start: OcppEvent, station_id: int, txid: str, all_events: list[OcppEvent], lookups: Lookups
) -> tuple[ChargingSession, list[tuple[FlagReason, dict[str, object]]]]:
    """The session row a transaction starts (not saved yet), and the flags it needs once
    saved: no EVSE, no tariff, unknown token."""
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
    session = ChargingSession(
        tenant_id=ctx.tenant_id,
        charge_station_id=station_id,
        evse_id=connector.evse_id if connector else None,
        connector_id=connector.id if connector else None,
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
    unknown = _attribute(session, lookups)
    flags: list[tuple[FlagReason, dict[str, object]]] = []
    if connector is None:
        flags.append(
            (
                FlagReason.MISSING_EVSE,
                {"evse_ocpp_id": evse_ocpp_id, "connector_ocpp_id": connector_ocpp_id},
            )
        )
    if snapshot is None:
        flags.append((FlagReason.NO_TARIFF, {"started_at": started_at.isoformat()}))
    if unknown is not None:
        flags.append((FlagReason.UNKNOWN_TOKEN, unknown))
    return session, flags


def _store_meter_values(session: ChargingSession, events: list[OcppEvent], writes: Writes) -> None:
    for e in events:
        for index, s in enumerate(e.samples):
            writes.meter_values.append(
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
                    source_event_id=e.id,
                    source_index=index,
                )
            )


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _flag_later_stops(
    session: ChargingSession, first: OcppEvent, later: list[OcppEvent], writes: Writes
) -> None:
    def described(e: OcppEvent) -> dict[str, object]:
        return {
            "event_id": e.id,
            "action": e.action,
            "received_at": e.received_at.isoformat(),
            "station_timestamp": e.station_timestamp.isoformat(),
            "meter_wh": None if e.meter_wh is None else str(e.meter_wh),
            "seq_no": e.seq_no,
            "reason": e.reason,
        }

    for stop in later:  # one flag per transaction: the first one written stays
        writes.flag(
            tenant_id=session.tenant_id,
            station_id=session.charge_station_id,
            txid=session.ocpp_transaction_id,
            reason=FlagReason.CONFLICTING_STOP,
            session=session,
            event=stop,
            details={
                "applied": described(first),
                "ignored": described(stop),
                "same_seq_no": stop.seq_no is not None and stop.seq_no == first.seq_no,
            },
        )
