"""The finance page in Chromium: the preview of March, an exclusion and the diff it makes,
a dry run, posting, and a download whose SHA-256 is the one shown. Screenshots go to
DATA_DIR/artefacts/portal/ (finance-*.png)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.invoicing.models import ExportBatch
from tests.browser.conftest import sign_in_as
from tests.factories import MembershipFactory, UserFactory
from tests.invoicing.finance_world import world

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_preview_exclusion_dry_run_post_and_download(page, live_server, artefacts) -> None:
    w = world()
    user = UserFactory(username="fin@cpo-a.test", email="fin@cpo-a.test")
    MembershipFactory(user=user, tenant=w.m.cpo_tenant, role="finance")
    sign_in_as(page, live_server, user)

    page.goto("/portal/cpo-a/finance/?period_start=2026-03-01&period_end=2026-04-01")
    expect(page.get_by_test_id("total-EUR")).to_contain_text("debit 3.00, credit 37.75")
    expect(page.get_by_test_id("own-charge")).to_contain_text("1 own-charge line(s)")
    shot(page, artefacts, "finance-preview")

    form = page.get_by_test_id("exclusion-form")
    form.locator("select[name=kind]").select_option("PARTY")
    form.locator("input[name=value]").fill(str(w.m.partner.pk))
    form.locator("input[name=reason]").fill("disputed")
    form.get_by_role("button", name="Leave out").click()
    expect(page.locator(".notice")).to_contain_text("is left out of the export")
    expect(page.get_by_test_id("diff")).to_contain_text("-13.55")
    expect(page.get_by_test_id("excluded")).to_contain_text("disputed")
    shot(page, artefacts, "finance-diff")

    page.get_by_test_id("dry-run").click()
    expect(page.get_by_test_id("dry-run-result")).to_contain_text("batch 1 would hold")
    assert ExportBatch.objects.count() == 0
    page.get_by_test_id("post").click()
    expect(page.locator(".notice")).to_contain_text("Batch 1 posted")
    row = page.get_by_test_id("batch-1")
    shot(page, artefacts, "finance-batches")
    with page.expect_download() as download:
        row.get_by_role("link", name="JOURNAL_CSV").click()
    data = Path(download.value.path()).read_bytes()
    shown = row.locator("code").first.get_attribute("title")
    assert hashlib.sha256(data).hexdigest() == shown
    assert data.startswith(b"batch,line,role,component,account")
