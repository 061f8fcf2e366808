"""A document's files page in Chromium (area "files", ADR 0038): the stored files with their
SHA-256 and download links, Send again with a bad address (the error is shown, nothing is
sent), then to a good one (logged). Screenshots go to DATA_DIR/artefacts/portal/
(invoicing-files-*.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.invoicing import api as invoicing
from apps.invoicing.models import Delivery
from tests.browser.conftest import sign_in_as
from tests.factories import MembershipFactory, OperatorFactory, UserFactory
from tests.invoicing.files_world import L, finalized

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_files_page_downloads_and_send_again(page, live_server, artefacts) -> None:
    tenant = OperatorFactory(slug="alpha", name="Tenant ALPHA")
    user = UserFactory(username="finance@alpha.test", email="finance@alpha.test")
    MembershipFactory(user=user, tenant=tenant, role="finance")
    doc = finalized(tenant, [L("12.34"), L("5.00", rate="9")])
    invoicing.document_files_render(document_id=doc.pk)
    sign_in_as(page, live_server, user)
    page.goto(f"/portal/alpha/invoicing/documents/{doc.pk}/files/")
    expect(page.get_by_role("heading", name="Files of INV-2026-000001")).to_be_visible()
    files = page.get_by_test_id("files")
    expect(files).to_contain_text("INV-2026-000001.pdf")
    expect(files).to_contain_text("INV-2026-000001.ubl.xml")
    expect(files).to_contain_text("INV-2026-000001.cii.xml")
    shot(page, artefacts, "invoicing-files-list")
    with page.expect_download() as download:
        page.get_by_role("link", name="INV-2026-000001.pdf").click()
    assert download.value.suggested_filename == "INV-2026-000001.pdf"

    form = page.get_by_test_id("resend")
    form.get_by_label("address").fill("not-an-address@")
    # the browser's own check would stop an invalid address: submit past it
    form.evaluate("f => f.noValidate = true")
    form.get_by_role("button").click()
    expect(page.get_by_text("Not sent: address: enter a valid e-mail address")).to_be_visible()
    assert not Delivery.objects.exists()
    shot(page, artefacts, "invoicing-files-error")

    form = page.get_by_test_id("resend")
    form.get_by_label("address").fill("ap@dana.example")
    form.get_by_role("button").click()
    expect(page.get_by_text("Sent to ap@dana.example.")).to_be_visible()
    expect(page.get_by_test_id("deliveries")).to_contain_text("ap@dana.example")
    assert list(Delivery.objects.values_list("to_email", "status")) == [("ap@dana.example", "SENT")]
    shot(page, artefacts, "invoicing-files-sent")
