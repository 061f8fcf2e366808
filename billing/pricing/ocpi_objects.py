"""Strict checks of the OCPI objects a CDR carries besides its charging periods.

``parse_cdr_session`` prices only start, end and charging periods, but a CDR from a partner
carries more: ``cdr_token``, ``cdr_location`` (2.1.1: a whole ``location``), ``tariffs``,
``signed_data``, the totals. PRICING.md point 10 applies to all of it: unknown or misspelled
keys, missing required fields and impossible values are issues naming their JSON path,
collected like every other issue. Field lists, lengths, enumerations and patterns follow
the OCPI 2.2.1 (mod_cdrs, mod_locations, mod_tokens, types) and 2.1.1 specifications.

The checks are small declarative schemas (``checks.py``): a field table per object, each
field a check. Null is the same as absent (as in the tariff and CDR parsers).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.checks import (
    DISPLAY_TEXT,
    ENERGY_MIX,
    GEO_211,
    GEO_221,
    LAT_211,
    LON_211,
    Fields,
    after,
    boolean,
    currency,
    datetime,
    enum,
    integer,
    items,
    number,
    obj,
    text,
    time_of_day,
    time_zone,
)
from billing.pricing.collect import Collector
from billing.pricing.tariff_parser import tariff_fields

_ZERO = Decimal(0)

# OCPI 2.1.1 ConnectorType (public: the roaming app renders 2.1.1 connectors with it).
CONNECTOR_TYPES_211 = (
    "CHADEMO",
    *(f"DOMESTIC_{x}" for x in "ABCDEFGHIJKL"),
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
_CONNECTOR_TYPES_221 = (
    *CONNECTOR_TYPES_211,
    "CHAOJI",
    "DOMESTIC_M",
    "DOMESTIC_N",
    "DOMESTIC_O",
    "GBT_AC",
    "GBT_DC",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
)
_CONNECTOR_FORMAT = enum("SOCKET", "CABLE")

# --------------------------------------------------------------------------------------------
# OCPI 2.2.1 CDR
# --------------------------------------------------------------------------------------------

CDR_TOKEN_221 = obj(
    {
        "country_code": (True, text(2)),
        "party_id": (True, text(3)),
        "uid": (True, text(36)),
        "type": (True, enum("AD_HOC_USER", "APP_USER", "OTHER", "RFID")),
        "contract_id": (True, text(36)),
    }
)
CDR_LOCATION_221 = obj(
    {
        "id": (True, text(36)),
        "name": (False, text(255)),
        "address": (True, text(45)),
        "city": (True, text(45)),
        "postal_code": (False, text(10)),
        "state": (False, text(20)),
        "country": (True, text(3)),
        "coordinates": (True, GEO_221),
        "evse_uid": (True, text(36)),
        "evse_id": (True, text(48)),
        "connector_id": (True, text(36)),
        "connector_standard": (True, enum(*_CONNECTOR_TYPES_221)),
        "connector_format": (True, _CONNECTOR_FORMAT),
        "connector_power_type": (
            True,
            enum("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"),
        ),
    }
)
SIGNED_DATA_221 = obj(
    {
        "encoding_method": (True, text(36)),
        "encoding_method_version": (False, integer()),
        "public_key": (False, text(512)),
        "signed_values": (
            True,
            items(
                obj(
                    {
                        "nature": (True, text(32)),
                        "plain_data": (True, text(5000)),
                        "signed_data": (True, text(5000)),
                    }
                ),
                non_empty=True,
            ),
        ),
        "url": (False, text(512)),
    }
)
PRICE_221 = obj({"excl_vat": (True, number()), "incl_vat": (False, number())})
COST_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)

# --------------------------------------------------------------------------------------------
# OCPI 2.1.1 CDR: its ``location`` is a whole Location object (with the EVSE and connector)
# --------------------------------------------------------------------------------------------

_IMAGE_211 = obj(
    {
        "url": (True, text(255)),
        "thumbnail": (False, text(255)),
        "category": (
            True,
            enum("CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"),
        ),
        "type": (True, text(4)),
        "width": (False, integer(0, 99999)),
        "height": (False, integer(0, 99999)),
    }
)
_BUSINESS_211 = obj(
    {"name": (True, text(100)), "website": (False, text(255)), "logo": (False, _IMAGE_211)}
)
_PERIOD_211 = obj(
    {"period_begin": (True, datetime), "period_end": (True, datetime)},
    after("period_begin", "period_end"),
)
_STATUS_211 = enum(
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


def _one_of_hours(c: Collector, o: Mapping[str, Any], path: str) -> None:
    given = [k for k in ("regular_hours", "twentyfourseven") if o.get(k) is not None]
    if len(given) != 1:
        c.add(path, "exactly one of regular_hours and twentyfourseven is required")


_HOURS_211 = obj(
    {
        "regular_hours": (
            False,
            items(
                obj(
                    {
                        "weekday": (True, integer(1, 7)),
                        "period_begin": (True, time_of_day),
                        "period_end": (True, time_of_day),
                    },
                    after("period_begin", "period_end"),
                )
            ),
        ),
        "twentyfourseven": (False, boolean),
        "exceptional_openings": (False, items(_PERIOD_211)),
        "exceptional_closings": (False, items(_PERIOD_211)),
    },
    _one_of_hours,
)
_CONNECTOR_211 = obj(
    {
        "id": (True, text(36)),
        "standard": (True, enum(*CONNECTOR_TYPES_211)),
        "format": (True, _CONNECTOR_FORMAT),
        "power_type": (True, enum("AC_1_PHASE", "AC_3_PHASE", "DC")),
        "voltage": (True, integer(0)),
        "amperage": (True, integer(0)),
        "tariff_id": (False, text(36)),
        "terms_and_conditions": (False, text(255)),
        "last_updated": (True, datetime),
    }
)
_EVSE_211 = obj(
    {
        "uid": (True, text(39)),
        "evse_id": (False, text(48)),
        "status": (True, _STATUS_211),
        "status_schedule": (
            False,
            items(
                obj(
                    {
                        "period_begin": (True, datetime),
                        "period_end": (False, datetime),
                        "status": (True, _STATUS_211),
                    },
                    after("period_begin", "period_end"),
                )
            ),
        ),
        "capabilities": (
            False,
            items(
                enum(
                    "CHARGING_PROFILE_CAPABLE",
                    "CREDIT_CARD_PAYABLE",
                    "REMOTE_START_STOP_CAPABLE",
                    "RESERVABLE",
                    "RFID_READER",
                    "UNLOCK_CAPABLE",
                )
            ),
        ),
        "connectors": (True, items(_CONNECTOR_211, non_empty=True)),
        "floor_level": (False, text(4)),
        "coordinates": (False, GEO_211),
        "physical_reference": (False, text(16)),
        "directions": (False, items(DISPLAY_TEXT)),
        "parking_restrictions": (
            False,
            items(enum("EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES")),
        ),
        "images": (False, items(_IMAGE_211)),
        "last_updated": (True, datetime),
    }
)
LOCATION_211 = obj(
    {
        "id": (True, text(39)),
        "type": (
            True,
            enum(
                "ON_STREET",
                "PARKING_GARAGE",
                "UNDERGROUND_GARAGE",
                "PARKING_LOT",
                "OTHER",
                "UNKNOWN",
            ),
        ),
        "name": (False, text(255)),
        "address": (True, text(45)),
        "city": (True, text(45)),
        "postal_code": (True, text(10)),
        "country": (True, text(3)),
        "coordinates": (True, GEO_211),
        "related_locations": (
            False,
            items(
                obj(
                    {
                        "latitude": (True, LAT_211),
                        "longitude": (True, LON_211),
                        "name": (False, DISPLAY_TEXT),
                    }
                )
            ),
        ),
        "evses": (False, items(_EVSE_211)),
        "directions": (False, items(DISPLAY_TEXT)),
        "operator": (False, _BUSINESS_211),
        "suboperator": (False, _BUSINESS_211),
        "owner": (False, _BUSINESS_211),
        "facilities": (
            False,
            items(
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
        ),
        "time_zone": (False, time_zone),
        "opening_times": (False, _HOURS_211),
        "charging_when_closed": (False, boolean),
        "images": (False, items(_IMAGE_211)),
        "energy_mix": (False, ENERGY_MIX["2.1.1"]),
        "last_updated": (True, datetime),
    }
)


def _tariffs(c: Collector, value: Any, path: str) -> list[Any]:
    """A CDR's ``tariffs``: each a tariff of the collector's OCPI version, checked as
    ``parse_tariff`` checks it (without compiling it); ids unique."""
    values = c.list_(value, path, non_empty=False)
    seen: dict[str, int] = {}
    for i, raw in enumerate(values):
        fields = tariff_fields(c, raw, f"{path}[{i}]")
        if fields is None:
            continue
        key = str(fields["id"]).casefold()
        if key in seen:
            c.add(
                f"{path}[{i}].id", f"tariff {fields['id']!r} is listed twice (also [{seen[key]}])"
            )
        else:
            seen[key] = i
    return values


# The fields of a CDR other than start, end and charging_periods (which parse.py reads),
# per OCPI version: (required, check). A CDR given to the pricer need not be complete (the
# ``split`` output is a minimal CDR): the top-level fields are optional here, but every
# object present is checked whole, with its own required fields.
_TOP_221: Fields = {
    "country_code": (False, text(2)),
    "party_id": (False, text(3)),
    "id": (False, text(39)),
    "session_id": (False, text(36)),
    "cdr_token": (False, CDR_TOKEN_221),
    "auth_method": (False, enum("AUTH_REQUEST", "COMMAND", "WHITELIST")),
    "authorization_reference": (False, text(36)),
    "cdr_location": (False, CDR_LOCATION_221),
    "meter_id": (False, text(255)),
    "currency": (False, currency),
    "tariffs": (False, _tariffs),
    "signed_data": (False, SIGNED_DATA_221),
    **{name: (False, PRICE_221) for name in COST_FIELDS},
    "total_energy": (False, number()),
    "total_time": (False, number()),  # signs: _credit_rules
    "total_parking_time": (False, number()),
    "remark": (False, text(255)),
    "invoice_reference_id": (False, text(39)),
    "credit": (False, boolean),
    "credit_reference_id": (False, text(39)),
    "home_charging_compensation": (False, boolean),
    "last_updated": (False, datetime),
}
_TOP_211: Fields = {
    "id": (False, text(36)),
    "auth_id": (False, text(36)),
    "auth_method": (False, enum("AUTH_REQUEST", "WHITELIST")),
    "location": (False, LOCATION_211),
    "meter_id": (False, text(255)),
    "currency": (False, currency),
    "tariffs": (False, _tariffs),
    "total_cost": (False, number(_ZERO)),
    "total_energy": (False, number()),
    "total_time": (False, number(_ZERO)),
    "total_parking_time": (False, number(_ZERO)),
    "remark": (False, text(255)),
    "last_updated": (False, datetime),
}
TOP_FIELDS = {"2.2.1": _TOP_221, "2.1.1": _TOP_211}


def check_cdr_extras(c: Collector, cdr: Mapping[str, Any]) -> None:
    """Check every field of ``cdr`` except start, end and charging periods, and the rules
    that tie fields together. Unknown top-level keys are reported by the caller."""
    fields = TOP_FIELDS[c.version]
    for name, value in cdr.items():
        spec = fields.get(name)
        if spec is not None and value is not None:
            spec[1](c, value, f"$.{name}")
    if c.version == "2.2.1":
        _credit_rules(c, cdr)
    total_time, parking = cdr.get("total_time"), cdr.get("total_parking_time")
    if (
        _is_number(total_time)
        and _is_number(parking)
        and abs(Decimal(str(parking))) > abs(Decimal(str(total_time)))
    ):
        c.add("$.total_parking_time", f"exceeds total_time ({total_time} h)")
    _tariff_references(c, cdr)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _credit_rules(c: Collector, cdr: Mapping[str, Any]) -> None:
    """Signs, and what a Credit CDR (``credit: true``) needs: the id of the CDR it credits
    and a ``total_cost`` that is not positive (mod_cdrs, Credit CDRs). OCPI 2.2.1 negates
    only ``total_cost``; some implementations (this platform's ``cdr_credit`` among them)
    negate every amount and volume: in a Credit CDR the other fields may have either sign."""
    credit = cdr.get("credit") is True
    if credit and cdr.get("credit_reference_id") is None:
        c.add("$.credit_reference_id", "required for a Credit CDR (credit: true)")
    if not credit and cdr.get("credit_reference_id") is not None:
        c.add("$.credit_reference_id", "only a Credit CDR (credit: true) references another CDR")
    cdr_id = cdr.get("id")
    if not credit and isinstance(cdr_id, str) and len(cdr_id) > 36:
        c.add("$.id", "longer than 36 characters (only a Credit CDR id may have 39)")
    values: list[tuple[str, Any]] = [
        (f"$.{name}.{side}", price.get(side))
        for name in COST_FIELDS
        if isinstance(price := cdr.get(name), Mapping)
        for side in ("excl_vat", "incl_vat")
    ]
    values += [(f"$.{name}", cdr.get(name)) for name in ("total_time", "total_parking_time")]
    for path, v in values:
        if not _is_number(v):
            continue
        if credit and path.startswith("$.total_cost."):
            if v > 0:
                c.add(path, f"a Credit CDR's total_cost is not positive: {v}")
        elif not credit and v < 0:
            c.add(path, f"must be >= 0, got {v}")


def _tariff_references(c: Collector, cdr: Mapping[str, Any]) -> None:
    """A period's tariff_id names one of the CDR's own ``tariffs`` (when it lists any), and
    those tariffs are in the CDR's currency."""
    tariffs = cdr.get("tariffs")
    if not isinstance(tariffs, list) or not tariffs:
        return
    listed = [t for t in tariffs if isinstance(t, Mapping)]
    folded = {t["id"].casefold() for t in listed if isinstance(t.get("id"), str)}
    cur = cdr.get("currency")
    if isinstance(cur, str):
        for i, t in enumerate(tariffs):
            other = t.get("currency") if isinstance(t, Mapping) else None
            if isinstance(other, str) and other != cur:
                c.add(f"$.tariffs[{i}].currency", f"{other} differs from the CDR's currency {cur}")
    periods = cdr.get("charging_periods")
    if not isinstance(periods, list):
        return
    for i, p in enumerate(periods):
        tid = p.get("tariff_id") if isinstance(p, Mapping) else None
        if isinstance(tid, str) and tid.casefold() not in folded:
            c.add(
                f"$.charging_periods[{i}].tariff_id",
                f"{tid!r} is not the id of one of the CDR's tariffs",
            )
