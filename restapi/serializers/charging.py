from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.charging.contracts import SessionStatus
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, Price, volume


class CdrToken(serializers.Serializer):
    country_code = serializers.CharField(help_text="issuing eMSP; empty for an unknown token")
    party_id = serializers.CharField()
    uid = serializers.CharField()
    type = serializers.CharField()
    contract_id = serializers.CharField()


class Dimension(serializers.Serializer):
    type = serializers.CharField(help_text="OCPI CdrDimensionType: ENERGY, TIME, PARKING_TIME, ...")
    volume = serializers.DecimalField(max_digits=20, decimal_places=6, coerce_to_string=False)


class ChargingPeriod(serializers.Serializer):
    start_date_time = serializers.DateTimeField()
    dimensions = Dimension(many=True)
    tariff_id = serializers.CharField(required=False)


class SessionOut(serializers.Serializer):
    """OCPI 2.2.1 Session, with the live cost while active (the CDR's total once it exists),
    plus `platform_id` and `charge_station_id`. Rendered by `apps.charging.ocpi`; this class
    documents it."""

    platform_id = serializers.IntegerField()
    country_code = serializers.CharField(help_text="CPO party of the location")
    party_id = serializers.CharField()
    id = serializers.CharField(help_text="the platform_id as a string")
    start_date_time = serializers.DateTimeField()
    end_date_time = serializers.DateTimeField(allow_null=True)
    kwh = volume()
    cdr_token = CdrToken()
    auth_method = serializers.ChoiceField(choices=["AUTH_REQUEST", "COMMAND", "WHITELIST"])
    location_id = serializers.CharField(allow_null=True)
    evse_uid = serializers.CharField(allow_null=True)
    connector_id = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    charging_periods = ChargingPeriod(
        many=True,
        required=False,
        help_text=(
            "the pricing core's split of the meter timeline (the CDR's once it exists); "
            "always in GET /sessions/{id}, in lists only with expand=charging_periods"
        ),
    )
    total_cost = Price(allow_null=True, help_text="live cost; the CDR's total once it exists")
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus])
    charge_station_id = serializers.IntegerField()
    last_updated = serializers.DateTimeField()


class SessionListQuery(PageQuery):
    status = serializers.ChoiceField(choices=[s.value for s in SessionStatus], required=False)
    charge_station_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    started_from = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)
    expand = serializers.MultipleChoiceField(
        choices=["charging_periods"],
        required=False,
        help_text="expand=charging_periods: include each session's charging periods",
    )

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if "expand" in values:
            values["expand"] = sorted(values["expand"])
        return values


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


class CdrListQuery(PageQuery):
    date_from = serializers.DateTimeField(
        required=False, help_text="end_date_time at or after (UTC)"
    )
    date_to = serializers.DateTimeField(required=False, help_text="end_date_time before (UTC)")
    country_code = serializers.CharField(required=False, max_length=2, help_text="CPO party")
    party_id = serializers.CharField(required=False, max_length=3)
    charge_station_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class EmspSessionListQuery(PageQuery):
    expand = serializers.MultipleChoiceField(
        choices=["charging_periods"],
        required=False,
        help_text="expand=charging_periods: include each session's charging periods",
    )


class EmspCdrListQuery(PageQuery):
    date_from = serializers.DateTimeField(
        required=False, help_text="end_date_time at or after (UTC)"
    )
    date_to = serializers.DateTimeField(required=False, help_text="end_date_time before (UTC)")
