from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.charging.contracts import SessionStatus
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, Price, volume

_FOUR = Decimal("0.0001")


def _price(excl: Decimal | None, incl: Decimal | None) -> dict[str, Any] | None:
    """An OCPI Price with 4 decimals, as `Price` documents it (built directly: this runs
    for six prices of every CDR on a page)."""
    if excl is None:
        return None
    return {
        "excl_vat": excl.quantize(_FOUR),
        "incl_vat": None if incl is None else incl.quantize(_FOUR),
    }


class CdrToken(serializers.Serializer):  # type: ignore[type-arg]
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    uid = serializers.CharField()
    type = serializers.CharField()
    contract_id = serializers.CharField()


class SessionOut(serializers.Serializer):  # type: ignore[type-arg]
    """OCPI 2.2.1 Session fields the platform holds, with the live cost while active."""

    platform_id = serializers.IntegerField()
    id = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus])
    start_date_time = serializers.DateTimeField()
    end_date_time = serializers.DateTimeField(allow_null=True)
    kwh = volume()
    currency = serializers.CharField()
    total_cost = serializers.SerializerMethodField(help_text="live cost (null: not priced yet)")
    charge_station_id = serializers.IntegerField()
    location_id = serializers.CharField(allow_null=True)
    evse_uid = serializers.CharField(allow_null=True)
    connector_id = serializers.CharField(allow_null=True)
    cdr_token = CdrToken(allow_null=True)
    last_updated = serializers.DateTimeField()

    def get_id(self, obj: Any) -> str:
        return str(obj.platform_id)

    @extend_schema_field(Price(allow_null=True))
    def get_total_cost(self, obj: Any) -> dict[str, Any] | None:
        return _price(obj.total_cost_excl_vat, obj.total_cost_incl_vat)


class SessionListQuery(PageQuery):
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus], required=False)
    charge_station_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    started_from = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)


_COSTS = ("cost", "fixed_cost", "energy_cost", "time_cost", "parking_cost", "reservation_cost")
_PRICE_REF = {"$ref": "#/components/schemas/Price"}
_NULLABLE_PRICE = {"allOf": [_PRICE_REF], "nullable": True}

CDR_OUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "OCPI 2.2.1 CDR (charging_periods, cdr_token, cdr_location, tariffs, signed_data as "
        "stored), with the totals from the platform's typed columns and platform ids."
    ),
    "required": [
        "platform_id",
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "end_date_time",
        "currency",
        "total_cost",
        "total_energy",
        "total_time",
        "charging_periods",
        "credit",
        "last_updated",
    ],
    "properties": {
        "platform_id": {"type": "integer"},
        "session_platform_id": {"type": "integer", "nullable": True},
        "charge_station_id": {"type": "integer", "nullable": True},
        "country_code": {"type": "string"},
        "party_id": {"type": "string"},
        "id": {"type": "string"},
        "start_date_time": {"type": "string", "format": "date-time"},
        "end_date_time": {"type": "string", "format": "date-time"},
        "currency": {"type": "string"},
        "total_cost": _PRICE_REF,
        **{f"total_{c}": _NULLABLE_PRICE for c in _COSTS if c != "cost"},
        "total_energy": {"type": "number"},
        "total_time": {"type": "number"},
        "total_parking_time": {"type": "number"},
        "charging_periods": {"type": "array", "items": {"type": "object"}},
        "credit": {"type": "boolean"},
        "credit_reference_id": {"type": "string", "nullable": True},
        "last_updated": {"type": "string", "format": "date-time"},
    },
}

CDR_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "properties": {
        "data": {"type": "array", "items": CDR_OUT_SCHEMA},
        "next_cursor": {"type": "string", "nullable": True},
    },
}


def _iso(dt: Any) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def cdr_out(r: Any) -> dict[str, Any]:
    """The stored OCPI CDR with the authoritative columns laid over it (Decimals stay
    Decimals: money is written as JSON numbers without float)."""
    a = r.amounts
    out = {
        **r.data,
        "platform_id": r.platform_id,
        "session_platform_id": r.session_platform_id,
        "charge_station_id": r.charge_station_id,
        "country_code": r.country_code,
        "party_id": r.party_id,
        "id": r.id,
        "start_date_time": _iso(r.start_date_time),
        "end_date_time": _iso(r.end_date_time),
        "currency": r.currency,
        "total_energy": r.total_energy,
        "total_time": r.total_time,
        "total_parking_time": r.total_parking_time,
        "charging_periods": r.data.get("charging_periods", []),
        "credit": r.kind == "CREDIT",
        "credit_reference_id": r.credit_reference_id,
        "last_updated": _iso(r.last_updated),
    }
    for c in _COSTS:
        out[f"total_{c}"] = _price(a[f"total_{c}_excl_vat"], a[f"total_{c}_incl_vat"])
    return out


class CdrListQuery(PageQuery):
    date_from = serializers.DateTimeField(
        required=False, help_text="end_date_time at or after (UTC)"
    )
    date_to = serializers.DateTimeField(required=False, help_text="end_date_time before (UTC)")
    country_code = serializers.CharField(required=False, max_length=2, help_text="CPO party")
    party_id = serializers.CharField(required=False, max_length=3)
    charge_station_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
