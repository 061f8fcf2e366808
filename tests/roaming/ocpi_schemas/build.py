"""Writes the OCPI JSON Schema set (draft 2020-12) in ocpi_schemas/<version>/<name>.json from
the object definitions below, transcribed from the spec (2.2.1: branch
`release-2.2.1-bugfixes`, i.e. 2.2.1-d2; 2.1.1: tag `2.1.1`): the property tables of
mod_locations, mod_tariffs, mod_sessions, mod_cdrs, mod_tokens, mod_commands,
mod_hub_client_info, credentials, version_information_endpoint and types.

Strict, as our outbound objects must be: every object closed (`additionalProperties:
false`), cardinality 1 / + required, `+` lists non-empty, enums closed, lengths of
string(n) / CiString(n), printable ASCII for CiString, no control characters for string,
DateTime as RFC 3339 in UTC, `null` nowhere (an optional field is left out).

Each file is self-contained (nested objects inlined), so an error's path is the path in the
document. Regenerate after a change here:

    .venv/bin/python -m tests.roaming.ocpi_schemas.build

(tests/roaming/test_ocpi_schemas.py fails while the files differ from this module.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DIALECT = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]

# -- primitive types (types.asciidoc) -----------------------------------------------------------


def ci(n: int) -> Schema:
    """CiString(n): printable ASCII, compared case-insensitively."""
    return {"type": "string", "maxLength": n, "pattern": "^[\\x20-\\x7E]*$"}


def s(n: int) -> Schema:
    """string(n): printable UTF-8 (no carriage returns, tabs, line breaks...)."""
    return {"type": "string", "maxLength": n, "pattern": "^[^\\x00-\\x1F\\x7F]*$"}


URL: Schema = {"type": "string", "maxLength": 255, "pattern": "^[A-Za-z][A-Za-z0-9+.-]*://\\S+$"}
DATETIME: Schema = {
    "type": "string",
    "maxLength": 25,
    "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
    ":[0-5][0-9](\\.[0-9]+)?Z?$",
}
NUMBER: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
COUNTRY_CODE: Schema = {"type": "string", "pattern": "^[A-Za-z]{2}$"}  # CiString(2)
PARTY_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9]{3}$"}  # CiString(3)
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}  # ISO 4217, string(3)
COUNTRY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}  # ISO 3166-1 alpha-3
LANGUAGE: Schema = {"type": "string", "pattern": "^[a-z]{2}$"}  # ISO 639-1, string(2)
TIME_OF_DAY: Schema = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
DATE: Schema = {
    "type": "string",
    "pattern": "^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
}
LATITUDE: Schema = {"type": "string", "maxLength": 10, "pattern": "^-?[0-9]{1,2}\\.[0-9]{5,7}$"}
LONGITUDE: Schema = {"type": "string", "maxLength": 11, "pattern": "^-?[0-9]{1,3}\\.[0-9]{5,7}$"}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def many(item: Schema) -> Schema:  # cardinality *
    return {"type": "array", "items": item}


def some(item: Schema) -> Schema:  # cardinality +
    return {"type": "array", "items": item, "minItems": 1}


def obj(title: str, required: dict[str, Schema], optional: dict[str, Schema] | None = None):
    """A closed object: `required` (cardinality 1 / +) and `optional` (? / *) properties,
    in the spec's order is not kept (required first), which JSON does not care about."""
    props = {**required, **(optional or {})}
    return {
        "title": title,
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": False,
    }


DISPLAY_TEXT = obj("DisplayText", {"language": LANGUAGE, "text": s(512)})
PRICE = obj("Price", {"excl_vat": NUMBER}, {"incl_vat": NUMBER})
GEO = obj("GeoLocation", {"latitude": LATITUDE, "longitude": LONGITUDE})
ADDITIONAL_GEO = obj(
    "AdditionalGeoLocation", {"latitude": LATITUDE, "longitude": LONGITUDE}, {"name": DISPLAY_TEXT}
)
IMAGE_CATEGORY = enum("CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER")
ENERGY_SOURCE_CATEGORY = enum(
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"
)
ENVIRON_CATEGORY = enum("NUCLEAR_WASTE", "CARBON_DIOXIDE")
STATUS = enum(
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)
DAY_OF_WEEK = enum("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
CONNECTOR_FORMAT = enum("SOCKET", "CABLE")
EXCEPTIONAL = obj("ExceptionalPeriod", {"period_begin": DATETIME, "period_end": DATETIME})
REGULAR_HOURS = obj(
    "RegularHours",
    {
        "weekday": {"type": "integer", "minimum": 1, "maximum": 7},
        "period_begin": TIME_OF_DAY,
        "period_end": TIME_OF_DAY,
    },
)
STATUS_SCHEDULE = obj(
    "StatusSchedule", {"period_begin": DATETIME, "status": STATUS}, {"period_end": DATETIME}
)
ENERGY_MIX = obj(
    "EnergyMix",
    {"is_green_energy": BOOL},
    {
        "energy_sources": many(
            obj("EnergySource", {"source": ENERGY_SOURCE_CATEGORY, "percentage": NUMBER})
        ),
        "environ_impact": many(
            obj("EnvironmentalImpact", {"category": ENVIRON_CATEGORY, "amount": NUMBER})
        ),
        "supplier_name": s(64),
        "energy_product_name": s(64),
    },
)

# -- 2.2.1 --------------------------------------------------------------------------------------

V221: dict[str, Schema] = {}

_IMAGE_221 = obj(
    "Image",
    {"url": URL, "category": IMAGE_CATEGORY, "type": ci(4)},
    {
        "thumbnail": URL,
        "width": {"type": "integer", "minimum": 0, "maximum": 99999},
        "height": {"type": "integer", "minimum": 0, "maximum": 99999},
    },
)
_BUSINESS_221 = obj("BusinessDetails", {"name": s(100)}, {"website": URL, "logo": _IMAGE_221})
_CONNECTOR_TYPE_221 = enum(
    "CHADEMO",
    "CHAOJI",
    *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKLMNO"),
    "GBT_AC",
    "GBT_DC",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
)
_POWER_TYPE_221 = enum("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC")
_TOKEN_TYPE_221 = enum("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
_ROLE_221 = enum("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")
_MODULE_ID_221 = enum(
    "cdrs",
    "chargingprofiles",
    "commands",
    "credentials",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
)
_VERSION_NUMBER_221 = enum("2.0", "2.1", "2.1.1", "2.2", "2.2.1")
_PROFILE_TYPE = enum("CHEAP", "FAST", "GREEN", "REGULAR")

V221["display_text"] = DISPLAY_TEXT
V221["price"] = PRICE
V221["datetime"] = {"title": "DateTime", **DATETIME}
V221["connector"] = obj(
    "Connector",
    {
        "id": ci(36),
        "standard": _CONNECTOR_TYPE_221,
        "format": CONNECTOR_FORMAT,
        "power_type": _POWER_TYPE_221,
        "max_voltage": INT,
        "max_amperage": INT,
        "last_updated": DATETIME,
    },
    {"max_electric_power": INT, "tariff_ids": many(ci(36)), "terms_and_conditions": URL},
)
V221["evse"] = obj(
    "EVSE",
    {
        "uid": ci(36),
        "status": STATUS,
        "connectors": some(V221["connector"]),
        "last_updated": DATETIME,
    },
    {
        "evse_id": ci(48),
        "status_schedule": many(STATUS_SCHEDULE),
        "capabilities": many(
            enum(
                "CHARGING_PROFILE_CAPABLE",
                "CHARGING_PREFERENCES_CAPABLE",
                "CHIP_CARD_SUPPORT",
                "CONTACTLESS_CARD_SUPPORT",
                "CREDIT_CARD_PAYABLE",
                "DEBIT_CARD_PAYABLE",
                "PED_TERMINAL",
                "REMOTE_START_STOP_CAPABLE",
                "RESERVABLE",
                "RFID_READER",
                "START_SESSION_CONNECTOR_REQUIRED",
                "TOKEN_GROUP_CAPABLE",
                "UNLOCK_CAPABLE",
            )
        ),
        "floor_level": s(4),
        "coordinates": GEO,
        "physical_reference": s(16),
        "directions": many(DISPLAY_TEXT),
        "parking_restrictions": many(
            enum("EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES")
        ),
        "images": many(_IMAGE_221),
    },
)
V221["hours"] = obj(
    "Hours",
    {"twentyfourseven": BOOL},
    {
        "regular_hours": many(REGULAR_HOURS),
        "exceptional_openings": many(EXCEPTIONAL),
        "exceptional_closings": many(EXCEPTIONAL),
    },
)
V221["energy_mix"] = ENERGY_MIX
V221["location"] = obj(
    "Location",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "id": ci(36),
        "publish": BOOL,
        "address": s(255),
        "city": s(45),
        "country": COUNTRY,
        "coordinates": GEO,
        "time_zone": s(255),
        "last_updated": DATETIME,
    },
    {
        "publish_allowed_to": many(
            obj(
                "PublishTokenType",
                {},
                {
                    "uid": ci(36),
                    "type": _TOKEN_TYPE_221,
                    "visual_number": s(64),
                    "issuer": s(64),
                    "group_id": ci(36),
                },
            )
        ),
        "name": s(255),
        "postal_code": s(10),
        "state": s(45),
        "related_locations": many(ADDITIONAL_GEO),
        "parking_type": enum(
            "ALONG_MOTORWAY",
            "PARKING_GARAGE",
            "PARKING_LOT",
            "ON_DRIVEWAY",
            "ON_STREET",
            "UNDERGROUND_GARAGE",
        ),
        "evses": many(V221["evse"]),
        "directions": many(DISPLAY_TEXT),
        "operator": _BUSINESS_221,
        "suboperator": _BUSINESS_221,
        "owner": _BUSINESS_221,
        "facilities": many(
            enum(
                "HOTEL",
                "RESTAURANT",
                "CAFE",
                "MALL",
                "SUPERMARKET",
                "SPORT",
                "RECREATION_AREA",
                "NATURE",
                "MUSEUM",
                "BIKE_SHARING",
                "BUS_STOP",
                "TAXI_STAND",
                "TRAM_STOP",
                "METRO_STATION",
                "TRAIN_STATION",
                "AIRPORT",
                "PARKING_LOT",
                "CARPOOL_PARKING",
                "FUEL_STATION",
                "WIFI",
            )
        ),
        "opening_times": V221["hours"],
        "charging_when_closed": BOOL,
        "images": many(_IMAGE_221),
        "energy_mix": ENERGY_MIX,
    },
)
_RESTRICTIONS_221 = obj(
    "TariffRestrictions",
    {},
    {
        "start_time": TIME_OF_DAY,
        "end_time": TIME_OF_DAY,
        "start_date": DATE,
        "end_date": DATE,
        "min_kwh": NUMBER,
        "max_kwh": NUMBER,
        "min_current": NUMBER,
        "max_current": NUMBER,
        "min_power": NUMBER,
        "max_power": NUMBER,
        "min_duration": INT,
        "max_duration": INT,
        "day_of_week": many(DAY_OF_WEEK),
        "reservation": enum("RESERVATION", "RESERVATION_EXPIRES"),
    },
)
V221["tariff"] = obj(
    "Tariff",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "id": ci(36),
        "currency": CURRENCY,
        "elements": some(
            obj(
                "TariffElement",
                {
                    "price_components": some(
                        obj(
                            "PriceComponent",
                            {
                                "type": enum("ENERGY", "FLAT", "PARKING_TIME", "TIME"),
                                "price": NUMBER,
                                "step_size": INT,
                            },
                            {"vat": NUMBER},
                        )
                    )
                },
                {"restrictions": _RESTRICTIONS_221},
            )
        ),
        "last_updated": DATETIME,
    },
    {
        "type": enum("AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"),
        "tariff_alt_text": many(DISPLAY_TEXT),
        "tariff_alt_url": URL,
        "min_price": PRICE,
        "max_price": PRICE,
        "start_date_time": DATETIME,
        "end_date_time": DATETIME,
        "energy_mix": ENERGY_MIX,
    },
)
_AUTH_METHOD_221 = enum("AUTH_REQUEST", "COMMAND", "WHITELIST")
V221["cdr_token"] = obj(
    "CdrToken",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "uid": ci(36),
        "type": _TOKEN_TYPE_221,
        "contract_id": ci(36),
    },
)
V221["charging_period"] = obj(
    "ChargingPeriod",
    {
        "start_date_time": DATETIME,
        "dimensions": some(
            obj(
                "CdrDimension",
                {
                    "type": enum(
                        "CURRENT",
                        "ENERGY",
                        "ENERGY_EXPORT",
                        "ENERGY_IMPORT",
                        "MAX_CURRENT",
                        "MIN_CURRENT",
                        "MAX_POWER",
                        "MIN_POWER",
                        "PARKING_TIME",
                        "POWER",
                        "RESERVATION_TIME",
                        "STATE_OF_CHARGE",
                        "TIME",
                    ),
                    "volume": NUMBER,
                },
            )
        ),
    },
    {"tariff_id": ci(36)},
)
V221["session"] = obj(
    "Session",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "id": ci(36),
        "start_date_time": DATETIME,
        "kwh": NUMBER,
        "cdr_token": V221["cdr_token"],
        "auth_method": _AUTH_METHOD_221,
        "location_id": ci(36),
        "evse_uid": ci(36),
        "connector_id": ci(36),
        "currency": CURRENCY,
        "status": enum("ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"),
        "last_updated": DATETIME,
    },
    {
        "end_date_time": DATETIME,
        "authorization_reference": ci(36),
        "meter_id": s(255),
        "charging_periods": many(V221["charging_period"]),
        "total_cost": PRICE,
    },
)
V221["cdr"] = obj(
    "CDR",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "id": ci(39),
        "start_date_time": DATETIME,
        "end_date_time": DATETIME,
        "cdr_token": V221["cdr_token"],
        "auth_method": _AUTH_METHOD_221,
        "cdr_location": obj(
            "CdrLocation",
            {
                "id": ci(36),
                "address": s(45),
                "city": s(45),
                "country": COUNTRY,
                "coordinates": GEO,
                "evse_uid": ci(36),
                "evse_id": ci(48),
                "connector_id": ci(36),
                "connector_standard": _CONNECTOR_TYPE_221,
                "connector_format": CONNECTOR_FORMAT,
                "connector_power_type": _POWER_TYPE_221,
            },
            {"name": s(255), "postal_code": s(10), "state": s(20)},
        ),
        "currency": CURRENCY,
        "charging_periods": some(V221["charging_period"]),
        "total_cost": PRICE,
        "total_energy": NUMBER,
        "total_time": NUMBER,
        "last_updated": DATETIME,
    },
    {
        "session_id": ci(36),
        "authorization_reference": ci(36),
        "meter_id": s(255),
        "tariffs": many(V221["tariff"]),
        "signed_data": obj(
            "SignedData",
            {
                "encoding_method": ci(36),
                "signed_values": some(
                    obj(
                        "SignedValue",
                        {"nature": ci(32), "plain_data": s(5000), "signed_data": s(5000)},
                    )
                ),
            },
            {"encoding_method_version": INT, "public_key": s(512), "url": s(512)},
        ),
        "total_fixed_cost": PRICE,
        "total_energy_cost": PRICE,
        "total_time_cost": PRICE,
        "total_parking_time": NUMBER,
        "total_parking_cost": PRICE,
        "total_reservation_cost": PRICE,
        "remark": s(255),
        "invoice_reference_id": ci(39),
        "credit": BOOL,
        "credit_reference_id": ci(39),
        "home_charging_compensation": BOOL,
    },
)
V221["token"] = obj(
    "Token",
    {
        "country_code": COUNTRY_CODE,
        "party_id": PARTY_ID,
        "uid": ci(36),
        "type": _TOKEN_TYPE_221,
        "contract_id": ci(36),
        "issuer": s(64),
        "valid": BOOL,
        "whitelist": enum("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"),
        "last_updated": DATETIME,
    },
    {
        "visual_number": s(64),
        "group_id": ci(36),
        "language": LANGUAGE,
        "default_profile_type": _PROFILE_TYPE,
        "energy_contract": obj("EnergyContract", {"supplier_name": s(64)}, {"contract_id": s(64)}),
    },
)
V221["authorization_info"] = obj(
    "AuthorizationInfo",
    {
        "allowed": enum("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"),
        "token": V221["token"],
    },
    {
        "location": obj("LocationReferences", {"location_id": ci(36)}, {"evse_uids": many(ci(36))}),
        "authorization_reference": ci(36),
        "info": DISPLAY_TEXT,
    },
)
V221["command_response"] = obj(
    "CommandResponse",
    {
        "result": enum("NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"),
        "timeout": {"type": "integer", "minimum": 0},
    },
    {"message": many(DISPLAY_TEXT)},
)
V221["command_result"] = obj(
    "CommandResult",
    {
        "result": enum(
            "ACCEPTED",
            "CANCELED_RESERVATION",
            "EVSE_OCCUPIED",
            "EVSE_INOPERATIVE",
            "FAILED",
            "NOT_SUPPORTED",
            "REJECTED",
            "TIMEOUT",
            "UNKNOWN_RESERVATION",
        )
    },
    {"message": many(DISPLAY_TEXT)},
)
V221["start_session"] = obj(
    "StartSession",
    {"response_url": URL, "token": V221["token"], "location_id": ci(36)},
    {"evse_uid": ci(36), "connector_id": ci(36), "authorization_reference": ci(36)},
)
V221["stop_session"] = obj("StopSession", {"response_url": URL, "session_id": ci(36)})
V221["reserve_now"] = obj(
    "ReserveNow",
    {
        "response_url": URL,
        "token": V221["token"],
        "expiry_date": DATETIME,
        "reservation_id": ci(36),
        "location_id": ci(36),
    },
    {"evse_uid": ci(36), "authorization_reference": ci(36)},
)
V221["cancel_reservation"] = obj(
    "CancelReservation", {"response_url": URL, "reservation_id": ci(36)}
)
V221["unlock_connector"] = obj(
    "UnlockConnector",
    {"response_url": URL, "location_id": ci(36), "evse_uid": ci(36), "connector_id": ci(36)},
)
V221["credentials"] = obj(
    "Credentials",
    {
        "token": s(64),
        "url": URL,
        "roles": some(
            obj(
                "CredentialsRole",
                {
                    "role": _ROLE_221,
                    "business_details": _BUSINESS_221,
                    "party_id": PARTY_ID,
                    "country_code": COUNTRY_CODE,
                },
            )
        ),
    },
)
V221["versions"] = {
    "title": "Version list",
    **some(obj("Version", {"version": _VERSION_NUMBER_221, "url": URL})),
}
V221["version_details"] = obj(
    "VersionDetails",
    {
        "version": _VERSION_NUMBER_221,
        "endpoints": some(
            obj(
                "Endpoint",
                {
                    "identifier": _MODULE_ID_221,
                    "role": enum("SENDER", "RECEIVER"),
                    "url": URL,
                },
            )
        ),
    },
)
V221["client_info"] = obj(
    "ClientInfo",
    {
        "party_id": PARTY_ID,
        "country_code": COUNTRY_CODE,
        "role": _ROLE_221,
        "status": enum("CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"),
        "last_updated": DATETIME,
    },
)
V221["response"] = obj(
    "Response (envelope)",
    {"status_code": {"type": "integer", "minimum": 1000, "maximum": 4999}, "timestamp": DATETIME},
    {"data": {}, "status_message": s(255)},
)

# -- 2.1.1 --------------------------------------------------------------------------------------

V211: dict[str, Schema] = {}

_IMAGE_211 = obj(
    "Image",
    {"url": URL, "category": IMAGE_CATEGORY, "type": s(4)},
    {
        "thumbnail": URL,
        "width": {"type": "integer", "minimum": 0, "maximum": 99999},
        "height": {"type": "integer", "minimum": 0, "maximum": 99999},
    },
)
_BUSINESS_211 = obj("BusinessDetails", {"name": s(100)}, {"website": URL, "logo": _IMAGE_211})
_CONNECTOR_TYPE_211 = enum(
    "CHADEMO",
    *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKL"),
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "TESLA_R",
    "TESLA_S",
)
_POWER_TYPE_211 = enum("AC_1_PHASE", "AC_3_PHASE", "DC")
_VERSION_NUMBER_211 = enum("2.0", "2.1", "2.1.1")

V211["display_text"] = DISPLAY_TEXT
V211["datetime"] = {"title": "DateTime", **DATETIME}
V211["connector"] = obj(
    "Connector",
    {
        "id": s(36),
        "standard": _CONNECTOR_TYPE_211,
        "format": CONNECTOR_FORMAT,
        "power_type": _POWER_TYPE_211,
        "voltage": INT,
        "amperage": INT,
        "last_updated": DATETIME,
    },
    {"tariff_id": s(36), "terms_and_conditions": URL},
)
V211["evse"] = obj(
    "EVSE",
    {
        "uid": s(39),
        "status": STATUS,
        "connectors": some(V211["connector"]),
        "last_updated": DATETIME,
    },
    {
        "evse_id": s(48),
        "status_schedule": many(STATUS_SCHEDULE),
        "capabilities": many(
            enum(
                "CHARGING_PROFILE_CAPABLE",
                "CREDIT_CARD_PAYABLE",
                "REMOTE_START_STOP_CAPABLE",
                "RESERVABLE",
                "RFID_READER",
                "UNLOCK_CAPABLE",
            )
        ),
        "floor_level": s(4),
        "coordinates": GEO,
        "physical_reference": s(16),
        "directions": many(DISPLAY_TEXT),
        "parking_restrictions": many(
            enum("EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES")
        ),
        "images": many(_IMAGE_211),
    },
)
# 2.1.1 Hours: either regular_hours or twentyfourseven (one of the two), plus exceptions.
_HOURS_211: Schema = {
    **obj(
        "Hours",
        {},
        {
            "regular_hours": some(REGULAR_HOURS),
            "twentyfourseven": BOOL,
            "exceptional_openings": many(EXCEPTIONAL),
            "exceptional_closings": many(EXCEPTIONAL),
        },
    ),
    "oneOf": [{"required": ["regular_hours"]}, {"required": ["twentyfourseven"]}],
}
V211["location"] = obj(
    "Location",
    {
        "id": s(39),
        "type": enum(
            "ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"
        ),
        "address": s(45),
        "city": s(45),
        "postal_code": s(10),
        "country": COUNTRY,
        "coordinates": GEO,
        "last_updated": DATETIME,
    },
    {
        "name": s(255),
        "related_locations": many(ADDITIONAL_GEO),
        "evses": many(V211["evse"]),
        "directions": many(DISPLAY_TEXT),
        "operator": _BUSINESS_211,
        "suboperator": _BUSINESS_211,
        "owner": _BUSINESS_211,
        "facilities": many(
            enum(
                "HOTEL",
                "RESTAURANT",
                "CAFE",
                "MALL",
                "SUPERMARKET",
                "SPORT",
                "RECREATION_AREA",
                "NATURE",
                "MUSEUM",
                "BUS_STOP",
                "TAXI_STAND",
                "TRAIN_STATION",
                "AIRPORT",
                "CARPOOL_PARKING",
                "FUEL_STATION",
                "WIFI",
            )
        ),
        "time_zone": s(255),
        "opening_times": _HOURS_211,
        "charging_when_closed": BOOL,
        "images": many(_IMAGE_211),
        "energy_mix": ENERGY_MIX,
    },
)
V211["tariff"] = obj(
    "Tariff",
    {
        "id": s(36),
        "currency": CURRENCY,
        "elements": some(
            obj(
                "TariffElement",
                {
                    "price_components": some(
                        obj(
                            "PriceComponent",
                            {
                                "type": enum("ENERGY", "FLAT", "PARKING_TIME", "TIME"),
                                "price": NUMBER,
                                "step_size": INT,
                            },
                        )
                    )
                },
                {
                    "restrictions": obj(
                        "TariffRestrictions",
                        {},
                        {
                            "start_time": TIME_OF_DAY,
                            "end_time": TIME_OF_DAY,
                            "start_date": DATE,
                            "end_date": DATE,
                            "min_kwh": NUMBER,
                            "max_kwh": NUMBER,
                            "min_power": NUMBER,
                            "max_power": NUMBER,
                            "min_duration": INT,
                            "max_duration": INT,
                            "day_of_week": many(DAY_OF_WEEK),
                        },
                    )
                },
            )
        ),
        "last_updated": DATETIME,
    },
    {"tariff_alt_text": many(DISPLAY_TEXT), "tariff_alt_url": URL, "energy_mix": ENERGY_MIX},
)
_AUTH_METHOD_211 = enum("AUTH_REQUEST", "WHITELIST")
V211["charging_period"] = obj(
    "ChargingPeriod",
    {
        "start_date_time": DATETIME,
        "dimensions": some(
            obj(
                "CdrDimension",
                {
                    "type": enum(
                        "ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"
                    ),
                    "volume": NUMBER,
                },
            )
        ),
    },
)
V211["session"] = obj(
    "Session",
    {
        "id": s(36),
        "start_datetime": DATETIME,
        "kwh": NUMBER,
        "auth_id": s(36),
        "auth_method": _AUTH_METHOD_211,
        "location": V211["location"],
        "currency": CURRENCY,
        "status": enum("ACTIVE", "COMPLETED", "INVALID", "PENDING"),
        "last_updated": DATETIME,
    },
    {
        "end_datetime": DATETIME,
        "meter_id": s(255),
        "charging_periods": many(V211["charging_period"]),
        "total_cost": NUMBER,
    },
)
V211["cdr"] = obj(
    "CDR",
    {
        "id": ci(36),
        "start_date_time": DATETIME,
        "stop_date_time": DATETIME,
        "auth_id": s(36),
        "auth_method": _AUTH_METHOD_211,
        "location": V211["location"],
        "currency": CURRENCY,
        "charging_periods": some(V211["charging_period"]),
        "total_cost": NUMBER,
        "total_energy": NUMBER,
        "total_time": NUMBER,
        "last_updated": DATETIME,
    },
    {
        "meter_id": s(255),
        "tariffs": many(V211["tariff"]),
        "total_parking_time": NUMBER,
        "remark": s(255),
    },
)
V211["token"] = obj(
    "Token",
    {
        "uid": s(36),
        "type": enum("OTHER", "RFID"),
        "auth_id": s(36),
        "issuer": s(64),
        "valid": BOOL,
        "whitelist": enum("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"),
        "last_updated": DATETIME,
    },
    {"visual_number": s(64), "language": LANGUAGE},
)
V211["authorization_info"] = obj(
    "AuthorizationInfo",
    {"allowed": enum("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")},
    {
        "location": obj(
            "LocationReferences",
            {"location_id": s(39)},
            {"evse_uids": many(s(39)), "connector_ids": many(s(36))},
        ),
        "info": DISPLAY_TEXT,
    },
)
# 2.1.1 has no CommandResult: the CPO POSTs a CommandResponse to response_url, too.
V211["command_response"] = obj(
    "CommandResponse",
    {"result": enum("NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION")},
    {"message": many(DISPLAY_TEXT)},
)
V211["start_session"] = obj(
    "StartSession",
    {"response_url": URL, "token": V211["token"], "location_id": s(39)},
    {"evse_uid": s(39)},
)
V211["stop_session"] = obj("StopSession", {"response_url": URL, "session_id": s(36)})
V211["reserve_now"] = obj(
    "ReserveNow",
    {
        "response_url": URL,
        "token": V211["token"],
        "expiry_date": DATETIME,
        "reservation_id": INT,
        "location_id": s(39),
    },
    {"evse_uid": s(39)},
)
V211["unlock_connector"] = obj(
    "UnlockConnector",
    {"response_url": URL, "location_id": s(39), "evse_uid": s(39), "connector_id": s(36)},
)
V211["credentials"] = obj(
    "Credentials",
    {
        "token": s(64),
        "url": URL,
        "business_details": _BUSINESS_211,
        "party_id": PARTY_ID,
        "country_code": COUNTRY_CODE,
    },
)
V211["versions"] = {
    "title": "Version list",
    **some(obj("Version", {"version": _VERSION_NUMBER_211, "url": URL})),
}
V211["version_details"] = obj(
    "VersionDetails",
    {
        "version": _VERSION_NUMBER_211,
        "endpoints": some(
            obj(
                "Endpoint",
                {
                    "identifier": enum(
                        "cdrs",
                        "commands",
                        "credentials",
                        "locations",
                        "sessions",
                        "tariffs",
                        "tokens",
                    ),
                    "url": URL,
                },
            )
        ),
    },
)
V211["response"] = V221["response"]

VERSIONS = {"2.2.1": V221, "2.1.1": V211}


def rendered() -> dict[Path, str]:
    """Every schema file's path and text."""
    out: dict[Path, str] = {}
    for version, schemas in VERSIONS.items():
        for name, schema in schemas.items():
            doc = {
                "$schema": DIALECT,
                "$id": f"https://schemas.evcharge.invalid/ocpi/{version}/{name}.json",
                **schema,
            }
            out[HERE / version / f"{name}.json"] = json.dumps(doc, indent=1) + "\n"
    return out


def main() -> None:
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    main()
