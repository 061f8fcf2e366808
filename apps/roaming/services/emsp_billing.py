"""A received CDR into the billing engines (issue 19 part 6, ADR 0041): after it is stored
and re-priced, the eMSP tenant's CDR is written through `apps.charging.api.
roaming_cdr_record`, so it is rated (wholesale: the partner's price, a cost; retail: our
driver) and invoiced and exported like a local one. A CDR that cannot be billed (no partner
party for its CPO, no price, ...) keeps its ForeignCdr row with a `not_billed` flag saying
why; nothing is dropped."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from apps.charging import api as charging_api
from apps.charging.contracts import RoamingCdrIn
from apps.common.errors import NotFound, ValidationFailed
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.roaming.models import ForeignCdr, OcpiConnection
from apps.roaming.services.emsp_in import ConnectionCpo
from apps.roaming.services.emsp_rules import flag, price_excl
from apps.roaming.services.tokens_in import connection_actor

_COSTS = ("cost", "fixed_cost", "energy_cost", "time_cost", "parking_cost", "reservation_cost")


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _incl(value: Any, version: str) -> Decimal | None:
    if version == "2.1.1" or not isinstance(value, Mapping):
        return None
    return _dec(value.get("incl_vat"))


def _not_billed(row: ForeignCdr, reason: str) -> None:
    row.flags = [*row.flags, flag("not_billed", reason)]
    row.save(update_fields=["flags", "updated_at"])


def cdr_bill(*, row: ForeignCdr, conn: OcpiConnection | ConnectionCpo, version: str) -> int | None:
    """Write the received CDR for the engines; returns the CDR id, or None (flagged)."""
    body: Mapping[str, Any] = row.data
    try:
        party_pk = parties_api.party_pk_for_tenant(
            tenant_id=row.tenant_id,
            country_code=row.country_code,
            party_id=row.party_id,
            role=PartyRole.CPO,
        )
    except ValidationFailed:
        _not_billed(
            row,
            f"no CPO party {row.country_code}*{row.party_id} in this tenant: add it as a partner "
            "(with its VAT rate) to bill this CDR",
        )
        return None
    totals: dict[str, tuple[Decimal, Decimal | None]] = {}
    for name in _COSTS:
        value = body.get(f"total_{name}")
        excl = price_excl(value, version)
        if excl is not None:
            totals[name] = (excl, _incl(value, version))
    start = parse_datetime(str(body.get("start_date_time") or ""))
    end_raw = body.get("end_date_time" if version != "2.1.1" else "stop_date_time")
    end = parse_datetime(str(end_raw or ""))
    token_obj = body.get("cdr_token")
    token: Mapping[str, Any] = token_obj if isinstance(token_obj, Mapping) else {}
    location = body.get("cdr_location" if version != "2.1.1" else "location")
    time_zone = location.get("time_zone") if isinstance(location, Mapping) else None
    if start is None or end is None:
        _not_billed(row, "start or end date-time missing or unreadable")
        return None
    try:
        cdr_id, _ = charging_api.roaming_cdr_record(
            cdr=RoamingCdrIn(
                tenant_id=row.tenant_id,
                cpo_party_pk=party_pk,
                ocpi_id=str(body.get("id")),
                start=start,
                end=end,
                currency=row.currency,
                energy_kwh=_dec(body.get("total_energy")) or Decimal(0),
                time_hours=_dec(body.get("total_time")) or Decimal(0),
                parking_hours=_dec(body.get("total_parking_time")) or Decimal(0),
                totals=totals,
                token_uid=str(token.get("uid") or ""),
                token_contract_id=str(token.get("contract_id") or body.get("auth_id") or ""),
                data=dict(body),
                time_zone=time_zone if isinstance(time_zone, str) else None,
                credit_reference_id=row.credit_reference_id or None,
                source={"ocpi_connection": conn.pk, "foreign_cdr": row.pk, "version": version},
            ),
            actor=connection_actor(conn),
        )
    except (ValidationFailed, NotFound) as exc:
        problems = getattr(exc, "problems", ())
        detail = "; ".join(str(p) for p in problems) or str(exc)
        _not_billed(row, f"{exc}: {detail}" if problems else detail)
        return None
    return cdr_id
