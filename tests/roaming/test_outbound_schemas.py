"""Every object we send validates against the spec's object definitions (the schema set in
tests/roaming/ocpi_schemas, written from the spec), in 2.2.1 and 2.1.1: our locations,
EVSEs, connectors, tariffs, sessions, CDRs (original and credit), the envelope. Outbound
strict: a field the spec does not define, a null, a wrong enum or a missing required field
fails here."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.contracts import CdrKind, SessionStatus
from apps.roaming import objects, transport
from tests.roaming import schemas
from tests.roaming.test_cpo_objects import EVSE, T1, TARIFF, _cdr, _location, _session

VERSIONS = ("2.2.1", "2.1.1")


def _wire(obj: object) -> Any:
    return json.loads(transport.dumps(obj), parse_float=Decimal)


@pytest.mark.parametrize("version", VERSIONS)
def test_location_evse_connector(version: str) -> None:
    loc = _location((EVSE,))
    schemas.validate(_wire(objects.location_object(loc, version=version)), version, "location")
    schemas.validate(_wire(objects.evse_object(EVSE, version=version)), version, "evse")
    schemas.validate(
        _wire(objects.connector_object(EVSE.connectors[0], version=version)), version, "connector"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_tariff(version: str) -> None:
    schemas.validate(_wire(objects.tariff_object(TARIFF, version=version)), version, "tariff")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("status", [SessionStatus.ACTIVE, SessionStatus.COMPLETED])
def test_session(version: str, status: SessionStatus) -> None:
    end = None if status is SessionStatus.ACTIVE else T1
    location = _location((EVSE,))  # 2.1.1 embeds it (cpo_push passes the location record)
    obj = objects.session_object(_session(status, end), version=version, location=location)
    schemas.validate(_wire(obj), version, "session")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("kind", "total"), [(CdrKind.ORIGINAL, "3.125"), (CdrKind.CREDIT, "-3.125")]
)
def test_cdr(version: str, kind: CdrKind, total: str) -> None:
    location = _location((EVSE,))
    obj = objects.cdr_object(_cdr(kind, total), version=version, location=location)
    schemas.validate(_wire(obj), version, "cdr")


def test_the_envelope() -> None:
    schemas.validate(_wire(transport.envelope({"x": 1})), "2.2.1", "response")


# -- what our endpoints answer ----------------------------------------------------------------


def _data(resp: Any) -> Any:
    env = transport.loads(resp.content)
    schemas.validate(env, "2.2.1", "response")
    return env.get("data")


@pytest.mark.django_db
def test_versions_details_credentials_tokens_and_authorize_answers() -> None:
    from apps.tokens.models import Token
    from tests.factories import PartyFactory, TokenFactory
    from tests.roaming.emsp_world import make_world

    w = make_world()
    PartyFactory(tenant_id=w.tenant_id, country_code="NL", party_id="CPA")  # our CPO too
    c = w.client()
    schemas.validate(_data(c.get("/ocpi/versions")), "2.2.1", "versions")
    for version in VERSIONS:
        details = _data(c.get(f"/ocpi/{version}/"))
        schemas.validate(details, version, "version_details")
    schemas.validate(_data(c.get("/ocpi/2.2.1/credentials")), "2.2.1", "credentials")
    TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="UID0")
    Token.objects.update(contract_id="NL-EMS-C00000001-X")
    tokens = _data(c.get("/ocpi/2.2.1/emsp/tokens"))
    assert len(tokens) == 1
    schemas.validate(tokens[0], "2.2.1", "token")
    info = _data(c.post("/ocpi/2.2.1/emsp/tokens/UID0/authorize", content_type="application/json"))
    schemas.validate(info, "2.2.1", "authorization_info")


def test_every_211_connector_standard_the_spec_has_is_sent() -> None:
    """DOMESTIC_A to DOMESTIC_L are 2.1.1 ConnectorTypes (the schema set and the pricing
    core agree); the rendering once stopped at DOMESTIC_J."""
    from tests.roaming.test_cpo_objects import _connector

    obj = objects.connector_object(_connector(standard="DOMESTIC_L"), version="2.1.1")
    assert obj is not None and obj["standard"] == "DOMESTIC_L"
    schemas.validate(_wire(obj), "2.1.1", "connector")
