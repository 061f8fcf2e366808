"""Reads of the charging app: sessions and CDRs for the REST API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from django.db.models import OuterRef, Subquery, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from apps.charging.contracts import (
    AUTH_METHOD_WHITELIST,
    CdrKind,
    CdrRecord,
    SessionRecord,
    SessionStatus,
)
from apps.charging.models import Cdr, ChargingSession
from apps.charging.services import _AMOUNT_FIELDS
from apps.common.errors import NotFound

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


_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _json(text: str | None) -> Any:
    # Parsed with Decimal for every JSON number with a fraction (never through float).
    return _DECODER.decode(text) if text else None


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


_CDR_FIELDS = (
    "id",
    "party__country_code",
    "party__party_id",
    "ocpi_id",
    "kind",
    "credits__ocpi_id",
    "session_id",
    "session__charge_station_id",
    "start_date_time",
    "end_date_time",
    "currency",
    *_AMOUNT_FIELDS,
    "total_energy_kwh",
    "total_time_hours",
    "total_parking_time_hours",
    "data_text",
    "created_at",
)


def _cdr(r: dict[str, Any]) -> CdrRecord:
    return CdrRecord(
        platform_id=r["id"],
        country_code=r["party__country_code"],
        party_id=r["party__party_id"],
        id=r["ocpi_id"],
        kind=CdrKind(r["kind"]),
        credit_reference_id=r["credits__ocpi_id"],
        session_platform_id=r["session_id"],
        charge_station_id=r["session__charge_station_id"],
        start_date_time=r["start_date_time"],
        end_date_time=r["end_date_time"],
        currency=r["currency"],
        amounts={f: r[f] for f in _AMOUNT_FIELDS},
        total_energy=r["total_energy_kwh"],
        total_time=r["total_time_hours"],
        total_parking_time=r["total_parking_time_hours"],
        # Parsed with Decimal for every JSON number with a fraction: money never passes
        # through float (msgspec, ten times faster than simplejson here).
        data=_DECODER.decode(r["data_text"]) if r["data_text"] else {},
        last_updated=r["created_at"],
    )


def _cdrs():  # type: ignore[no-untyped-def]
    return Cdr.objects.annotate(data_text=Cast("data", output_field=TextField()))


def cdr_get(*, tenant_id: int, cdr_id: int) -> CdrRecord:
    row = _cdrs().filter(tenant_id=tenant_id, pk=cdr_id).values(*_CDR_FIELDS).first()
    if row is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    return _cdr(row)


def cdrs_by_ids(*, ids: Iterable[int]) -> list[CdrRecord]:
    """CDRs (any tenant) in one query: what the webhook outbox renders `cdr.created` from."""
    return [_cdr(r) for r in _cdrs().filter(pk__in=list(ids)).order_by("id").values(*_CDR_FIELDS)]


def cdr_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    country_code: str | None = None,
    party_id: str | None = None,
    charge_station_id: int | None = None,
) -> list[CdrRecord]:
    """CDRs in insertion order (keyset on id): a page never shifts when CDRs are added, and
    late CDRs (offline stations, roaming) appear at the end. `date_from` / `date_to` filter
    on end_date_time, [from, to)."""
    if not (date_from or date_to or country_code or party_id or charge_station_id):
        # Keyset on the index (tenant_id, id), the joined columns in the same query.
        page = _cdrs().filter(tenant_id=tenant_id)
        if after_id is not None:
            page = page.filter(id__gt=after_id)
        return [_cdr(r) for r in page.order_by("id").values(*_CDR_FIELDS)[:limit]]
    qs = Cdr.objects.filter(tenant_id=tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if date_from is not None:
        qs = qs.filter(end_date_time__gte=date_from)
    if date_to is not None:
        qs = qs.filter(end_date_time__lt=date_to)
    if country_code:
        qs = qs.filter(party__country_code=country_code.upper())
    if party_id:
        qs = qs.filter(party__party_id=party_id.upper())
    if charge_station_id is not None:
        qs = qs.filter(session__charge_station_id=charge_station_id)
    # A date (or party / station) filter: first the page's ids alone, without the joins of the
    # full row, so the planner can walk the (tenant_id, end_date_time) index for a narrow
    # range instead of the id index (with the joins it walked a million ids for one day).
    ids = list(qs.order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    rows = _cdrs().filter(id__in=ids).order_by("id").values(*_CDR_FIELDS)
    return [_cdr(r) for r in rows]


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
