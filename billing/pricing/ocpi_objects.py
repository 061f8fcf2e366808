"""Strict checks of the OCPI objects a CDR carries besides its charging periods.

``parse_cdr_session`` prices only start, end and charging periods, but a CDR from a partner
carries more: ``cdr_token``, ``cdr_location`` (2.1.1: a whole ``location``), ``tariffs``,
``signed_data``, the totals. PRICING.md point 10 applies to all of it: unknown or misspelled
keys, missing required fields and impossible values are issues naming their JSON path,
collected like every other issue. Field lists, lengths, enumerations and patterns follow
the OCPI 2.2.1 (mod_cdrs, mod_locations, mod_tokens, types) and 2.1.1 specifications.

The checks are small declarative schemas: a field table per object, each field a check.
Null is the same as absent (as in the tariff and CDR parsers).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.collect import _CURRENCY_RE, _TIME_RE, _Collector

Check = Callable[[_Collector, Any, str], Any]
Fields = dict[str, tuple[bool, Check]]  # name -> (required, check)
Rule = Callable[[_Collector, Mapping[str, Any], str], None]

_ZERO = Decimal(0)


def text(max_len: int, pattern: str | None = None, example: str = "") -> Check:
    regex = re.compile(pattern + r"\Z") if pattern is not None else None

    def check(c: _Collector, value: Any, path: str) -> str | None:
        got = c.string(value, path, max_len)
        if got is not None and regex is not None and not regex.match(got):
            c.add(path, f"expected {example or pattern}, got {got!r}")
            return None
        return got

    return check


def enum(*values: str) -> Check:
    choices = frozenset(values)

    def check(c: _Collector, value: Any, path: str) -> str | None:
        return c.enum(value, path, choices)

    return check


def number(minimum: Decimal | None = None, maximum: Decimal | None = None) -> Check:
    def check(c: _Collector, value: Any, path: str) -> Decimal | None:
        got = c.number(value, path, minimum=minimum)
        if got is not None and maximum is not None and got > maximum:
            c.add(path, f"must be <= {maximum}, got {got}")
        return got

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(c: _Collector, value: Any, path: str) -> int | None:
        got = c.integer(value, path, minimum=minimum)
        if got is not None and maximum is not None and got > maximum:
            c.add(path, f"must be <= {maximum}, got {got}")
        return got

    return check


def boolean(c: _Collector, value: Any, path: str) -> bool | None:
    return c.boolean(value, path)


def datetime(c: _Collector, value: Any, path: str) -> Any:
    return c.datetime(value, path)


def time_of_day(c: _Collector, value: Any, path: str) -> str | None:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        c.add(path, f"expected HH:MM (00:00-23:59), got {value!r}")
        return None
    return value


def currency(c: _Collector, value: Any, path: str) -> str | None:
    got = c.string(value, path, 3)
    if got is not None and not _CURRENCY_RE.match(got):
        c.add(path, f"expected an ISO 4217 code such as EUR, got {got!r}")
        return None
    return got


def time_zone(c: _Collector, value: Any, path: str) -> str | None:
    from billing.pricing.model import PricingInputError
    from billing.pricing.parse import check_time_zone

    got = c.string(value, path, 255)
    if got is None:
        return None
    try:
        return check_time_zone(got, path)
    except PricingInputError as exc:
        c.issues.extend(exc.issues)
        return None


def obj(fields: Fields, rule: Rule | None = None) -> Check:
    allowed = frozenset(fields)

    def check(c: _Collector, value: Any, path: str) -> Mapping[str, Any] | None:
        o = c.obj(value, path, allowed)
        if o is None:
            return None
        for name, (required, field_check) in fields.items():
            v = o.get(name)
            if v is None:
                if required:
                    c.add(f"{path}.{name}", "required")
                continue
            field_check(c, v, f"{path}.{name}")
        if rule is not None:
            rule(c, o, path)
        return o

    return check


def items(item: Check, *, non_empty: bool = False) -> Check:
    def check(c: _Collector, value: Any, path: str) -> list[Any]:
        values = c.list_(value, path, non_empty=non_empty)
        for i, v in enumerate(values):
            item(c, v, f"{path}[{i}]")
        return values

    return check


def _instant(value: Any) -> dt.datetime | str | None:
    """A comparable form of a valid HH:MM or DateTime string (None when it is neither)."""
    if not isinstance(value, str):
        return None
    if _TIME_RE.match(value):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _after(first: str, second: str) -> Rule:
    """``second`` must be after ``first`` (both DateTime or both HH:MM)."""

    def rule(c: _Collector, o: Mapping[str, Any], path: str) -> None:
        a, b = _instant(o.get(first)), _instant(o.get(second))
        if a is None or b is None or type(a) is not type(b):
            return
        if b <= a:  # type: ignore[operator]
            c.add(f"{path}.{second}", f"must be after {first}")

    return rule


# --------------------------------------------------------------------------------------------
# Shared classes
# --------------------------------------------------------------------------------------------

DISPLAY_TEXT = obj({"language": (True, text(2)), "text": (True, text(512))})
_LAT_221 = text(10, r"-?[0-9]{1,2}\.[0-9]{5,7}", "a latitude like 50.770774")
_LON_221 = text(11, r"-?[0-9]{1,3}\.[0-9]{5,7}", "a longitude like -126.104965")
_LAT_211 = text(10, r"-?[0-9]{1,2}\.[0-9]{6}", "a latitude with 6 decimals like 50.770774")
_LON_211 = text(11, r"-?[0-9]{1,3}\.[0-9]{6}", "a longitude with 6 decimals like -126.104965")
GEO_221 = obj({"latitude": (True, _LAT_221), "longitude": (True, _LON_221)})
GEO_211 = obj({"latitude": (True, _LAT_211), "longitude": (True, _LON_211)})

_ENERGY_SOURCES = enum(
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"
)
_IMPACTS = enum("NUCLEAR_WASTE", "CARBON_DIOXIDE")
_ENERGY_SOURCE = obj(
    {"source": (True, _ENERGY_SOURCES), "percentage": (True, number(_ZERO, Decimal(100)))}
)


def _energy_mix(impact_key: str) -> Check:
    return obj(
        {
            "is_green_energy": (True, boolean),
            "energy_sources": (False, items(_ENERGY_SOURCE)),
            "environ_impact": (
                False,
                items(obj({impact_key: (True, _IMPACTS), "amount": (True, number(_ZERO))})),
            ),
            "supplier_name": (False, text(64)),
            "energy_product_name": (False, text(64)),
        }
    )


# 2.2.1 EnvironmentalImpact has ``category``; 2.1.1 calls the same field ``source``
ENERGY_MIX = {"2.2.1": _energy_mix("category"), "2.1.1": _energy_mix("source")}

_CONNECTOR_TYPES_211 = (
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
    *_CONNECTOR_TYPES_211,
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
    _after("period_begin", "period_end"),
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


def _one_of_hours(c: _Collector, o: Mapping[str, Any], path: str) -> None:
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
                    _after("period_begin", "period_end"),
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
        "standard": (True, enum(*_CONNECTOR_TYPES_211)),
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
                    _after("period_begin", "period_end"),
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
                        "latitude": (True, _LAT_211),
                        "longitude": (True, _LON_211),
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


def _tariffs(c: _Collector, value: Any, path: str) -> list[Any]:
    """A CDR's ``tariffs``: each a tariff of the collector's OCPI version, checked as
    ``parse_tariff`` checks it (without compiling it); ids unique."""
    from billing.pricing.parse import tariff_fields

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


def check_cdr_extras(c: _Collector, cdr: Mapping[str, Any]) -> None:
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


def _credit_rules(c: _Collector, cdr: Mapping[str, Any]) -> None:
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


def _tariff_references(c: _Collector, cdr: Mapping[str, Any]) -> None:
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
