"""Billing runs in Chromium (Debian's, as tests/browser): start a run of March 2026, see it
made a draft, and a settings form refusing a bad VAT number next to the field. Screenshots go
to DATA_DIR/artefacts/portal/runs-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.invoicing import api as invoicing
from apps.invoicing.models import BillingRun
from tests.browser.conftest import _dashboard_uncached, artefacts, browser, page, sign_in_as
from tests.factories import CdrFactory
from tests.portal.world import make_tenant, now
from tests.rating import views_world as vw

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["_dashboard_uncached", "artefacts", "browser", "page"]  # the fixtures, used by name

ENDED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def shot(pg: Any, artefacts: Path, name: str) -> None:
    pg.screenshot(path=str(artefacts / f"runs-{name}.png"), full_page=True)


def test_start_a_run_and_fix_the_settings(page, live_server, artefacts, monkeypatch) -> None:  # noqa: F811
    # The run stays queued until this test executes it: no worker (another test's may still
    # be running) takes its message.
    monkeypatch.setattr("apps.invoicing.jobs.enqueue", lambda *args, **kwargs: None)
    a = make_tenant("alpha", "AAA", now=now())
    cdr = CdrFactory(
        session=None,
        tenant=a.operator,
        party=a.party,
        start_date_time=ENDED - timedelta(hours=1),
        end_date_time=ENDED,
    )
    vw.line(cdr, "RETAIL", 1, tenant=a.operator, excl="12.34", buyer_customer=a.customer)
    sign_in_as(page, live_server, a.users["finance"])

    page.goto("/portal/alpha/billing-runs/")
    form = page.get_by_test_id("run-form")
    form.get_by_label("Frequency").select_option("MONTHLY")
    form.get_by_label("Period (any day of it)").fill("2026-03-15")
    form.get_by_role("button", name="Start billing run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Queued")
    run = BillingRun.objects.get()
    invoicing.billing_run_execute(run_id=run.pk)
    # The page polls while the run is queued: it shows the draft without a reload.
    expect(page.get_by_test_id("run-status")).to_have_text("Done", timeout=10_000)
    expect(page.get_by_test_id("run-documents")).to_contain_text("14.93")
    shot(page, artefacts, "1-run")

    page.goto("/portal/alpha/invoicing-settings/")
    settings = page.get_by_test_id("settings-form")
    settings.get_by_label("VAT number").fill("NL123")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.get_by_test_id("errors")).to_contain_text("is not a valid EU VAT number")
    shot(page, artefacts, "2-settings-error")
