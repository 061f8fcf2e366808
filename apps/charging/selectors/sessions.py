"""Reads of charging sessions: one session or a page of them as OCPI-shaped records (the
REST API, the webhooks), and as list rows with the session detail (the operator's lists)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Q, Subquery, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from apps.charging.contracts import (
    AUTH_METHOD_WHITELIST,
    CdrKind,
    MeterPoint,
    SessionDetail,
    SessionRecord,
    SessionRow,
    SessionStatus,
)
from apps.charging.models import Cdr, ChargingSession, MeterValue, ReviewFlag
from apps.charging.selectors.cdrs import DECODER, cdr_pricing_of, with_json_text
from apps.charging.selectors.partner_pages import emsp_filter, keyset_page_ids
from apps.common.errors import NotFound

KWH = Decimal(1000)

_SESSION_FIELDS = (
    "id",
    "status",
    "started_at",
    "ended_at",
    "energy_wh",
    "currency",
    "live_cost_excl_vat",
    "live_cost_incl_vat",
    "charge_station_id",
    "charge_station__location__party__country_code",
    "charge_station__location__party__party_id",
    "evse__location__ocpi_id",
    "evse__uid",
    "connector__connector_id",
    "id_tag",
    "auth_method",
    "token__uid",
    "token__type",
    "token__contract_id",
    "token__party__country_code",
    "token__party__party_id",
    "updated_at",
    "cdr_cost_excl_vat",
    "cdr_cost_incl_vat",
)


def _original_cdr() -> Any:
    return Cdr.objects.filter(session_id=OuterRef("pk"), kind=CdrKind.ORIGINAL.value)


def _sessions(*, periods: bool) -> Any:
    """Sessions with their original CDR's total (one indexed subquery: the partial unique
    index on the session's original CDR) and, when asked, the charging periods: the CDR's
    once it exists, else those of the last live pricing."""
    qs = ChargingSession.objects.annotate(
        cdr_cost_excl_vat=Subquery(_original_cdr().values("total_cost_excl_vat")[:1]),
        cdr_cost_incl_vat=Subquery(_original_cdr().values("total_cost_incl_vat")[:1]),
    )
    if periods:
        qs = qs.annotate(
            cdr_periods_text=Subquery(
                _original_cdr()
                .annotate(p=Cast(KT("data__charging_periods"), TextField()))
                .values("p")[:1]
            ),
            live_periods_text=Cast("live_charging_periods", TextField()),
        )
    return qs


def _fields(periods: bool) -> tuple[str, ...]:
    return (
        (*_SESSION_FIELDS, "cdr_periods_text", "live_periods_text") if periods else _SESSION_FIELDS
    )


def _json(text: str | None) -> Any:
    # Parsed with Decimal for every JSON number with a fraction (never through float).
    return DECODER.decode(text) if text else None


def _session(r: dict[str, Any]) -> SessionRecord:
    if r["token__uid"] is not None:
        token = {
            "country_code": r["token__party__country_code"],
            "party_id": r["token__party__party_id"],
            "uid": r["token__uid"],
            "type": r["token__type"],
            "contract_id": r["token__contract_id"],
        }
    else:
        # The station sent an id no token matches (flagged UNKNOWN_TOKEN): what it sent.
        token = {"country_code": "", "party_id": "", "uid": r["id_tag"], "type": "RFID"}
        token["contract_id"] = ""
    periods = None
    if "cdr_periods_text" in r:
        cdr_periods = (
            _json(r["cdr_periods_text"]) if r["status"] == SessionStatus.COMPLETED else None
        )
        periods = cdr_periods or _json(r["live_periods_text"]) or []
    # Completed and billed: the CDR's total is the session's final cost.
    has_cdr = r["status"] == SessionStatus.COMPLETED and r["cdr_cost_excl_vat"] is not None
    return SessionRecord(
        platform_id=r["id"],
        country_code=r["charge_station__location__party__country_code"] or "",
        party_id=r["charge_station__location__party__party_id"] or "",
        status=SessionStatus(r["status"]),
        start_date_time=r["started_at"],
        end_date_time=r["ended_at"],
        kwh=(r["energy_wh"] / Decimal(1000)).quantize(Decimal("0.0001")),
        currency=r["currency"],
        total_cost_excl_vat=r["cdr_cost_excl_vat"] if has_cdr else r["live_cost_excl_vat"],
        total_cost_incl_vat=r["cdr_cost_incl_vat"] if has_cdr else r["live_cost_incl_vat"],
        charge_station_id=r["charge_station_id"],
        location_id=r["evse__location__ocpi_id"],
        evse_uid=r["evse__uid"],
        connector_id=r["connector__connector_id"],
        cdr_token=token,
        auth_method=r["auth_method"] or AUTH_METHOD_WHITELIST,
        last_updated=r["updated_at"],
        charging_periods=periods,
    )


def session_get(*, tenant_id: int, session_id: int) -> SessionRecord:
    """One session with its charging periods."""
    row = (
        _sessions(periods=True)
        .filter(tenant_id=tenant_id, pk=session_id)
        .values(*_fields(True))
        .first()
    )
    if row is None:
        raise NotFound(f"no session {session_id} in this tenant")
    return _session(row)


def sessions_by_ids(*, ids: Iterable[int]) -> list[SessionRecord]:
    """Sessions (any tenant) with their charging periods, in one query: what the webhook
    outbox renders a batch's session events from."""
    return [
        _session(r)
        for r in _sessions(periods=True)
        .filter(pk__in=list(ids))
        .order_by("id")
        .values(*_fields(True))
    ]


# --- the eMSP tenant's view (the marketplace, ADR 0027) ---------------------------------------


def _emsp_sessions(tenant_id: int, periods: bool) -> Any:
    """The sessions of the tenant's drivers at other tenants' stations (`emsp_tenant` is the
    tenant, the session another's: its own stations' sessions are in its CPO view)."""
    return _sessions(periods=periods).filter(emsp_tenant_id=tenant_id).exclude(tenant_id=tenant_id)


def emsp_session_list(
    *, tenant_id: int, after_id: int | None, limit: int, expand: Iterable[str] = ()
) -> list[SessionRecord]:
    """A page of the tenant's drivers' sessions at other marketplace tenants' stations, in
    id order (keyset); render them with `ocpi.emsp_session_object`."""
    periods = "charging_periods" in expand
    qs = _emsp_sessions(tenant_id, periods)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_session(r) for r in qs.order_by("id").values(*_fields(periods))[:limit]]


def emsp_session_get(*, tenant_id: int, session_id: int) -> SessionRecord:
    row = _emsp_sessions(tenant_id, True).filter(pk=session_id).values(*_fields(True)).first()
    if row is None:
        raise NotFound(f"no session {session_id} of this tenant's drivers")
    return _session(row)


def session_ocpp_transaction(*, tenant_id: int, session_id: int) -> tuple[int, str]:
    """(charge station id, OCPP transaction id) of a session: what a remote stop names."""
    row = (
        ChargingSession.objects.for_tenant(tenant_id)
        .filter(pk=session_id)
        .values_list("charge_station_id", "ocpp_transaction_id")
        .first()
    )
    if row is None:
        raise NotFound(f"no session {session_id} in this tenant")
    return row[0], row[1]


def session_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    status: str | None = None,
    charge_station_id: int | None = None,
    started_from: datetime | None = None,
    started_before: datetime | None = None,
    expand: Iterable[str] = (),
) -> list[SessionRecord]:
    """A page of sessions; `charging_periods` only with `expand=["charging_periods"]` (they
    are the largest part of a session and most list readers do not need them)."""
    periods = "charging_periods" in expand
    qs = _sessions(periods=periods).filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if status:
        qs = qs.filter(status=status)
    if charge_station_id is not None:
        qs = qs.filter(charge_station_id=charge_station_id)
    if started_from is not None:
        qs = qs.filter(started_at__gte=started_from)
    if started_before is not None:
        qs = qs.filter(started_at__lt=started_before)
    return [_session(r) for r in qs.order_by("id").values(*_fields(periods))[:limit]]


def last_session_start_by_tenant(*, tenant_ids: Iterable[int]) -> dict[int, datetime]:
    """When each tenant's newest charging session started (tenants without one: absent).
    One index seek per tenant (`session_tenant_started`), not a scan of the sessions."""
    out: dict[int, datetime] = {}
    for tenant_id in tenant_ids:
        newest = (
            ChargingSession.objects.filter(tenant_id=tenant_id)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        if newest is not None:
            out[tenant_id] = newest
    return out


# --- list rows and the session detail ----------------------------------------------------

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
        with_json_text(Cdr.objects.filter(session_id=session_id, kind=CdrKind.ORIGINAL.value))
        .values("id", "data_text", "notes_text", "total_cost_excl_vat", "total_cost_incl_vat")
        .first()
    )
    totals = {}
    periods: tuple[dict[str, Any], ...] = ()
    if cdr is not None:
        totals[session_id] = (cdr["total_cost_excl_vat"], cdr["total_cost_incl_vat"])
        pricing = cdr_pricing_of(cdr["data_text"], cdr["notes_text"])
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


# --- OCPI sender pages (issue 19, area "cpo"; selectors/partner_pages.py) -----------------------


def ocpi_session_page(
    *,
    tenant_id: int,
    emsp_parties: Collection[tuple[str, str]],
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, list[SessionRecord]]:
    """(total, page) of the sessions of these eMSP parties' tokens at the tenant's
    stations that have an EVSE and a connector (OCPI requires both), with their periods."""
    if not emsp_parties:
        return 0, []
    qs = ChargingSession.objects.filter(
        emsp_filter(emsp_parties), tenant_id=tenant_id, evse__isnull=False, connector__isnull=False
    )
    total, ids = keyset_page_ids(
        qs, "updated_at", date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )
    rows = {r["id"]: r for r in _sessions(periods=True).filter(pk__in=ids).values(*_fields(True))}
    return total, [_session(rows[i]) for i in ids if i in rows]
