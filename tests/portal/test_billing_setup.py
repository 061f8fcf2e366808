"""Billing set-up pages (issue 17, area "cust"): packages and groups, CPO contracts, payees,
the home-charger flag CSV (preview with per-line errors, then apply, all or nothing)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.customers.models import RetailPackage, UserGroup
from apps.locations.models import ChargeStation
from apps.parties.models import AuditEntry
from apps.rating.models import CpoContract, CpoContractVersion, Payee, PayeeAssignment
from apps.tokens.models import Token
from tests.portal.world import signed_in_client


def _url(a, name: str, *args: object) -> str:
    return reverse(f"portal:{name}", args=[a.operator.slug, *args])


def test_packages_and_groups_created_listed_and_audited(world) -> None:
    a, b = world
    client = signed_in_client(a.users["platform_admin"])
    client.post(_url(a, "retail_package_new"), {"name": "Flex", "description": "PAYG"})
    client.post(_url(a, "user_group_new"), {"name": "ACME"})
    page = client.get(_url(a, "billing")).content.decode()
    assert "Flex" in page and "PAYG" in page and "ACME" in page
    assert list(RetailPackage.objects.values_list("tenant_id", "name")) == [(a.operator.pk, "Flex")]
    assert UserGroup.objects.get().tenant_id == a.operator.pk
    user = a.users["platform_admin"]
    assert list(
        AuditEntry.objects.filter(actor_id=user.pk).order_by("id").values_list("action", flat=True)
    ) == [
        "retail_package.create",
        "user_group.create",
    ]
    # B sees none of it.
    other = signed_in_client(b.users["platform_admin"]).get(_url(b, "billing")).content
    assert b"Flex" not in other


def test_cpo_contract_created_and_versioned_from_the_portal(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["platform_admin"])
    r = client.post(
        _url(a, "cpo_contract_new"),
        {
            "party": a.party.pk,
            "reference": "CPO-1",
            "vat_country": "nl",
            "vat_rate": "21",
            "rounding_mode": "ROUND_HALF_UP",
            "payee_iban": "NL91 ABNA 0417 1643 00",
        },
    )
    contract = CpoContract.objects.get()
    assert r.status_code == 302 and r["Location"] == _url(a, "cpo_contract", contract.pk)
    v1 = CpoContractVersion.objects.get()
    assert (v1.vat_country, str(v1.vat_rate), v1.payee_iban) == (
        "NL",
        "21.00",
        "NL91ABNA0417164300",
    )
    bad = client.post(
        _url(a, "cpo_contract_version_new", contract.pk),
        {"vat_rate": "9", "rounding_mode": "ROUND_HALF_UP", "payee_iban": "NL91ABNA0417164301"},
        follow=True,
    )
    assert b"check digits do not match" in bad.content
    assert CpoContractVersion.objects.count() == 1
    client.post(
        _url(a, "cpo_contract_version_new", contract.pk),
        {"vat_rate": "9", "vat_country": "NL", "rounding_mode": "ROUND_HALF_EVEN"},
    )
    assert list(
        CpoContractVersion.objects.order_by("version").values_list("version", "rounding_mode")
    ) == [(1, "ROUND_HALF_UP"), (2, "ROUND_HALF_EVEN")]
    page = client.get(_url(a, "cpo_contract", contract.pk)).content.decode()
    assert "9.00 % NL" in page and "HALF_EVEN" in page


def test_payee_created_and_put_on_a_station(world) -> None:
    a, b = world
    client = signed_in_client(a.users["platform_admin"])
    client.post(_url(a, "payee_new"), {"kind": "HOME", "name": "Jan", "iban": ""})
    payee = Payee.objects.get()
    client.post(_url(a, "payee_assign"), {"station": a.station.identity, "payee": payee.pk})
    assignment = PayeeAssignment.objects.get()
    assert (assignment.charge_station_id, assignment.payee_id) == (a.station.pk, payee.pk)
    # Another tenant's station is not found by identity: nothing written.
    r = client.post(
        _url(a, "payee_assign"), {"station": b.station.identity, "payee": payee.pk}, follow=True
    )
    assert f"no charge station {b.station.identity} in this tenant".encode() in r.content
    assert PayeeAssignment.objects.count() == 1
    page = client.get(_url(a, "payees")).content.decode()
    assert "Jan" in page and f">{a.station.pk}</a>" in page


def test_hcc_csv_preview_names_each_bad_line_and_applies_nothing(world) -> None:
    a, b = world
    client = signed_in_client(a.users["platform_admin"])
    csv_text = (
        "target,id,hcc\n"
        f"station,{a.station.identity},HCC_E\n"
        "station,NOPE,HCC_V\n"
        f"token,{b.token.uid},HCC_E\n"
        f"token,{a.token.uid},HCC_Z\n"
    )
    r = client.post(
        _url(a, "hcc_import"),
        {"op": "preview", "file": SimpleUploadedFile("f.csv", csv_text.encode())},
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert "4 line(s), 3 with errors" in body
    assert "no charge station NOPE in this tenant" in body
    assert f"no token &#x27;{b.token.uid}&#x27; in this tenant" in body
    assert "must be HCC_E, HCC_V or null" in body
    assert 'data-testid="apply-hcc"' not in body
    # Applying the same text anyway is refused as a whole.
    r = client.post(_url(a, "hcc_import"), {"op": "apply", "csv_text": csv_text})
    assert r.status_code == 400
    assert ChargeStation.objects.get(pk=a.station.pk).hcc == ""
    assert not AuditEntry.objects.filter(action__endswith="hcc_set").exists()


def test_hcc_csv_applies_and_is_idempotent(world) -> None:
    a, b = world
    client = signed_in_client(a.users["platform_admin"])
    csv_text = f"station,{a.station.identity},HCC_E\ntoken,{a.token.uid},HCC_V\n"
    preview = client.post(
        _url(a, "hcc_import"),
        {"op": "preview", "file": SimpleUploadedFile("f.csv", csv_text.encode())},
    ).content.decode()
    assert "2 line(s), 0 with errors" in preview and 'data-testid="apply-hcc"' in preview
    r = client.post(_url(a, "hcc_import"), {"op": "apply", "csv_text": csv_text}, follow=True)
    assert b"2 changed, 0 already so" in r.content
    assert ChargeStation.objects.get(pk=a.station.pk).hcc == "HCC_E"
    assert Token.objects.get(pk=a.token.pk).hcc == "HCC_V"
    assert ChargeStation.objects.get(pk=b.station.pk).hcc == ""
    r = client.post(_url(a, "hcc_import"), {"op": "apply", "csv_text": csv_text}, follow=True)
    assert b"0 changed, 2 already so" in r.content
    assert AuditEntry.objects.filter(action__endswith="hcc_set").count() == 2


def test_support_reads_billing_pages_but_cannot_change(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    for name in ("billing", "cpo_contracts", "payees"):
        assert client.get(_url(a, name)).status_code == 200, name
    assert client.post(_url(a, "retail_package_new"), {"name": "X"}).status_code == 403
    assert client.get(_url(a, "hcc_import")).status_code == 403
    assert not RetailPackage.objects.exists()
