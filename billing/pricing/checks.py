"""Declarative checks of OCPI objects: a field table per object, each field a check
(``obj``, ``items``, ``text``, ``enum``, ``number`` ...), and the classes tariffs and CDRs
share (DisplayText, GeoLocation, EnergyMix). Issues go to a ``Collector`` with their JSON
path (PRICING.md point 10). Null is the same as absent (as in the parsers).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.collect import CURRENCY_RE, TIME_RE, Collector, check_time_zone
from billing.pricing.model import PricingInputError

Check = Callable[[Collector, Any, str], Any]
Fields = dict[str, tuple[bool, Check]]  # name -> (required, check)
Rule = Callable[[Collector, Mapping[str, Any], str], None]

_ZERO = Decimal(0)


def text(max_len: int, pattern: str | None = None, example: str = "") -> Check:
    regex = re.compile(pattern + r"\Z") if pattern is not None else None

    def check(c: Collector, value: Any, path: str) -> str | None:
        got = c.string(value, path, max_len)
        if got is not None and regex is not None and not regex.match(got):
            c.add(path, f"expected {example or pattern}, got {got!r}")
            return None
        return got

    return check


def enum(*values: str) -> Check:
    choices = frozenset(values)

    def check(c: Collector, value: Any, path: str) -> str | None:
        return c.enum(value, path, choices)

    return check


def number(minimum: Decimal | None = None, maximum: Decimal | None = None) -> Check:
    def check(c: Collector, value: Any, path: str) -> Decimal | None:
        got = c.number(value, path, minimum=minimum)
        if got is not None and maximum is not None and got > maximum:
            c.add(path, f"must be <= {maximum}, got {got}")
        return got

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(c: Collector, value: Any, path: str) -> int | None:
        got = c.integer(value, path, minimum=minimum)
        if got is not None and maximum is not None and got > maximum:
            c.add(path, f"must be <= {maximum}, got {got}")
        return got

    return check


def boolean(c: Collector, value: Any, path: str) -> bool | None:
    return c.boolean(value, path)


def datetime(c: Collector, value: Any, path: str) -> Any:
    return c.datetime(value, path)


def time_of_day(c: Collector, value: Any, path: str) -> str | None:
    if not isinstance(value, str) or not TIME_RE.match(value):
        c.add(path, f"expected HH:MM (00:00-23:59), got {value!r}")
        return None
    return value


def currency(c: Collector, value: Any, path: str) -> str | None:
    got = c.string(value, path, 3)
    if got is not None and not CURRENCY_RE.match(got):
        c.add(path, f"expected an ISO 4217 code such as EUR, got {got!r}")
        return None
    return got


def time_zone(c: Collector, value: Any, path: str) -> str | None:
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

    def check(c: Collector, value: Any, path: str) -> Mapping[str, Any] | None:
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
    def check(c: Collector, value: Any, path: str) -> list[Any]:
        values = c.list_(value, path, non_empty=non_empty)
        for i, v in enumerate(values):
            item(c, v, f"{path}[{i}]")
        return values

    return check


def _instant(value: Any) -> dt.datetime | str | None:
    """A comparable form of a valid HH:MM or DateTime string (None when it is neither)."""
    if not isinstance(value, str):
        return None
    if TIME_RE.match(value):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def after(first: str, second: str) -> Rule:
    """``second`` must be after ``first`` (both DateTime or both HH:MM)."""

    def rule(c: Collector, o: Mapping[str, Any], path: str) -> None:
        a, b = _instant(o.get(first)), _instant(o.get(second))
        if a is None or b is None or type(a) is not type(b):
            return
        if b <= a:  # type: ignore[operator]
            c.add(f"{path}.{second}", f"must be after {first}")

    return rule


# --------------------------------------------------------------------------------------------
# Classes shared by tariffs and CDRs
# --------------------------------------------------------------------------------------------

DISPLAY_TEXT = obj({"language": (True, text(2)), "text": (True, text(512))})
LAT_221 = text(10, r"-?[0-9]{1,2}\.[0-9]{5,7}", "a latitude like 50.770774")
LON_221 = text(11, r"-?[0-9]{1,3}\.[0-9]{5,7}", "a longitude like -126.104965")
LAT_211 = text(10, r"-?[0-9]{1,2}\.[0-9]{6}", "a latitude with 6 decimals like 50.770774")
LON_211 = text(11, r"-?[0-9]{1,3}\.[0-9]{6}", "a longitude with 6 decimals like -126.104965")
GEO_221 = obj({"latitude": (True, LAT_221), "longitude": (True, LON_221)})
GEO_211 = obj({"latitude": (True, LAT_211), "longitude": (True, LON_211)})

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
