"""Derive sessions, meter values, flags and CDRs from the OCPP event log (run by workers).

`transaction_process` is idempotent: it recomputes a transaction's state from all its stored
events, so a redelivered task, a replayed message or a late offline upload converges on the
same rows, and the partial unique index on CDRs makes a second CDR impossible.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max, Q
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
from apps.common.bulk import insert_rows, update_rows
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
        if self._status_since is not None:
            if since >= self._status_since and stations <= self._status_stations:
                return  # already covered
            self._statuses = {}  # fetched again, wider
            stations |= self._status_stations
            since = min(since, self._status_since)
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


class Writes:
    """What processing a batch of transactions writes, collected while it is computed and
    written set-based at the end (`write`): a handful of statements per batch instead of
    several per transaction. Flags are inserted once per (station, transaction, reason):
    the unique index keeps the first, as `get_or_create` would."""

    def __init__(self, webhooks: WebhookOutbox) -> None:
        self.webhooks = webhooks
        self.flags: list[ReviewFlag] = []
        self.meter_values: list[MeterValue] = []
        self.sessions: dict[int, ChargingSession] = {}  # changed sessions, by pk
        self.cdrs: list[Cdr] = []

    def marks(self) -> tuple[int, int, int]:
        return len(self.flags), len(self.meter_values), len(self.cdrs)

    def rewind(self, marks: tuple[int, int, int], session_pk: int) -> None:
        """Forget what one transaction added since `marks` (its processing failed)."""
        del self.flags[marks[0] :], self.meter_values[marks[1] :], self.cdrs[marks[2] :]
        self.sessions.pop(session_pk, None)

    def write(self) -> None:
        """Everything collected, one statement each (`apps.common.bulk`)."""
        insert_rows(MeterValue, self.meter_values, ignore_conflicts=True)
        if self.sessions:
            now = timezone.now()
            for session in self.sessions.values():
                session.updated_at = now
            update_rows(ChargingSession, list(self.sessions.values()), SESSION_DERIVED_FIELDS)
        # One original per session: the partial unique index fails the whole batch should
        # another worker have written one (the caller then retries each alone).
        insert_rows(Cdr, self.cdrs)
        insert_rows(ReviewFlag, self.flags, ignore_conflicts=True)
        # `cdr.created` names the CDR: its id is read back only when someone subscribed.
        wanted = [c.session_id for c in self.cdrs if self.webhooks.wants_cdr(c.tenant_id)]
        if wanted:
            for tenant_id, cdr_id, created_at in Cdr.objects.filter(
                session_id__in=wanted, kind=CdrKind.ORIGINAL.value
            ).values_list("tenant_id", "id", "created_at"):
                self.webhooks.cdr_created(tenant_id=tenant_id, cdr_id=cdr_id, at=created_at)


# What processing changes on an existing session row (`Writes.write` updates these only).
SESSION_DERIVED_FIELDS = [
    "id_tag",
    "token",
    "auth_method",
    "authorization_reference",
    "ended_at",
    "meter_stop_wh",
    "stop_reason",
    "status",
    "energy_wh",
    "last_meter_at",
    "last_event_id",
    "live_cost_excl_vat",
    "live_cost_incl_vat",
    "live_cost_at",
    "live_cost_event_id",
    "live_charging_periods",
    "matched_stop_event",
    "updated_at",
]


def _flag(
    writes: Writes,
    *,
    tenant_id: int,
    station_id: int,
    txid: str,
    reason: FlagReason,
    details: dict[str, object],
    session: ChargingSession | None = None,
    event: OcppEvent | None = None,
) -> None:
    writes.flags.append(
        ReviewFlag(
            tenant_id=tenant_id,
            charge_station_id=station_id,
            ocpp_transaction_id=txid,
            reason=reason.value,
            session=session,
            event_id=event.id if event is not None else None,
            details=details,
        )
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


def _flag_clock_skew(events: list[OcppEvent], station_id: int, txid: str, writes: Writes) -> None:
    for e in events:
        ahead = e.station_timestamp - e.received_at
        # A station clock ahead of ours is always wrong. Behind is normal for an offline
        # upload; it is skew only when the message says it is live (2.0.1 offline=false).
        live = e.protocol.startswith("2.") and not e.offline
        if ahead > CLOCK_SKEW_LIMIT or (live and -ahead > CLOCK_SKEW_LIMIT):
            _flag(
                writes,
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
    if id_tag and session.token_id is None:
        flags.append((FlagReason.UNKNOWN_TOKEN, {"id_tag": id_tag}))
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


def _live_cost_window_over(live_cost_at: datetime | None, now: datetime) -> bool:
    return live_cost_at is None or (now - live_cost_at).total_seconds() >= live_cost_seconds()


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
            out[key] = live < last and _live_cost_window_over(live_at, now)
    return out


# The transaction log's columns the rebuild reads (not the verbatim frame, not the row's
# bookkeeping).
_EVENT_FIELDS = tuple(
    f.attname
    for f in OcppEvent._meta.concrete_fields
    if f.name not in ("frame", "created_at", "updated_at", "idempotency_key")
)


class EventRow(namedtuple("EventRow", _EVENT_FIELDS)):  # type: ignore[misc]
    """One stored transaction message, read-only, with the attribute names of `OcppEvent`
    (the rebuild reads thousands per task: a tuple costs a fraction of a model instance,
    whose constructor sets every field and foreign key through descriptors)."""

    __slots__ = ()

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[no-any-return]


def _load_events(pairs: list[tuple[int, str]]) -> dict[tuple[int, str], list[OcppEvent]]:
    """The events of these transactions (as `EventRow`s), in one query."""
    wanted = set(pairs)
    out: dict[tuple[int, str], list[Any]] = {key: [] for key in pairs}
    make = EventRow._make
    for row in OcppEvent.objects.filter(
        charge_station_id__in={station for station, _ in wanted},
        ocpp_transaction_id__in={txid for _, txid in wanted},
    ).values_list(*_EVENT_FIELDS):
        e = make(row)
        key = (e.charge_station_id, e.ocpp_transaction_id)
        if key in wanted:
            out[key].append(e)
    return out


def _lock_sessions(keys: list[tuple[int, str]]) -> dict[tuple[int, str], ChargingSession]:
    """The sessions of these transactions, locked (`SELECT … FOR UPDATE`, in id order so two
    workers never wait on each other in a cycle), in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = (
        ChargingSession.objects.select_for_update()
        .filter(
            charge_station_id__in={station for station, _ in wanted},
            ocpp_transaction_id__in={txid for _, txid in wanted},
        )
        .order_by("pk")
    )
    return {
        (r.charge_station_id, r.ocpp_transaction_id): r
        for r in rows
        if (r.charge_station_id, r.ocpp_transaction_id) in wanted
    }


def _process(
    keys: list[tuple[int, str]],
    events: dict[tuple[int, str], list[OcppEvent]],
    lookups: Lookups,
) -> dict[tuple[int, str], int | None]:
    """Bring these transactions' sessions up to date with their events, inside the caller's
    database transaction, set-based: their sessions locked in one query, new sessions
    inserted in one, then every meter value, session change, CDR and flag of the batch in
    one statement each (`Writes`). Returns each transaction's session id (None: nothing to
    derive, e.g. a stop for an unknown transaction, flagged). A transaction whose events
    cannot be processed (a bug, bad data) is logged and left out; the others go on."""
    from apps.charging.cdrs import cdr_build, session_update_live_cost

    writes = Writes(lookups.webhooks)
    out: dict[tuple[int, str], int | None] = {}
    keys = [k for k in keys if events.get(k)]
    sessions = _lock_sessions(keys)
    # New sessions: inserted together; a concurrent worker may have inserted one of them
    # first (ON CONFLICT DO NOTHING), so all are read back locked, whoever wrote them.
    created: dict[tuple[int, str], list[tuple[FlagReason, dict[str, object]]]] = {}
    orphans: dict[tuple[int, str], list[OcppEvent]] = {}
    new_rows = []
    for key in keys:
        if key in sessions:
            continue
        station_id, txid = key
        evs = _order(events[key])
        start = next((e for e in evs if e.kind == EventKind.STARTED), None)
        try:
            if start is None:
                if not evs[0].protocol.startswith("2."):
                    # A stop or update under an id we never issued: matched to a session
                    # or flagged once the new sessions of the batch exist (below).
                    orphans[key] = evs
                    out[key] = None
                    continue
                start = evs[0]
                _flag(
                    writes,
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
        sessions |= _lock_sessions(list(created))
        for key in created:  # the rows exist now, whatever happens to the rest
            if key in sessions:
                s = sessions[key]
                lookups.webhooks.session_started(
                    tenant_id=s.tenant_id, session_id=s.pk, at=s.started_at
                )
    if orphans:
        try:
            matched = _match_unknown_stops(orphans, sessions, writes)
        except (OperationalError, IntegrityError):
            raise  # the database transaction is broken: the whole batch is retried
        except Exception:  # noqa: BLE001 - a bug here must not stop the batch: flag them all
            log.exception("matching %d unknown stops failed", len(orphans))
            matched = {}
            for (station_id, txid), evs in orphans.items():
                _flag(
                    writes,
                    tenant_id=evs[-1].tenant_id,
                    station_id=station_id,
                    txid=txid,
                    reason=FlagReason.UNKNOWN_TRANSACTION,
                    event=evs[-1],
                    details={"kinds": [e.kind for e in evs], "unmatched": "matching failed"},
                )
        keys += [k for k in matched if k not in keys]
        for key, found in matched.items():
            out[key] = found.pk
        if missing := [k for k in matched if k not in events]:
            events = {**events, **_load_events(missing)}
            # The matched sessions' status events, from their starts on (one query).
            lookups.prefetch_statuses({k: events[k] for k in matched})
    # A concurrent run processed newer events than these: derive from all of them.
    stale = [
        key
        for key, session in sessions.items()
        if key in events and session.last_event_id > max(e.id for e in events[key])
    ]
    if stale:
        events = {**events, **_load_events(stale)}
    # A stop matched to a session (now or earlier) is one of its events, though it is logged
    # under the transaction id the station sent: one query for the batch.
    attach = {
        s.matched_stop_event_id: key
        for key, s in sessions.items()
        if key in events
        and s.matched_stop_event_id is not None
        and all(e.id != s.matched_stop_event_id for e in events[key])
    }
    if attach:
        for row in OcppEvent.objects.filter(pk__in=attach).values_list(*_EVENT_FIELDS):
            stop: Any = EventRow._make(row)
            events[attach[stop.id]] = [*events[attach[stop.id]], stop]
    done_before = [s.pk for s in sessions.values() if s.status == SessionStatus.COMPLETED]
    with_cdr = (
        set(
            Cdr.objects.filter(session_id__in=done_before, kind=CdrKind.ORIGINAL.value).values_list(
                "session_id", flat=True
            )
        )
        if done_before
        else set()
    )
    for key in keys:
        session = sessions.get(key)
        if session is None:
            continue
        station_id, txid = key
        marks = writes.marks()
        try:
            with lookups.webhooks.unit():  # a failure drops this transaction's events too
                evs = _order(events[key])
                _flag_clock_skew(evs, station_id, txid, writes)
                for reason, details in created.get(key, []):
                    _flag(
                        writes,
                        tenant_id=session.tenant_id,
                        station_id=station_id,
                        txid=txid,
                        reason=reason,
                        details=details,
                        session=session,
                    )
                _apply(session, evs, lookups, writes, with_cdr, cdr_build, session_update_live_cost)
            out[key] = session.pk
        except (OperationalError, IntegrityError):
            raise  # the database transaction is broken: the whole batch is retried
        except Exception:  # noqa: BLE001 - one broken transaction must not stop the rest
            # Not retried blindly: logged; the sweeper finds it again while it lags.
            log.exception("processing %s %s failed", station_id, txid)
            writes.rewind(marks, session.pk)
            out[key] = None
    writes.write()
    lookups.webhooks.emit()  # in the caller's transaction: a rollback emits nothing
    return out


def _match_unknown_stops(
    orphans: dict[tuple[int, str], list[OcppEvent]],
    sessions: dict[tuple[int, str], ChargingSession],
    writes: Writes,
) -> dict[tuple[int, str], ChargingSession]:
    """OCPP 1.x stops sent under a transaction id we never issued (the station lost our
    StartTransaction answer, or sends -1 / 0), matched where that is unambiguous
    (docs/gateway.md "Unknown stops"): of the sessions in progress at the station at the
    stop's time, exactly one fits it (started at or before it, meter start not above its
    meter stop, same idTag when it carries one), and that one is still active, has no stop
    of its own in the log (processed or not) and is not matched to another stop. The
    session gets the stop (`matched_stop_event`, its lock taken here) and ends with it; what
    is not matched is flagged UNKNOWN_TRANSACTION as before. Judging by the sessions in
    progress at the stop's time, not by those active now, keeps the verdict on a stop the
    same when it is processed again later.

    Set-based: three queries for the batch (stops matched before, the stations' sessions
    around the stops, those sessions' own stops) and one to lock the matched sessions.
    Returns the matched sessions by transaction key, to be processed with the batch."""
    stops = sorted(
        (e for evs in orphans.values() for e in evs if e.kind == EventKind.ENDED),
        key=lambda e: (e.station_timestamp, e.id),
    )
    done = (
        set(
            ChargingSession.objects.filter(
                matched_stop_event_id__in=[e.id for e in stops]
            ).values_list("matched_stop_event_id", flat=True)
        )
        if stops
        else set()
    )
    stops = [e for e in stops if e.id not in done]
    around: dict[int, list[tuple[Any, ...]]] = {}
    if stops:
        for row in (
            ChargingSession.objects.filter(
                charge_station_id__in={e.charge_station_id for e in stops},
                started_at__lte=max(e.station_timestamp for e in stops),
            )
            .filter(
                Q(ended_at__isnull=True) | Q(ended_at__gt=min(e.station_timestamp for e in stops))
            )
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
    # Active sessions with a stop of their own in the log (processed in this batch or queued)
    # may fit a stop but never take it.
    active = {
        (r[1], r[2]) for rows in around.values() for r in rows if r[7] == SessionStatus.ACTIVE
    }
    ending = (
        set(
            OcppEvent.objects.filter(
                charge_station_id__in={station for station, _ in active},
                ocpp_transaction_id__in={txid for _, txid in active},
                kind=EventKind.ENDED.value,
            ).values_list("charge_station_id", "ocpp_transaction_id")
        )
        if active
        else set()
    )
    chosen: dict[tuple[int, str], OcppEvent] = {}
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
    sessions |= _lock_sessions([k for k in chosen if k not in sessions])
    matched: dict[tuple[int, str], ChargingSession] = {}
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
    for (station_id, txid), evs in orphans.items():
        left = [e for e in evs if e.id not in matched_ids]
        if not left or (len(left) < len(evs) and all(e.kind != EventKind.ENDED for e in left)):
            # Every stop of this id was matched: updates sent under it are not billing
            # data of their own.
            continue
        last = left[-1]
        _flag(
            writes,
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
        _flag_clock_skew(left, station_id, txid, writes)
    return matched


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
        _flag(
            writes,
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


def _apply(
    session: ChargingSession,
    events: list[OcppEvent],
    lookups: Lookups,
    writes: Writes,
    with_cdr: set[int],
    cdr_build: Any,
    live_price: Any,
) -> None:
    """One transaction's events applied to its (locked) session: meter values, the end and
    its CDR, or the live cost. Only collects what to write."""
    newest = max(e.id for e in events)  # a later stop counts as seen, not as applied
    events, later_stops = first_stop_wins(events)
    # The meter values of events up to `last_event_id` were stored with it (same database
    # transaction): only newer events add rows.
    _store_meter_values(session, [e for e in events if e.id > session.last_event_id], writes)
    if not session.id_tag and (id_tag := next((e.id_tag for e in events if e.id_tag), "")):
        # A 2.0.1 transaction that began on the cable names its token in a later event: the
        # session takes it whichever run sees that event (as when one run sees them all).
        session.id_tag = id_tag
        session.token_id = _token_id(id_tag, lookups)
        if session.token_id is None:
            _flag(
                writes,
                tenant_id=session.tenant_id,
                station_id=session.charge_station_id,
                txid=session.ocpp_transaction_id,
                reason=FlagReason.UNKNOWN_TOKEN,
                session=session,
                details={"id_tag": id_tag},
            )
    if not session.auth_method:
        # The first event that says how it was authorised (a 1.x start; the 2.0.1 event that
        # first names the token or the remote start), whichever run sees it.
        said = next((e for e in events if e.auth_method), None)
        if said is not None:
            session.auth_method = said.auth_method
            session.authorization_reference = said.authorization_reference
    end = next((e for e in reversed(events) if e.kind == EventKind.ENDED), None)
    if end is not None and later_stops:
        _flag_later_stops(session, end, later_stops, writes)
    if end is not None:
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
            cdr = cdr_build(session, events, lookups, writes)
            if cdr is not None:
                writes.cdrs.append(cdr)
                with_cdr.add(session.pk)
    else:
        timeline = build_timeline(session, events, None, lookups)
        if timeline:
            session.energy_wh = timeline[-1].energy_wh - session.meter_start_wh
            session.last_meter_at = timeline[-1].timestamp
        session.last_event_id = newest
        _live_cost(session, events, timeline, lookups, live_price)
        writes.sessions[session.pk] = session


def transactions_process(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Bring many transactions up to date in one database transaction (one commit), with
    the lookups they share made once: which need work (three queries for all), their events
    (one query), their stations' contexts (one query), connectors, status events; then
    `_process` (set-based). Returns the pairs to retry one by one: all of them when the
    batch failed with a database error (a concurrent worker wrote the same CDR, the
    database went away) — nothing of it was stored."""
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
    try:
        with transaction.atomic():
            _process(pending, events, lookups)
    except (OperationalError, IntegrityError):
        log.warning("processing %d transactions failed; queued again", len(pending), exc_info=True)
        return pending
    return []


def transaction_process(*, station_id: int, ocpp_transaction_id: str) -> int | None:
    """Bring the session of one transaction up to date with its events; returns its id.
    Database errors propagate (the task retries with back-off)."""
    key = (station_id, ocpp_transaction_id)
    with transaction.atomic():
        if (done := _up_to_date(station_id, ocpp_transaction_id)) is not None:
            return done
        events = _load_events([key])
        if not events[key]:
            return None
        return _process([key], events, Lookups()).get(key)


def _live_cost(
    session: ChargingSession,
    events: list[OcppEvent],
    timeline: list[TimelinePoint],
    lookups: Lookups,
    price: Any,
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
    if not _live_cost_window_over(session.live_cost_at, now):
        return
    price(session, events, timeline, lookups)
    session.live_cost_event_id = session.last_event_id
    if session.last_meter_at > session.started_at:
        # The window opens with the first meter value; the price at the start (the flat
        # fee) does not hold the first meter value back.
        session.live_cost_at = now
