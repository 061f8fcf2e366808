"""Shared set-up of the OCPP journeys: a priced station, a token and helpers.

Tariff (VAT 21 %): FLAT 0.50, ENERGY 0.30 / kWh, PARKING_TIME 3.00 / h per minute.
Session: 60 minutes, 9.000 kWh charged in the first 40, parked (SuspendedEV) the last 20.
By hand:  energy  9 × 0.30 = 2.70 excl, × 1.21 = 3.267 incl
          flat    0.50 excl,            × 1.21 = 0.605 incl
          parking 20 min = 1/3 h × 3.00 = 1.00 excl, × 1.21 = 1.21 incl
          total   4.20 excl, 3.267 + 0.605 + 1.21 = 5.082 → 5.08 incl (ROUND_HALF_UP)
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import simplejson

from apps.charging.models import Cdr
from apps.locations import api as locations_api
from billing import pricing
from tests.conftest import RunningGateway, wait_for
from tests.factories import (
    ConnectorFactory,
    EmspFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffVersionFactory,
    TokenFactory,
)
from tests.ocpp_client import basic, open_station

TARIFF = {
    "country_code": "NL",
    "party_id": "CPO",
    "id": "JOURNEY",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 3.00, "vat": 21.0, "step_size": 60},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


def z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def station() -> dict[str, Any]:
    connector = ConnectorFactory()
    st = connector.evse.charge_station
    version = TariffVersionFactory(
        tariff__party=PartyFactory(tenant=st.tenant),
        tenant=st.tenant,
        ocpi=TARIFF,
        effective_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    TariffAssignmentFactory(
        charge_station=st,
        tariff_code=TariffCodeFactory(tariff=version.tariff, tenant=st.tenant),
        effective_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    # A token of the station's tenant: Authorize looks only there (ADR 0015).
    token = TokenFactory(uid="04AA11BB22CC33", party=EmspFactory(tenant=st.tenant))
    password = locations_api.charge_station_reset_password(station_id=st.pk)
    return {"station": st, "password": password, "token": token}


def connect(gw: RunningGateway, station: dict[str, Any], protocol: str) -> Any:
    identity = station["station"].identity
    return open_station(
        gw.ws_url + identity, protocol=protocol, headers=basic(identity, station["password"])
    )


def cdr_for(station_id: int, txid: str) -> Cdr:
    cdr: Cdr = wait_for(
        lambda: Cdr.objects.filter(
            session__charge_station_id=station_id, session__ocpp_transaction_id=txid
        ).first(),
        what=f"the CDR of transaction {txid}",
    )
    assert_valid_ocpi_cdr(cdr)  # every CDR a journey produces
    return cdr


# What the REST API and the webhooks add to the OCPI CDR (docs/api.md), and the fields OCPI
# 2.2.1 requires of a CDR (mod_cdrs, CDR object).
PLATFORM_FIELDS = ("platform_id", "session_platform_id", "charge_station_id")
OCPI_CDR_REQUIRED = (
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
)


def assert_valid_ocpi_cdr(cdr: Cdr) -> dict[str, Any]:
    """The CDR as partners receive it (the API / webhook object as JSON, without the
    platform's own fields) and the stored OCPI object both pass the pricing core's strict
    CDR parser (unknown keys, every nested object whole, CdrLocation's required fields);
    the partner's copy has every field OCPI requires. Returns the partner's copy."""
    from apps.charging import api as charging_api

    record = charging_api.cdr_get(tenant_id=cdr.tenant_id, cdr_id=cdr.pk)
    wire = simplejson.loads(
        simplejson.dumps(
            charging_api.cdr_object(record),
            use_decimal=True,
            default=lambda v: v.isoformat().replace("+00:00", "Z"),
        ),
        use_decimal=True,
    )
    assert [wire.pop(k) for k in PLATFORM_FIELDS] == [
        cdr.pk,
        cdr.session_id,
        cdr.session.charge_station_id if cdr.session_id else None,
    ]
    assert [k for k in OCPI_CDR_REQUIRED if wire.get(k) is None] == []
    assert cdr.annotations is not None  # the platform's notes, outside the OCPI object
    time_zone = cdr.annotations["time_zone"]
    pricing.parse_cdr_session(wire, time_zone=time_zone)  # raises, naming every issue
    pricing.parse_cdr_session(cdr.data, time_zone=time_zone)
    return dict(wire)


def assert_journey_cdr(cdr: Cdr) -> None:
    assert cdr.currency == "EUR"
    assert cdr.total_energy_kwh == Decimal("9.0000")
    assert cdr.total_energy_cost_excl_vat == Decimal("2.70")
    assert cdr.total_energy_cost_incl_vat == Decimal("3.27")
    assert cdr.total_fixed_cost_excl_vat == Decimal("0.50")
    assert cdr.total_fixed_cost_incl_vat == Decimal("0.61")
    assert cdr.total_parking_cost_excl_vat == Decimal("1.00")
    assert cdr.total_parking_cost_incl_vat == Decimal("1.21")
    assert cdr.total_cost_excl_vat == Decimal("4.20")
    assert cdr.total_cost_incl_vat == Decimal("5.08")
    assert cdr.total_time_hours == Decimal("1.000000")
    assert cdr.total_parking_time_hours == Decimal("0.333333")
    assert cdr.data["cdr_token"]["uid"] == "04AA11BB22CC33"
    assert len(cdr.data["charging_periods"]) >= 2
