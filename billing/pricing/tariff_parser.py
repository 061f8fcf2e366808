"""The strict OCPI tariff parser: 2.2.1 and 2.1.1 tariffs into the pricing model.

PRICING.md point 10: unknown or misspelled keys and impossible values are errors naming their
JSON path; every issue is collected before ``PricingInputError`` is raised. ``tariff_fields``
also checks the tariffs a CDR carries (``ocpi_objects.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing.pricing.checks import ENERGY_MIX
from billing.pricing.collect import CURRENCY_RE, DATE_RE, TIME_RE, Collector, check_version
from billing.pricing.model import (
    DayOfWeek,
    Dimension,
    DisplayText,
    Price,
    PriceComponent,
    ReservationRestriction,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from billing.pricing.tariff import Tariff

_TARIFF_KEYS = {
    "2.2.1": frozenset(
        {
            "country_code",
            "party_id",
            "id",
            "currency",
            "type",
            "tariff_alt_text",
            "tariff_alt_url",
            "min_price",
            "max_price",
            "elements",
            "start_date_time",
            "end_date_time",
            "energy_mix",
            "last_updated",
        }
    ),
    "2.1.1": frozenset(
        {
            "id",
            "currency",
            "tariff_alt_text",
            "tariff_alt_url",
            "elements",
            "energy_mix",
            "last_updated",
        }
    ),
}
_ELEMENT_KEYS = frozenset({"price_components", "restrictions"})
_COMPONENT_KEYS = {
    "2.2.1": frozenset({"type", "price", "vat", "step_size"}),
    "2.1.1": frozenset({"type", "price", "step_size"}),
}
# OCPI 2.1.1 TariffRestrictions keys (public: the roaming app renders 2.1.1 tariffs with it).
RESTRICTION_KEYS_211 = frozenset(
    {
        "start_time",
        "end_time",
        "start_date",
        "end_date",
        "min_kwh",
        "max_kwh",
        "min_power",
        "max_power",
        "min_duration",
        "max_duration",
        "day_of_week",
    }
)
_RESTRICTION_KEYS = {
    "2.2.1": RESTRICTION_KEYS_211 | {"min_current", "max_current", "reservation"},
    "2.1.1": RESTRICTION_KEYS_211,
}
_PRICE_KEYS = frozenset({"excl_vat", "incl_vat"})
_DISPLAY_TEXT_KEYS = frozenset({"language", "text"})


def parse_tariff(data: Mapping[str, Any], *, ocpi_version: str = "2.2.1") -> Tariff:
    """Validate an OCPI tariff (2.2.1, or 2.1.1 converted to the 2.2.1 model)."""
    check_version(ocpi_version)
    c = Collector(ocpi_version)
    fields = tariff_fields(c, data, "$")
    c.raise_if_any()
    assert fields is not None
    return Tariff(**fields)


def tariff_fields(c: Collector, data: Any, base: str) -> dict[str, Any] | None:
    """Check a tariff document at JSON path ``base`` (issues go to ``c``, in the
    collector's OCPI version); the ``Tariff`` fields when its required parts are there.
    Used by ``parse_tariff`` and for the ``tariffs`` a CDR carries (not compiled there)."""
    ocpi_version = c.version
    root = c.obj(data, base, _TARIFF_KEYS[ocpi_version])
    if root is None:
        return None
    v221 = ocpi_version == "2.2.1"
    country_code = party_id = None
    if v221:
        country_code = c.string(c.required(root, "country_code", base), f"{base}.country_code", 2)
        party_id = c.string(c.required(root, "party_id", base), f"{base}.party_id", 3)
    tariff_id = c.string(c.required(root, "id", base), f"{base}.id", 36)
    currency = c.string(c.required(root, "currency", base), f"{base}.currency")
    if currency is not None and not CURRENCY_RE.match(currency):
        c.add(f"{base}.currency", f"expected an ISO 4217 code such as EUR, got {currency!r}")
    ttype = c.enum(root.get("type"), f"{base}.type", tuple(TariffType))
    alt_texts: list[DisplayText] = []
    for i, item in enumerate(
        c.list_(root.get("tariff_alt_text"), f"{base}.tariff_alt_text", non_empty=False)
    ):
        p = f"{base}.tariff_alt_text[{i}]"
        obj = c.obj(item, p, _DISPLAY_TEXT_KEYS)
        if obj is not None:
            lang = c.string(c.required(obj, "language", p), f"{p}.language", 2)
            text = c.string(c.required(obj, "text", p), f"{p}.text", 512)
            if lang is not None and text is not None:
                alt_texts.append(DisplayText(lang, text))
    alt_url = c.string(root.get("tariff_alt_url"), f"{base}.tariff_alt_url")
    min_price = _price(c, root.get("min_price"), f"{base}.min_price")
    max_price = _price(c, root.get("max_price"), f"{base}.max_price")
    if min_price is not None and max_price is not None:
        if min_price.excl_vat > max_price.excl_vat:
            c.add(f"{base}.min_price.excl_vat", "must not exceed max_price.excl_vat")
        if (
            min_price.incl_vat is not None
            and max_price.incl_vat is not None
            and min_price.incl_vat > max_price.incl_vat
        ):
            c.add(f"{base}.min_price.incl_vat", "must not exceed max_price.incl_vat")
    start_dt = c.datetime(root.get("start_date_time"), f"{base}.start_date_time")
    end_dt = c.datetime(root.get("end_date_time"), f"{base}.end_date_time")
    if start_dt is not None and end_dt is not None and end_dt <= start_dt:
        c.add(f"{base}.end_date_time", "must be after start_date_time")
    energy_mix = root.get("energy_mix")
    if energy_mix is not None:
        ENERGY_MIX[c.version](c, energy_mix, f"{base}.energy_mix")
    last_updated = c.datetime(root.get("last_updated"), f"{base}.last_updated")
    elements: list[TariffElement] = []
    raw_elements = c.list_(c.required(root, "elements", base), f"{base}.elements", non_empty=True)
    for i, raw in enumerate(raw_elements):
        el = _element(c, raw, f"{base}.elements[{i}]")
        if el is not None:
            elements.append(el)
    if tariff_id is None or currency is None:
        return None
    return dict(
        id=tariff_id,
        currency=currency,
        elements=tuple(elements),
        country_code=country_code,
        party_id=party_id,
        type=TariffType(ttype) if ttype is not None else None,
        tariff_alt_text=tuple(alt_texts),
        tariff_alt_url=alt_url,
        min_price=min_price,
        max_price=max_price,
        start_date_time=start_dt,
        end_date_time=end_dt,
        energy_mix=dict(energy_mix) if isinstance(energy_mix, Mapping) else None,
        last_updated=last_updated,
        source_version=c.version,
    )


def _price(c: Collector, value: Any, path: str) -> Price | None:
    if value is None:
        return None
    obj = c.obj(value, path, _PRICE_KEYS)
    if obj is None:
        return None
    excl = c.number(c.required(obj, "excl_vat", path), f"{path}.excl_vat", minimum=Decimal(0))
    incl = c.number(obj.get("incl_vat"), f"{path}.incl_vat", minimum=Decimal(0))
    if excl is None:
        return None
    return Price(excl, incl)


def _element(c: Collector, raw: Any, path: str) -> TariffElement | None:
    obj = c.obj(raw, path, _ELEMENT_KEYS)
    if obj is None:
        return None
    restrictions = None
    if obj.get("restrictions") is not None:
        restrictions = _restrictions(c, obj["restrictions"], f"{path}.restrictions")
    comps: list[PriceComponent] = []
    seen: set[Dimension] = set()
    raw_comps = c.list_(
        c.required(obj, "price_components", path), f"{path}.price_components", non_empty=True
    )
    for j, rc in enumerate(raw_comps):
        cp = f"{path}.price_components[{j}]"
        comp = _component(c, rc, cp)
        if comp is None:
            continue
        if comp.type in seen:
            c.add(f"{cp}.type", f"second {comp.type} component in one element")
        seen.add(comp.type)
        if (
            restrictions is not None
            and restrictions.reservation is not None
            and comp.type not in (Dimension.FLAT, Dimension.TIME)
        ):
            c.add(f"{cp}.type", "a reservation element can only have FLAT and TIME components")
        comps.append(comp)
    return TariffElement(tuple(comps), restrictions)


def _component(c: Collector, raw: Any, path: str) -> PriceComponent | None:
    obj = c.obj(raw, path, _COMPONENT_KEYS[c.version])
    if obj is None:
        return None
    ctype = c.enum(c.required(obj, "type", path), f"{path}.type", tuple(Dimension))
    price = c.number(c.required(obj, "price", path), f"{path}.price", minimum=Decimal(0))
    vat = c.number(obj.get("vat"), f"{path}.vat", minimum=Decimal(0))
    if vat is not None and vat > 100:
        c.add(f"{path}.vat", f"a VAT percentage above 100 is not plausible: {vat}")
    step = c.integer(c.required(obj, "step_size", path), f"{path}.step_size", minimum=0)
    if ctype is None or price is None or step is None:
        return None
    return PriceComponent(Dimension(ctype), price, step, vat)


def _time_of_day(c: Collector, value: Any, path: str) -> dt.time | None:
    if value is None:
        return None
    if not isinstance(value, str) or not TIME_RE.match(value):
        c.add(path, f"expected HH:MM (00:00-23:59), got {value!r}")
        return None
    return dt.time(int(value[:2]), int(value[3:5]))


def _date(c: Collector, value: Any, path: str) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not DATE_RE.match(value):
        c.add(path, f"expected YYYY-MM-DD, got {value!r}")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        c.add(path, f"no such date: {value!r}")
        return None


def _restrictions(c: Collector, raw: Any, path: str) -> TariffRestrictions | None:
    obj = c.obj(raw, path, _RESTRICTION_KEYS[c.version])
    if obj is None:
        return None
    zero = Decimal(0)
    start_time = _time_of_day(c, obj.get("start_time"), f"{path}.start_time")
    end_time = _time_of_day(c, obj.get("end_time"), f"{path}.end_time")
    start_date = _date(c, obj.get("start_date"), f"{path}.start_date")
    end_date = _date(c, obj.get("end_date"), f"{path}.end_date")
    if start_date is not None and end_date is not None and end_date <= start_date:
        c.add(f"{path}.end_date", "must be after start_date (end_date is exclusive)")
    nums: dict[str, Decimal | None] = {}
    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        nums[name] = c.number(obj.get(name), f"{path}.{name}", minimum=zero)
    durs: dict[str, int | None] = {}
    for name in ("min_duration", "max_duration"):
        durs[name] = c.integer(obj.get(name), f"{path}.{name}", minimum=0)
    for lo, hi in (
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
    ):
        a, b = nums[lo], nums[hi]
        if a is not None and b is not None and a >= b:
            c.add(f"{path}.{hi}", f"must be above {lo} ({a}): {hi} is exclusive")
    da, db = durs["min_duration"], durs["max_duration"]
    if da is not None and db is not None and da >= db:
        c.add(f"{path}.max_duration", f"must be above min_duration ({da}): it is exclusive")
    days: list[DayOfWeek] = []
    for i, d in enumerate(c.list_(obj.get("day_of_week"), f"{path}.day_of_week", non_empty=False)):
        day = c.enum(d, f"{path}.day_of_week[{i}]", tuple(DayOfWeek))
        if day is not None:
            if DayOfWeek(day) in days:
                c.add(f"{path}.day_of_week[{i}]", f"{day} listed twice")
            else:
                days.append(DayOfWeek(day))
    reservation = c.enum(
        obj.get("reservation"), f"{path}.reservation", tuple(ReservationRestriction)
    )
    return TariffRestrictions(
        start_time=start_time,
        end_time=end_time,
        start_date=start_date,
        end_date=end_date,
        min_kwh=nums["min_kwh"],
        max_kwh=nums["max_kwh"],
        min_current=nums["min_current"],
        max_current=nums["max_current"],
        min_power=nums["min_power"],
        max_power=nums["max_power"],
        min_duration=durs["min_duration"],
        max_duration=durs["max_duration"],
        day_of_week=tuple(days),
        reservation=ReservationRestriction(reservation) if reservation is not None else None,
    )
