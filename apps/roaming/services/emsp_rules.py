"""The rules a partner's object or CDR is checked against when it arrives (eMSP role). Pure
functions: they return flags, `{"rule": ..., "detail": ...}`, and never refuse anything. What
breaks a rule we can work around is stored with its flags (ROAMING.md "Inbound leniency");
what we cannot store at all (no id, an id in the body that is not the URL's) is refused by
the caller with 2001.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Flag = dict[str, str]

TOLERANCE = Decimal("0.01")
VOLUME_TOLERANCE = Decimal("0.001")

# Required fields of what a CPO sends us, per module and version (mod_*.asciidoc). A missing
# one is flagged, not refused: the object is stored as received.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "locations": {
        "2.2.1": (
            "country_code",
            "party_id",
            "id",
            "publish",
            "address",
            "city",
            "country",
            "coordinates",
            "time_zone",
            "last_updated",
        ),
        "2.1.1": ("id", "type", "address", "city", "postal_code", "country", "coordinates"),
    },
    "evses": {
        "2.2.1": ("uid", "status", "connectors", "last_updated"),
        "2.1.1": ("uid", "status", "connectors", "last_updated"),
    },
    "connectors": {
        "2.2.1": ("id", "standard", "format", "power_type", "max_voltage", "max_amperage"),
        "2.1.1": ("id", "standard", "format", "power_type", "voltage", "amperage"),
    },
    "tariffs": {
        "2.2.1": ("country_code", "party_id", "id", "currency", "elements", "last_updated"),
        "2.1.1": ("id", "currency", "elements", "last_updated"),
    },
    "sessions": {
        "2.2.1": (
            "country_code",
            "party_id",
            "id",
            "start_date_time",
            "kwh",
            "cdr_token",
            "auth_method",
            "location_id",
            "evse_uid",
            "connector_id",
            "currency",
            "status",
            "last_updated",
        ),
        "2.1.1": (
            "id",
            "start_datetime",
            "kwh",
            "auth_id",
            "auth_method",
            "location",
            "currency",
            "status",
            "last_updated",
        ),
    },
    "cdrs": {
        "2.2.1": (
            "country_code",
            "party_id",
            "id",
            "start_date_time",
            "end_date_time",
            "cdr_token",
            "auth_method",
            "cdr_location",
            "currency",
            "charging_periods",
            "total_cost",
            "total_energy",
            "total_time",
            "last_updated",
        ),
        "2.1.1": (
            "id",
            "start_date_time",
            "stop_date_time",
            "auth_id",
            "auth_method",
            "location",
            "currency",
            "charging_periods",
            "total_cost",
            "total_energy",
            "total_time",
            "last_updated",
        ),
    },
    # 2.2.1 only (a 2.1.1 CDR carries a whole Location, checked as such by nobody: it is
    # only read for its id and time zone).
    "cdr_location": {
        "2.2.1": (
            "id",
            "address",
            "city",
            "country",
            "coordinates",
            "evse_uid",
            "evse_id",
            "connector_id",
            "connector_standard",
            "connector_format",
            "connector_power_type",
        ),
    },
}

# The cost fields of a CDR whose sum is total_cost (2.2.1 Price objects).
_PART_COSTS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def flag(rule: str, detail: str) -> Flag:
    return {"rule": rule, "detail": detail}


def key(value: str) -> str:
    """A CiString id as the lookup key (case-insensitive; the document keeps the casing)."""
    return value.strip().upper()


def is_deleted(flags: Any) -> bool:
    """The partner deleted the object (a tariff DELETE keeps the row, flagged)."""
    return any(isinstance(f, Mapping) and f.get("rule") == "deleted" for f in flags or [])


def missing_fields(kind: str, version: str, body: Mapping[str, Any], path: str = "$") -> list[Flag]:
    """One `missing_field` flag per required field that is absent or null."""
    need = REQUIRED[kind].get(version, REQUIRED[kind]["2.2.1"])
    return [
        flag("missing_field", f"{path}.{name} is required")
        for name in need
        if body.get(name) is None
    ]


def parse_datetime(value: Any) -> datetime | None:
    """An OCPI DateTime, leniently: `Z` or an offset; without one it is read as UTC (the spec
    says UTC). None when it is not a date-time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def last_updated(body: Mapping[str, Any], *, now: datetime) -> tuple[datetime, list[Flag]]:
    """The object's `last_updated`, or `now` with a flag when it is missing or unreadable."""
    raw = body.get("last_updated")
    parsed = parse_datetime(raw)
    if parsed is not None:
        return parsed, []
    if raw is None:
        return now, []  # the missing-field flag says it already
    return now, [flag("invalid_value", f"$.last_updated is not a DateTime: {raw!r}")]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return Decimal(str(value))


def price_excl(value: Any, version: str) -> Decimal | None:
    """A cost field's amount excl. VAT: 2.2.1 Price `excl_vat`, 2.1.1 a plain number."""
    if version == "2.1.1":
        return _number(value)
    if isinstance(value, Mapping):
        return _number(value.get("excl_vat"))
    return None


def cdr_flags(
    body: Mapping[str, Any],
    *,
    version: str,
    location_known: bool | None,
    referenced_known: bool | None,
) -> list[Flag]:
    """Every rule the CDR breaks (each with its reason): missing fields, totals that do not
    add up, a location the CPO never published (`location_known` False), a token without
    its issuer (2.2.1), a Credit CDR without the CDR it credits or crediting one we do not
    have (`referenced_known` False)."""
    out = missing_fields("cdrs", version, body)
    where = body.get("cdr_location")
    if version == "2.2.1" and isinstance(where, Mapping):
        out.extend(missing_fields("cdr_location", version, where, "$.cdr_location"))
    token = body.get("cdr_token")
    if version == "2.2.1" and isinstance(token, Mapping):
        for name in ("country_code", "party_id"):
            if not token.get(name):
                out.append(
                    flag("cdr_token_issuer", f"$.cdr_token.{name} is required since OCPI 2.2.1")
                )
    credit = body.get("credit") is True
    if credit and not body.get("credit_reference_id"):
        out.append(flag("credit_reference", "a Credit CDR needs credit_reference_id"))
    if credit and body.get("credit_reference_id") and referenced_known is False:
        out.append(
            flag(
                "credit_reference",
                f"credits {body['credit_reference_id']!r}, a CDR we never received",
            )
        )
    total = price_excl(body.get("total_cost"), version)
    if credit and total is not None and total > 0:
        out.append(flag("credit_sign", f"a Credit CDR's total_cost is not positive: {total}"))
    if not credit and total is not None and total < 0:
        out.append(flag("negative_total", f"$.total_cost is negative ({total}) without credit"))
    if location_known is False:
        loc = body.get("cdr_location") or body.get("location") or {}
        out.append(
            flag(
                "unknown_location",
                f"location {loc.get('id') if isinstance(loc, Mapping) else loc!r} "
                "was never published to us",
            )
        )
    out.extend(_totals_flags(body, version))
    return out


def _totals_flags(body: Mapping[str, Any], version: str) -> list[Flag]:
    out: list[Flag] = []
    periods = body.get("charging_periods")
    reported_energy = _number(body.get("total_energy"))
    if isinstance(periods, list) and reported_energy is not None:
        energy = Decimal(0)
        for p in periods:
            dims = p.get("dimensions") if isinstance(p, Mapping) else None
            for d in dims if isinstance(dims, list) else []:
                if isinstance(d, Mapping) and d.get("type") == "ENERGY":
                    energy += _number(d.get("volume")) or Decimal(0)
        if abs(energy - reported_energy) > VOLUME_TOLERANCE:
            out.append(
                flag(
                    "totals_do_not_add_up",
                    f"total_energy {reported_energy} kWh but the charging periods' ENERGY "
                    f"adds up to {energy} kWh",
                )
            )
    if version == "2.2.1":
        total = price_excl(body.get("total_cost"), version)
        parts = [price_excl(body.get(name), version) for name in _PART_COSTS]
        known = [p for p in parts if p is not None]
        # The parts reported (an absent one is nothing to pay) add up to the total, unless
        # a min/max price clamped it (the re-pricing then tells the same story in its flag).
        if total is not None and known and body.get("credit") is not True:
            s = sum(known, Decimal(0))
            if abs(s - total) > TOLERANCE:
                out.append(
                    flag(
                        "totals_do_not_add_up",
                        f"total_cost.excl_vat {total} but its parts add up to {s}",
                    )
                )
    return out
