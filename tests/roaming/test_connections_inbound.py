"""A partner registers with us (we are the credentials Receiver): token A, our callback to
its versions with B, C in our answer; then PUT, DELETE, the 405 / 401 rules, 3001 / 3002 /
3003, HubClientInfo. The partner is the stdlib platform of tests/roaming/ocpi_partner.py
(served on loopback); our side is called through Django's test client."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.common import crypto
from apps.common.contracts import Actor
from apps.common.errors import NotFound
from apps.parties.models import AuditEntry, Party
from apps.roaming import api
from apps.roaming.contracts import OcpiRole
from apps.roaming.models import OcpiConnection, OcpiExchange, OcpiPartyRole, OcpiPush
from apps.roaming.transport import token_digest
from tests.factories import EmspFactory, OperatorFactory, PartyFactory
from tests.roaming.ocpi_partner import Partner
from tests.roaming.schemas import validate

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
BASE = "http://testserver"


@pytest.fixture(autouse=True)
def _base_url(settings: Any) -> None:
    settings.OCPI_BASE_URL = BASE


@pytest.fixture
def tenant() -> Any:
    op = OperatorFactory(slug="alpha", name="Tenant ALPHA")
    PartyFactory(tenant=op, country_code="NL", party_id="AAA", name="Alpha Charging")
    EmspFactory(tenant=op, country_code="NL", party_id="AAE", name="Alpha Mobility")
    return op


@pytest.fixture
def partner() -> Iterator[Partner]:
    p = Partner().start()
    yield p
    p.stop()


def auth(token: str, *, b64: bool = True) -> dict[str, str]:
    value = base64.b64encode(token.encode()).decode() if b64 else token
    return {"HTTP_AUTHORIZATION": f"Token {value}"}


def ocpi(client: Client, method: str, url: str, token: str, body: Any = None, b64: bool = True):  # type: ignore[no-untyped-def]
    kwargs: dict[str, Any] = auth(token, b64=b64)
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    r = getattr(client, method.lower())(url, **kwargs)
    return r.status_code, json.loads(r.content)


def invite(tenant: Any) -> tuple[int, str]:
    ref, token_a = api.connection_invite(tenant_id=tenant.pk, name="Partner", actor=ACTOR)
    return ref.id, token_a


def register(
    partner: Partner, token_a: str, *, version: str = "2.2.1", b64: bool = True
) -> tuple[str, Any]:
    """The partner's POST credentials with A; returns (its token B, our answer)."""
    b = "partner-token-B-" + version
    partner.tokens.add(b)
    body = partner.credentials_21(b) if version == "2.1.1" else partner.credentials(b)
    status, env = ocpi(Client(), "POST", f"/ocpi/{version}/credentials", token_a, body, b64=b64)
    assert status == 200, env
    return b, env


def test_a_partner_registers_with_token_a_and_gets_c(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    cid, a = invite(tenant)
    c = Client()
    status, env = ocpi(c, "GET", "/ocpi/versions", a)
    assert status == 200
    assert env["data"] == [
        {"version": "2.2.1", "url": f"{BASE}/ocpi/2.2.1/"},
        {"version": "2.1.1", "url": f"{BASE}/ocpi/2.1.1/"},
    ]
    status, env = ocpi(c, "GET", "/ocpi/2.2.1/", a)
    assert status == 200
    idents = {(e["identifier"], e["role"]) for e in env["data"]["endpoints"]}
    assert ("credentials", "SENDER") in idents and ("hubclientinfo", "RECEIVER") in idents
    assert env["data"]["version"] == "2.2.1"

    b, env = register(partner, a)
    assert env["status_code"] == 1000
    answer = env["data"]
    c_token = answer["token"]
    assert answer["url"] == f"{BASE}/ocpi/versions"
    assert answer["roles"] == [
        {
            "role": "CPO",
            "party_id": "AAA",
            "country_code": "NL",
            "business_details": {"name": "Alpha Charging"},
        },
        {
            "role": "EMSP",
            "party_id": "AAE",
            "country_code": "NL",
            "business_details": {"name": "Alpha Mobility"},
        },
    ]
    conn = OcpiConnection.objects.get(pk=cid)
    assert conn.status == "REGISTERED" and conn.version == "2.2.1"
    # B is the token we send, C the one we accept; never mixed up, A discarded.
    assert crypto.decrypt(conn.their_token_encrypted) == b
    assert conn.our_token_digest == token_digest(c_token) != token_digest(b)
    assert conn.token_a_digest == ""
    assert conn.versions_url == partner.versions_url
    # Our callback used B, Base64-encoded (2.2.1), for its versions and its details.
    assert [(s.method, s.path, s.token, s.b64) for s in partner.seen] == [
        ("GET", "/ocpi/versions", b, True),
        ("GET", "/ocpi/2.2.1", b, True),
    ]
    assert {(e.module, e.role) for e in conn.endpoints.all()} == {
        ("credentials", "SENDER"),
        ("locations", "RECEIVER"),
        ("tokens", "RECEIVER"),
    }
    role = OcpiPartyRole.objects.get(connection=conn)
    assert (role.role, role.country_code, role.party_id, role.name) == (
        "EMSP",
        "DE",
        "PTR",
        "Partner Mobility",
    )
    party = Party.objects.get(pk=role.partner_id)
    assert (party.tenant_id, party.kind, party.role, party.website) == (
        tenant.pk,
        "PARTNER",
        "EMSP",
        "https://p.example",
    )
    assert list(
        AuditEntry.objects.filter(tenant=tenant).order_by("id").values_list("action", "actor_name")
    ) == [
        ("roaming.connection.invite", "test"),
        ("partner.create", "OCPI partner Partner"),
        ("roaming.connection.registered", "OCPI partner Partner"),
    ]
    # A is refused now; C opens; B (the token we send) is not a token we accept.
    assert ocpi(c, "GET", "/ocpi/versions", a)[0] == 401
    assert ocpi(c, "GET", "/ocpi/versions", c_token)[0] == 200
    assert ocpi(c, "GET", "/ocpi/versions", b)[0] == 401
    # POST once registered: 405.
    status, env = ocpi(c, "POST", "/ocpi/2.2.1/credentials", c_token, partner.credentials("x" * 10))
    assert status == 405 and env["status_code"] == 2000
    # GET credentials: ours, with the token the caller uses.
    status, env = ocpi(c, "GET", "/ocpi/2.2.1/credentials", c_token, b64=False)
    assert status == 200 and env["data"]["token"] == c_token


def test_a_211_partner_with_raw_tokens(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.accept = "raw"
    cid, a = invite(tenant)
    status, env = ocpi(Client(), "GET", "/ocpi/2.1.1/", a, b64=False)
    assert status == 200
    endpoints = env["data"]["endpoints"]
    assert endpoints[0] == {"identifier": "credentials", "url": f"{BASE}/ocpi/2.1.1/credentials"}
    assert all(set(e) == {"identifier", "url"} for e in endpoints)  # no roles in 2.1.1
    assert "hubclientinfo" not in {e["identifier"] for e in endpoints}
    b, env = register(partner, a, version="2.1.1", b64=False)
    assert env["status_code"] == 1000
    # 2.1.1 shape: one party, no roles; the partner (an eMSP here) is served by our CPO.
    assert set(env["data"]) == {"token", "url", "party_id", "country_code", "business_details"}
    assert (env["data"]["country_code"], env["data"]["party_id"]) == ("NL", "AAA")
    conn = OcpiConnection.objects.get(pk=cid)
    assert conn.version == "2.1.1" and conn.auth_base64 is False  # learnt from the 401
    assert [(s.path, s.b64, s.token) for s in partner.seen if s.token] == [
        ("/ocpi/versions", False, b),
        ("/ocpi/2.1.1", False, b),
    ]
    assert {(e.module, e.role) for e in conn.endpoints.all()} == {
        ("credentials", ""),
        ("locations", ""),
        ("tokens", ""),
    }
    role = OcpiPartyRole.objects.get(connection=conn)
    assert (role.role, role.country_code, role.party_id) == ("EMSP", "DE", "PTR")
    assert ocpi(Client(), "GET", "/ocpi/versions", env["data"]["token"], b64=False)[0] == 200


def test_token_a_opens_only_versions_and_credentials(tenant) -> None:  # type: ignore[no-untyped-def]
    _, a = invite(tenant)
    c = Client()
    assert ocpi(c, "GET", "/ocpi/versions", a)[0] == 200
    assert ocpi(c, "GET", "/ocpi/2.2.1/", a)[0] == 200
    assert ocpi(c, "GET", "/ocpi/2.2.1/hubclientinfo/DE/PTR", a)[0] == 401
    assert ocpi(c, "GET", "/ocpi/versions", "no-such-token")[0] == 401
    r = c.get("/ocpi/versions")
    assert r.status_code == 401 and json.loads(r.content)["status_code"] == 2000
    # PUT / DELETE before registering: 405, nothing changes.
    assert ocpi(c, "PUT", "/ocpi/2.2.1/credentials", a, {"token": "x"})[0] == 405
    assert ocpi(c, "DELETE", "/ocpi/2.2.1/credentials", a)[0] == 405
    assert OcpiConnection.objects.get().status == "PENDING"


def test_callback_failure_is_3001_and_changes_nothing(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    cid, a = invite(tenant)
    body = partner.credentials("a-token-the-partner-does-not-know")
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, body)
    assert (status, env["status_code"]) == (200, 3001)
    assert "calling your versions back failed" in env["status_message"]
    conn = OcpiConnection.objects.get(pk=cid)
    assert (conn.status, conn.our_token_digest, conn.their_token_encrypted) == ("PENDING", "", "")
    assert conn.token_a_digest == token_digest(a)  # A still works: the partner may retry
    assert not OcpiPartyRole.objects.exists() and not conn.endpoints.exists()
    # Both Authorization forms were tried before giving up.
    assert [s.b64 for s in partner.seen] == [None, None]
    assert len(partner.seen) == 2


def test_missing_credentials_endpoint_is_3003(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.modules = ("locations",)
    _, a = invite(tenant)
    b = "tok-b"
    partner.tokens.add(b)
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, partner.credentials(b))
    assert (status, env["status_code"]) == (200, 3003)
    assert env["status_message"] == "the partner's OCPI 2.2.1 details list no credentials endpoint"
    assert OcpiConnection.objects.get().status == "PENDING"


def test_a_version_the_partner_does_not_offer_is_3002(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.versions = ("2.1.1",)
    _, a = invite(tenant)
    partner.tokens.add("tok-b")
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, partner.credentials("tok-b"))
    assert (status, env["status_code"]) == (200, 3002)
    assert env["status_message"] == "the partner does not offer OCPI 2.2.1 (it offers 2.1.1)"


def test_a_body_we_cannot_use_is_2001_with_its_place(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    _, a = invite(tenant)
    body = partner.credentials("tok-b")
    body["roles"][0]["party_id"] = "TOOLONG"
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, body)
    assert (status, env["status_code"]) == (400, 2001)
    assert (
        env["status_message"] == "$.roles[0].party_id: 'TOOLONG' is not a three-character party id"
    )
    assert partner.seen == []  # refused before any callback


def test_put_rotates_and_refetches_and_delete_closes(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    cid, a = invite(tenant)
    b, env = register(partner, a)
    c1 = env["data"]["token"]
    partner.seen.clear()
    partner.modules = ("credentials", "locations", "tokens", "cdrs")
    b2 = "partner-token-B2"
    partner.tokens.add(b2)
    status, env = ocpi(Client(), "PUT", "/ocpi/2.2.1/credentials", c1, partner.credentials(b2))
    assert (status, env["status_code"]) == (200, 1000)
    c2 = env["data"]["token"]
    assert c2 not in (c1, b, b2)
    conn = OcpiConnection.objects.get(pk=cid)
    assert crypto.decrypt(conn.their_token_encrypted) == b2
    assert conn.our_token_digest == token_digest(c2)
    # The version did not change; the endpoints were fetched again all the same.
    assert [(s.path, s.token) for s in partner.seen] == [
        ("/ocpi/versions", b2),
        ("/ocpi/2.2.1", b2),
    ]
    assert conn.endpoints.filter(module="cdrs").exists()
    c = Client()
    assert ocpi(c, "GET", "/ocpi/versions", c1)[0] == 401
    assert ocpi(c, "GET", "/ocpi/versions", c2)[0] == 200
    # DELETE: closed; no token of it opens anything any more.
    status, env = ocpi(c, "DELETE", "/ocpi/2.2.1/credentials", c2)
    assert (status, env["status_code"]) == (200, 1000) and "data" not in env
    assert OcpiConnection.objects.get(pk=cid).status == "CLOSED"
    assert ocpi(c, "GET", "/ocpi/versions", c2)[0] == 401
    assert AuditEntry.objects.filter(action="roaming.connection.close").count() == 1


def test_the_handshake_is_logged_both_ways_without_authorization(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    cid, a = invite(tenant)
    c = Client()
    ocpi(c, "GET", "/ocpi/versions", a)
    ocpi(c, "GET", "/ocpi/2.2.1/", a)
    b, env = register(partner, a)
    rows = list(
        OcpiExchange.objects.filter(connection_id=cid)
        .order_by("id")
        .values_list("direction", "method", "module", "http_status", "ocpi_status")
    )
    assert rows == [
        ("IN", "GET", "versions", 200, 1000),
        ("IN", "GET", "versions", 200, 1000),
        ("OUT", "GET", "versions", 200, 1000),
        ("OUT", "GET", "versions", 200, 1000),
        ("IN", "POST", "credentials", 200, 1000),
    ]
    for x in OcpiExchange.objects.all():
        headers = json.dumps(x.request_headers).lower()
        assert "authorization" not in headers
        for token in (a, b, env["data"]["token"]):
            assert token not in headers
            # The credentials object carries the token too: never logged either.
            assert token not in x.request_body + x.response_body, x.url
    post = OcpiExchange.objects.get(connection_id=cid, method="POST")
    assert json.loads(post.request_body)["token"] == "(redacted)"
    assert json.loads(post.response_body)["data"]["token"] == "(redacted)"
    assert json.loads(post.response_body)["data"]["roles"][0]["party_id"] == "AAA"


def test_hub_client_info_holds_and_releases_a_party(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.role = "HUB"
    # A hub, to a tenant with an eMSP identity: its locations and cdrs senders are needed.
    partner.modules = ("credentials", "locations", "cdrs", "tokens")
    partner.senders = ("locations", "cdrs")
    cid, a = invite(tenant)
    _, env = register(partner, a)
    c_token = env["data"]["token"]
    assert OcpiConnection.objects.get(pk=cid).is_hub is True
    url = "/ocpi/2.2.1/hubclientinfo/BE/XYZ"
    info = {
        "party_id": "XYZ",
        "country_code": "BE",
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": "2026-12-07T10:00:00Z",
    }
    status, env = ocpi(Client(), "PUT", url, c_token, info)
    assert (status, env["status_code"]) == (201, 1000)
    validate(env["data"], "2.2.1", "client_info")
    # The hub's own role (from its registration, no ClientInfo yet) answers one too.
    status, env = ocpi(Client(), "GET", "/ocpi/2.2.1/hubclientinfo/DE/PTR", c_token)
    assert (status, env["data"]["role"], env["data"]["status"]) == (200, "HUB", "CONNECTED")
    validate(env["data"], "2.2.1", "client_info")
    row = OcpiPartyRole.objects.get(connection_id=cid, party_id="XYZ")
    assert (row.role, row.hub_status) == ("EMSP", "OFFLINE")
    assert Party.objects.get(pk=row.partner_id).kind == "PARTNER"
    held = OcpiPush.objects.create(
        tenant=tenant,
        connection_id=cid,
        module="tokens",
        method="PUT",
        path="x",
        key="k1",
        body="{}",
        to_country_code="BE",
        to_party_id="XYZ",
        status="HELD",
    )
    status, env = ocpi(Client(), "GET", url, c_token)
    assert env["data"]["status"] == "OFFLINE" and env["data"]["role"] == "EMSP"
    validate(env["data"], "2.2.1", "client_info")  # what we answer: outbound, strict
    status, _ = ocpi(Client(), "PUT", url, c_token, {**info, "status": "CONNECTED"})
    assert status == 200
    held.refresh_from_db()
    assert held.status == "PENDING"
    status, env = ocpi(Client(), "GET", url, c_token)
    assert env["data"]["status"] == "CONNECTED"
    validate(env["data"], "2.2.1", "client_info")
    # The URL and the body disagree: 2001, nothing stored.
    status, env = ocpi(Client(), "PUT", url, c_token, {**info, "party_id": "ABC"})
    assert (status, env["status_code"]) == (400, 2001)
    assert ocpi(Client(), "GET", "/ocpi/2.2.1/hubclientinfo/BE/NOP", c_token)[0] == 404
    api.connections_registered(tenant_id=tenant.pk, role=OcpiRole.CPO)  # a hub serves all
    assert [r.id for r in api.connections_registered(tenant_id=tenant.pk, role=OcpiRole.CPO)] == [
        cid
    ]


def test_another_tenant_never_sees_the_connection(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    other = OperatorFactory(slug="beta", name="Tenant BETA")
    PartyFactory(tenant=other, country_code="NL", party_id="BBB")
    cid, a = invite(tenant)
    register(partner, a)
    assert api.connection_list(tenant_id=other.pk) == []
    assert api.connection_detail(tenant_id=other.pk, connection_id=cid) is None
    assert api.connections_registered(tenant_id=other.pk) == []
    with pytest.raises(NotFound):
        api.connection_get(tenant_id=other.pk, connection_id=cid)
    with pytest.raises(NotFound):
        api.connection_suspend(connection_id=cid, actor=ACTOR, tenant_id=other.pk)
    assert OcpiConnection.objects.get(pk=cid).status == "REGISTERED"
    assert not Party.objects.filter(tenant=other, kind="PARTNER").exists()
    assert [r.id for r in api.connection_list(tenant_id=tenant.pk)] == [cid]


def test_version_details_list_the_modules_whose_routes_exist(tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Routes of the other areas (planted here) decide what is listed, per side and role."""
    from django.urls import path

    from roaming.ocpi.views import config, cpo, cpo_receiver, emsp

    def view(*args: Any) -> None:  # never called: only the route is read
        raise AssertionError

    monkeypatch.setattr(cpo, "urlpatterns", [path("locations/", view), path("cdrs/<str:id>", view)])
    monkeypatch.setattr(
        cpo_receiver, "urlpatterns", [path("tokens/<str:cc>/<str:pid>/<str:uid>", view)]
    )
    monkeypatch.setattr(
        emsp, "urlpatterns", [path("cdrs/", view), path("commands/<str:uid>", view)]
    )
    assert config._endpoints("2.2.1", tenant.pk, []) == [
        {"identifier": "credentials", "role": "SENDER", "url": f"{BASE}/ocpi/2.2.1/credentials"},
        {"identifier": "locations", "role": "SENDER", "url": f"{BASE}/ocpi/2.2.1/cpo/locations/"},
        {"identifier": "cdrs", "role": "SENDER", "url": f"{BASE}/ocpi/2.2.1/cpo/cdrs"},
        {"identifier": "tokens", "role": "RECEIVER", "url": f"{BASE}/ocpi/2.2.1/cpo/tokens"},
        {"identifier": "cdrs", "role": "RECEIVER", "url": f"{BASE}/ocpi/2.2.1/emsp/cdrs/"},
        {"identifier": "commands", "role": "SENDER", "url": f"{BASE}/ocpi/2.2.1/emsp/commands"},
        {
            "identifier": "hubclientinfo",
            "role": "RECEIVER",
            "url": f"{BASE}/ocpi/2.2.1/hubclientinfo",
        },
    ]
    # 2.1.1: one side only. A CPO partner sees our eMSP's modules, anyone else our CPO's.
    assert [e["url"] for e in config._endpoints("2.1.1", tenant.pk, ["CPO"])][1:] == [
        f"{BASE}/ocpi/2.1.1/emsp/cdrs/",
        f"{BASE}/ocpi/2.1.1/emsp/commands",
    ]
    assert [e["identifier"] for e in config._endpoints("2.1.1", tenant.pk, ["EMSP"])] == [
        "credentials",
        "locations",
        "cdrs",
        "tokens",
    ]
    # A tenant without an own eMSP identity lists no eMSP modules.
    Party.objects.filter(tenant=tenant, role="EMSP").delete()
    assert "/emsp/" not in str(config._endpoints("2.2.1", tenant.pk, []))


def test_a_cpo_without_the_endpoints_our_emsp_needs_is_refused_3003(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    """The tenant has an eMSP identity (NL*AAE): a CPO registering with us must list its
    locations and cdrs Sender interfaces. Refused: 3003 naming what is missing, nothing
    stored, token A still works; listed: registered."""
    partner.role = "CPO"
    partner.modules = ("credentials", "locations", "tariffs")
    partner.senders = ("locations", "tariffs")
    cid, a = invite(tenant)
    b = "partner-token-B-2.2.1"
    partner.tokens.add(b)
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, partner.credentials(b))
    assert (status, env["status_code"]) == (200, 3003)
    assert env["status_message"] == (
        "the partner's OCPI 2.2.1 details list no cdrs (SENDER) endpoint: "
        "as eMSP we need a CPO's locations and cdrs Sender interfaces"
    )
    conn = OcpiConnection.objects.get(pk=cid)
    assert (conn.status, conn.their_token_encrypted) == ("PENDING", "")
    assert not OcpiPartyRole.objects.filter(connection_id=cid).exists()
    # Listed as RECEIVER only: still missing (we pull from a CPO's sender).
    partner.modules = ("credentials", "locations", "cdrs")
    partner.senders = ("locations",)
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, partner.credentials(b))
    assert env["status_code"] == 3003 and "cdrs (SENDER)" in env["status_message"]
    # Token A still works; with both senders the registration goes through.
    partner.senders = ("locations", "cdrs")
    status, env = ocpi(Client(), "POST", "/ocpi/2.2.1/credentials", a, partner.credentials(b))
    assert (status, env["status_code"]) == (200, 1000), env
    assert OcpiConnection.objects.get(pk=cid).status == "REGISTERED"


def test_an_emsp_partner_needs_nothing_but_credentials(tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.role = "EMSP"
    partner.modules = ("credentials",)
    cid, a = invite(tenant)
    register(partner, a)
    assert OcpiConnection.objects.get(pk=cid).status == "REGISTERED"


def test_a_211_cpo_lists_endpoints_without_roles(partner) -> None:  # type: ignore[no-untyped-def]
    """An eMSP-only tenant presents its eMSP on 2.1.1, so the partner is a CPO: 2.1.1
    endpoints have no interface role, a listed module counts."""
    op = OperatorFactory(slug="emsponly", name="eMSP only")
    EmspFactory(tenant=op, country_code="NL", party_id="EEE", name="Only Mobility")
    partner.modules = ("credentials", "locations")
    cid, a = invite(op)
    b = "partner-token-B-2.1.1"
    partner.tokens.add(b)
    body = partner.credentials_21(b)
    status, env = ocpi(Client(), "POST", "/ocpi/2.1.1/credentials", a, body)
    assert (status, env["status_code"]) == (200, 3003)
    assert env["status_message"] == (
        "the partner's OCPI 2.1.1 details list no cdrs (SENDER) endpoint: "
        "as eMSP we need a CPO's locations and cdrs Sender interfaces"
    )
    partner.modules = ("credentials", "locations", "cdrs")
    status, env = ocpi(Client(), "POST", "/ocpi/2.1.1/credentials", a, body)
    assert (status, env["status_code"]) == (200, 1000), env
    conn = OcpiConnection.objects.get(pk=cid)
    assert conn.status == "REGISTERED"
    assert list(conn.roles.values_list("role", flat=True)) == ["CPO"]
