"""Meter values from OCPP 1.5 / 1.6 / 2.0.1, normalised to Wh, W and A.

What real stations send varies: numbers as strings or numbers, kWh or Wh, kW or W, a 2.0.1
`multiplier`, only per-phase registers, signed readings (OCMF) next to or instead of plain
values. Normalisation never rejects a message: an unusable sampled value is skipped and
reported in `warnings`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.charging.contracts import MeterSampleIn

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"

_ENERGY_UNITS = {"Wh": Decimal(1), "kWh": Decimal(1000)}
_POWER_UNITS = {"W": Decimal(1), "kW": Decimal(1000)}
_PHASE_ONLY = {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"}


@dataclass
class Normalised:
    samples: list[MeterSampleIn] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):  # only if a caller parsed JSON without parse_float=Decimal
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _unit_and_scale(sv: dict[str, Any]) -> tuple[str | None, int]:
    if "unitOfMeasure" in sv and isinstance(sv["unitOfMeasure"], dict):  # 2.0.1
        uom = sv["unitOfMeasure"]
        return uom.get("unit"), int(uom.get("multiplier", 0) or 0)
    return sv.get("unit"), 0


def normalise(meter_values: list[dict[str, Any]], *, version: str) -> Normalised:
    """One `MeterSampleIn` per timestamped MeterValue; signed data kept verbatim."""
    out = Normalised()
    for i, mv in enumerate(meter_values or []):
        ts = parse_timestamp(mv.get("timestamp"))
        if ts is None:
            out.warnings.append(f"meterValue[{i}].timestamp: not an ISO 8601 time with offset")
            continue
        # OCPP 1.5 wraps readings in "values"; 1.6 / 2.0.1 in "sampledValue".
        sampled = mv.get("sampledValue") or mv.get("values") or mv.get("value") or []
        if isinstance(sampled, dict):
            sampled = [sampled]
        totals: dict[str, Decimal] = {}
        phases: dict[str, list[Decimal]] = defaultdict(list)
        signed: list[str] = []
        context = ""
        for j, sv in enumerate(sampled):
            if not isinstance(sv, dict):
                out.warnings.append(f"meterValue[{i}].sampledValue[{j}]: not an object")
                continue
            where = f"meterValue[{i}].sampledValue[{j}]"
            context = context or str(sv.get("context", ""))
            if isinstance(sv.get("signedMeterValue"), dict):  # 2.0.1
                signed.append(_signed_text(sv["signedMeterValue"]))
            if sv.get("format") == "SignedData":  # 1.6: the value itself is the signed data
                signed.append(str(sv.get("value", "")))
                continue
            if sv.get("location") not in (None, "Outlet", "Cable"):
                if sv.get("measurand") != SOC:
                    continue  # Inlet / EV-side readings are not what the EVSE delivered
            measurand = sv.get("measurand", ENERGY)
            value = _number(sv.get("value"))
            if value is None:
                out.warnings.append(f"{where}.value: {sv.get('value')!r} is not a number")
                continue
            unit, multiplier = _unit_and_scale(sv)
            scaled = value.scaleb(multiplier) if multiplier else value
            if measurand == ENERGY:
                factor = _ENERGY_UNITS.get(unit or "Wh")
            elif measurand == POWER:
                factor = _POWER_UNITS.get(unit or "W")
            elif measurand in (CURRENT, SOC):
                factor = Decimal(1)
            else:
                continue
            if factor is None:
                out.warnings.append(f"{where}.unit: {unit!r} is not a unit of {measurand}")
                continue
            normalised = scaled * factor
            phase = sv.get("phase")
            if phase in _PHASE_ONLY:
                phases[measurand].append(normalised)
            elif phase in (None, "N"):
                if phase is None:
                    totals[measurand] = normalised
        for measurand, values in phases.items():
            if measurand in totals:
                continue
            # Only per-phase readings: energy and power add up; current is the highest phase.
            totals[measurand] = max(values) if measurand == CURRENT else sum(values, Decimal(0))
        if not totals and not signed:
            continue
        out.samples.append(
            MeterSampleIn(
                timestamp=ts,
                energy_wh=totals.get(ENERGY),
                power_w=totals.get(POWER),
                current_a=totals.get(CURRENT),
                soc_percent=totals.get(SOC),
                context=context,
                signed_data="\n".join(signed),
            )
        )
    return out


def _signed_text(signed: dict[str, Any]) -> str:
    import json

    return json.dumps(signed, sort_keys=True, separators=(",", ":"))
