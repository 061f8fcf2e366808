"""A CPO tenant connected to one eMSP partner over OCPI, built with the models (until the
connections area's services land): what the cpo-receiver tests share."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from apps.common import crypto
from apps.parties.models import Operator, Party
from apps.roaming import transport
from apps.roaming.models import OcpiConnection, OcpiEndpoint, OcpiPartyRole
from tests.factories import ConnectorFactory, OperatorFactory, PartyFactory


@dataclass
class World:
    tenant: Operator
    cpo: Party  # the tenant's own CPO identity
    emsp: Party  # the tenant's PARTNER eMSP party (the connection's eMSP role)
    conn: OcpiConnection
    token: str  # what the partner sends us
    station: Any
    evse: Any
    location: Any

    def headers(self, **extra: str) -> dict[str, str]:
        encoded = base64.b64encode(self.token.encode()).decode()
        return {"HTTP_AUTHORIZATION": f"Token {encoded}", **extra}


def connect(
    *,
    tenant: Operator | None = None,
    emsp_code: tuple[str, str] = ("DE", "EMS"),
    version: str = "2.2.1",
    tokens_url: str = "https://emsp.example/ocpi/2.2.1/tokens",
    name: str = "eMSP partner",
    station: bool = True,
) -> World:
    tenant = tenant or OperatorFactory()
    cpo = PartyFactory(tenant=tenant, role="CPO", kind="OWN", country_code="NL")
    emsp = PartyFactory(
        tenant=tenant,
        role="EMSP",
        kind="PARTNER",
        country_code=emsp_code[0],
        party_id=emsp_code[1],
        name="Partner eMSP",
    )
    token = transport.new_token()
    conn = OcpiConnection.objects.create(
        tenant=tenant,
        name=name,
        versions_url="https://emsp.example/ocpi/versions",
        version=version,
        status="REGISTERED",
        initiator="THEM",
        our_token_digest=transport.token_digest(token),
        their_token_encrypted=crypto.encrypt(transport.new_token()),
        auth_base64=version != "2.1.1",
    )
    OcpiPartyRole.objects.create(
        tenant=tenant,
        connection=conn,
        role="EMSP",
        country_code=emsp_code[0],
        party_id=emsp_code[1],
        partner=emsp,
    )
    OcpiEndpoint.objects.create(
        tenant=tenant,
        connection=conn,
        module="tokens",
        role="SENDER" if version != "2.1.1" else "",
        url=tokens_url,
    )
    if not station:
        return World(tenant, cpo, emsp, conn, token, None, None, None)
    connector = ConnectorFactory(
        evse__charge_station__location__party=cpo,
        evse__charge_station__location__ocpi_id="LOC-Ams-1",
        evse__uid="Evse-1",
    )
    evse = connector.evse
    return World(
        tenant=tenant,
        cpo=cpo,
        emsp=emsp,
        conn=conn,
        token=token,
        station=evse.charge_station,
        evse=evse,
        location=evse.location,
    )


def ocpi(
    client: Client, world: World, method: str, url: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    """One call to our OCPI endpoints as the partner: (HTTP status, the envelope)."""
    kwargs: dict[str, Any] = world.headers(**headers)
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    response = getattr(client, method.lower())(url, **kwargs)
    return response.status_code, json.loads(response.content)
