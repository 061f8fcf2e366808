"""Every portal URL: who may reach it, who may change anything through it, and that no
tenant sees another's data."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from apps.parties.contracts import ROLE_CAPABILITIES, Capability, TenantRole
from apps.parties.models import AuditEntry
from apps.tariffs.models import TariffAssignment, TariffCode, TariffVersion
from apps.tokens.models import Token
from portal import urls as portal_urls
from tests.portal.world import signed_in_client

# Outside a tenant: sign-in steps and the user's own account (recovery codes are the user's
# own, not tenant data).
OUTSIDE_TENANT = {"home", "sign_in", "mfa", "mfa_enrol", "sign_out", "account"}


def _kwargs(name: str, pattern: str, a) -> dict:
    values = {
        "tenant": a.operator.slug,
        "station_id": a.station.pk,
        "location_id": a.location.pk,
        "session_id": a.session.pk,
        "cdr_id": a.cdr.pk,
        "flag_id": a.flag.pk,
        "tariff_id": a.tariff.pk,
        "token_id": a.token.pk,
        "customer_id": a.customer.pk,
        "rule_id": a.rule.pk,
        "import_id": 1,
        "api_key_id": 1,
        "cpo_contract_id": 1,
        "run_id": 1,
        "partner_id": a.partner.pk,
        "action": "dismiss",
        "document_id": 1,  # invoicing (issue 18): no such document in the world (404)
        "kind": "pdf",  # a document's file; for an export batch's file: no such batch (404)
        # finance (issue 18)
        "exclusion_id": 1,
        "batch_id": 1,
        # roaming (issue 19): no such connection in the world (404)
        "connection_id": 1,
    }
    return {k: v for k, v in values.items() if f":{k}>" in pattern}


def tenant_urls(a) -> list[tuple[str, str, object]]:
    out = []
    for p in portal_urls.urlpatterns:
        assert isinstance(p, URLPattern)
        if p.name in OUTSIDE_TENANT:
            continue
        route = str(p.pattern)
        out.append(
            (p.name, reverse(f"portal:{p.name}", kwargs=_kwargs(p.name, route, a)), p.callback)
        )
    return out


def test_the_url_list_covers_every_portal_view(world) -> None:
    a, _ = world
    names = {p.name for p in portal_urls.urlpatterns}
    assert len(tenant_urls(a)) == len(names - OUTSIDE_TENANT) > 30
    # Every tenant view went through the one decorator.
    for name, _, view in tenant_urls(a):
        assert hasattr(view, "portal_capability"), name


def test_unauthenticated_requests_go_to_sign_in_and_change_nothing(world) -> None:
    a, _ = world
    client = Client()
    before = (TariffVersion.objects.count(), Token.objects.filter(valid=True).count())
    for name, url, _ in tenant_urls(a):
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code == 302, (name, method, r.status_code)
            assert r["Location"].startswith(reverse("portal:sign_in")), name
    assert (TariffVersion.objects.count(), Token.objects.filter(valid=True).count()) == before
    assert AuditEntry.objects.count() == 0


def test_a_password_alone_does_not_open_the_portal(world) -> None:
    """A session logged in without the second factor is not signed in to the portal."""
    a, _ = world
    client = Client()
    client.force_login(a.users["platform_admin"])
    r = client.get(reverse("portal:dashboard", args=[a.operator.slug]))
    assert r.status_code == 302 and "sign-in" in r["Location"]


def test_support_can_read_everything_and_change_nothing(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    snapshot = (
        TariffVersion.objects.count(),
        TariffCode.objects.count(),
        TariffAssignment.objects.count(),
        list(Token.objects.values_list("valid", flat=True)),
        a.flag.__class__.objects.get(pk=a.flag.pk).status,
    )
    data = {
        "valid": "0",
        "code": "X",
        "tariff_id": a.tariff.pk,
        "tariff_code": a.code.code,
        "command": "RESET",
        "new_id": "COPY",
        "ocpi_id": "NEW",
        "party": a.party.pk,
        "op": "save",
        "currency": "EUR",
        "el-0-pc-0-price": "1",
        "csv_text": "x,y",
        "uid": "E9",
        "address": "a",
        "city": "b",
    }
    for name, url, view in tenant_urls(a):
        r = client.post(url, data)
        assert r.status_code in (403, 405), (name, r.status_code)
        if view.portal_capability == Capability.VIEW:
            assert client.get(url).status_code in (200, 404), name
    assert snapshot == (
        TariffVersion.objects.count(),
        TariffCode.objects.count(),
        TariffAssignment.objects.count(),
        list(Token.objects.values_list("valid", flat=True)),
        a.flag.__class__.objects.get(pk=a.flag.pk).status,
    )
    assert AuditEntry.objects.count() == 0


def test_read_only_views_never_accept_a_write_method(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["platform_admin"])
    for name, url, view in tenant_urls(a):
        if view.portal_capability == Capability.VIEW:
            assert client.post(url).status_code == 405, name


@pytest.mark.parametrize("role", [r.value for r in TenantRole])
def test_each_role_gets_exactly_its_write_capabilities(world, role) -> None:
    a, _ = world
    client = signed_in_client(a.users[role])
    allowed = ROLE_CAPABILITIES[TenantRole(role)]
    for name, url, view in tenant_urls(a):
        cap = view.portal_capability
        if cap == Capability.VIEW:
            continue
        methods = view.portal_methods
        r = client.get(url) if "GET" in methods else client.post(url, {})
        if cap in allowed:
            assert r.status_code != 403, (role, name)
        else:
            assert r.status_code == 403, (role, name, r.status_code)


def test_a_support_user_cannot_change_a_tariff(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    url = reverse("portal:tariff_version_new", args=[a.operator.slug, a.tariff.pk])
    r = client.post(
        url,
        {
            "op": "save",
            "currency": "EUR",
            "el-0-pc-0-type": "ENERGY",
            "el-0-pc-0-price": "9.99",
            "effective_from": "2030-01-01T00:00",
        },
    )
    assert r.status_code == 403
    assert b"does not allow this" in r.content
    assert TariffVersion.objects.filter(tariff=a.tariff).count() == 1


def test_a_cpo_admin_of_tenant_a_sees_nothing_of_tenant_b(world) -> None:
    a, b = world
    client = signed_in_client(a.users["cpo_admin"])
    # B's tenant pages: the same 404 as a tenant that does not exist.
    r = client.get(reverse("portal:dashboard", args=[b.operator.slug]))
    assert r.status_code == 404
    other = client.get(reverse("portal:dashboard", args=["no-such-tenant"]))
    assert other.status_code == 404
    for response in (r, other):
        assert b"There is no such page in your tenants." in response.content
        assert b"Tenant BETA" not in response.content
    # B's objects addressed through A's tenant: not found, and nothing of B on the page.
    for name, kwargs in [
        ("station", {"station_id": b.station.pk}),
        ("location", {"location_id": b.location.pk}),
        ("session", {"session_id": b.session.pk}),
        ("cdr", {"cdr_id": b.cdr.pk}),
        ("tariff", {"tariff_id": b.tariff.pk}),
        ("token", {"token_id": b.token.pk}),
        ("customer", {"customer_id": b.customer.pk}),
        ("billing_rule", {"rule_id": b.rule.pk}),
        ("billing_rule_version_new", {"rule_id": b.rule.pk}),
        ("billing_rule_copy", {"rule_id": b.rule.pk}),
    ]:
        r = client.get(reverse(f"portal:{name}", kwargs={"tenant": a.operator.slug, **kwargs}))
        assert r.status_code == 404, name
    # Lists of A show none of B's rows.
    for name in [
        "stations",
        "locations",
        "sessions",
        "cdrs",
        "flags",
        "tariffs",
        "tokens",
        "customers",
        "audit",
        "billing_rules",
        "billing_rule_tester",
    ]:
        body = client.get(reverse(f"portal:{name}", args=[a.operator.slug])).content.decode()
        for marker in (
            b.station.identity,
            b.location.name,
            b.cdr.ocpi_id,
            b.tariff.ocpi_id,
            b.token.uid,
            b.customer.name,
            b.rule.name,
        ):
            assert marker not in body, (name, marker)
    # Writes aimed at B's objects through A's tenant change nothing.
    admin = signed_in_client(a.users["platform_admin"])
    admin.post(reverse("portal:token_block", args=[a.operator.slug, b.token.pk]), {"valid": "0"})
    b.token.refresh_from_db()
    assert b.token.valid is True
    admin.post(reverse("portal:flag_action", args=[a.operator.slug, b.flag.pk, "dismiss"]))
    b.flag.refresh_from_db()
    assert b.flag.status == "OPEN"
    retire = reverse("portal:billing_rule_retire", args=[a.operator.slug, b.rule.pk])
    assert admin.post(retire, {}).status_code == 404
    assert b.rule.versions.count() == 1
    assert not AuditEntry.objects.filter(tenant=b.operator).exists()


def test_the_tenant_switcher_lists_only_the_users_tenants(world) -> None:
    a, b = world
    from tests.factories import MembershipFactory, OperatorFactory

    user = a.users["finance"]
    MembershipFactory(user=user, tenant=b.operator, role="support")
    OperatorFactory(slug="gamma", name="Tenant GAMMA")
    body = signed_in_client(user).get(reverse("portal:dashboard", args=["beta"])).content.decode()
    assert "Tenant ALPHA" in body and "Tenant BETA" in body and "Tenant GAMMA" not in body


def test_csrf_is_enforced_on_portal_posts(world) -> None:
    a, _ = world
    client = Client(enforce_csrf_checks=True)
    signed_in_client(a.users["platform_admin"], client)
    r = client.post(
        reverse("portal:token_block", args=[a.operator.slug, a.token.pk]), {"valid": "0"}
    )
    assert r.status_code == 403
    a.token.refresh_from_db()
    assert a.token.valid is True
