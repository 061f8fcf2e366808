"""Sessions and CDRs as OCPI 2.2.1 objects: the one rendering the REST API returns and the
webhooks send (`session.*` events carry the Session, `cdr.created` the CDR), so an
integrator sees one shape wherever the object comes from.

Plain dicts with Decimal for money and energy and aware datetimes: the JSON writers keep
Decimals exact and write datetimes as UTC ISO 8601 with `Z`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.charging.contracts import CdrKind, CdrRecord, SessionRecord

_FOUR = Decimal("0.0001")
_COSTS = ("cost", "fixed_cost", "energy_cost", "time_cost", "parking_cost", "reservation_cost")


def price(excl: Decimal | None, incl: Decimal | None) -> dict[str, Any] | None:
    """An OCPI Price with 4 decimals; None when there is no amount."""
    if excl is None:
        return None
    return {
        "excl_vat": excl.quantize(_FOUR),
        "incl_vat": None if incl is None else incl.quantize(_FOUR),
    }


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def session_object(r: SessionRecord) -> dict[str, Any]:
    """The OCPI 2.2.1 Session, plus `platform_id` and `charge_station_id`; with
    `charging_periods` when the record carries them."""
    out: dict[str, Any] = {
        "platform_id": r.platform_id,
        "country_code": r.country_code,
        "party_id": r.party_id,
        "id": str(r.platform_id),
        "start_date_time": r.start_date_time,
        "end_date_time": r.end_date_time,
        "kwh": r.kwh,
        "cdr_token": r.cdr_token,
        "auth_method": r.auth_method,
        "location_id": r.location_id,
        "evse_uid": r.evse_uid,
        "connector_id": r.connector_id,
        "currency": r.currency,
        "total_cost": price(r.total_cost_excl_vat, r.total_cost_incl_vat),
        "status": r.status.value,
        "charge_station_id": r.charge_station_id,
        "last_updated": r.last_updated,
    }
    if r.charging_periods is not None:
        out["charging_periods"] = r.charging_periods
    return out


# The platform's notes that CDRs written before `Cdr.annotations` existed carry inside their
# stored OCPI object: left out of what the API and the webhooks show (the rows stay as stored).
LEGACY_NOTES = ("time_zone", "meter_start_wh", "meter_stop_wh", "ocpp_transaction_id", "pricing")


def cdr_object(r: CdrRecord) -> dict[str, Any]:
    """The stored OCPI CDR with the authoritative typed columns laid over it."""
    a = r.amounts
    out = r.data  # parsed for this call only: updated in place
    for key in LEGACY_NOTES:
        out.pop(key, None)
    out.update(
        platform_id=r.platform_id,
        session_platform_id=r.session_platform_id,
        charge_station_id=r.charge_station_id,
        country_code=r.country_code,
        party_id=r.party_id,
        id=r.id,
        start_date_time=r.start_date_time,
        end_date_time=r.end_date_time,
        currency=r.currency,
        total_energy=r.total_energy,
        total_time=r.total_time,
        total_parking_time=r.total_parking_time,
        charging_periods=out.get("charging_periods", []),
        credit=r.kind == CdrKind.CREDIT,
        credit_reference_id=r.credit_reference_id,
        last_updated=r.last_updated,
    )
    for c in _COSTS:
        out[f"total_{c}"] = price(a[f"total_{c}_excl_vat"], a[f"total_{c}_incl_vat"])
    return out


# What the eMSP tenant of a marketplace session sees (ADR 0027, docs/api.md "The eMSP
# view"): the OCPI object a roaming eMSP would receive over OCPI, with the platform id of
# the record itself; never the ids of the CPO tenant's internal rows (its charge station,
# its session row behind a CDR).
_CPO_INTERNALS = ("charge_station_id", "session_platform_id")


def emsp_session_object(r: SessionRecord) -> dict[str, Any]:
    """The OCPI 2.2.1 Session as its eMSP tenant sees it (`session_object` without the
    CPO's internals)."""
    out = session_object(r)
    for key in _CPO_INTERNALS:
        out.pop(key, None)
    return out


def emsp_cdr_object(r: CdrRecord) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR as its eMSP tenant sees it (`cdr_object` without the CPO's
    internals)."""
    out = cdr_object(r)
    for key in _CPO_INTERNALS:
        out.pop(key, None)
    return out
