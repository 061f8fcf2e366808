"""Tokens receiver (CPO role): what a partner eMSP pushes becomes the tenant's Token of the
partner party, stored exactly, compared case-insensitively, refused with 2001 where the spec
says so, and never visible to another tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.parties.models import AuditEntry
from apps.roaming.models import ForeignObject, OcpiExchange
from apps.tokens import api as tokens_api
from apps.tokens.models import Token
from tests.factories import TokenFactory
from tests.roaming.cpo_receiver_world import World, connect, ocpi

pytestmark = pytest.mark.django_db
URL = "/ocpi/2.2.1/cpo/tokens/DE/EMS/04a1b2c3d4"

TOKEN: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": "04a1b2c3d4",
    "type": "RFID",
    "contract_id": "DE-EMS-C12345678-X",
    "visual_number": "DF000-2001-8999-1",
    "issuer": "Partner eMSP",
    "group_id": "G-1",
    "valid": True,
    "whitelist": "ALLOWED",
    "language": "de",
    "default_profile_type": "GREEN",
    "energy_contract": {"supplier_name": "Greenpower", "contract_id": "GP-1"},
    "last_updated": "2026-12-01T10:00:00Z",
}


@pytest.fixture
def world() -> World:
    return connect()


def test_put_stores_the_token_of_the_partner_party_exactly(client: Client, world: World) -> None:
    status, env = ocpi(client, world, "PUT", URL, TOKEN)
    assert (status, env["status_code"]) == (200, 1000), env
    token = Token.objects.get()
    assert (token.tenant_id, token.party_id) == (world.tenant.pk, world.emsp.pk)
    assert (token.uid, token.type, token.contract_id, token.issuer) == (
        "04a1b2c3d4",
        "RFID",
        "DE-EMS-C12345678-X",
        "Partner eMSP",
    )
    assert (token.visual_number, token.group_id, token.valid, token.whitelist) == (
        "DF000-2001-8999-1",
        "G-1",
        True,
        "ALLOWED",
    )
    assert (token.language, token.default_profile_type) == ("de", "GREEN")
    assert token.energy_contract == {"supplier_name": "Greenpower", "contract_id": "GP-1"}
    doc = ForeignObject.objects.get(module="tokens")
    assert doc.data == TOKEN and doc.flags == []
    assert (doc.country_code, doc.party_id, doc.object_id) == ("DE", "EMS", "04A1B2C3D4:RFID")
    assert doc.last_updated.isoformat() == "2026-12-01T10:00:00+00:00"
    # Audited with the connection as the actor.
    entry = AuditEntry.objects.get(action="token.create")
    assert entry.actor_name == f"OCPI connection {world.conn.pk} (eMSP partner)"
    # GET answers the document as received.
    status, env = ocpi(
        client,
        world,
        "GET",
        URL.upper().replace("/OCPI/2.2.1/CPO/TOKENS", "/ocpi/2.2.1/cpo/tokens"),
    )
    assert (status, env["status_code"], env["data"]) == (200, 1000, TOKEN)


def test_put_again_in_other_casing_updates_the_one_token_and_keeps_its_uid(
    client: Client, world: World
) -> None:
    ocpi(client, world, "PUT", URL, TOKEN)
    upper = {**TOKEN, "uid": "04A1B2C3D4", "valid": False, "country_code": "de"}
    status, env = ocpi(client, world, "PUT", URL.replace("04a1b2c3d4", "04A1B2C3D4"), upper)
    assert (status, env["status_code"]) == (200, 1000), env
    token = Token.objects.get()
    assert (token.uid, token.valid) == ("04a1b2c3d4", False)
    assert ForeignObject.objects.get().data["uid"] == "04A1B2C3D4"  # as last sent


@pytest.mark.parametrize(
    ("url", "body", "message"),
    [
        (URL, {**TOKEN, "uid": "OTHER"}, "$.uid ('OTHER') differs from the token uid in the URL"),
        (URL, {**TOKEN, "party_id": "XYZ"}, "$.party_id ('XYZ') differs from the party id"),
        (URL + "?type=APP_USER", TOKEN, "$.type ('RFID') differs from the type parameter"),
        (URL.replace("/EMS/", "/ABC/"), {**TOKEN, "party_id": "ABC"}, "DE*ABC is not an eMSP"),
        (URL, {k: v for k, v in TOKEN.items() if k != "valid"}, "$.valid: required"),
        (URL + "?type=CARD", {**TOKEN, "type": "CARD"}, "type 'CARD' is not a token type"),
        (URL, [TOKEN], "the body must be a Token object"),
    ],
)
def test_put_refusals_are_2001_and_store_nothing(
    client: Client, world: World, url: str, body: Any, message: str
) -> None:
    status, env = ocpi(client, world, "PUT", url, body)
    assert (status, env["status_code"]) == (400, 2001), env
    assert env["status_message"].startswith(message), env["status_message"]
    assert not Token.objects.exists() and not ForeignObject.objects.exists()


def test_lenient_put_works_around_missing_fields_and_flags_them(
    client: Client, world: World
) -> None:
    body = {
        k: v for k, v in TOKEN.items() if k not in ("contract_id", "issuer", "whitelist", "uid")
    }
    body.update(language="deu", last_updated="yesterday")
    status, env = ocpi(client, world, "PUT", URL, body)
    assert (status, env["status_code"]) == (200, 1000), env
    token = Token.objects.get()
    assert (token.uid, token.contract_id, token.issuer, token.whitelist, token.language) == (
        "04a1b2c3d4",
        "04a1b2c3d4",
        "DE*EMS",
        "ALLOWED",
        "",
    )
    rules = [f["rule"] for f in ForeignObject.objects.get().flags]
    assert rules == [
        "missing_uid",
        "last_updated",
        "missing_contract_id",
        "missing_issuer",
        "whitelist",
        "language",
    ]


def test_patch_merges_needs_last_updated_and_a_known_token(client: Client, world: World) -> None:
    status, env = ocpi(
        client, world, "PATCH", URL, {"valid": False, "last_updated": "2026-12-02T10:00:00Z"}
    )
    assert (status, env["status_code"]) == (404, 2004), env
    ocpi(client, world, "PUT", URL, TOKEN)
    status, env = ocpi(client, world, "PATCH", URL, {"valid": False})
    assert (status, env["status_code"]) == (400, 2001)
    assert env["status_message"] == "$.last_updated: required on PATCH (an OCPI DateTime)"
    assert Token.objects.get().valid is True
    status, env = ocpi(
        client,
        world,
        "PATCH",
        URL.replace("04a1b2c3d4", "04A1B2C3D4"),
        {"valid": False, "whitelist": "NEVER", "last_updated": "2026-12-02T10:00:00Z"},
    )
    assert (status, env["status_code"]) == (200, 1000), env
    token = Token.objects.get()
    assert (token.uid, token.valid, token.whitelist, token.contract_id) == (
        "04a1b2c3d4",
        False,
        "NEVER",
        "DE-EMS-C12345678-X",
    )
    doc = ForeignObject.objects.get()
    assert doc.data == {
        **TOKEN,
        "valid": False,
        "whitelist": "NEVER",
        "last_updated": "2026-12-02T10:00:00Z",
    }
    status, env = ocpi(
        client, world, "PATCH", URL, {"uid": "X", "last_updated": "2026-12-03T00:00:00Z"}
    )
    assert (status, env["status_code"]) == (400, 2001)


def test_get_of_an_unknown_token_is_404(client: Client, world: World) -> None:
    status, env = ocpi(client, world, "GET", URL)
    assert (status, env["status_code"]) == (404, 2004)
    assert "data" not in env


def test_version_2_1_1_shape_with_auth_id(client: Client) -> None:
    world = connect(version="2.1.1")
    body = {
        "uid": "12345678905880",
        "type": "RFID",
        "auth_id": "DE8ACC12E46L89",
        "visual_number": "DF000-2001-8999",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED_OFFLINE",
        "last_updated": "2015-06-29T22:39:09Z",
    }
    url = "/ocpi/2.1.1/cpo/tokens/DE/EMS/12345678905880"
    status, env = (
        client.put(
            url,
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {world.token}",
        ).status_code,
        None,
    )
    assert status == 200
    token = Token.objects.get()
    assert (token.contract_id, token.whitelist, token.party_id) == (
        "DE8ACC12E46L89",
        "ALLOWED_OFFLINE",
        world.emsp.pk,
    )
    assert ForeignObject.objects.get().flags == []
    status, env = ocpi(client, world, "PUT", url + "?type=APP_USER", {**body, "type": "APP_USER"})
    assert (status, env["status_code"]) == (400, 2001)  # no APP_USER in 2.1.1


def test_another_tenant_never_sees_or_touches_these_tokens(client: Client, world: World) -> None:
    other = connect(emsp_code=("DE", "EMS"), name="same eMSP, other tenant")
    TokenFactory(party=other.emsp, uid="04a1b2c3d4", contract_id="OTHER-TENANT")
    ocpi(client, world, "PUT", URL, TOKEN)
    mine = Token.objects.get(tenant=world.tenant)
    theirs = Token.objects.get(tenant=other.tenant)
    assert (mine.contract_id, theirs.contract_id) == ("DE-EMS-C12345678-X", "OTHER-TENANT")
    status, env = ocpi(client, other, "GET", URL)
    assert (status, env["status_code"]) == (404, 2004)  # the other tenant's connection
    assert (
        tokens_api.token_partner_find(
            tenant_id=other.tenant.pk, party_pk=world.emsp.pk, uid="04A1B2C3D4"
        )
        is None
    )


def test_the_tenants_own_tokens_are_never_written_by_a_partner(
    client: Client, world: World
) -> None:
    """A connection whose eMSP role names the tenant's own eMSP identity (a misconfigured
    registration) cannot overwrite the tenant's own tokens."""
    own = TokenFactory(party__tenant=world.tenant, party__kind="OWN", uid="OWN1")
    role = world.conn.roles.get()
    role.country_code, role.party_id, role.partner = (
        own.party.country_code,
        own.party.party_id,
        own.party,
    )
    role.save()
    url = f"/ocpi/2.2.1/cpo/tokens/{own.party.country_code}/{own.party.party_id}/OWN1"
    body = {
        **TOKEN,
        "uid": "OWN1",
        "country_code": own.party.country_code,
        "party_id": own.party.party_id,
        "valid": False,
    }
    status, env = ocpi(client, world, "PUT", url, body)
    assert (status, env["status_code"]) == (400, 2001), env
    own.refresh_from_db()
    assert own.valid is True


def test_unknown_token_and_exchange_logged_without_authorization(
    client: Client, world: World
) -> None:
    ocpi(client, world, "PUT", URL, TOKEN)
    exchange = OcpiExchange.objects.get()
    assert (exchange.direction, exchange.method, exchange.module, exchange.ocpi_status) == (
        "IN",
        "PUT",
        "tokens",
        1000,
    )
    assert "Authorization" not in exchange.request_headers
