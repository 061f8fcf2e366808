"""The price of a sample session under a tariff being edited (the pricing core's parser and
price function: what a session would really cost). Writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from apps.common.errors import Problem, ValidationFailed
from apps.tariffs.contracts import PreviewLine, TariffPreview
from apps.tariffs.services.tariffs import tariff_validate
from billing import pricing


def tariff_preview(
    *,
    ocpi: dict[str, Any],
    start: datetime,
    charging_minutes: int,
    parking_minutes: int,
    energy_kwh: Decimal,
    time_zone: str,
) -> TariffPreview:
    """Price a sample session with `ocpi` (validated by the pricing core's parser: a bad
    tariff raises ValidationFailed with its JSON paths). Energy flows evenly while charging,
    then the car stays parked for `parking_minutes`."""
    tariff_validate(ocpi=ocpi)
    tariff = pricing.parse_tariff(ocpi)
    if charging_minutes <= 0:
        raise ValidationFailed(
            "invalid sample", problems=(Problem("charging_minutes", "must be at least 1"),)
        )
    charge_end = start + timedelta(minutes=charging_minutes)
    end = charge_end + timedelta(minutes=max(0, parking_minutes))
    wh = energy_kwh * 1000
    power_kw = (energy_kwh / (Decimal(charging_minutes) / 60)).quantize(Decimal("0.001"))
    samples = []
    steps = max(1, min(charging_minutes // 5, 96))
    for i in range(steps + 1):
        at = start + (charge_end - start) * i / steps
        samples.append(
            pricing.MeterSample(
                timestamp=at,
                energy_wh=(wh * i / steps).quantize(Decimal("1")),
                state=pricing.ChargingState.CHARGING,
                power_kw=power_kw,
            )
        )
    if parking_minutes > 0:
        samples.append(
            pricing.MeterSample(
                timestamp=charge_end + timedelta(seconds=1),
                energy_wh=wh.quantize(Decimal("1")),
                state=pricing.ChargingState.SUSPENDED_EV,
                power_kw=Decimal(0),
            )
        )
    try:
        periods = pricing.split_session(
            tariff=tariff, samples=samples, time_zone=time_zone, start=start, end=end
        )
        result = pricing.price_session(
            tariff=tariff,
            session=pricing.SessionInput(
                start=start, end=end, time_zone=time_zone, charging_periods=periods
            ),
        )
    except pricing.PricingInputError as exc:
        raise ValidationFailed(
            "the sample cannot be priced",
            problems=tuple(Problem(i.path, i.message) for i in exc.issues),
        ) from None
    t = result.totals
    lines = []
    for name, amount, volume in (
        ("Start fee (FLAT)", t.total_fixed_cost, ""),
        ("Energy", t.total_energy_cost, f"{result.billed_energy:.3f} kWh"),
        ("Charging time", t.total_time_cost, f"{result.billed_time_seconds // 60} min"),
        ("Parking time", t.total_parking_cost, f"{result.billed_parking_seconds // 60} min"),
    ):
        if amount.excl_vat or amount.incl_vat:
            lines.append(
                PreviewLine(
                    dimension=name,
                    volume=volume,
                    excl_vat=amount.excl_vat,
                    incl_vat=amount.incl_vat,
                )
            )
    local = start.astimezone(ZoneInfo(time_zone))
    return TariffPreview(
        currency=result.currency,
        total_excl_vat=t.total_cost.excl_vat,
        total_incl_vat=t.total_cost.incl_vat,
        lines=tuple(lines),
        warnings=tuple(w.message for w in result.warnings),
        description=(
            f"{energy_kwh} kWh in {charging_minutes} min from {local:%a %d %b %H:%M} "
            f"({time_zone}), then {parking_minutes} min parked"
        ),
    )
