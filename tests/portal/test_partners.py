"""The Partners page (ADR 0027): list, create, edit, the marketplace setting; audited, per
tenant."""

from __future__ import annotations

from django.urls import reverse

from apps.parties.models import AuditEntry, Operator, Party
from tests.portal.world import signed_in_client


def test_a_cpo_admin_adds_and_edits_a_partner_audited(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:partners", args=["alpha"])
    body = client.get(url).content.decode()
    assert "DE*RMG" in body and "Roaming GmbH" in body
    r = client.post(
        reverse("portal:partner_new", args=["alpha"]),
        {"role": "EMSP", "country_code": "be", "party_id": "xyz", "name": "Xyz", "vat_rate": "21"},
    )
    assert r.status_code == 302
    created = Party.objects.get(tenant=a.operator, country_code="BE", party_id="XYZ")
    assert (created.kind, created.role, str(created.vat_rate)) == ("PARTNER", "EMSP", "21.00")
    edit = reverse("portal:partner_edit", args=["alpha", created.pk])
    form = client.get(edit).content.decode()
    assert 'name="etag"' in form
    etag = form.split('name="etag" value="')[1].split('"')[0]
    r = client.post(edit, {"name": "Xyz Mobility", "website": "", "vat_rate": "", "etag": etag})
    assert r.status_code == 302
    created.refresh_from_db()
    assert (created.name, created.vat_rate) == ("Xyz Mobility", None)
    # A stale form is refused, nothing changes.
    r = client.post(edit, {"name": "Stale", "etag": etag})
    assert r.status_code == 400 and "changed this partner meanwhile" in r.content.decode()
    created.refresh_from_db()
    assert created.name == "Xyz Mobility"
    entries = AuditEntry.objects.filter(object_type="party", object_id=str(created.pk))
    assert sorted(e.action for e in entries) == ["partner.create", "partner.update"]
    assert {e.actor_id for e in entries} == {a.users["cpo_admin"].pk}
    assert not AuditEntry.objects.filter(tenant=b.operator).exists()


def test_duplicates_and_bad_input_say_what_and_where(world) -> None:  # type: ignore[no-untyped-def]
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    new = reverse("portal:partner_new", args=["alpha"])
    own = {"role": "CPO", "country_code": "NL", "party_id": "AAA", "name": "me"}
    r = client.post(new, own)
    assert r.status_code == 400
    assert "already one of its own identities" in r.content.decode()
    r = client.post(new, {"role": "EMSP", "country_code": "B", "party_id": "X", "name": ""})
    assert r.status_code == 400
    page = r.content.decode()
    assert "two letters" in page and "three letters or digits" in page
    assert Party.objects.filter(tenant=a.operator, kind="PARTNER").count() == 1


def test_another_tenants_partner_is_not_found_and_unchanged(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    client = signed_in_client(a.users["platform_admin"])
    url = reverse("portal:partner_edit", args=["alpha", b.partner.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "taken"}).status_code == 404
    b.partner.refresh_from_db()
    assert b.partner.name == "Roaming GmbH"
    body = client.get(reverse("portal:partners", args=["alpha"])).content.decode()
    assert f"partner-{b.partner.pk}" not in body


def test_only_a_platform_admin_changes_the_marketplace_setting(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    url = reverse("portal:marketplace_set", args=["alpha"])
    cpo = signed_in_client(a.users["cpo_admin"])
    assert cpo.post(url, {"marketplace": "on"}).status_code == 302
    assert Operator.objects.get(pk=a.operator.pk).marketplace is False
    page = cpo.get(reverse("portal:partners", args=["alpha"])).content.decode()
    assert "Only a platform admin may change this." in page
    admin = signed_in_client(a.users["platform_admin"])
    assert (
        'data-testid="marketplace-join"'
        in admin.get(reverse("portal:partners", args=["alpha"])).content.decode()
    )
    assert admin.post(url, {"marketplace": "on"}).status_code == 302
    assert Operator.objects.get(pk=a.operator.pk).marketplace is True
    assert Operator.objects.get(pk=b.operator.pk).marketplace is False
    assert admin.post(url, {}).status_code == 302
    assert Operator.objects.get(pk=a.operator.pk).marketplace is False
    entries = AuditEntry.objects.filter(action="operator.marketplace_set").order_by("id")
    assert [(e.before, e.after) for e in entries] == [
        ({"marketplace": False}, {"marketplace": True}),
        ({"marketplace": True}, {"marketplace": False}),
    ]
