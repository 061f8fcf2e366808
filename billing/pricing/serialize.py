"""Model -> OCPI-shaped dicts.

``tariff_to_ocpi`` and ``periods_to_ocpi`` write OCPI numbers as JSON numbers (``int`` or
``float``, only when the float's shortest repr is the exact decimal value, which holds for
OCPI's 4-decimal numbers; otherwise the ``Decimal`` itself is kept). ``result_to_ocpi`` writes
every decimal as a string, e.g. ``{"excl_vat": "4.00", "incl_vat": "4.40"}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Context, Decimal
from typing import Any

from billing.pricing.model import (
    Amount,
    ChargingPeriod,
    CostTotals,
    Price,
    PriceResult,
    Reconciliation,
    TariffRestrictions,
)
from billing.pricing.tariff import Tariff

_DIV = Context(prec=50)
_3600 = Decimal(3600)
_MICRO_HOUR = Decimal("0.000001")


def number(value: Decimal) -> int | float | Decimal:
    """A JSON number for an OCPI decimal, exact on the way back through ``parse_tariff``."""
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    f = float(value)
    if Decimal(repr(f)) == value:
        return f
    return value


def iso(value: dt.datetime) -> str:
    """OCPI DateTime: UTC with a ``Z``."""
    utc = value.astimezone(dt.UTC)
    text = utc.replace(tzinfo=None).isoformat()
    return f"{text}Z"


def hours(seconds: int) -> Decimal:
    """Seconds as hours, to the micro-hour (0.0036 s); exact values keep their digits."""
    h = _DIV.divide(Decimal(seconds), _3600)
    q = h.quantize(_MICRO_HOUR)
    return _strip(q)


def _strip(value: Decimal) -> Decimal:
    if value == 0:
        return Decimal(0)
    text = format(value.normalize(), "f")
    return Decimal(text)


def _price(p: Price) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": number(p.excl_vat)}
    if p.incl_vat is not None:
        out["incl_vat"] = number(p.incl_vat)
    return out


def _restrictions(r: TariffRestrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.start_time is not None:
        out["start_time"] = r.start_time.strftime("%H:%M")
    if r.end_time is not None:
        out["end_time"] = r.end_time.strftime("%H:%M")
    if r.start_date is not None:
        out["start_date"] = r.start_date.isoformat()
    if r.end_date is not None:
        out["end_date"] = r.end_date.isoformat()
    for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
        value = getattr(r, name)
        if value is not None:
            out[name] = number(value)
    if r.min_duration is not None:
        out["min_duration"] = r.min_duration
    if r.max_duration is not None:
        out["max_duration"] = r.max_duration
    if r.day_of_week:
        out["day_of_week"] = [str(d) for d in r.day_of_week]
    if r.reservation is not None:
        out["reservation"] = str(r.reservation)
    return out


def tariff_to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The validated tariff as an OCPI 2.2.1 Tariff object (round-trips through
    ``parse_tariff``; a 2.1.1 source comes out in the 2.2.1 shape, without country/party)."""
    out: dict[str, Any] = {}
    if tariff.country_code is not None:
        out["country_code"] = tariff.country_code
    if tariff.party_id is not None:
        out["party_id"] = tariff.party_id
    out["id"] = tariff.id
    out["currency"] = tariff.currency
    if tariff.type is not None:
        out["type"] = str(tariff.type)
    if tariff.tariff_alt_text:
        out["tariff_alt_text"] = [
            {"language": t.language, "text": t.text} for t in tariff.tariff_alt_text
        ]
    if tariff.tariff_alt_url is not None:
        out["tariff_alt_url"] = tariff.tariff_alt_url
    if tariff.min_price is not None:
        out["min_price"] = _price(tariff.min_price)
    if tariff.max_price is not None:
        out["max_price"] = _price(tariff.max_price)
    elements = []
    for el in tariff.elements:
        e: dict[str, Any] = {"price_components": []}
        for pc in el.price_components:
            c: dict[str, Any] = {"type": str(pc.type), "price": number(pc.price)}
            if pc.vat is not None:
                c["vat"] = number(pc.vat)
            c["step_size"] = pc.step_size
            e["price_components"].append(c)
        if el.restrictions is not None:
            e["restrictions"] = _restrictions(el.restrictions)
        elements.append(e)
    out["elements"] = elements
    if tariff.start_date_time is not None:
        out["start_date_time"] = iso(tariff.start_date_time)
    if tariff.end_date_time is not None:
        out["end_date_time"] = iso(tariff.end_date_time)
    if tariff.energy_mix is not None:
        out["energy_mix"] = tariff.energy_mix
    if tariff.last_updated is not None:
        out["last_updated"] = iso(tariff.last_updated)
    return out


def periods_to_ocpi(periods: Iterable[ChargingPeriod]) -> list[dict[str, Any]]:
    """Charging periods as OCPI 2.2.1 ChargingPeriod objects."""
    out = []
    for p in periods:
        item: dict[str, Any] = {
            "start_date_time": iso(p.start_date_time),
            "dimensions": [{"type": d.type, "volume": number(d.volume)} for d in p.dimensions],
        }
        if p.tariff_id is not None:
            item["tariff_id"] = p.tariff_id
        out.append(item)
    return out


def _s(value: Decimal) -> str:
    return format(value, "f")


def _amount(a: Amount) -> dict[str, str]:
    return {"excl_vat": _s(a.excl_vat), "incl_vat": _s(a.incl_vat)}


def _totals(t: CostTotals) -> dict[str, dict[str, str]]:
    return {
        "total_cost": _amount(t.total_cost),
        "total_fixed_cost": _amount(t.total_fixed_cost),
        "total_energy_cost": _amount(t.total_energy_cost),
        "total_time_cost": _amount(t.total_time_cost),
        "total_parking_cost": _amount(t.total_parking_cost),
        "total_reservation_cost": _amount(t.total_reservation_cost),
    }


def result_to_ocpi(result: PriceResult) -> dict[str, Any]:
    """The result, OCPI-shaped and JSON-able (every decimal a string)."""
    out: dict[str, Any] = {"currency": result.currency}
    out.update(_totals(result.totals))
    out.update(
        {
            "total_energy": _s(result.total_energy),
            "total_time": _s(hours(result.total_time_seconds)),
            "total_parking_time": _s(hours(result.total_parking_seconds)),
            "total_charging_time": _s(hours(result.total_charging_seconds)),
            "total_reservation_time": _s(hours(result.total_reservation_seconds)),
            "billed_energy": _s(result.billed_energy),
            "billed_time": _s(hours(result.billed_time_seconds)),
            "billed_parking_time": _s(hours(result.billed_parking_seconds)),
            "billed_reservation_time": _s(hours(result.billed_reservation_seconds)),
            "durations_seconds": {
                "total_time": result.total_time_seconds,
                "total_charging_time": result.total_charging_seconds,
                "total_parking_time": result.total_parking_seconds,
                "total_reservation_time": result.total_reservation_seconds,
                "billed_time": result.billed_time_seconds,
                "billed_parking_time": result.billed_parking_seconds,
                "billed_reservation_time": result.billed_reservation_seconds,
            },
            "rounding": result.rounding,
            "minor_unit": result.minor_unit,
            "exact": _totals(result.exact),
            "price_adjustments": [
                {"limit": a.limit, "side": a.side, "before": _s(a.before), "after": _s(a.after)}
                for a in result.adjustments
            ],
        }
    )
    periods = []
    for p in result.periods:
        dims = []
        for d in p.dimensions:
            is_time = d.dimension in ("TIME", "PARKING_TIME")
            dims.append(
                {
                    "category": str(d.category),
                    "type": str(d.dimension),
                    "volume": _s(hours(int(d.volume)) if is_time else d.volume),
                    "billed_volume": _s(
                        hours(int(d.billed_volume)) if is_time else d.billed_volume
                    ),
                    "unit_price": _s(d.unit_price),
                    "vat": None if d.vat is None else _s(d.vat),
                    "excl_vat": _s(d.excl_vat),
                    "incl_vat": _s(d.incl_vat),
                    "element_index": d.element_index,
                    "step_size": d.step_size,
                }
            )
        periods.append(
            {
                "start_date_time": iso(p.start_date_time),
                "end_date_time": iso(p.end_date_time),
                "seconds": p.seconds,
                "reservation": p.reservation,
                "tariff_id": p.tariff_id,
                "dimensions": dims,
            }
        )
    # the tariffs that priced the periods, in order of first use (more than one: a switch)
    out["tariff_ids"] = list(dict.fromkeys(p.tariff_id for p in result.periods if p.tariff_id))
    out["charging_periods"] = periods
    out["warnings"] = [
        {"code": w.code, "message": w.message, "path": w.path} for w in result.warnings
    ]
    return out


def reconciliation_to_ocpi(rec: Reconciliation) -> dict[str, Any]:
    return {
        "ok": rec.ok,
        "tolerance": _s(rec.tolerance),
        "differences": [
            {
                "field": d.field,
                "side": d.side,
                "ours": None if d.ours is None else _s(d.ours),
                "theirs": None if d.theirs is None else _s(d.theirs),
                "delta": None if d.delta is None else _s(d.delta),
            }
            for d in rec.differences
        ],
    }


def dumps(obj: Any, indent: int | None = 2) -> str:
    """JSON text where ``Decimal`` values are written as JSON numbers (not strings)."""
    import json

    def enc(value: Any, level: int) -> str:
        pad = "" if indent is None else "\n" + " " * (indent * (level + 1))
        end = "" if indent is None else "\n" + " " * (indent * level)
        sep = "," if indent is None else ","
        colon = ":" if indent is None else ": "
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, dict):
            if not value:
                return "{}"
            items = [
                f"{pad}{json.dumps(str(k))}{colon}{enc(v, level + 1)}" for k, v in value.items()
            ]
            return "{" + sep.join(items) + end + "}"
        if isinstance(value, list | tuple):
            if not value:
                return "[]"
            return "[" + sep.join(f"{pad}{enc(v, level + 1)}" for v in value) + end + "]"
        return json.dumps(value)

    return enc(obj, 0)
