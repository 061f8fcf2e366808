"""Billing set-up pages in Chromium (issue 17, area "cust"): create a retail package, a CPO
contract with a VAT rate and a payee IBAN, a payee put on a station, and home-charger flags
from a CSV (a bad line shown in the preview first). Screenshots go to
DATA_DIR/artefacts/portal/billing-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.locations.models import ChargeStation
from apps.rating.models import CpoContractVersion, PayeeAssignment
from tests.browser.conftest import sign_in_as
from tests.portal.world import make_tenant, now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bworld(transactional_db: None) -> tuple[Any, Any]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"billing-{name}.png"), full_page=True)


def test_billing_set_up_journey(page, live_server, bworld, artefacts, tmp_path) -> None:
    a, _ = bworld
    sign_in_as(page, live_server, a.users["platform_admin"])
    page.goto("/portal/alpha/billing/")
    form = page.get_by_test_id("package-form")
    form.get_by_label("Name").fill("Flex")
    form.get_by_label("Description").fill("Pay as you go, cost plus 5 %")
    form.get_by_role("button", name="Create package").click()
    expect(page.get_by_test_id("packages")).to_contain_text("Flex")
    group = page.get_by_test_id("group-form")
    group.get_by_label("Name").fill("ACME fleet")
    group.get_by_role("button", name="Create group").click()
    expect(page.get_by_test_id("groups")).to_contain_text("ACME fleet")
    shot(page, artefacts, "1-packages")

    page.goto("/portal/alpha/billing/cpo-contracts/")
    form = page.get_by_test_id("cpo-contract-form")
    form.get_by_label("Reference").fill("CPO-ALPHA")
    form.get_by_label("VAT country").fill("NL")
    form.get_by_label("VAT %").fill("21")
    form.get_by_label("payee IBAN").fill("NL91 ABNA 0417 1643 00")
    form.get_by_role("button", name="Create CPO contract").click()
    expect(page.get_by_test_id("versions")).to_contain_text("NL91ABNA0417164300")
    expect(page.get_by_test_id("versions")).to_contain_text("21.00 % NL")
    shot(page, artefacts, "2-cpo-contract")
    assert CpoContractVersion.objects.get().vat_rate == 21

    page.goto("/portal/alpha/billing/payees/")
    form = page.get_by_test_id("payee-form")
    form.get_by_label("Name").fill("Jan de Vries")
    form.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    form.get_by_role("button", name="Create payee").click()
    expect(page.get_by_test_id("payees")).to_contain_text("Jan de Vries")
    payee_id = page.get_by_test_id("payees").locator("tbody tr td").first.inner_text()
    assign = page.get_by_test_id("assign-form")
    assign.get_by_label("Charge station (identity)").fill(a.station.identity)
    assign.get_by_label("Payee (empty: none)").fill(payee_id)
    assign.get_by_role("button", name="Assign").click()
    expect(page.get_by_test_id("assignments")).to_contain_text("Jan de Vries")
    shot(page, artefacts, "3-payees")
    assert PayeeAssignment.objects.get().charge_station_id == a.station.pk

    bad = tmp_path / "bad.csv"
    bad.write_text(f"target,id,hcc\nstation,{a.station.identity},HCC_E\nstation,NOPE,HCC_V\n")
    page.goto("/portal/alpha/billing/hcc-flags/")
    page.get_by_test_id("hcc-file").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("hcc-preview")).to_contain_text("2 line(s), 1 with errors")
    expect(page.get_by_test_id("hcc-preview")).to_contain_text("no charge station NOPE")
    expect(page.get_by_test_id("apply-hcc")).to_have_count(0)
    shot(page, artefacts, "4-hcc-preview-errors")
    good = tmp_path / "good.csv"
    good.write_text(f"station,{a.station.identity},HCC_E\n")
    page.get_by_test_id("hcc-file").set_input_files(str(good))
    page.get_by_role("button", name="Preview").click()
    page.get_by_test_id("apply-hcc").click()
    expect(page.locator("body")).to_contain_text("1 changed, 0 already so")
    shot(page, artefacts, "5-hcc-applied")
    assert ChargeStation.objects.get(pk=a.station.pk).hcc == "HCC_E"
