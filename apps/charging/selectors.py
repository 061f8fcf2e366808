"""Reads of the charging app: sessions and CDRs for the REST API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from django.db.models import TextField
from django.db.models.functions import Cast

from apps.charging.contracts import CdrKind, CdrRecord, SessionRecord, SessionStatus
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
    "evse__location__ocpi_id",
    "evse__uid",
    "connector__connector_id",
    "token__uid",
    "token__type",
    "token__contract_id",
    "token__party__country_code",
    "token__party__party_id",
    "updated_at",
)


def _session(r: dict[str, Any]) -> SessionRecord:
    token = None
    if r["token__uid"] is not None:
        token = {
            "country_code": r["token__party__country_code"],
            "party_id": r["token__party__party_id"],
            "uid": r["token__uid"],
            "type": r["token__type"],
            "contract_id": r["token__contract_id"],
        }
    return SessionRecord(
        platform_id=r["id"],
        status=SessionStatus(r["status"]),
        start_date_time=r["started_at"],
        end_date_time=r["ended_at"],
        kwh=(r["energy_wh"] / Decimal(1000)).quantize(Decimal("0.0001")),
        currency=r["currency"],
        total_cost_excl_vat=r["live_cost_excl_vat"],
        total_cost_incl_vat=r["live_cost_incl_vat"],
        charge_station_id=r["charge_station_id"],
        location_id=r["evse__location__ocpi_id"],
        evse_uid=r["evse__uid"],
        connector_id=r["connector__connector_id"],
        cdr_token=token,
        last_updated=r["updated_at"],
    )


def session_get(*, tenant_id: int, session_id: int) -> SessionRecord:
    row = (
        ChargingSession.objects.for_tenant(tenant_id)
        .filter(pk=session_id)
        .values(*_SESSION_FIELDS)
        .first()
    )
    if row is None:
        raise NotFound(f"no session {session_id} in this tenant")
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
) -> list[SessionRecord]:
    qs = ChargingSession.objects.for_tenant(tenant_id)
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
    return [_session(r) for r in qs.order_by("id").values(*_SESSION_FIELDS)[:limit]]


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
        # Parsed here with Decimal for every JSON number: money never passes through float.
        data=simplejson.loads(r["data_text"], use_decimal=True) if r["data_text"] else {},
        last_updated=r["created_at"],
    )


def _cdrs():  # type: ignore[no-untyped-def]
    return Cdr.objects.annotate(data_text=Cast("data", output_field=TextField()))


def cdr_get(*, tenant_id: int, cdr_id: int) -> CdrRecord:
    row = _cdrs().filter(tenant_id=tenant_id, pk=cdr_id).values(*_CDR_FIELDS).first()
    if row is None:
        raise NotFound(f"no CDR {cdr_id} in this tenant")
    return _cdr(row)


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
    qs = _cdrs().filter(tenant_id=tenant_id)
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
    return [_cdr(r) for r in qs.order_by("id").values(*_CDR_FIELDS)[:limit]]
