"""Our objects as partners receive them (apps.roaming.objects): fixed records -> the exact
JSON, in 2.2.1 and 2.1.1. Pure: no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.charging.contracts import CdrKind, CdrRecord, SessionRecord, SessionStatus
from apps.locations.contracts import ConnectorRecord, EvseRecord, LocationRecord
from apps.roaming import objects, transport
from apps.tariffs.contracts import TariffRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)


def _wire(obj: object) -> object:
    """What goes over the wire, parsed back (Decimals as their exact JSON numbers)."""
    return json.loads(transport.dumps(obj), parse_float=Decimal)


def _connector(**kw: object) -> ConnectorRecord:
    base: dict[str, object] = dict(
        id="1",
        standard="IEC_62196_T2",
        format="SOCKET",
        power_type="AC_3_PHASE",
        max_voltage=230,
        max_amperage=32,
        max_electric_power=22080,
        last_updated=T0,
    )
    return ConnectorRecord(**{**base, **kw})  # type: ignore[arg-type]


def _location(evses: tuple[EvseRecord, ...]) -> LocationRecord:
    return LocationRecord(
        platform_id=7,
        country_code="NL",
        party_id="CPO",
        id="LOC1",
        publish=True,
        name="Station Square",
        address="Stationsplein 1",
        city="Amsterdam",
        postal_code="1012AB",
        state="",
        country="NLD",
        latitude=Decimal("52.3791283"),
        longitude=Decimal("4.9003620"),
        time_zone="Europe/Amsterdam",
        parking_type="ALONG_MOTORWAY",
        opening_times=None,
        charging_when_closed=True,
        evses=evses,
        last_updated=T0,
        etag="7-1",
    )


EVSE = EvseRecord(
    uid="EVSE-1",
    evse_id="NL*CPO*E1",
    status="AVAILABLE",
    capabilities=("RFID_READER", "CONTACTLESS_CARD_SUPPORT"),
    floor_level="",
    physical_reference="1",
    charge_station_id=3,
    ocpp_evse_id=1,
    connectors=(
        _connector(),
        _connector(id="2", standard="GBT_AC", last_updated=T1),  # not in 2.1.1
    ),
    last_updated=T0,
)


def test_location_2_2_1_exact() -> None:
    assert _wire(objects.location_object(_location((EVSE,)), version="2.2.1")) == {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "LOC1",
        "name": "Station Square",
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "postal_code": "1012AB",
        "country": "NLD",
        "coordinates": {"latitude": "52.3791283", "longitude": "4.9003620"},
        "evses": [
            {
                "uid": "EVSE-1",
                "evse_id": "NL*CPO*E1",
                "status": "AVAILABLE",
                "capabilities": ["RFID_READER", "CONTACTLESS_CARD_SUPPORT"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "max_electric_power": 22080,
                        "last_updated": "2026-03-02T08:00:00Z",
                    },
                    {
                        "id": "2",
                        "standard": "GBT_AC",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "max_electric_power": 22080,
                        "last_updated": "2026-03-02T09:30:15Z",
                    },
                ],
                "physical_reference": "1",
                "last_updated": "2026-03-02T09:30:15Z",  # its newest connector's
            }
        ],
        "time_zone": "Europe/Amsterdam",
        "charging_when_closed": True,
        "last_updated": "2026-03-02T09:30:15Z",
        "publish": True,
        "parking_type": "ALONG_MOTORWAY",
    }


def test_location_2_1_1_exact() -> None:
    assert _wire(objects.location_object(_location((EVSE,)), version="2.1.1")) == {
        "type": "OTHER",  # ALONG_MOTORWAY has no 2.1.1 LocationType
        "id": "LOC1",
        "name": "Station Square",
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "postal_code": "1012AB",
        "country": "NLD",
        "coordinates": {"latitude": "52.3791283", "longitude": "4.9003620"},
        "evses": [
            {
                "uid": "EVSE-1",
                "evse_id": "NL*CPO*E1",
                "status": "AVAILABLE",
                "capabilities": ["RFID_READER"],  # CONTACTLESS_CARD_SUPPORT is 2.2.1 only
                "connectors": [  # GB/T is not a 2.1.1 ConnectorType: left out
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "voltage": 230,
                        "amperage": 32,
                        "last_updated": "2026-03-02T08:00:00Z",
                    }
                ],
                "physical_reference": "1",
                "last_updated": "2026-03-02T09:30:15Z",
            }
        ],
        "time_zone": "Europe/Amsterdam",
        "charging_when_closed": True,
        "last_updated": "2026-03-02T09:30:15Z",
    }


def test_no_null_and_no_empty_string_anywhere() -> None:
    for version in ("2.2.1", "2.1.1"):
        text = transport.dumps(objects.location_object(_location((EVSE,)), version=version))
        assert "null" not in text and '""' not in text


def test_an_evse_without_a_connector_2_1_1_can_read_is_left_out() -> None:
    only_gbt = EvseRecord(
        **_evse_kw(connectors=(_connector(standard="GBT_DC", power_type="DC"),))  # type: ignore[arg-type]
    )
    assert objects.evse_object(only_gbt, version="2.1.1") is None
    assert "evses" not in objects.location_object(_location((only_gbt,)), version="2.1.1")


def _evse_kw(**kw: object) -> dict[str, object]:
    base = {f: getattr(EVSE, f) for f in EVSE.__slots__}  # type: ignore[attr-defined]
    return {**base, **kw}


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError):
        objects.location_object(_location(()), version="2.0")


TARIFF = TariffRecord(
    platform_id=4,
    country_code="NL",
    party_id="CPO",
    id="T1",
    currency="EUR",
    type="REGULAR",
    name="Standard",
    current_version=2,
    ocpi={
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal("0.254999"), "vat": 21, "step_size": 1},
                    {"type": "FLAT", "price": Decimal("0.5"), "step_size": 1},
                ],
                "restrictions": {"min_current": 16, "max_kwh": Decimal("50"), "reservation": None},
            },
            {"price_components": [{"type": "RESERVATION", "price": 1, "step_size": 60}]},
        ],
        "tariff_alt_text": [{"language": "en", "text": "0.25/kWh"}],
        "last_updated": "2026-01-01T00:00:00Z",
    },
    versions=(),
    last_updated=T1,
)


def test_tariff_2_2_1_exact() -> None:
    assert _wire(objects.tariff_object(TARIFF, version="2.2.1")) == {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "T1",
        "currency": "EUR",
        "tariff_alt_text": [{"language": "en", "text": "0.25/kWh"}],
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal("0.2550"), "step_size": 1, "vat": 21},
                    {"type": "FLAT", "price": Decimal("0.5000"), "step_size": 1},
                ],
                "restrictions": {"min_current": 16, "max_kwh": 50},
            },
            # A RESERVATION component is no TariffDimensionType: never sent (its element,
            # left empty, neither); 2.2.1 prices reservations with a `reservation` restriction.
        ],
        "last_updated": "2026-03-02T09:30:15Z",
        "type": "REGULAR",
    }


def test_tariff_2_1_1_exact() -> None:
    assert _wire(objects.tariff_object(TARIFF, version="2.1.1")) == {
        "id": "T1",
        "currency": "EUR",
        "tariff_alt_text": [{"language": "en", "text": "0.25/kWh"}],
        "elements": [  # no vat, no current / reservation restriction, no RESERVATION element
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal("0.2550"), "step_size": 1},
                    {"type": "FLAT", "price": Decimal("0.5000"), "step_size": 1},
                ],
                "restrictions": {"max_kwh": 50},
            }
        ],
        "last_updated": "2026-03-02T09:30:15Z",
    }


TOKEN = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": "04A1B2C3D4",
    "type": "RFID",
    "contract_id": "DE-EMS-C00000001-X",
}
PERIODS = [
    {
        "start_date_time": "2026-03-02T08:00:00Z",
        "dimensions": [
            {"type": "ENERGY", "volume": Decimal("12.5")},
            {"type": "MAX_POWER", "volume": Decimal("11")},
        ],
        "tariff_id": "T1",
    }
]


def _session(status: SessionStatus, end: datetime | None) -> SessionRecord:
    return SessionRecord(
        platform_id=42,
        country_code="NL",
        party_id="CPO",
        status=status,
        start_date_time=T0,
        end_date_time=end,
        kwh=Decimal("12.5000"),
        currency="EUR",
        total_cost_excl_vat=Decimal("3.125"),
        total_cost_incl_vat=None,
        charge_station_id=3,
        location_id="LOC1",
        evse_uid="EVSE-1",
        connector_id="1",
        cdr_token=dict(TOKEN),
        auth_method="COMMAND",
        last_updated=T1,
        charging_periods=PERIODS,
    )


def test_session_2_2_1_exact() -> None:
    assert _wire(objects.session_object(_session(SessionStatus.ACTIVE, None), version="2.2.1")) == {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "42",
        "start_date_time": "2026-03-02T08:00:00Z",
        "kwh": Decimal("12.5000"),
        "cdr_token": TOKEN,
        "auth_method": "COMMAND",
        "location_id": "LOC1",
        "evse_uid": "EVSE-1",
        "connector_id": "1",
        "currency": "EUR",
        "total_cost": {"excl_vat": Decimal("3.1250")},  # incl_vat unknown: omitted, not null
        "status": "ACTIVE",
        "last_updated": "2026-03-02T09:30:15Z",
        "charging_periods": PERIODS,
    }


def test_session_2_1_1_exact() -> None:
    record = _session(SessionStatus.RESERVATION, T1)
    assert _wire(objects.session_object(record, version="2.1.1")) == {
        "id": "42",
        "start_datetime": "2026-03-02T08:00:00Z",
        "end_datetime": "2026-03-02T09:30:15Z",
        "kwh": Decimal("12.5000"),
        "auth_id": "DE-EMS-C00000001-X",
        "auth_method": "AUTH_REQUEST",  # 2.1.1 has no COMMAND
        "location": {
            "id": "LOC1",
            "type": "UNKNOWN",
            "evses": [{"uid": "EVSE-1", "status": "UNKNOWN", "connectors": [{"id": "1"}]}],
        },
        "currency": "EUR",
        "charging_periods": [  # MAX_POWER is not a 2.1.1 dimension
            {
                "start_date_time": "2026-03-02T08:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": Decimal("12.5")}],
            }
        ],
        "total_cost": Decimal("3.1250"),  # a number in 2.1.1
        "status": "PENDING",  # 2.1.1 has no RESERVATION
        "last_updated": "2026-03-02T09:30:15Z",
    }


CDR_LOCATION = {
    "id": "LOC1",
    "name": "Station Square",
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "postal_code": "",
    "country": "NLD",
    "coordinates": {"latitude": "52.3791283", "longitude": "4.9003620"},
    "evse_uid": "EVSE-1",
    "evse_id": "NL*CPO*E1",
    "connector_id": "1",
    "connector_standard": "IEC_62196_T2",
    "connector_format": "SOCKET",
    "connector_power_type": "AC_3_PHASE",
}


def _cdr(kind: CdrKind, total: str) -> CdrRecord:
    amounts: dict[str, Decimal | None] = {
        f"total_{c}_{v}": None
        for c in (
            "cost",
            "fixed_cost",
            "energy_cost",
            "time_cost",
            "parking_cost",
            "reservation_cost",
        )
        for v in ("excl_vat", "incl_vat")
    }
    amounts["total_cost_excl_vat"] = Decimal(total)
    amounts["total_cost_incl_vat"] = Decimal(total) * Decimal("1.21")
    amounts["total_energy_cost_excl_vat"] = Decimal(total)
    return CdrRecord(
        platform_id=9,
        country_code="NL",
        party_id="CPO",
        id="CDR00000009" if kind is CdrKind.ORIGINAL else "CDR00000010",
        kind=kind,
        credit_reference_id="CDR00000009" if kind is CdrKind.CREDIT else None,
        session_platform_id=42,
        charge_station_id=3,
        start_date_time=T0,
        end_date_time=T1,
        currency="EUR",
        amounts=amounts,
        total_energy=Decimal("12.5000"),
        total_time=Decimal("1.504167"),
        total_parking_time=Decimal("0"),
        data={
            "session_id": "42",
            "cdr_token": dict(TOKEN),
            "auth_method": "WHITELIST",
            "cdr_location": dict(CDR_LOCATION),
            "tariffs": None,
            "charging_periods": PERIODS,
            "signed_data": None,
            "time_zone": "Europe/Amsterdam",  # a legacy platform note: never sent
        },
        last_updated=T1,
    )


def test_cdr_2_2_1_exact() -> None:
    assert _wire(objects.cdr_object(_cdr(CdrKind.ORIGINAL, "3.125"), version="2.2.1")) == {
        "session_id": "42",
        "cdr_token": TOKEN,
        "auth_method": "WHITELIST",
        "cdr_location": {k: v for k, v in CDR_LOCATION.items() if k != "postal_code"},
        "charging_periods": PERIODS,
        "country_code": "NL",
        "party_id": "CPO",
        "id": "CDR00000009",
        "start_date_time": "2026-03-02T08:00:00Z",
        "end_date_time": "2026-03-02T09:30:15Z",
        "currency": "EUR",
        "total_energy": Decimal("12.5000"),
        "total_time": Decimal("1.504167"),
        "total_parking_time": 0,
        "last_updated": "2026-03-02T09:30:15Z",
        # 3.78125 to 4 decimals as apps.charging.ocpi.price quantizes (half even)
        "total_cost": {"excl_vat": Decimal("3.1250"), "incl_vat": Decimal("3.7812")},
        "total_energy_cost": {"excl_vat": Decimal("3.1250")},
    }


def test_credit_cdr_2_2_1_carries_its_reference_and_negative_total() -> None:
    out = _wire(objects.cdr_object(_cdr(CdrKind.CREDIT, "-3.125"), version="2.2.1"))
    assert isinstance(out, dict)
    assert (out["id"], out["credit"], out["credit_reference_id"]) == (
        "CDR00000010",
        True,
        "CDR00000009",
    )
    assert out["total_cost"] == {"excl_vat": Decimal("-3.1250"), "incl_vat": Decimal("-3.7812")}


def test_cdr_2_1_1_exact() -> None:
    assert _wire(objects.cdr_object(_cdr(CdrKind.ORIGINAL, "3.125"), version="2.1.1")) == {
        "id": "CDR00000009",
        "start_date_time": "2026-03-02T08:00:00Z",
        "stop_date_time": "2026-03-02T09:30:15Z",
        "auth_id": "DE-EMS-C00000001-X",
        "auth_method": "WHITELIST",
        "location": {
            "id": "LOC1",
            "type": "UNKNOWN",
            "name": "Station Square",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "country": "NLD",
            "coordinates": {"latitude": "52.3791283", "longitude": "4.9003620"},
            "evses": [
                {
                    "uid": "EVSE-1",
                    "evse_id": "NL*CPO*E1",
                    "status": "UNKNOWN",
                    "connectors": [
                        {
                            "id": "1",
                            "standard": "IEC_62196_T2",
                            "format": "SOCKET",
                            "power_type": "AC_3_PHASE",
                        }
                    ],
                }
            ],
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-03-02T08:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": Decimal("12.5")}],
            }
        ],
        "total_cost": Decimal("3.1250"),  # a number in 2.1.1
        "total_energy": Decimal("12.5000"),
        "total_time": Decimal("1.504167"),
        "last_updated": "2026-03-02T09:30:15Z",
    }
