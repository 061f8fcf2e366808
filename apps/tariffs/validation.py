"""Structural validation of an OCPI 2.2.1 Tariff object, with JSON paths.

This is the interim check until the pricing core's strict parser (`billing.pricing.
parse_tariff`) is merged; `services.tariff_version_add` is the one place that calls it, so
every interface (admin, REST, OCPI) gets the same error paths.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from apps.common.errors import Problem

COMPONENT_TYPES = {"ENERGY", "FLAT", "PARKING_TIME", "TIME"}
TARIFF_TYPES = {"AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"}


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _price(value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(value, dict):
        for key in ("excl_vat", "incl_vat"):
            if key in value:
                _price(value[key], f"{path}.{key}", problems)
        if "excl_vat" not in value:
            problems.append(Problem(f"{path}.excl_vat", "is required"))
        return
    d = _decimal(value)
    if d is None:
        problems.append(Problem(path, "must be a decimal number"))
    elif d < 0:
        problems.append(Problem(path, "must not be negative"))


def tariff_problems(data: Any) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return [Problem("$", "must be an OCPI Tariff object")]
    for key, length in (("country_code", 2), ("party_id", 3), ("id", 36), ("currency", 3)):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"$.{key}", "is required"))
        elif len(value) > length:
            problems.append(Problem(f"$.{key}", f"at most {length} characters"))
    if "type" in data and data["type"] not in TARIFF_TYPES:
        problems.append(Problem("$.type", f"must be one of {', '.join(sorted(TARIFF_TYPES))}"))
    for key in ("min_price", "max_price"):
        if key in data and data[key] is not None:
            _price(data[key], f"$.{key}", problems)
    elements = data.get("elements")
    if not isinstance(elements, list) or not elements:
        problems.append(Problem("$.elements", "at least one tariff element is required"))
        return problems
    for i, element in enumerate(elements):
        epath = f"$.elements[{i}]"
        if not isinstance(element, dict):
            problems.append(Problem(epath, "must be an object"))
            continue
        components = element.get("price_components")
        if not isinstance(components, list) or not components:
            problems.append(Problem(f"{epath}.price_components", "at least one is required"))
            continue
        for j, component in enumerate(components):
            cpath = f"{epath}.price_components[{j}]"
            if not isinstance(component, dict):
                problems.append(Problem(cpath, "must be an object"))
                continue
            if component.get("type") not in COMPONENT_TYPES:
                problems.append(
                    Problem(f"{cpath}.type", f"must be one of {', '.join(sorted(COMPONENT_TYPES))}")
                )
            _price(component.get("price"), f"{cpath}.price", problems)
            if "vat" in component and component["vat"] is not None:
                _price(component["vat"], f"{cpath}.vat", problems)
            step = component.get("step_size")
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                problems.append(Problem(f"{cpath}.step_size", "must be a whole number >= 0"))
        restrictions = element.get("restrictions")
        if restrictions is not None and not isinstance(restrictions, dict):
            problems.append(Problem(f"{epath}.restrictions", "must be an object"))
    return problems


def to_storable(value: Any) -> Any:
    """Decimals as strings for the JSON column (never floats); read back by `from_stored`."""
    if isinstance(value, dict):
        return {k: to_storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_storable(v) for v in value]
    if isinstance(value, float):
        return str(Decimal(str(value)))
    if isinstance(value, Decimal):
        return str(value)
    return value


_NUMERIC_KEYS = {
    "price",
    "vat",
    "excl_vat",
    "incl_vat",
    "min_kwh",
    "max_kwh",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
}


def from_stored(value: Any, key: str = "") -> Any:
    """The stored OCPI object with its money and energy numbers as Decimal."""
    if isinstance(value, dict):
        return {k: from_stored(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [from_stored(v, key) for v in value]
    if (
        key in _NUMERIC_KEYS
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
    ):
        d = _decimal(value)
        return d if d is not None else value
    return value
