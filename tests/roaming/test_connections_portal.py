"""The portal's Roaming page: list, connect, invite, detail, actions; the capability; and
no tenant ever sees another's connections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from apps.common.contracts import Actor
from apps.parties.models import AuditEntry
from apps.roaming import api
from apps.roaming.models import OcpiConnection, OcpiPush
from apps.roaming.transport import token_digest
from tests.factories import EmspFactory, MembershipFactory, OperatorFactory, PartyFactory
from tests.portal.world import signed_in_client
from tests.roaming.ocpi_partner import Partner

pytestmark = pytest.mark.django_db
TOKEN_A = "partner-issued-token-A"


@pytest.fixture
def two() -> tuple[Any, Any]:
    a = OperatorFactory(slug="alpha", name="Tenant ALPHA")
    b = OperatorFactory(slug="beta", name="Tenant BETA")
    PartyFactory(tenant=a, country_code="NL", party_id="AAA", name="Alpha Charging")
    PartyFactory(tenant=b, country_code="NL", party_id="BBB", name="Beta Charging")
    return a, b


def member(tenant: Any, role: str) -> Any:
    return signed_in_client(MembershipFactory(tenant=tenant, role=role).user)


@pytest.fixture
def partner() -> Iterator[Partner]:
    p = Partner(tokens={TOKEN_A}, callback=False).start()
    yield p
    p.stop()


def test_connect_then_detail_then_actions(two, partner) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    client = member(a, "cpo_admin")
    r = client.post(
        reverse("portal:roaming_connect", args=["alpha"]),
        {
            "name": "Partner Mobility",
            "versions_url": partner.versions_url,
            "token_a": TOKEN_A,
            "auth_base64": "on",
        },
    )
    conn = OcpiConnection.objects.get(tenant=a)
    assert r.status_code == 302
    assert r["Location"] == reverse("portal:roaming_connection", args=["alpha", conn.pk])
    assert conn.status == "REGISTERED"
    OcpiPush.objects.create(
        tenant=a,
        connection=conn,
        module="cdrs",
        method="POST",
        path="",
        key="cdr:1",
        body="{}",
        status="FAILED",
    )
    body = client.get(r["Location"]).content.decode()
    assert "Registered with Partner Mobility on OCPI 2.2.1." in body
    assert "EMSP</td><td><code>DE*PTR</code>" in body
    assert partner.url + "/ocpi/2.2.1/locations" in body
    assert 'data-testid="pushes-failed">1<' in body and 'data-testid="pushes-sent">0<' in body
    assert body.count('data-testid="exchange-') == 3  # versions, details, POST credentials
    assert TOKEN_A not in body and partner.issued[-1] not in body
    # suspend, resume, close: each audited with the user.
    for action, status in (("suspend", "SUSPENDED"), ("resume", "REGISTERED"), ("close", "CLOSED")):
        r = client.post(reverse("portal:roaming_action", args=["alpha", conn.pk, action]))
        assert r.status_code == 302
        conn.refresh_from_db()
        assert conn.status == status, action
    entries = AuditEntry.objects.filter(object_type="ocpi_connection").order_by("id")
    assert [e.action for e in entries] == [
        "roaming.connection.register",
        "roaming.connection.registered",
        "roaming.connection.suspend",
        "roaming.connection.resume",
        "roaming.connection.close",
    ]
    assert {e.actor_id for e in entries} == {int(client.session["_auth_user_id"])}


def test_a_failed_connect_shows_the_pending_connection_and_why(two, partner) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    partner.versions = ("2.0",)
    client = member(a, "platform_admin")
    r = client.post(
        reverse("portal:roaming_connect", args=["alpha"]),
        {"name": "Old", "versions_url": partner.versions_url, "token_a": TOKEN_A},
        follow=True,
    )
    body = r.content.decode()
    assert "Not registered (the connection stays pending): no common OCPI version" in body
    assert 'data-testid="last-error"' in body and "Try registering again" in body
    assert OcpiConnection.objects.get().auth_base64 is False  # the box was not ticked


def test_invite_shows_token_a_once(two, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OCPI_BASE_URL = "https://ocpi.example"
    a, _ = two
    client = member(a, "emsp_admin")
    r = client.post(reverse("portal:roaming_invite", args=["alpha"]), {"name": "Newcomer"})
    assert r.status_code == 200
    body = r.content.decode()
    token = re.search(r'data-testid="token-a">([^<]+)<', body).group(1)  # type: ignore[union-attr]
    conn = OcpiConnection.objects.get(tenant=a)
    assert conn.token_a_digest == token_digest(token)
    assert "https://ocpi.example/ocpi/versions" in body
    detail = client.get(reverse("portal:roaming_connection", args=["alpha", conn.pk]))
    assert token not in detail.content.decode()
    listing = client.get(reverse("portal:roaming", args=["alpha"])).content.decode()
    assert "Newcomer" in listing and token not in listing


def test_reading_roles_may_not_change_anything(two) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    ref, _ = api.connection_invite(tenant_id=a.pk, name="X", actor=Actor.system("t"))
    for role in ("support", "finance"):
        client = member(a, role)
        assert client.get(reverse("portal:roaming", args=["alpha"])).status_code == 200
        body = client.get(reverse("portal:roaming_connection", args=["alpha", ref.id])).content
        assert b'data-testid="actions"' not in body and b"connect-form" not in body
        r = client.post(reverse("portal:roaming_action", args=["alpha", ref.id, "close"]))
        assert r.status_code == 403
        r = client.post(reverse("portal:roaming_invite", args=["alpha"]), {"name": "Y"})
        assert r.status_code == 403
    assert OcpiConnection.objects.get().status == "PENDING"
    assert OcpiConnection.objects.count() == 1


def test_tenants_never_see_each_others_connections(two) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    mine, _ = api.connection_invite(tenant_id=a.pk, name="Alpha's hub", actor=Actor.system("t"))
    theirs, _ = api.connection_invite(tenant_id=b.pk, name="Beta's hub", actor=Actor.system("t"))
    client = member(a, "platform_admin")
    listing = client.get(reverse("portal:roaming", args=["alpha"])).content.decode()
    assert "Alpha&#x27;s hub" in listing and "Beta&#x27;s hub" not in listing
    assert (
        client.get(reverse("portal:roaming_connection", args=["alpha", theirs.id])).status_code
        == 404
    )
    r = client.post(reverse("portal:roaming_action", args=["alpha", theirs.id, "close"]))
    assert r.status_code == 404
    assert OcpiConnection.objects.get(pk=theirs.id).status == "PENDING"
    # B's pages through B's slug: not a member, the same 404 as no tenant.
    assert client.get(reverse("portal:roaming", args=["beta"])).status_code == 404
    assert mine.id != theirs.id


def test_a_cpo_missing_a_module_we_need_is_named_in_the_portal(two, partner) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    EmspFactory(tenant=a, country_code="NL", party_id="AAE", name="Alpha Mobility")
    partner.role = "CPO"
    partner.modules = ("credentials", "locations")
    partner.senders = ("locations",)
    client = member(a, "platform_admin")
    r = client.post(
        reverse("portal:roaming_connect", args=["alpha"]),
        {"name": "CPO", "versions_url": partner.versions_url, "token_a": TOKEN_A},
        follow=True,
    )
    body = r.content.decode()
    assert (
        "Not registered (the connection stays pending): the partner&#x27;s OCPI 2.2.1 details "
        "list no cdrs (SENDER) endpoint: as eMSP we need a CPO&#x27;s locations and cdrs "
        "Sender interfaces"
    ) in body
    assert OcpiConnection.objects.get().status == "PENDING"
    assert [s.method for s in partner.seen] == ["GET", "GET"]  # no POST
