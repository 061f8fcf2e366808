"""What we push as CPO, and to whom (every push goes through the outbox, services/push.py).

The trigger: the charging and locations apps emit their webhook events (`session.started`,
`session.ended`, `cdr.created`, `station.status_changed`); a tenant with REGISTERED OCPI
connections has the internal consumer `roaming.ocpi_events` registered with the
integrations app (`cpo_interest_sync`), which queues our task after the emitter's commit
with the events' type, key and data (`ocpi_events_handle`). Locations have no event: a
beat task (`cpo_locations_sync`) pushes the published locations whose own version moved.

What, per event:
- `station.status_changed` -> PATCH `{cc}/{pid}/{location}/{evse}` `{status, last_updated}`
  (last_updated: the station's time of the change), key `evse:<uid>:<time>:<status>`;
- location changed -> PUT `{cc}/{pid}/{location}` with the Location, key
  `location:<id>:<version>` (the location row's version: EVSE status changes do not
  bump it, so they do not cause PUTs);
- `session.started` -> PUT `{cc}/{pid}/{session}` with the Session, key `session:<id>:start`;
- `session.updated` (internal: the running session's live cost was priced again, at most
  once per live-cost window) -> PATCH `{kwh, charging_periods?, total_cost?, last_updated}`,
  key `session:<id>:live:<time of the pricing>`; at most one per session and connection per
  `OCPI_SESSION_PATCH_SECONDS` (a skipped update loses nothing: the next PATCH carries the
  figures then current); not after the session ended, not before its PUT;
- `session.ended` -> PATCH with the final status, end, kWh, cost and the charging periods,
  key `session:<id>:end`.

Charging periods: the receiver appends a PATCH's periods to the session's, so each period
goes once. A running PATCH carries the closed periods (all but the last, which still grows)
not sent yet; the final PATCH the periods not sent yet. "Sent" = in an earlier push of that
session on that connection that did not fail (the outbox sends them in order).
- `cdr.created` -> POST the CDR to the cdrs endpoint, key `cdr:<id>` (a credit CDR is a new
  row: a new id and key).

To whom: REGISTERED connections whose endpoints list the module's RECEIVER. Sessions and
CDRs only to the connection with an EMSP role owning the token (TO = that eMSP, also
through a hub); locations and statuses to every connection that may see the location (TO:
its EMSP role, or the hub's HUB role: one push to the hub is its broadcast).

Keys make every push idempotent per connection: the same event twice is one push.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from apps.charging import api as charging_api
from apps.charging.contracts import SessionStatus
from apps.common.errors import NotFound
from apps.integrations import api as integrations_api
from apps.locations import api as locations_api
from apps.locations.contracts import LocationRecord
from apps.roaming import client, jobs, objects, publishing, transport
from apps.roaming.contracts import ConnectionStatus, InterfaceRole, OcpiRole, PushStatus
from apps.roaming.models import OcpiConnection, OcpiPush
from apps.roaming.services import emsp_tokens
from apps.roaming.services.push import push_enqueue

log = logging.getLogger(__name__)

EVENTS = (
    "session.started",
    "session.updated",
    "session.ended",
    "cdr.created",
    "station.status_changed",
    "token.changed",  # eMSP role: our tokens PUT to connected CPOs (emsp_tokens)
)


def cpo_interest_sync(*, tenant_id: int) -> None:
    """Register (or drop) the tenant's `roaming.ocpi_events` consumer: wanted while the
    tenant has a REGISTERED connection. The connections area calls it when a connection is
    registered, suspended, resumed or closed."""
    registered = OcpiConnection.objects.filter(
        tenant_id=tenant_id, status=ConnectionStatus.REGISTERED.value
    ).exists()
    integrations_api.event_consumer_set(
        tenant_id=tenant_id, name=jobs.OCPI_EVENTS, events=EVENTS if registered else ()
    )


def cpo_interest_sweep() -> int:
    """`cpo_interest_sync` for every tenant whose need changed (beat, with the locations
    sync): heals a missed call, e.g. a connection whose status changed elsewhere. Returns
    how many tenants were synced."""
    registered = set(
        OcpiConnection.objects.filter(status=ConnectionStatus.REGISTERED.value).values_list(
            "tenant_id", flat=True
        )
    )
    have = integrations_api.event_consumer_tenants(name=jobs.OCPI_EVENTS)
    changed = registered ^ have
    for tenant_id in changed:
        cpo_interest_sync(tenant_id=tenant_id)
    return len(changed)


def _p(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def _targets(
    tenant_id: int, module: str, *, emsp: tuple[str, str] | None = None
) -> list[tuple[OcpiConnection, tuple[str, str] | None]]:
    """(connection, TO party) of every REGISTERED connection with a `module` receiver;
    with `emsp`: only the connection holding that EMSP role, TO = that role."""
    out: list[tuple[OcpiConnection, tuple[str, str] | None]] = []
    conns = OcpiConnection.objects.filter(
        tenant_id=tenant_id, status=ConnectionStatus.REGISTERED.value
    ).prefetch_related("roles", "endpoints")
    for conn in conns:
        if client.endpoint_url(conn, module, InterfaceRole.RECEIVER.value) is None:
            continue
        roles = list(conn.roles.all())
        emsps = [(r.country_code, r.party_id) for r in roles if r.role == OcpiRole.EMSP.value]
        if emsp is not None:
            match = [
                p
                for p in emsps
                if (p[0].upper(), p[1].upper()) == (emsp[0].upper(), emsp[1].upper())
            ]
            if match:
                out.append((conn, match[0]))
            continue
        hub = [(r.country_code, r.party_id) for r in roles if r.role == OcpiRole.HUB.value]
        if conn.is_hub or hub:
            out.append((conn, hub[0] if hub else None))
        elif emsps:
            out.append((conn, emsps[0]))
    return out


# --- locations -----------------------------------------------------------------------------


def evse_status_push(
    *, tenant_id: int, location_id: str, evse_uid: str, status: str, at: datetime
) -> int:
    """PATCH one EVSE's status to every connection that may see its location; returns how
    many pushes were queued (0 for a home charger: never published)."""
    if locations_api.is_home_charger_evse(tenant_id=tenant_id, evse_uid=evse_uid):
        return 0
    queued = 0
    stamp = transport.iso(at)
    for conn, to in _targets(tenant_id, "locations"):
        record = publishing.published_location(
            tenant_id=tenant_id, connection_id=conn.pk, location_id=location_id
        )
        if record is None or not any(e.uid == evse_uid for e in record.evses):
            continue
        pk = push_enqueue(
            connection_id=conn.pk,
            module="locations",
            method="PATCH",
            path=_p(record.country_code, record.party_id, record.id, evse_uid),
            key=f"evse:{evse_uid}:{stamp}:{status}",
            body=objects.evse_status_patch(status=status, last_updated=at),
            to_party=to,
        )
        queued += pk is not None
    return queued


def location_push(*, tenant_id: int, location_id: str) -> int:
    """PUT the Location (by OCPI id) to every connection that may see it, once per version
    of the location row; returns how many pushes were queued."""
    queued = 0
    for conn, to in _targets(tenant_id, "locations"):
        record = publishing.published_location(
            tenant_id=tenant_id, connection_id=conn.pk, location_id=location_id
        )
        if record is None:
            continue
        queued += _location_enqueue(conn, to, record)
    return queued


def _location_enqueue(
    conn: OcpiConnection, to: tuple[str, str] | None, record: LocationRecord
) -> int:
    pk = push_enqueue(
        connection_id=conn.pk,
        module="locations",
        method="PUT",
        path=_p(record.country_code, record.party_id, record.id),
        key=f"location:{record.platform_id}:{record.etag}",
        body=objects.location_object(record, version=conn.version),
        to_party=to,
    )
    return int(pk is not None)


def cpo_locations_sync(*, now: datetime, window: timedelta = timedelta(minutes=10)) -> int:
    """Push the published locations changed within `window` before `now` (beat, every
    minute: a missed run is covered by the next ones within the window). A version already
    pushed is not pushed again (its key). Also sweeps the event interest."""
    cpo_interest_sweep()
    queued = 0
    conns = OcpiConnection.objects.filter(status=ConnectionStatus.REGISTERED.value)
    for tenant_id in set(conns.values_list("tenant_id", flat=True)):
        for conn, to in _targets(tenant_id, "locations"):
            after = None
            while True:
                _, records, after = locations_api.ocpi_location_page(
                    tenant_id=tenant_id,
                    location_ids=publishing.visible_location_ids(conn),
                    date_from=now - window,
                    date_to=None,
                    offset=0,
                    limit=200,
                    after=after,
                )
                for record in records:
                    queued += _location_enqueue(conn, to, record)
                if after is None:
                    break
    return queued


# --- sessions and CDRs ---------------------------------------------------------------------


def session_push(*, tenant_id: int, session_id: int, phase: str) -> int:
    """`phase` "start": PUT the Session; "end": PATCH its final figures. Only to the eMSP
    whose token it is."""
    try:
        record = charging_api.session_get(tenant_id=tenant_id, session_id=session_id)
    except NotFound:
        return 0
    emsp = charging_api.session_emsp_party(tenant_id=tenant_id, session_id=session_id)
    if emsp is None or record.location_id is None or record.evse_uid is None:
        return 0  # not a partner's token / no EVSE known: nothing OCPI can carry
    queued = 0
    for conn, to in _targets(tenant_id, "sessions", emsp=emsp):
        full = objects.session_object(
            record,
            version=conn.version,
            location=publishing.used_location(tenant_id, record, conn.version),
        )
        if phase == "start":
            method, body = "PUT", {k: v for k, v in full.items() if k != "charging_periods"}
        else:
            sent = _periods_sent(conn.pk, record.platform_id)
            method, body = "PATCH", _session_final(full, conn.version, sent)
        pk = push_enqueue(
            connection_id=conn.pk,
            module="sessions",
            method=method,
            path=_p(record.country_code, record.party_id, str(record.platform_id)),
            key=f"session:{record.platform_id}:{phase}",
            body=body,
            to_party=to,
        )
        queued += pk is not None
    return queued


_FINAL_221 = (
    "status",
    "end_date_time",
    "kwh",
    "total_cost",
    "charging_periods",
    "last_updated",
)
_FINAL_211 = ("status", "end_datetime", "kwh", "total_cost", "charging_periods", "last_updated")


def _session_final(
    full: Mapping[str, Any], version: str, sent: set[datetime] | None = None
) -> dict[str, Any]:
    fields = _FINAL_211 if version == objects.V211 else _FINAL_221
    body = {k: full[k] for k in fields if k in full}
    if "charging_periods" in body:
        new = [p for p in body["charging_periods"] if _start(p) not in (sent or set())]
        if new:
            body["charging_periods"] = new
        else:
            del body["charging_periods"]
    return body


def _start(period: Mapping[str, Any]) -> datetime | None:
    return _datetime(period.get("start_date_time"))


def _periods_sent(connection_id: int, session_platform_id: int) -> set[datetime]:
    """The start of every charging period an earlier push of this session sent (or is
    about to send: the outbox keeps the order) on this connection; failed pushes excluded."""
    bodies = (
        OcpiPush.objects.filter(
            connection_id=connection_id, key__startswith=f"session:{session_platform_id}:"
        )
        .exclude(status=PushStatus.FAILED.value)
        .values_list("body", flat=True)
    )
    out: set[datetime] = set()
    for text in bodies:
        body = transport.loads(text)
        for p in (body.get("charging_periods") or ()) if isinstance(body, Mapping) else ():
            if isinstance(p, Mapping) and (start := _start(p)) is not None:
                out.add(start)
    return out


def session_patch_seconds() -> float:
    """At most one running-session PATCH per session and connection per this many seconds
    (`OCPI_SESSION_PATCH_SECONDS`)."""
    return float(getattr(settings, "OCPI_SESSION_PATCH_SECONDS", 60))


def session_running_push(*, tenant_id: int, session_id: int, at: datetime) -> int:
    """PATCH a running session's figures as priced at `at` (kWh, the closed charging
    periods not sent yet, total cost, last_updated) to the eMSP whose token it is: not
    once the session ended (its final PATCH carries them), not before its PUT was queued,
    and at most once per `session_patch_seconds()` per session and connection. Returns
    how many pushes were queued."""
    try:
        record = charging_api.session_get(tenant_id=tenant_id, session_id=session_id)
    except NotFound:
        return 0
    if record.status != SessionStatus.ACTIVE or record.end_date_time is not None:
        return 0
    emsp = charging_api.session_emsp_party(tenant_id=tenant_id, session_id=session_id)
    if emsp is None or record.location_id is None or record.evse_uid is None:
        return 0
    pid = record.platform_id
    queued = 0
    for conn, to in _targets(tenant_id, "sessions", emsp=emsp):
        keys = list(
            OcpiPush.objects.filter(connection_id=conn.pk, key__startswith=f"session:{pid}:")
            .order_by("-id")
            .values_list("key", flat=True)
        )
        if f"session:{pid}:start" not in keys or f"session:{pid}:end" in keys:
            continue
        last = next((k for k in keys if k.startswith(f"session:{pid}:live:")), None)
        last_at = _datetime(last.split(":live:", 1)[1]) if last else None
        if last_at is not None and (at - last_at).total_seconds() < session_patch_seconds():
            continue
        full = objects.session_object(
            record,
            version=conn.version,
            location=publishing.used_location(tenant_id, record, conn.version),
        )
        body = _session_running(full, conn.version, _periods_sent(conn.pk, pid))
        pk = push_enqueue(
            connection_id=conn.pk,
            module="sessions",
            method="PATCH",
            path=_p(record.country_code, record.party_id, str(pid)),
            key=f"session:{pid}:live:{transport.iso(at)}",
            body=body,
            to_party=to,
        )
        queued += pk is not None
    return queued


def _session_running(full: Mapping[str, Any], version: str, sent: set[datetime]) -> dict[str, Any]:
    body: dict[str, Any] = {"kwh": full["kwh"]}
    # The last period still grows: only the closed ones, each once.
    closed = list(full.get("charging_periods") or ())[:-1]
    new = [p for p in closed if _start(p) not in sent]
    if new:
        body["charging_periods"] = new
    if full.get("total_cost") is not None:
        body["total_cost"] = full["total_cost"]
    body["last_updated"] = full["last_updated"]
    return body


def cdr_push(*, tenant_id: int, cdr_id: int) -> int:
    """POST the CDR to the eMSP whose token it is."""
    try:
        record = charging_api.cdr_get(tenant_id=tenant_id, cdr_id=cdr_id)
    except NotFound:
        return 0
    if record.charge_station_id is None:
        return 0  # a roaming CPO partner's CDR we received as eMSP (ADR 0041): not ours to push
    emsp = charging_api.cdr_emsp_party(tenant_id=tenant_id, cdr_id=cdr_id)
    if emsp is None:
        return 0
    queued = 0
    for conn, to in _targets(tenant_id, "cdrs", emsp=emsp):
        pk = push_enqueue(
            connection_id=conn.pk,
            module="cdrs",
            method="POST",
            path="",
            key=f"cdr:{record.platform_id}",
            body=objects.cdr_object(
                record,
                version=conn.version,
                location=publishing.used_location(tenant_id, record, conn.version),
            ),
            to_party=to,
        )
        queued += pk is not None
    return queued


# --- the events --------------------------------------------------------------------------


def ocpi_events_handle(*, payload: str) -> int:
    """The `roaming.ocpi_events` task: the events the integrations app queued for us (JSON
    `[{tenant_id, type, key, occurred_at, data}]`); returns how many pushes were queued."""
    events = [e for e in transport.loads(payload) if isinstance(e, Mapping)]
    # Token changes go per tenant in one batch (a bulk import is one payload).
    tokens: dict[int, list[int]] = {}
    for e in events:
        if e.get("type") == "token.changed":
            data = e.get("data") or {}
            tokens.setdefault(int(e["tenant_id"]), []).append(int(data["platform_id"]))
    queued = sum(
        emsp_tokens.token_changes_push(tenant_id=t, token_ids=ids) for t, ids in tokens.items()
    )
    return queued + sum(_event(e) for e in events if e.get("type") != "token.changed")


def _event(e: Mapping[str, Any]) -> int:
    tenant_id = int(e["tenant_id"])
    data = e.get("data") or {}
    type = e.get("type")
    if type == "station.status_changed":
        if not data.get("location_id") or not data.get("evse_uid"):
            return 0
        at = _datetime(data.get("timestamp")) or _datetime(e.get("occurred_at")) or timezone.now()
        return evse_status_push(
            tenant_id=tenant_id,
            location_id=str(data["location_id"]),
            evse_uid=str(data["evse_uid"]),
            status=str(data["status"]),
            at=at,
        )
    if type == "session.updated":
        at = _datetime(e.get("occurred_at")) or timezone.now()
        return session_running_push(tenant_id=tenant_id, session_id=int(data["platform_id"]), at=at)
    if type in ("session.started", "session.ended"):
        phase = "start" if type == "session.started" else "end"
        return session_push(tenant_id=tenant_id, session_id=int(data["platform_id"]), phase=phase)
    if type == "cdr.created":
        return cdr_push(tenant_id=tenant_id, cdr_id=int(data["platform_id"]))
    log.info("roaming.ocpi_events: event type %r not pushed", type)
    return 0


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def ocpi_events_for(*, events: Iterable[Mapping[str, Any]]) -> str:
    """The payload `ocpi_events_handle` reads (tests and replays build it with this)."""
    return transport.dumps(list(events))
