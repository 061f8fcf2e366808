"""The invoices pages in Chromium: the list, a draft's page, Finalize, a credit form error
and a partial credit note. Screenshots go to DATA_DIR/artefacts/portal/ (documents-*.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.invoicing.models import Document
from tests.browser.conftest import sign_in_as
from tests.factories import MembershipFactory, OperatorFactory, UserFactory
from tests.invoicing.documents_world import draft

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_finalize_and_credit_in_the_browser(
    page: Any, live_server: Any, artefacts: Path, transactional_db: Any
) -> None:
    tenant = OperatorFactory(slug="browser-docs", name="Browser Docs CPO")
    user = UserFactory(username="finance@browser.test", email="finance@browser.test")
    MembershipFactory(user=user, tenant=tenant, role="finance")
    doc = draft(
        tenant,
        [("10.00", "21"), ("5.55", "21"), ("2.00", "0", "HCC_E home charger")],
        buyer_name="Driver Dana",
    )
    sign_in_as(page, live_server, user)
    page.goto(f"/portal/{tenant.slug}/invoices/")
    expect(page.get_by_test_id("documents")).to_contain_text("Driver Dana")
    shot(page, artefacts, "documents-list")
    page.get_by_role("link", name="draft").first.click()
    expect(page.get_by_test_id("status")).to_have_text("DRAFT")
    expect(page.get_by_test_id("totals")).to_contain_text("20.82")
    shot(page, artefacts, "documents-draft")
    page.get_by_test_id("finalize").click()
    expect(page.get_by_test_id("status")).to_have_text("FINALIZED")
    number = Document.objects.get(pk=doc.pk).number
    expect(page.locator("h2")).to_contain_text(number)
    # "The chosen lines" without a line: the form says what is missing.
    page.locator("input[name=mode][value=lines]").check()
    page.locator("form[action$='/credit/'] input[name=reason]").fill("price error")
    page.get_by_test_id("credit").click()
    expect(page.get_by_test_id("credit-error")).to_contain_text("choose at least one line")
    shot(page, artefacts, "documents-credit-error")
    page.locator("input[name=mode][value=lines]").check()
    page.locator("input[name=line]").nth(1).check()
    page.get_by_test_id("credit").click()
    expect(page.get_by_test_id("original")).to_contain_text(number)
    expect(page.get_by_test_id("totals")).to_contain_text("6.72")
    shot(page, artefacts, "documents-credit-note")
