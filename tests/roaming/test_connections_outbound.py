"""We register with a partner (we are the credentials Sender), rotate (PUT), suspend,
resume and close; and the driver script: the stdlib partner registers with us over real
HTTP. Our OCPI endpoints run on pytest-django's live server (the partner calls our versions
back with the token B we POST, from its own thread, while our POST waits)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.common import crypto
from apps.common.contracts import Actor
from apps.parties.models import AuditEntry, Party
from apps.roaming import api
from apps.roaming.contracts import OcpiRole
from apps.roaming.models import OcpiConnection, OcpiExchange, OcpiPartyRole, OcpiPush
from apps.roaming.transport import token_digest
from tests.factories import EmspFactory, OperatorFactory, PartyFactory
from tests.roaming.ocpi_partner import Partner, http

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")
TOKEN_A = "token-A-handed-over-out-of-band"


@pytest.fixture
def ours(live_server: Any, settings: Any) -> str:
    settings.OCPI_BASE_URL = live_server.url
    return live_server.url + "/ocpi/versions"


@pytest.fixture
def tenant(transactional_db: None) -> Any:
    op = OperatorFactory(slug="alpha", name="Tenant ALPHA")
    PartyFactory(tenant=op, country_code="NL", party_id="AAA", name="Alpha Charging")
    return op


@pytest.fixture
def partner() -> Iterator[Partner]:
    p = Partner(tokens={TOKEN_A}).start()
    yield p
    p.stop()


def connect(tenant: Any, partner: Partner, **kw: Any) -> Any:
    return api.connection_register(
        tenant_id=tenant.pk,
        name="Partner",
        versions_url=partner.versions_url,
        token_a=TOKEN_A,
        actor=ACTOR,
        **kw,
    )


def test_we_register_with_a_partner(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    ref = connect(tenant, partner)
    assert (ref.status.value, ref.version, ref.initiator.value) == ("REGISTERED", "2.2.1", "US")
    conn = OcpiConnection.objects.get(pk=ref.id)
    b, c = partner.our_token, partner.issued[-1]
    assert b and c and b != c
    # We send C (the partner's answer), we accept B (what we POSTed); A is gone on both sides.
    assert crypto.decrypt(conn.their_token_encrypted) == c
    assert conn.our_token_digest == token_digest(b)
    assert TOKEN_A not in partner.tokens
    # The partner called our versions back with B while our POST waited.
    assert partner.callbacks == [(ours, 200)]
    # What we sent: versions and details with A, then POST credentials with A.
    assert [(s.method, s.path, s.token, s.b64) for s in partner.seen] == [
        ("GET", "/ocpi/versions", TOKEN_A, True),
        ("GET", "/ocpi/2.2.1", TOKEN_A, True),
        ("POST", "/ocpi/2.2.1/credentials", TOKEN_A, True),
    ]
    posted = partner.seen[-1].body
    assert posted == {
        "token": b,
        "url": ours,
        "roles": [
            {
                "role": "CPO",
                "party_id": "AAA",
                "country_code": "NL",
                "business_details": {"name": "Alpha Charging"},
            }
        ],
    }
    assert ref.endpoints == {
        ("credentials", "SENDER"): partner.url + "/ocpi/2.2.1/credentials",
        ("locations", "RECEIVER"): partner.url + "/ocpi/2.2.1/locations",
        ("tokens", "RECEIVER"): partner.url + "/ocpi/2.2.1/tokens",
    }
    assert [(r.role.value, r.country_code, r.party_id) for r in ref.roles] == [
        ("EMSP", "DE", "PTR")
    ]
    assert Party.objects.get(pk=ref.roles[0].party_pk).kind == "PARTNER"
    # Every exchange of ours is logged, outbound and the partner's callback inbound.
    logged = list(
        OcpiExchange.objects.filter(connection_id=ref.id)
        .order_by("id")
        .values_list("direction", "method", "module")
    )
    assert logged == [
        ("OUT", "GET", "versions"),
        ("OUT", "GET", "versions"),
        ("IN", "GET", "versions"),
        ("OUT", "POST", "credentials"),
    ]
    assert not any("uthorization" in str(x.request_headers) for x in OcpiExchange.objects.all())
    # The partner uses B with us; C (the token we send) is not accepted by us.
    assert http("GET", ours, token=b)[0] == 200
    assert http("GET", ours, token=c)[0] == 401
    assert http("GET", ours, token=TOKEN_A)[0] == 401
    assert [r.id for r in api.connections_registered(tenant_id=tenant.pk, role=OcpiRole.EMSP)] == [
        ref.id
    ]
    assert api.connections_registered(tenant_id=tenant.pk, role=OcpiRole.CPO) == []


def test_a_partner_that_wants_raw_tokens(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.accept = "raw"
    ref = connect(tenant, partner)
    assert ref.status.value == "REGISTERED" and ref.auth_base64 is False
    # One refused Base64 try, then raw for everything (remembered).
    assert [(s.path, s.b64) for s in partner.seen] == [
        ("/ocpi/versions", None),
        ("/ocpi/versions", False),
        ("/ocpi/2.2.1", False),
        ("/ocpi/2.2.1/credentials", False),
    ]


def test_no_common_version_leaves_it_pending(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.versions = ("2.0",)
    with pytest.raises(api.ConnectionFailed) as info:
        connect(tenant, partner)
    assert info.value.ocpi_status == 3002
    message = "no common OCPI version: the partner offers 2.0; we support 2.2.1, 2.1.1"
    assert str(info.value) == message
    conn = OcpiConnection.objects.get()
    assert (conn.status, conn.last_error, conn.our_token_digest) == ("PENDING", message, "")
    assert crypto.decrypt(conn.their_token_encrypted) == TOKEN_A
    assert not conn.endpoints.exists() and not OcpiPartyRole.objects.exists()


def test_a_refused_post_leaves_it_pending_and_b_unaccepted(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.fail_post = 3001
    with pytest.raises(api.ConnectionFailed):
        connect(tenant, partner)
    conn = OcpiConnection.objects.get()
    assert conn.status == "PENDING" and "refused by the partner" in conn.last_error
    assert conn.our_token_digest == ""
    b = partner.seen[-1].body["token"]
    assert http("GET", ours, token=b)[0] == 401
    # Retried after the partner fixed it: registered.
    partner.fail_post = None
    ref = api.connection_update(connection_id=conn.pk, actor=ACTOR)
    assert ref.status.value == "REGISTERED"
    assert OcpiConnection.objects.get().last_error == ""


def test_a_partner_on_211_only(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    partner.versions = ("2.1.1",)
    ref = connect(tenant, partner)
    assert ref.version == "2.1.1"
    assert partner.seen[-1].body == {
        "token": partner.our_token,
        "url": ours,
        "party_id": "AAA",
        "country_code": "NL",
        "business_details": {"name": "Alpha Charging"},
    }
    assert set(ref.endpoints) == {("credentials", ""), ("locations", ""), ("tokens", "")}


def _consumed(tenant) -> list[str]:  # type: ignore[no-untyped-def]
    """The CPO events the tenant's OCPI pushes consume (apps.integrations EventConsumer)."""
    from apps.integrations.models import EventConsumer

    row = EventConsumer.objects.filter(tenant=tenant).first()
    return sorted(row.events) if row else []


def test_rotate_suspend_resume_close(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    ref = connect(tenant, partner)
    assert "cdr.created" in _consumed(tenant)  # registered: our CPO events are pushed
    b1, c1 = partner.our_token, partner.issued[-1]
    partner.seen.clear()
    api.connection_update(connection_id=ref.id, actor=ACTOR)
    b2, c2 = partner.our_token, partner.issued[-1]
    assert b2 != b1 and c2 != c1
    # Versions and details fetched again with C, then PUT with C.
    assert [(s.method, s.path, s.token) for s in partner.seen] == [
        ("GET", "/ocpi/versions", c1),
        ("GET", "/ocpi/2.2.1", c1),
        ("PUT", "/ocpi/2.2.1/credentials", c1),
    ]
    conn = OcpiConnection.objects.get(pk=ref.id)
    assert crypto.decrypt(conn.their_token_encrypted) == c2
    assert conn.our_token_digest == token_digest(b2)
    assert http("GET", ours, token=b1)[0] == 401
    assert http("GET", ours, token=b2)[0] == 200

    api.connection_suspend(connection_id=ref.id, actor=ACTOR)
    assert _consumed(tenant) == []  # no registered connection left
    info = {"party_id": "XYZ", "country_code": "BE", "role": "EMSP", "status": "CONNECTED"}
    url = ours.replace("/versions", "/2.2.1/hubclientinfo/BE/XYZ")
    assert http("PUT", url, token=b2, body=info)[0] == 403
    held = OcpiPush.objects.create(
        tenant=tenant,
        connection_id=ref.id,
        module="tokens",
        method="PUT",
        path="x",
        key="k",
        body="{}",
        status="HELD",
    )
    api.connection_resume(connection_id=ref.id, actor=ACTOR)
    held.refresh_from_db()
    assert held.status == "PENDING"
    assert "cdr.created" in _consumed(tenant)
    assert http("PUT", url, token=b2, body=info)[0] == 201

    partner.seen.clear()
    api.connection_close(connection_id=ref.id, actor=ACTOR)
    assert [(s.method, s.path, s.token) for s in partner.seen] == [
        ("DELETE", "/ocpi/2.2.1/credentials", c2)
    ]
    assert OcpiConnection.objects.get(pk=ref.id).status == "CLOSED"
    assert http("GET", ours, token=b2)[0] == 401
    assert list(
        AuditEntry.objects.filter(object_type="ocpi_connection")
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "roaming.connection.register",
        "roaming.connection.registered",
        "roaming.connection.update",
        "roaming.connection.suspend",
        "roaming.connection.resume",
        "roaming.hub_client_info",
        "roaming.connection.close",
    ]


def test_driver_script_a_partner_registers_with_us_over_http(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    """The partner side written with the standard library only: it fetches our versions
    and details with A, POSTs its credentials, and we call its versions back with its B."""
    EmspFactory(tenant=tenant, country_code="NL", party_id="AAE", name="Alpha Mobility")
    ref, token_a = api.connection_invite(tenant_id=tenant.pk, name="Driver", actor=ACTOR)
    partner.tokens.clear()
    status, env = partner.register_with(ours, token_a)
    assert (status, env["status_code"]) == (200, 1000)
    c = env["data"]["token"]
    b = partner.issued[-1]
    assert [r["role"] for r in env["data"]["roles"]] == ["CPO", "EMSP"]
    conn = OcpiConnection.objects.get(pk=ref.id)
    assert conn.status == "REGISTERED"
    assert crypto.decrypt(conn.their_token_encrypted) == b
    assert conn.our_token_digest == token_digest(c)
    # Our callback reached the partner's own server with its B.
    assert [(s.path, s.token) for s in partner.seen] == [
        ("/ocpi/versions", b),
        ("/ocpi/2.2.1", b),
    ]
    # From now on: C works, A does not; raw and Base64 both accepted.
    assert http("GET", ours, token=c)[0] == 200
    assert http("GET", ours, token=c, b64=False)[0] == 200
    assert http("GET", ours, token=token_a)[0] == 401
    status, env = http(
        "POST",
        ours.replace("versions", "2.2.1/credentials"),
        token=c,
        body=partner.credentials("again"),
    )
    assert status == 405


MISSING_CDRS = (
    "the partner's OCPI {v} details list no cdrs (SENDER) endpoint: "
    "as eMSP we need a CPO's locations and cdrs Sender interfaces"
)


def test_we_do_not_post_to_a_cpo_lacking_what_our_emsp_needs(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    """2.2.1: the details' interface roles say it is a CPO (locations SENDER); without a
    cdrs Sender we do not POST (spec: the Sender does not send its credentials), 3003,
    token A untouched; once listed, trying again registers."""
    EmspFactory(tenant=tenant, country_code="NL", party_id="AAE")
    partner.role = "CPO"
    partner.modules = ("credentials", "locations", "tariffs")
    partner.senders = ("locations", "tariffs")
    with pytest.raises(api.ConnectionFailed) as info:
        connect(tenant, partner)
    assert info.value.ocpi_status == 3003
    assert info.value.message == MISSING_CDRS.format(v="2.2.1")
    assert [s.method for s in partner.seen] == ["GET", "GET"]  # no POST
    assert TOKEN_A in partner.tokens
    conn = OcpiConnection.objects.get(pk=info.value.connection_id)
    assert (conn.status, conn.last_error) == ("PENDING", MISSING_CDRS.format(v="2.2.1"))
    partner.modules = ("credentials", "locations", "tariffs", "cdrs")
    partner.senders = ("locations", "tariffs", "cdrs")
    ref = api.connection_update(connection_id=conn.pk, actor=ACTOR)
    assert ref.status.value == "REGISTERED"


def test_an_emsp_partner_is_registered_with_credentials_alone(ours, tenant, partner) -> None:  # type: ignore[no-untyped-def]
    EmspFactory(tenant=tenant, country_code="NL", party_id="AAE")
    partner.modules = ("credentials", "tokens")  # listed as RECEIVER: says nothing
    assert connect(tenant, partner).status.value == "REGISTERED"


def test_a_211_cpo_told_by_its_answer_is_unregistered_and_refused(ours, partner) -> None:  # type: ignore[no-untyped-def]
    """2.1.1 details carry no roles: the answer tells us it is a CPO (we presented our
    eMSP); it lacks cdrs, so we DELETE the registration we just made and refuse (3003)."""
    op = OperatorFactory(slug="emsponly", name="eMSP only")
    EmspFactory(tenant=op, country_code="NL", party_id="EEE")
    partner.versions = ("2.1.1",)
    partner.modules = ("credentials", "locations")
    with pytest.raises(api.ConnectionFailed) as info:
        connect(op, partner)
    assert info.value.ocpi_status == 3003
    assert info.value.message == MISSING_CDRS.format(v="2.1.1")
    c = partner.issued[-1]
    assert [(s.method, s.path, s.token) for s in partner.seen][-2:] == [
        ("POST", "/ocpi/2.1.1/credentials", TOKEN_A),
        ("DELETE", "/ocpi/2.1.1/credentials", c),
    ]
    assert c not in partner.tokens  # unregistered on its side too
    conn = OcpiConnection.objects.get(pk=info.value.connection_id)
    assert conn.status == "PENDING" and conn.last_error == MISSING_CDRS.format(v="2.1.1")
    assert not OcpiPartyRole.objects.filter(connection=conn).exists()
