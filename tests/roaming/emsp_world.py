"""A small world for the eMSP tests: a tenant with its own eMSP identity, a REGISTERED
connection to a CPO partner (DE*CPO) with the tokens in both directions, and a second tenant
with its own connection (tenancy checks). Built with the models directly until area
"connections" provides its services (design.md)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.test import Client

from apps.common import crypto
from apps.roaming import transport
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPartyRole
from tests.factories import EmspFactory, OperatorFactory, PartyFactory


@dataclass
class World:
    tenant_id: int
    connection: OcpiConnection
    token: str  # what the partner sends us
    emsp_party_pk: int

    def client(self) -> Client:
        return Client(HTTP_AUTHORIZATION=auth(self.token))


def auth(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def make_world(
    *,
    cpo: tuple[str, str] = ("DE", "CPO"),
    emsp: tuple[str, str] = ("NL", "EMS"),
    version: str = "2.2.1",
    partner_base: str = "http://127.0.0.1:9/ocpi/cpo/2.2.1",
    slug: str | None = None,
) -> World:
    tenant = OperatorFactory(**({"slug": slug} if slug else {}))
    own = EmspFactory(tenant=tenant, country_code=emsp[0], party_id=emsp[1])
    token = transport.new_token()
    conn = OcpiConnection.objects.create(
        tenant=tenant,
        name=f"CPO {cpo[1]}",
        versions_url="http://127.0.0.1:9/ocpi/versions",
        version=version,
        status="REGISTERED",
        initiator="US",
        our_token_digest=transport.token_digest(token),
        their_token_encrypted=crypto.encrypt("their-token-" + cpo[1]),
        auth_base64=version == "2.2.1",
    )
    partner = PartyFactory(
        tenant=tenant,
        kind="PARTNER",
        role="CPO",
        country_code=cpo[0],
        party_id=cpo[1],
        vat_rate=Decimal("19"),
    )
    OcpiPartyRole.objects.create(
        tenant=tenant,
        connection=conn,
        role="CPO",
        country_code=cpo[0],
        party_id=cpo[1],
        partner=partner,
    )
    for module, role in (
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
    ):
        OcpiEndpoint.objects.create(
            tenant=tenant,
            connection=conn,
            module=module,
            role=role if version == "2.2.1" else "",
            url=f"{partner_base}/{module}",
        )
    return World(tenant_id=tenant.pk, connection=conn, token=token, emsp_party_pk=own.pk)


def location_doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "Loc1",
        "publish": True,
        "address": "Hauptstr. 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": "Europe/Berlin",
        "evses": [
            {
                "uid": "Evse1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "tariff_ids": ["T1"],
                        "last_updated": "2026-12-01T10:00:00Z",
                    }
                ],
                "last_updated": "2026-12-01T10:00:00Z",
            }
        ],
        "last_updated": "2026-12-01T10:00:00Z",
    }
    doc.update(over)
    return doc


def tariff_doc(**over: Any) -> dict[str, Any]:
    """0.30/kWh and 2.00/h charging time, 19 % VAT, EUR."""
    doc: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {
                        "type": "ENERGY",
                        "price": Decimal("0.30"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                    {
                        "type": "TIME",
                        "price": Decimal("2.00"),
                        "vat": Decimal("19"),
                        "step_size": 1,
                    },
                ]
            }
        ],
        "last_updated": "2026-12-01T09:00:00Z",
    }
    doc.update(over)
    return doc


def cdr_doc(**over: Any) -> dict[str, Any]:
    """12.5 kWh over one hour with T1: energy 3.75, time 2.00, total 5.75 excl. VAT."""
    doc: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "CDR-0001",
        "start_date_time": "2026-12-01T10:00:00Z",
        "end_date_time": "2026-12-01T11:00:00Z",
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": "04A1B2C3",
            "type": "RFID",
            "contract_id": "NL-EMS-C00000001-X",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "Loc1",
            "address": "Hauptstr. 1",
            "city": "Berlin",
            "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": "Evse1",
            "evse_id": "DE*CPO*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-12-01T10:00:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": Decimal("12.5")},
                    {"type": "TIME", "volume": Decimal("1")},
                ],
                "tariff_id": "T1",
            }
        ],
        "total_cost": {"excl_vat": Decimal("5.75"), "incl_vat": Decimal("6.84")},
        "total_energy_cost": {"excl_vat": Decimal("3.75"), "incl_vat": Decimal("4.46")},
        "total_time_cost": {"excl_vat": Decimal("2.00"), "incl_vat": Decimal("2.38")},
        "total_energy": Decimal("12.5"),
        "total_time": Decimal("1"),
        "last_updated": "2026-12-01T11:05:00Z",
    }
    doc.update(over)
    return doc
