"""Billing rules in Chromium: the list (active only, then with retired), a new rule whose
overlap the editor shows before saving and saves only when confirmed, the rule with its
versions, and the "which rule would match" tester. Screenshots go to
DATA_DIR/artefacts/portal/billing-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.rating.models import BillingRule, BillingRuleVersion
from tests.browser.conftest import sign_in_as
from tests.portal.world import make_tenant, now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bworld(transactional_db: None) -> tuple[Any, Any]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"billing-{name}.png"), full_page=True)


def test_rule_editor_overlaps_versions_and_tester(page, live_server, bworld, artefacts) -> None:  # type: ignore[no-untyped-def]
    a, b = bworld
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto("/portal/alpha/billing-rules/")
    expect(page.get_by_role("link", name="Billing rules")).to_be_visible()
    rows = page.get_by_test_id("rule-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(a.rule.name)
    expect(page.get_by_text(b.rule.name)).to_have_count(0)

    page.get_by_test_id("new-rule").click()
    page.get_by_test_id("name").fill("Station evenings")
    page.get_by_test_id("cpo-scope").select_option("STATION")
    page.get_by_test_id("cpo-scope-value").fill(str(a.station.pk))
    page.get_by_test_id("tariff").select_option(str(a.tariff.pk))
    page.get_by_test_id("time-from").fill("18:00")
    page.get_by_test_id("time-until").fill("23:00")
    page.get_by_test_id("check").click()
    overlaps = page.get_by_test_id("overlaps")
    expect(overlaps).to_contain_text(a.rule.name)
    shot(page, artefacts, "editor-overlaps")
    assert not BillingRule.objects.filter(name="Station evenings").exists()

    page.get_by_test_id("save").click()  # refused: not confirmed
    expect(page.get_by_test_id("overlaps")).to_be_visible()
    assert not BillingRule.objects.filter(name="Station evenings").exists()
    page.get_by_test_id("confirm-overlaps").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("version-row")).to_have_count(1)
    expect(page.locator("h2")).to_contain_text("Station evenings")
    rule = BillingRule.objects.get(tenant=a.operator, name="Station evenings")
    assert BillingRuleVersion.objects.get(rule=rule).time_from.hour == 18

    page.get_by_test_id("new-version").click()
    page.get_by_test_id("effective-from").fill("2031-01-01T00:00")
    page.get_by_test_id("time-until").fill("22:00")
    page.get_by_test_id("confirm-overlaps").count()  # not shown before a check
    page.get_by_test_id("check").click()
    page.get_by_test_id("confirm-overlaps").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("version-row")).to_have_count(2)
    expect(page.get_by_test_id("version-row").first).to_contain_text("scheduled")

    # Retiring from before the scheduled version's start is refused, and says why.
    page.get_by_test_id("retire").click()
    expect(page.get_by_text("Not retired")).to_be_visible()
    expect(page.get_by_test_id("version-row")).to_have_count(2)
    page.get_by_test_id("retire-from").fill("2032-01-01T00:00")
    page.get_by_test_id("retire").click()
    expect(page.get_by_test_id("version-row")).to_have_count(3)
    expect(page.locator("h2")).to_contain_text("active")  # until 2032
    shot(page, artefacts, "rule-detail")

    page.goto(f"/portal/alpha/billing-rules/{a.rule.pk}/")
    page.get_by_test_id("retire").click()
    expect(page.locator("h2")).to_contain_text("retired")
    page.goto("/portal/alpha/billing-rules/")
    expect(page.get_by_test_id("rule-row")).to_have_count(1)
    page.get_by_test_id("show-retired").check()
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("rule-row")).to_have_count(2)
    shot(page, artefacts, "list")

    page.goto("/portal/alpha/billing-rules/tester/")
    page.get_by_test_id("station").select_option(str(a.station.pk))
    page.get_by_test_id("token").select_option(str(a.token.pk))
    page.get_by_test_id("at").fill("2030-06-03T17:30")
    page.get_by_test_id("test").click()
    expect(page.get_by_test_id("result-wholesale")).to_contain_text("Station evenings")
    expect(page.get_by_test_id("result-retail")).to_contain_text("NO_RULE")
    shot(page, artefacts, "tester")
