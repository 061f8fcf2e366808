from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.tariffs.contracts import BillingEngine, TariffRecord
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID

_PRICE = {"type": "number", "minimum": 0}
_PRICE_OBJ = {
    "type": "object",
    "properties": {"excl_vat": _PRICE, "incl_vat": _PRICE},
    "required": ["excl_vat"],
}
# The OCPI 2.2.1 Tariff object, as the pricing core reads it. The body is validated by the
# tariffs service (one parser for every interface), so this schema documents the shape and
# the service reports problems with the same JSON paths.
OCPI_TARIFF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "OCPI 2.2.1 Tariff",
    "required": ["country_code", "party_id", "id", "currency", "elements"],
    "properties": {
        "country_code": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "party_id": {"type": "string", "pattern": "^[A-Z0-9]{3}$"},
        "id": {"type": "string", "minLength": 1, "maxLength": 36},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "type": {
            "type": "string",
            "enum": ["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"],
        },
        "tariff_alt_text": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"language": {"type": "string"}, "text": {"type": "string"}},
            },
        },
        "min_price": _PRICE_OBJ,
        "max_price": _PRICE_OBJ,
        "elements": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["price_components"],
                "properties": {
                    "price_components": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "price", "step_size"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "enum": ["ENERGY", "FLAT", "PARKING_TIME", "TIME"],
                                },
                                "price": _PRICE,
                                "vat": _PRICE,
                                "step_size": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                    "restrictions": {"type": "object"},
                },
            },
        },
        "start_date_time": {"type": "string", "format": "date-time"},
        "end_date_time": {"type": "string", "format": "date-time"},
        "last_updated": {"type": "string", "format": "date-time"},
    },
}

_VERSION = {
    "type": "object",
    "properties": {
        "version": {"type": "integer"},
        "effective_from": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
    },
    "required": ["version", "effective_from", "created_at"],
}

TARIFF_OUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "OCPI 2.2.1 Tariff of the version in force now, plus platform_id, "
    "current_version and the list of versions",
    "required": [
        "platform_id",
        "engine",
        "country_code",
        "party_id",
        "id",
        "currency",
        "versions",
    ],
    "properties": {
        "platform_id": {"type": "integer"},
        "engine": {
            "type": "string",
            "enum": [e.value for e in BillingEngine],
            "description": "the billing engine the tariff serves (platform field, not OCPI)",
        },
        "current_version": {"type": "integer", "nullable": True},
        "versions": {"type": "array", "items": _VERSION},
        **OCPI_TARIFF_SCHEMA["properties"],
    },
}

TARIFF_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "properties": {
        "data": {"type": "array", "items": TARIFF_OUT_SCHEMA},
        "next_cursor": {"type": "string", "nullable": True},
    },
}


def tariff_out(record: TariffRecord) -> dict[str, Any]:
    return {
        **(record.ocpi or {}),
        "platform_id": record.platform_id,
        "engine": record.engine,
        "country_code": record.country_code,
        "party_id": record.party_id,
        "id": record.id,
        "currency": record.currency,
        "current_version": record.current_version,
        "versions": [
            {"version": v.version, "effective_from": v.effective_from, "created_at": v.created_at}
            for v in record.versions
        ],
    }


class TariffWriteQuery(serializers.Serializer):
    effective_from = serializers.DateTimeField(
        required=False,
        help_text="when these prices take effect (default: now); never in the past for a "
        "new version of an existing tariff",
    )


class TariffCreateQuery(TariffWriteQuery):
    engine = serializers.ChoiceField(
        choices=[e.value for e in BillingEngine],
        required=False,
        help_text="the billing engine the new tariff serves (default WHOLESALE): WHOLESALE "
        "and REIMBURSEMENT tariffs belong to a CPO identity of yours, RETAIL ones to an eMSP "
        "identity; country_code and party_id in the body name it",
    )


class TariffListQuery(PageQuery):
    country_code = serializers.CharField(required=False, max_length=2)
    party_id = serializers.CharField(required=False, max_length=3)
    engine = serializers.ChoiceField(choices=[e.value for e in BillingEngine], required=False)


class TariffCodeIn(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Za-z0-9_.\-]{1,64}$")
    tariff_id = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="the tariff's platform_id"
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TariffCodeOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    description = serializers.CharField()
    tariff_id = serializers.IntegerField()


class TariffAssignmentIn(serializers.Serializer):
    charge_station_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    tariff_code = serializers.CharField(max_length=64)
    effective_from = serializers.DateTimeField(required=False, help_text="default: now")
    evse_uid = serializers.CharField(max_length=36, required=False)
    connector_id = serializers.CharField(
        max_length=36, required=False, help_text="with evse_uid: a per-connector override"
    )


class TariffAssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    charge_station_id = serializers.IntegerField()
    connector_pk = serializers.IntegerField(allow_null=True)
    tariff_code = serializers.CharField()
    tariff_id = serializers.IntegerField()
    effective_from = serializers.DateTimeField()


class TariffAssignmentListQuery(PageQuery):
    charge_station_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
