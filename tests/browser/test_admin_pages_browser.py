"""Administrators' pages in Chromium: create an API key (shown once), revoke it; unlock a
member's sign-in. Screenshots go to DATA_DIR/artefacts/portal/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.integrations.models import ApiKey
from apps.parties import api as parties_api
from apps.parties.models import AuditEntry, SignInLock
from tests.browser.conftest import sign_in_as
from tests.portal.world import make_tenant, now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bworld(transactional_db: None) -> tuple[Any, Any]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


def test_create_an_api_key_see_it_once_and_revoke_it(page, live_server, bworld, artefacts):
    a, _ = bworld
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto("/portal/alpha/")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    page.fill("input[name=name]", "CRM production")
    page.get_by_label("tokens: read").check()
    page.get_by_label("tokens: write").check()
    page.get_by_label("cdrs: read").check()
    page.get_by_test_id("create-key").click()
    key = page.get_by_test_id("new-key-value").inner_text().strip()
    assert re.fullmatch(r"ek_[0-9a-f]{12}_\S{20,}", key)
    row = ApiKey.objects.get(name="CRM production")
    expect(page.get_by_test_id(f"key-{row.key_id}")).to_contain_text(
        "cdrs:read, tokens:read, tokens:write"
    )
    page.screenshot(path=str(artefacts / "10-api-key-created.png"), full_page=True)
    # Reloading shows it no more.
    page.goto("/portal/alpha/api-keys/")
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert key not in page.content()
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id(f"key-{row.key_id}").get_by_test_id("revoke").click()
    expect(page.get_by_test_id(f"key-{row.key_id}")).to_contain_text("revoked")
    page.screenshot(path=str(artefacts / "11-api-key-revoked.png"), full_page=True)
    assert ApiKey.objects.get(pk=row.pk).revoked_at is not None
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor_id")) == [
        ("api_key.create", a.users["cpo_admin"].pk),
        ("api_key.revoke", a.users["cpo_admin"].pk),
    ]


def test_unlock_a_locked_member(page, live_server, bworld, artefacts, monkeypatch):
    a, _ = bworld
    email = a.users["finance"].email
    # The page's clock is held (the live server runs in this process): no wall clock.
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("portal.views.sign_in_locks.now", lambda: at + timedelta(minutes=1))
    for i in range(5):
        parties_api.sign_in_failure_record(
            username=email, client="203.0.113.66", now=at + timedelta(seconds=i)
        )
    sign_in_as(page, live_server, a.users["platform_admin"])
    page.goto("/portal/alpha/sign-in-locks/")
    expect(page.get_by_test_id("sign-in-locks")).to_contain_text("203.0.113.66")
    expect(page.get_by_test_id("sign-in-locks")).to_contain_text("locked until")
    page.screenshot(path=str(artefacts / "12-sign-in-locks.png"), full_page=True)
    page.get_by_test_id("unlock").click()
    expect(page.get_by_text("Sign-in for finance@alpha.test unlocked")).to_be_visible()
    expect(page.get_by_test_id("sign-in-locks")).to_contain_text("No member of this tenant")
    assert not SignInLock.objects.exists()
