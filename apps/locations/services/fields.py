"""What the provisioning services share: the fields a caller may set on each model, and
Django's field validation as `Problem`s."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError

from apps.common.errors import Problem, problems_from_django

LOCATION_FIELDS = (
    "publish",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "parking_type",
    "opening_times",
    "charging_when_closed",
)
EVSE_FIELDS = ("evse_id", "status", "capabilities", "floor_level", "physical_reference")
CONNECTOR_FIELDS = (
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
)
STATION_FIELDS = (
    "client_cert_fingerprint",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "ocpp_version",
    "enabled",
)


def field_problems(obj: Any, prefix: str, exclude: list[str]) -> list[Problem]:
    """The model's own field checks (`full_clean` without uniqueness), as problems at
    `prefix`."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        return [
            Problem(prefix if p.path == "$" else f"{prefix}.{p.path}", p.message)
            for p in problems_from_django(exc)
        ]
    return []


def assign(obj: Any, values: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Set those of `fields` that `values` names."""
    for field in fields:
        if field in values:
            setattr(obj, field, values[field])
