"""Browser journeys of the commercial model (ADR 0027) in Chromium: a platform admin adds a
partner and takes the tenant into the marketplace; the eMSP tenant opens its driver's CDR at
the other tenant's station. Screenshots go to DATA_DIR/artefacts/portal/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.parties.models import Operator, Party
from tests.browser.conftest import sign_in_as
from tests.portal.test_emsp_view import _roamed
from tests.portal.world import make_tenant, now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bworld(transactional_db: None) -> tuple[Any, Any]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_add_a_partner_and_join_the_marketplace(page, live_server, bworld, artefacts) -> None:  # type: ignore[no-untyped-def]
    a, _ = bworld
    sign_in_as(page, live_server, a.users["platform_admin"])
    page.goto("/portal/alpha/partners/")
    expect(page.get_by_test_id("marketplace-state")).to_have_text("not in the marketplace")
    form = page.get_by_test_id("partner-form")
    form.get_by_label("Role").select_option("EMSP")
    form.get_by_label("Country code").fill("BE")
    form.get_by_label("Party id").fill("XYZ")
    form.get_by_label("Name").fill("Xyz Mobility")
    form.get_by_label("Default VAT rate").fill("21")
    page.get_by_test_id("partner-create").click()
    expect(page.get_by_test_id("partners")).to_contain_text("BE*XYZ")
    page.get_by_test_id("marketplace-join").click()
    expect(page.get_by_test_id("marketplace-state")).to_have_text("in the marketplace")
    shot(page, artefacts, "20-partners")
    assert Party.objects.get(tenant=a.operator, party_id="XYZ").kind == "PARTNER"
    assert Operator.objects.get(pk=a.operator.pk).marketplace is True


def test_the_emsp_tenant_opens_its_drivers_cdr(page, live_server, bworld, artefacts) -> None:  # type: ignore[no-untyped-def]
    a, b = bworld
    _, cdr = _roamed(a, b)
    sign_in_as(page, live_server, b.users["emsp_admin"])
    page.goto("/portal/beta/emsp/")
    expect(page.get_by_test_id("emsp-cdrs")).to_contain_text("CDR-ROAMED-7")
    shot(page, artefacts, "21-drivers-elsewhere")
    page.get_by_role("link", name="CDR-ROAMED-7").click()
    expect(page.get_by_test_id("emsp-cdr")).to_contain_text("BETA-DRIVER-9")
    expect(page.locator("body")).not_to_contain_text(a.station.identity)
    shot(page, artefacts, "22-drivers-elsewhere-cdr")
