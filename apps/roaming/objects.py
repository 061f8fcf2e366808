"""Our CPO objects as partners receive them: Location / EVSE / Connector, Tariff, Session
and CDR in OCPI 2.2.1 and 2.1.1, built from the other apps' api records.

Outbound strict (ROAMING.md "Inbound leniency, outbound strictness"):
- optional fields are omitted, never sent as `null` or as an empty string;
- DateTime is UTC with `Z`; prices are Decimal with at most 4 decimals; coordinates are
  strings with 7 decimals;
- values the older version does not know are translated (2.1.1 `LocationType`, session
  status RESERVATION -> PENDING, auth method COMMAND -> AUTH_REQUEST) or left out (2.2.1
  capabilities, connector standards and CDR dimensions 2.1.1 lacks), so a 2.1.1 partner
  never receives a value outside its enums.

Sessions and CDRs start from `apps.charging.api.session_object` / `cdr_object` (the one
2.2.1 rendering the REST API and the webhooks share) and only drop the platform's own
fields and the nulls; 2.1.1 is derived from the 2.2.1 object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.charging import api as charging_api
from apps.charging.contracts import CdrRecord, SessionRecord
from apps.locations.contracts import ConnectorRecord, EvseRecord, LocationRecord
from apps.roaming import transport
from apps.roaming.contracts import OcpiVersion
from apps.tariffs.contracts import TariffRecord
from billing.pricing.ocpi_objects import CONNECTOR_TYPES_211
from billing.pricing.tariff_parser import RESTRICTION_KEYS_211

V221 = OcpiVersion.V2_2_1.value
V211 = OcpiVersion.V2_1_1.value

_FOUR = Decimal("0.0001")
_SEVEN = Decimal("0.0000001")

# 2.1.1 enums (mod_locations / mod_cdrs / mod_sessions of 2.1.1): what 2.2.1 added is not
# sent to a 2.1.1 partner.
_CAPABILITIES_211 = frozenset(
    {
        "CHARGING_PROFILE_CAPABLE",
        "CREDIT_CARD_PAYABLE",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "UNLOCK_CAPABLE",
    }
)
_STANDARDS_211 = frozenset(CONNECTOR_TYPES_211)  # the pricing core's list of the spec's
_POWER_TYPES_211 = frozenset({"AC_1_PHASE", "AC_3_PHASE", "DC"})
_LOCATION_TYPE_211 = {
    "ON_STREET": "ON_STREET",
    "PARKING_GARAGE": "PARKING_GARAGE",
    "UNDERGROUND_GARAGE": "UNDERGROUND_GARAGE",
    "PARKING_LOT": "PARKING_LOT",
    "ALONG_MOTORWAY": "OTHER",
    "ON_DRIVEWAY": "OTHER",
}
_DIMENSIONS_211 = frozenset(
    {"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"}
)
_SESSION_STATUS_211 = {"RESERVATION": "PENDING"}
_AUTH_METHOD_211 = {"COMMAND": "AUTH_REQUEST"}
_RESTRICTIONS_211 = RESTRICTION_KEYS_211
_COMPONENT_TYPES = frozenset({"ENERGY", "FLAT", "PARKING_TIME", "TIME"})

# The platform's own fields on the shared 2.2.1 renderings: never sent to a partner.
_PLATFORM_FIELDS = ("platform_id", "charge_station_id", "session_platform_id")
_CDR_COSTS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


_VERSIONS = {v.value: v.value for v in OcpiVersion}


def _v(version: str) -> str:
    try:
        return _VERSIONS[version]  # a dict, not the enum's lookup: called per connector
    except (KeyError, TypeError):
        raise ValueError(f"{version!r} is not a valid OcpiVersion") from None


_PLAIN = frozenset({str, int, bool, Decimal, float})


def clean(value: Any) -> Any:
    """Drop `None` and "" recursively from dicts (an optional field is omitted, not null);
    datetimes become OCPI DateTime strings."""
    if value.__class__ in _PLAIN:  # most values: no ABC isinstance checks (a hot path)
        return value
    if isinstance(value, Mapping):
        return {k: clean(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, datetime):
        return transport.iso(value)
    return value


def _clean_around(value: Mapping[str, Any], ready: str) -> dict[str, Any]:
    """`clean(value)` when its `ready` entry is already clean (a list of objects built by
    `clean`): that entry is not walked a second time (a page of 100 locations has 1,000
    connectors, each cleaned once, not once per level)."""
    return {k: v if k == ready else clean(v) for k, v in value.items() if v is not None and v != ""}


def _clean_flat(value: Mapping[str, Any]) -> dict[str, Any]:
    """`clean(value)` of a dict of plain values and datetimes, nothing nested (a connector:
    500 of them on a page of locations)."""
    return {
        k: transport.iso(v) if isinstance(v, datetime) else v
        for k, v in value.items()
        if v is not None and v != ""
    }


def money(value: Decimal | int | str) -> Decimal:
    """A price or unit price with at most 4 decimals (OCPI: "number", 4 decimals)."""
    return Decimal(str(value)).quantize(_FOUR, rounding=ROUND_HALF_UP)


def _price(value: Any) -> dict[str, Decimal] | None:
    """A 2.2.1 Price: `excl_vat` required, `incl_vat` only when known."""
    if not isinstance(value, Mapping) or value.get("excl_vat") is None:
        return None
    out = {"excl_vat": money(value["excl_vat"])}
    if value.get("incl_vat") is not None:
        out["incl_vat"] = money(value["incl_vat"])
    return out


def _coordinate(value: Decimal | str) -> str:
    return format(Decimal(str(value)).quantize(_SEVEN), "f")


# --- locations ---------------------------------------------------------------------------


def connector_object(c: ConnectorRecord, *, version: str) -> dict[str, Any] | None:
    """The Connector; None when a 2.1.1 partner could not read its standard or power
    type (left out of the EVSE)."""
    if _v(version) == V211:
        if c.standard not in _STANDARDS_211 or c.power_type not in _POWER_TYPES_211:
            return None
        return {
            "id": c.id,
            "standard": c.standard,
            "format": c.format,
            "power_type": c.power_type,
            "voltage": c.max_voltage,
            "amperage": c.max_amperage,
            "last_updated": transport.iso(c.last_updated),
        }
    return _clean_flat(
        {
            "id": c.id,
            "standard": c.standard,
            "format": c.format,
            "power_type": c.power_type,
            "max_voltage": c.max_voltage,
            "max_amperage": c.max_amperage,
            "max_electric_power": c.max_electric_power,
            "last_updated": c.last_updated,
        }
    )


def evse_last_updated(e: EvseRecord) -> datetime:
    """An EVSE changes when one of its connectors does."""
    return max([e.last_updated, *(c.last_updated for c in e.connectors)])


def evse_object(e: EvseRecord, *, version: str) -> dict[str, Any] | None:
    """The EVSE; None when no connector is left to show (2.1.1 needs at least one)."""
    connectors = [o for c in e.connectors if (o := connector_object(c, version=version))]
    if not connectors:
        return None
    caps = list(e.capabilities)
    if _v(version) == V211:
        caps = [c for c in caps if c in _CAPABILITIES_211]
    return _clean_around(
        {
            "uid": e.uid,
            "evse_id": e.evse_id,
            "status": e.status,
            "capabilities": caps or None,
            "connectors": connectors,
            "floor_level": e.floor_level,
            "physical_reference": e.physical_reference,
            "last_updated": evse_last_updated(e),
        },
        "connectors",
    )


def location_last_updated(loc: LocationRecord) -> datetime:
    return max([loc.last_updated, *(evse_last_updated(e) for e in loc.evses)])


def location_object(loc: LocationRecord, *, version: str) -> dict[str, Any]:
    """The Location with its EVSEs (the caller passes the record as published: home
    chargers' EVSEs already left out)."""
    evses = [o for e in loc.evses if (o := evse_object(e, version=version))]
    common = {
        "id": loc.id,
        "name": loc.name,
        "address": loc.address,
        "city": loc.city,
        "postal_code": loc.postal_code,
        "state": loc.state if _v(version) == V221 else None,
        "country": loc.country,
        "coordinates": {
            "latitude": _coordinate(loc.latitude),
            "longitude": _coordinate(loc.longitude),
        },
        "evses": evses or None,
        "time_zone": loc.time_zone,
        "opening_times": loc.opening_times,
        "charging_when_closed": loc.charging_when_closed,
        "last_updated": location_last_updated(loc),
    }
    if _v(version) == V211:
        return _clean_around(
            {
                "type": _LOCATION_TYPE_211.get(loc.parking_type, "UNKNOWN"),
                **common,
            },
            "evses",
        )
    return _clean_around(
        {
            "country_code": loc.country_code,
            "party_id": loc.party_id,
            **common,
            "publish": True,  # only published locations leave the platform
            "parking_type": loc.parking_type,
        },
        "evses",
    )


def evse_status_patch(*, status: str, last_updated: datetime) -> dict[str, Any]:
    """The body of an EVSE status PATCH (both versions)."""
    return {"status": status, "last_updated": transport.iso(last_updated)}


# --- tariffs -------------------------------------------------------------------------------


def _components(items: Iterable[Mapping[str, Any]], version: str) -> list[dict[str, Any]]:
    out = []
    for pc in items:
        if pc.get("type") not in _COMPONENT_TYPES:
            continue  # outbound strict: only the spec's TariffDimensionType (both versions)
        item: dict[str, Any] = {
            "type": pc["type"],
            "price": money(pc["price"]),
            "step_size": int(pc.get("step_size", 1)),
        }
        if version == V221 and pc.get("vat") is not None:
            item["vat"] = Decimal(str(pc["vat"]))
        out.append(item)
    return out


def _restrictions(r: Mapping[str, Any] | None, version: str) -> dict[str, Any] | None:
    if not r:
        return None
    if version == V211:
        r = {k: v for k, v in r.items() if k in _RESTRICTIONS_211}
    out = clean(dict(r))
    return out or None


def tariff_object(t: TariffRecord, *, version: str) -> dict[str, Any]:
    """The Tariff in force (its current version's elements); `last_updated` is the
    tariff's, which moves when a new version is added."""
    v = _v(version)
    ocpi = t.ocpi or {}
    elements = []
    for el in ocpi.get("elements", []):
        comps = _components(el.get("price_components", []), v)
        if not comps:
            continue
        elements.append(
            clean(
                {
                    "price_components": comps,
                    "restrictions": _restrictions(el.get("restrictions"), v),
                }
            )
        )
    out: dict[str, Any] = {
        "id": t.id,
        "currency": t.currency,
        "tariff_alt_text": ocpi.get("tariff_alt_text") or None,
        "tariff_alt_url": ocpi.get("tariff_alt_url") or None,
        "elements": elements,
        "last_updated": t.last_updated,
    }
    if v == V221:
        out = {
            "country_code": t.country_code,
            "party_id": t.party_id,
            **out,
            "type": t.type or None,
            "min_price": _price(ocpi.get("min_price")),
            "max_price": _price(ocpi.get("max_price")),
            "start_date_time": ocpi.get("start_date_time"),
            "end_date_time": ocpi.get("end_date_time"),
        }
    return clean(out)


# --- sessions and CDRs ---------------------------------------------------------------------


def _periods(periods: Iterable[Mapping[str, Any]] | None, version: str) -> list[dict[str, Any]]:
    out = []
    for p in periods or ():
        dims = [
            {"type": d["type"], "volume": Decimal(str(d["volume"]))}
            for d in p.get("dimensions", [])
            if version == V221 or d["type"] in _DIMENSIONS_211
        ]
        if not dims:
            continue
        item: dict[str, Any] = {"start_date_time": p["start_date_time"], "dimensions": dims}
        if version == V221 and p.get("tariff_id"):
            item["tariff_id"] = p["tariff_id"]
        out.append(item)
    return out


def _cdr_token(token: Mapping[str, Any]) -> dict[str, Any]:
    """2.2.1 CdrToken: country_code and party_id of the eMSP (required since 2.2.1)."""
    return {
        "country_code": token.get("country_code", ""),
        "party_id": token.get("party_id", ""),
        "uid": token.get("uid", ""),
        "type": token.get("type", "RFID"),
        "contract_id": token.get("contract_id") or token.get("uid", ""),
    }


def _location_211(loc: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.1.1 Location with the one EVSE and connector a session / CDR used, from a 2.2.1
    CdrLocation-like mapping (session: location/evse/connector ids only)."""
    connector = clean(
        {
            "id": loc.get("connector_id"),
            "standard": loc.get("connector_standard"),
            "format": loc.get("connector_format"),
            "power_type": loc.get("connector_power_type"),
        }
    )
    return clean(
        {
            "id": loc.get("id"),
            "type": "UNKNOWN",
            "name": loc.get("name"),
            "address": loc.get("address"),
            "city": loc.get("city"),
            "postal_code": loc.get("postal_code"),
            "country": loc.get("country"),
            "coordinates": loc.get("coordinates"),
            "evses": [
                clean(
                    {
                        "uid": loc.get("evse_uid"),
                        "evse_id": loc.get("evse_id"),
                        "status": "UNKNOWN",
                        "connectors": [connector],
                    }
                )
            ],
        }
    )


def _used_location(
    loc: LocationRecord | None, evse_uid: str | None, connector_id: str | None
) -> dict[str, Any] | None:
    """2.1.1: the Location a session / CDR happened at, with only the EVSE and connector
    used (None when the record or the EVSE is not found)."""
    if loc is None:
        return None
    evses = []
    for e in loc.evses:
        if e.uid == evse_uid:
            evses.append(
                replace(e, connectors=tuple(c for c in e.connectors if c.id == connector_id))
            )
    if not evses or not evses[0].connectors:
        return None
    return location_object(replace(loc, evses=tuple(evses)), version=V211)


def session_object(
    r: SessionRecord, *, version: str, location: LocationRecord | None = None
) -> dict[str, Any]:
    """The Session (2.2.1 from `charging_api.session_object`; 2.1.1 derived from it, with
    `location`, the record of the location it happened at: 2.1.1 embeds the Location with
    only the EVSE and connector used; without it a minimal Location of the ids is sent)."""
    v = _v(version)
    s = charging_api.session_object(r)
    for k in _PLATFORM_FIELDS:
        s.pop(k, None)
    s["cdr_token"] = _cdr_token(r.cdr_token)
    s["total_cost"] = _price(s.get("total_cost"))
    s["kwh"] = Decimal(str(s["kwh"]))
    if "charging_periods" in s:
        s["charging_periods"] = _periods(s["charging_periods"], v) or None
    if v == V221:
        return clean(s)
    total = s["total_cost"]
    return clean(
        {
            "id": s["id"],
            "start_datetime": s["start_date_time"],
            "end_datetime": s.get("end_date_time"),
            "kwh": s["kwh"],
            "auth_id": r.cdr_token.get("contract_id") or r.cdr_token.get("uid"),
            "auth_method": _AUTH_METHOD_211.get(s["auth_method"], s["auth_method"]),
            "location": _used_location(location, s["evse_uid"], s["connector_id"])
            or _location_211(
                {
                    "id": s["location_id"],
                    "evse_uid": s["evse_uid"],
                    "connector_id": s["connector_id"],
                }
            ),
            "currency": s["currency"],
            "charging_periods": s.get("charging_periods"),
            "total_cost": total["excl_vat"] if total else None,
            "status": _SESSION_STATUS_211.get(s["status"], s["status"]),
            "last_updated": s["last_updated"],
        }
    )


def cdr_object(
    r: CdrRecord, *, version: str, location: LocationRecord | None = None
) -> dict[str, Any]:
    """The CDR (2.2.1 from `charging_api.cdr_object`; 2.1.1 derived from it, the Location
    as for `session_object`, else from the stored CdrLocation). A credit CDR carries
    `credit: true`, `credit_reference_id` and its negative totals as stored."""
    v = _v(version)
    c = charging_api.cdr_object(r)
    for k in _PLATFORM_FIELDS:
        c.pop(k, None)
    c["cdr_token"] = _cdr_token(c.get("cdr_token") or {})
    c["charging_periods"] = _periods(c.get("charging_periods"), v)
    c["total_cost"] = _price(c.get("total_cost")) or {"excl_vat": money(0)}
    for k in _CDR_COSTS:
        c[k] = _price(c.get(k))
    if v == V221:
        c["tariffs"] = [
            tariff_dict(t, version=v) for t in c.get("tariffs") or () if isinstance(t, Mapping)
        ] or None
        if not c.get("credit"):
            c["credit"] = None
        c["cdr_location"] = clean(c.get("cdr_location") or {})
        return clean(c)
    cl = c.get("cdr_location") or {}
    return clean(
        {
            "id": c["id"],
            "start_date_time": c["start_date_time"],
            "stop_date_time": c["end_date_time"],
            "auth_id": c["cdr_token"]["contract_id"],
            "auth_method": _AUTH_METHOD_211.get(c["auth_method"], c["auth_method"]),
            "location": _used_location(location, cl.get("evse_uid"), cl.get("connector_id"))
            or _location_211(cl),
            "currency": c["currency"],
            "tariffs": [
                tariff_dict(t, version=v) for t in c.get("tariffs") or () if isinstance(t, Mapping)
            ]
            or None,
            "charging_periods": c["charging_periods"],
            "total_cost": c["total_cost"]["excl_vat"],
            "total_energy": c["total_energy"],
            "total_time": c["total_time"],
            "total_parking_time": c.get("total_parking_time") or None,
            "remark": c.get("remark"),
            "last_updated": c["last_updated"],
        }
    )


def tariff_dict(t: Mapping[str, Any], *, version: str) -> dict[str, Any]:
    """A tariff snapshot (the OCPI 2.2.1 Tariff a CDR was priced with) in `version`."""
    rec = TariffRecord(
        platform_id=0,
        country_code=str(t.get("country_code", "")),
        party_id=str(t.get("party_id", "")),
        id=str(t.get("id", "")),
        currency=str(t.get("currency", "")),
        type=str(t.get("type", "") or ""),
        name="",
        current_version=None,
        ocpi=dict(t),
        versions=(),
        last_updated=_as_datetime(t.get("last_updated")),
    )
    return tariff_object(rec, version=version)


def _as_datetime(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value
