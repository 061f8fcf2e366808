"""The rating pages in Chromium: a CDR's rated views, the billing flags tab with its re-rate
button, the settlement report and its CSV download. Screenshots go to
DATA_DIR/artefacts/portal/ (rating-*.png)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.rating import api as rating_api
from apps.rating.contracts import RatingOutcome
from tests.browser.conftest import sign_in_as
from tests.factories import MembershipFactory, UserFactory
from tests.rating.views_world import T0, cdr, flag, line, market, reversal

pytestmark = pytest.mark.django_db(transaction=True)
DAY = timedelta(days=1)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_rated_views_billing_flags_and_settlement(
    page, live_server, artefacts, transactional_db, monkeypatch
) -> None:
    m = market()
    c = cdr(m, emsp=m.emsp_as_partner, emsp_tenant=m.emsp_tenant)
    first = line(
        c,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="2.50",
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    reversal(first, 2, at=T0 + DAY, reason="rule fixed")
    line(
        c,
        "WHOLESALE",
        3,
        tenant=m.cpo_tenant,
        excl="3.10",
        at=T0 + DAY,
        seller_party=m.cpo,
        buyer_party=m.emsp_as_partner,
        buyer_tenant=m.emsp_tenant,
        rule_version=m.rule,
        tariff_version=m.tariff_version,
    )
    line(
        c,
        "REIMBURSEMENT",
        1,
        tenant=m.cpo_tenant,
        excl="1.77",
        vat_rate="0",
        vat_source="HCC_EXEMPT",
        vat_exemption_reason="home charger, VAT excluded",
        hcc="HCC_E",
    )
    own = cdr(m, emsp=m.own_emsp)
    line(
        own,
        "WHOLESALE",
        1,
        tenant=m.cpo_tenant,
        excl="9.99",
        kwh="20",
        buyer_party=m.own_emsp,
        own_charge=True,
    )
    flagged = cdr(m, emsp=m.partner)
    flag(
        flagged,
        "WHOLESALE",
        "AMBIGUOUS_RULES",
        tenant=m.cpo_tenant,
        detail={"rule_ids": [m.rule.rule_id, 99]},
        attempts=2,
    )
    calls: list[dict[str, Any]] = []

    def fake(**kw: Any) -> RatingOutcome:
        calls.append(kw)
        return RatingOutcome(lines_written=1, flags_opened=0, skipped=0)

    monkeypatch.setattr(rating_api, "cdr_rerate", fake)
    user = UserFactory(username="admin@cpo-a.test", email="admin@cpo-a.test")
    MembershipFactory(user=user, tenant=m.cpo_tenant, role="cpo_admin")
    sign_in_as(page, live_server, user)

    page.goto(f"/portal/cpo-a/cdrs/{c.pk}/")
    wholesale = page.get_by_test_id("rated-WHOLESALE")
    expect(wholesale).to_contain_text("eMSP pays CPO")
    expect(wholesale).to_contain_text("Roaming default v2")
    expect(wholesale.locator("tr.REVERSAL")).to_contain_text("of #1")
    expect(page.get_by_test_id("total-WHOLESALE-EUR")).to_have_text(
        re.compile(r"In force.*EUR 3\.10\s*0\.65\s*EUR 3\.75")
    )
    expect(page.get_by_test_id("rated-REIMBURSEMENT")).to_contain_text("HCC_EXEMPT")
    expect(page.get_by_test_id("rated-RETAIL")).to_have_count(0)
    page.get_by_test_id("rated-views").scroll_into_view_if_needed()
    shot(page, artefacts, "rating-cdr-views")

    page.goto("/portal/cpo-a/flags/billing/")
    table = page.get_by_test_id("rating-flags")
    expect(table).to_contain_text("AMBIGUOUS_RULES")
    expect(table.get_by_test_id("rules")).to_contain_text(f"#{m.rule.rule_id}, #99")
    shot(page, artefacts, "rating-flags")
    table.get_by_role("button", name="Re-rate").click()
    expect(page.locator(".notice")).to_contain_text(f"CDR {flagged.pk} re-rated: 1 line(s)")
    assert [(x["cdr_id"], x["reason"]) for x in calls] == [
        (flagged.pk, "re-rated from the flagged queue (AMBIGUOUS_RULES)")
    ]

    page.goto("/portal/cpo-a/settlement/?date_from=2026-03-01&date_to=2026-04-01")
    report = page.get_by_test_id("settlement")
    expect(report).to_contain_text("BE*BBB")
    expect(report.locator("tr.own-charge")).to_contain_text("not invoiced")
    expect(page.get_by_test_id("settlement-total-EUR")).to_have_text(
        re.compile(r"Total EUR.*3\.10\s*0\.65\s*3\.75")
    )
    shot(page, artefacts, "rating-settlement")
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[1].endswith(",BE*BBB,B drive,EUR,no,1,10.000,3.10,0.65,3.75")
