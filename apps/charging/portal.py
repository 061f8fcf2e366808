"""Reads and review actions for the operator portal: dashboard figures, session and CDR
lists with keyset pagination, session detail with meter values, the flagged-CDR queue."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import simplejson
from django.db import transaction
from django.db.models import Count, Q, Sum, TextField
from django.db.models.functions import Cast, TruncDate

from apps.charging.contracts import (
    CdrKind,
    CdrRow,
    DashboardFigures,
    DayFigures,
    FlagReason,
    FlagRow,
    FlagStatus,
    MeterPoint,
    OcppMessage,
    SessionDetail,
    SessionRow,
    SessionStatus,
)
from apps.charging.models import (
    Cdr,
    ChargingSession,
    MeterValue,
    OcppEvent,
    ReviewFlag,
    StatusEvent,
)
from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tariffs import api as tariffs_api

ZERO = Decimal(0)
KWH = Decimal(1000)


def _local_midnight(now: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard_figures(*, tenant_id: int, now: datetime, time_zone: str) -> DashboardFigures:
    tz = zoneinfo.ZoneInfo(time_zone)
    today = _local_midnight(now, tz)
    month = today.replace(day=1)
    sessions = ChargingSession.objects.filter(tenant_id=tenant_id, started_at__gte=month)
    s = sessions.aggregate(
        month=Count("id"),
        today=Count("id", filter=Q(started_at__gte=today)),
    )
    active = ChargingSession.objects.filter(
        tenant_id=tenant_id, status=SessionStatus.ACTIVE.value
    ).count()
    rows = list(
        Cdr.objects.filter(tenant_id=tenant_id, end_date_time__gte=month, end_date_time__lt=now)
        .annotate(day=TruncDate("end_date_time", tzinfo=tz))
        .values("day", "currency")
        .annotate(
            n=Count("id", filter=Q(kind=CdrKind.ORIGINAL.value)),
            kwh=Sum("total_energy_kwh"),
            revenue=Sum("total_cost_excl_vat"),
        )
        .order_by("day")
    )
    by_currency: Counter[str] = Counter()
    for r in rows:
        by_currency[r["currency"]] += r["n"]
    currency = by_currency.most_common(1)[0][0] if by_currency else "EUR"
    days: dict[str, list[Any]] = {}
    d = month.date()
    while d <= today.date():
        days[d.isoformat()] = [0, ZERO, ZERO]
        d += timedelta(days=1)
    revenue_today: dict[str, Decimal] = {}
    revenue_month: dict[str, Decimal] = {}
    energy_today = energy_month = ZERO
    for r in rows:
        key = r["day"].isoformat() if hasattr(r["day"], "isoformat") else str(r["day"])
        kwh = r["kwh"] or ZERO
        revenue = r["revenue"] or ZERO
        energy_month += kwh
        revenue_month[r["currency"]] = revenue_month.get(r["currency"], ZERO) + revenue
        if key == today.date().isoformat():
            energy_today += kwh
            revenue_today[r["currency"]] = revenue_today.get(r["currency"], ZERO) + revenue
        slot = days.setdefault(key, [0, ZERO, ZERO])
        slot[0] += r["n"]
        slot[1] += kwh
        if r["currency"] == currency:
            slot[2] += revenue
    return DashboardFigures(
        sessions_today=s["today"],
        sessions_month=s["month"],
        sessions_active=active,
        energy_today_kwh=energy_today,
        energy_month_kwh=energy_month,
        revenue_today=revenue_today,
        revenue_month=revenue_month,
        currency=currency,
        days=tuple(
            DayFigures(day=k, cdrs=v[0], energy_kwh=v[1], revenue_excl_vat=v[2])
            for k, v in sorted(days.items())
        ),
        flags_open=ReviewFlag.objects.filter(
            tenant_id=tenant_id, status=FlagStatus.OPEN.value
        ).count(),
    )


# --- sessions -------------------------------------------------------------------------------

_SESSION_ROW = (
    "id",
    "status",
    "started_at",
    "ended_at",
    "charge_station_id",
    "charge_station__identity",
    "evse__uid",
    "connector__connector_id",
    "id_tag",
    "token_id",
    "energy_wh",
    "currency",
    "live_cost_excl_vat",
    "live_cost_incl_vat",
    "last_meter_at",
)


def _session_row(
    r: dict[str, Any], cdr_totals: dict[int, tuple[Decimal, Decimal | None]]
) -> SessionRow:
    excl, incl = r["live_cost_excl_vat"], r["live_cost_incl_vat"]
    if r["id"] in cdr_totals:
        excl, incl = cdr_totals[r["id"]]
    return SessionRow(
        id=r["id"],
        status=r["status"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        charge_station_id=r["charge_station_id"],
        station_identity=r["charge_station__identity"],
        evse_uid=r["evse__uid"],
        connector_id=r["connector__connector_id"],
        id_tag=r["id_tag"],
        token_id=r["token_id"],
        kwh=(r["energy_wh"] / KWH).quantize(Decimal("0.001")),
        currency=r["currency"],
        cost_excl_vat=excl,
        cost_incl_vat=incl,
        last_meter_at=r["last_meter_at"],
    )


def session_rows(
    *,
    tenant_id: int,
    limit: int,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
    status: str | None = None,
    charge_station_id: int | None = None,
    token_ids: list[int] | None = None,
    search: str | None = None,
    started_from: datetime | None = None,
    started_before: datetime | None = None,
) -> list[SessionRow]:
    """Newest first; keyset on (started_at, id): the `limit` next older than `before` (the
    last row of a page), or the `limit` next newer than `after` (the first row of a page: the
    page before it), always newest first."""
    qs = ChargingSession.objects.filter(tenant_id=tenant_id)
    if before is not None:
        # (started_at, id) < (at, pk) as a range the index scan can use, not an OR.
        at, pk = before
        qs = qs.filter(started_at__lte=at).exclude(started_at=at, id__gte=pk)
    if after is not None:
        at, pk = after
        qs = qs.filter(started_at__gte=at).exclude(started_at=at, id__lte=pk)
    if status:
        qs = qs.filter(status=status)
    if charge_station_id is not None:
        qs = qs.filter(charge_station_id=charge_station_id)
    if token_ids is not None:
        qs = qs.filter(token_id__in=token_ids)
    if search:
        qs = qs.filter(
            Q(id_tag__iexact=search)
            | Q(charge_station__identity__iexact=search)
            | Q(ocpp_transaction_id=search)
        )
    if started_from is not None:
        qs = qs.filter(started_at__gte=started_from)
    if started_before is not None:
        qs = qs.filter(started_at__lt=started_before)
    if after is not None:
        rows = list(qs.order_by("started_at", "id").values(*_SESSION_ROW)[:limit])[::-1]
    else:
        rows = list(qs.order_by("-started_at", "-id").values(*_SESSION_ROW)[:limit])
    done = [r["id"] for r in rows if r["status"] == SessionStatus.COMPLETED.value]
    totals = (
        {
            c["session_id"]: (c["total_cost_excl_vat"], c["total_cost_incl_vat"])
            for c in Cdr.objects.filter(session_id__in=done, kind=CdrKind.ORIGINAL.value).values(
                "session_id", "total_cost_excl_vat", "total_cost_incl_vat"
            )
        }
        if done
        else {}
    )
    return [_session_row(r, totals) for r in rows]


def _pricing_of(data_text: str, notes_text: str | None) -> dict[str, Any]:
    """The pricing core's result of a CDR: in `annotations`; inside `data` on CDRs written
    before that (numbers as Decimal)."""
    notes = notes_text if notes_text not in (None, "null") else data_text
    return simplejson.loads(notes, use_decimal=True).get("pricing") or {}


def _with_notes_text(qs: Any) -> Any:
    return qs.annotate(
        data_text=Cast("data", output_field=TextField()),
        notes_text=Cast("annotations", output_field=TextField()),
    )


def cdr_pricing(*, tenant_id: int, cdr_id: int) -> dict[str, Any]:
    """The pricing result of one CDR of this tenant ({} when it has none)."""
    row = (
        _with_notes_text(Cdr.objects.filter(tenant_id=tenant_id, pk=cdr_id))
        .values("data_text", "notes_text")
        .first()
    )
    if row is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    return _pricing_of(row["data_text"], row["notes_text"])


def session_detail(*, tenant_id: int, session_id: int) -> SessionDetail:
    s = (
        ChargingSession.objects.filter(tenant_id=tenant_id, pk=session_id)
        .values(
            *_SESSION_ROW,
            "time_zone",
            "meter_start_wh",
            "meter_stop_wh",
            "stop_reason",
            "ocpp_transaction_id",
            "tariff_snapshot",
        )
        .first()
    )
    if s is None:
        raise NotFound(f"no session {session_id} in this tenant")
    cdr = (
        _with_notes_text(Cdr.objects.filter(session_id=session_id, kind=CdrKind.ORIGINAL.value))
        .values("id", "data_text", "notes_text", "total_cost_excl_vat", "total_cost_incl_vat")
        .first()
    )
    totals = {}
    periods: tuple[dict[str, Any], ...] = ()
    if cdr is not None:
        totals[session_id] = (cdr["total_cost_excl_vat"], cdr["total_cost_incl_vat"])
        pricing = _pricing_of(cdr["data_text"], cdr["notes_text"])
        periods = tuple(pricing.get("charging_periods") or ())
    points = tuple(
        MeterPoint(
            timestamp=m["timestamp"],
            energy_wh=m["energy_wh"],
            power_w=m["power_w"],
            current_a=m["current_a"],
            soc_percent=m["soc_percent"],
            state=m["state"],
        )
        for m in MeterValue.objects.filter(session_id=session_id)
        .order_by("timestamp", "id")
        .values("timestamp", "energy_wh", "power_w", "current_a", "soc_percent", "state")[:5000]
    )
    flags = tuple(ReviewFlag.objects.filter(session_id=session_id).values_list("reason", flat=True))
    snapshot = s["tariff_snapshot"] or {}
    return SessionDetail(
        row=_session_row(s, totals),
        time_zone=s["time_zone"],
        meter_start_wh=s["meter_start_wh"],
        meter_stop_wh=s["meter_stop_wh"],
        stop_reason=s["stop_reason"],
        ocpp_transaction_id=s["ocpp_transaction_id"],
        tariff_ocpi_id=snapshot.get("id"),
        meter_values=points,
        cdr_id=cdr["id"] if cdr else None,
        charging_periods=periods,
        flags=flags,
    )


# --- CDRs -----------------------------------------------------------------------------------

_CDR_ROW = (
    "id",
    "ocpi_id",
    "kind",
    "party__country_code",
    "party__party_id",
    "session__charge_station__identity",
    "start_date_time",
    "end_date_time",
    "currency",
    "total_energy_kwh",
    "total_time_hours",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "credited_by__id",
)


def _cdr_row(r: dict[str, Any]) -> CdrRow:
    return CdrRow(
        id=r["id"],
        ocpi_id=r["ocpi_id"],
        kind=r["kind"],
        party=f"{r['party__country_code']}*{r['party__party_id']}",
        station_identity=r["session__charge_station__identity"],
        start_date_time=r["start_date_time"],
        end_date_time=r["end_date_time"],
        currency=r["currency"],
        total_energy_kwh=r["total_energy_kwh"],
        total_time_hours=r["total_time_hours"],
        total_cost_excl_vat=r["total_cost_excl_vat"],
        total_cost_incl_vat=r["total_cost_incl_vat"],
        credited=r["credited_by__id"] is not None,
    )


def _cdr_filter(
    tenant_id: int,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    party: str | None,
    charge_station_id: int | None,
    kind: str | None,
    search: str | None,
):  # type: ignore[no-untyped-def]
    qs = Cdr.objects.filter(tenant_id=tenant_id)
    if date_from is not None:
        qs = qs.filter(end_date_time__gte=date_from)
    if date_to is not None:
        qs = qs.filter(end_date_time__lt=date_to)
    if party:
        cc, _, pid = party.upper().partition("*")
        qs = qs.filter(party__country_code=cc, party__party_id=pid)
    if charge_station_id is not None:
        qs = qs.filter(session__charge_station_id=charge_station_id)
    if kind:
        qs = qs.filter(kind=kind)
    if search:
        # (party, ocpi_id) is the unique index: name the tenant's parties so it is used.
        qs = qs.filter(
            ocpi_id=search.upper(),
            party_id__in=[p.id for p in parties_api.parties_of_tenant(tenant_id=tenant_id)],
        )
    return qs


def cdr_rows(
    *,
    tenant_id: int,
    limit: int,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    party: str | None = None,
    charge_station_id: int | None = None,
    kind: str | None = None,
    search: str | None = None,
) -> list[CdrRow]:
    """Newest end first; keyset on (end_date_time, id), the index `cdr_tenant_end`: the
    `limit` next older than `before`, or the `limit` next newer than `after` (the page before
    a page), always newest first."""
    qs = _cdr_filter(
        tenant_id,
        date_from=date_from,
        date_to=date_to,
        party=party,
        charge_station_id=charge_station_id,
        kind=kind,
        search=search,
    )
    if before is not None:
        # (end_date_time, id) < (at, pk) as a range the index scan can use, not an OR.
        at, pk = before
        qs = qs.filter(end_date_time__lte=at).exclude(end_date_time=at, id__gte=pk)
    if after is not None:
        at, pk = after
        qs = qs.filter(end_date_time__gte=at).exclude(end_date_time=at, id__lte=pk)
        rows = list(qs.order_by("end_date_time", "id").values(*_CDR_ROW)[:limit])[::-1]
        return [_cdr_row(r) for r in rows]
    return [_cdr_row(r) for r in qs.order_by("-end_date_time", "-id").values(*_CDR_ROW)[:limit]]


def cdr_rows_iter(*, tenant_id: int, chunk: int = 2000, **filters: Any) -> Iterator[CdrRow]:
    """Every CDR matching the filters, newest first, read in keyset chunks (CSV export)."""
    before = None
    while True:
        rows = cdr_rows(tenant_id=tenant_id, limit=chunk, before=before, **filters)
        yield from rows
        if len(rows) < chunk:
            return
        before = (rows[-1].end_date_time, rows[-1].id)


def cdr_parties(*, tenant_id: int) -> list[str]:
    """The parties whose CDRs this tenant holds: its CPO parties (not a scan of the CDRs)."""
    return [
        f"{p.country_code}*{p.party_id}"
        for p in parties_api.parties_of_tenant(tenant_id=tenant_id, role=PartyRole.CPO)
    ]


# --- the flagged-CDR queue ------------------------------------------------------------------

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


def _flag_for_update(tenant_id: int, flag_id: int) -> ReviewFlag:
    flag = ReviewFlag.objects.select_for_update().filter(tenant_id=tenant_id, pk=flag_id).first()
    if flag is None:
        raise NotFound(f"no flag {flag_id} in this tenant")
    if flag.status != FlagStatus.OPEN.value:
        raise Conflict(f"this flag is already {flag.status.lower()}")
    return flag


@transaction.atomic
def flag_dismiss(*, tenant_id: int, flag_id: int, actor: Actor, note: str = "") -> FlagRow:
    flag = _flag_for_update(tenant_id, flag_id)
    flag.status = FlagStatus.DISMISSED.value
    flag.details = {**(flag.details or {}), "dismissed_note": note[:500]}
    flag.save(update_fields=["status", "details", "updated_at"])
    _audit_flag(tenant_id, actor, "flag.dismiss", flag.pk, flag.status, "dismissed")
    return flag_rows(tenant_id=tenant_id, limit=1, before_id=flag.pk + 1, status=None)[0]


def _audit_flag(
    tenant_id: int, actor: Actor, action: str, flag_id: int, status: str, message: str
) -> None:
    parties_api.audit_record(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        object_type="review_flag",
        object_id=flag_id,
        before={"status": FlagStatus.OPEN.value},
        after={"status": status, "message": message},
    )


@transaction.atomic
def flag_reprice(
    *, tenant_id: int, flag_id: int, now: datetime, actor: Actor
) -> tuple[FlagRow, str]:
    """Process the flagged transaction again and write its CDR if it can now be priced.

    A session without a tariff takes the tariff in force at its start if one has been
    assigned with that effective date, else the one in force now (said in the answer). A
    session that already has its CDR is not priced twice: the flag is resolved."""
    from apps.charging.cdrs import session_finalise
    from apps.charging.rebuild import _load_events, transaction_process

    flag = _flag_for_update(tenant_id, flag_id)
    session_id = flag.session_id
    if session_id is None:
        session_id = transaction_process(
            station_id=flag.charge_station_id, ocpp_transaction_id=flag.ocpp_transaction_id
        )
        if session_id is None:
            raise Conflict(
                "still no start for this transaction: nothing to price. Dismiss the flag if "
                "the station will not send it."
            )
    session = ChargingSession.objects.select_for_update().get(pk=session_id)
    existing = Cdr.objects.filter(session=session, kind=CdrKind.ORIGINAL.value).first()
    message = ""
    if existing is None:
        if not session.tariff_snapshot:
            snapshot = tariffs_api.tariff_for_session(
                charge_station_id=session.charge_station_id,
                connector_id=session.connector_id,
                at=session.started_at,
            )
            message = "priced with the tariff in force at session start"
            if snapshot is None:
                snapshot = tariffs_api.tariff_for_session(
                    charge_station_id=session.charge_station_id,
                    connector_id=session.connector_id,
                    at=now,
                )
                message = "no tariff was in force at session start: priced with today's tariff"
            if snapshot is None:
                raise Conflict(
                    "no tariff is assigned to this station: assign a tariff code to the station "
                    "(Tariffs ▸ assignment), then re-price"
                )
            session.tariff_version_id = snapshot.tariff_version_id
            session.tariff_snapshot = snapshot.ocpi
            session.currency = snapshot.currency
            session.save(update_fields=["tariff_version_id", "tariff_snapshot", "currency"])
        if session.status != SessionStatus.COMPLETED.value:
            message = "the session is still active: its CDR is written when it ends"
        else:
            events = _load_events([(session.charge_station_id, session.ocpp_transaction_id)])
            cdr_id = session_finalise(
                session, events[(session.charge_station_id, session.ocpp_transaction_id)]
            )
            if cdr_id is None:
                raise Conflict("the session still cannot be priced; see the flag's details")
            message = f"CDR written, {message}"
    else:
        message = f"the session already has its CDR {existing.ocpi_id}: nothing priced twice"
    ReviewFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.RESOLVED.value, updated_at=now)
    _audit_flag(tenant_id, actor, "flag.reprice", flag.pk, FlagStatus.RESOLVED.value, message)
    row = flag_rows(tenant_id=tenant_id, limit=1, before_id=flag.pk + 1, status=None)[0]
    return row, message


# --- the OCPP message log of a station --------------------------------------------------------


def station_messages(
    *, tenant_id: int, charge_station_id: int, limit: int = 50
) -> list[OcppMessage]:
    """The newest transaction messages (verbatim frames) and status notifications."""
    events = list(
        OcppEvent.objects.filter(tenant_id=tenant_id, charge_station_id=charge_station_id)
        .order_by("-received_at", "-id")
        .values("received_at", "action", "ocpp_transaction_id", "kind", "frame")[:limit]
    )
    statuses = list(
        StatusEvent.objects.filter(tenant_id=tenant_id, charge_station_id=charge_station_id)
        .order_by("-received_at", "-id")
        .values("received_at", "evse_ocpp_id", "connector_ocpp_id", "status")[:limit]
    )
    out = [
        OcppMessage(
            at=e["received_at"],
            direction="station → CSMS",
            action=e["action"],
            summary=f"{e['kind'].lower()} transaction {e['ocpp_transaction_id']}",
            frame=e["frame"],
        )
        for e in events
    ] + [
        OcppMessage(
            at=s["received_at"],
            direction="station → CSMS",
            action="StatusNotification",
            summary=f"EVSE {s['evse_ocpp_id']}"
            + (f" connector {s['connector_ocpp_id']}" if s["connector_ocpp_id"] else "")
            + f": {s['status']}",
            frame="",
        )
        for s in statuses
    ]
    out.sort(key=lambda m: m.at, reverse=True)
    return out[:limit]
