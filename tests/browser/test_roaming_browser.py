"""The Roaming page in Chromium: a platform admin connects the tenant to a partner (the
stdlib OCPI partner on loopback, which calls our live server back with token B), opens
the connection, and invites another partner (token A shown once). Screenshots go to
DATA_DIR/artefacts/portal/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.roaming.models import OcpiConnection
from tests.browser.conftest import sign_in_as
from tests.factories import EmspFactory, MembershipFactory, OperatorFactory, PartyFactory
from tests.roaming.ocpi_partner import Partner

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN_A = "token-A-from-the-partner"


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_connect_inspect_and_invite(
    page, live_server, artefacts, transactional_db, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.OCPI_BASE_URL = live_server.url
    op = OperatorFactory(slug="alpha", name="Tenant ALPHA")
    PartyFactory(tenant=op, country_code="NL", party_id="AAA", name="Alpha Charging")
    EmspFactory(tenant=op, country_code="NL", party_id="AAE", name="Alpha Mobility")
    user = MembershipFactory(tenant=op, role="platform_admin").user
    partner = Partner(tokens={TOKEN_A}).start()
    try:
        sign_in_as(page, live_server, user)
        page.goto("/portal/alpha/roaming/")
        expect(page.get_by_test_id("our-versions-url")).to_have_text(
            live_server.url + "/ocpi/versions"
        )
        form = page.get_by_test_id("connect-form")
        form.get_by_label("Name").fill("Partner Mobility")
        form.get_by_label("Partner's versions URL").fill(partner.versions_url)
        form.get_by_label("Token A").fill(TOKEN_A)
        page.get_by_test_id("connect").click()
        expect(page.get_by_test_id("status")).to_have_text("REGISTERED")
        expect(page.get_by_test_id("version")).to_have_text("2.2.1")
        expect(page.get_by_test_id("roles")).to_contain_text("DE*PTR")
        expect(page.get_by_test_id("endpoints")).to_contain_text("/ocpi/2.2.1/locations")
        # The partner's callback (with B) is in the log, inbound.
        expect(page.get_by_test_id("exchanges")).to_contain_text("← in")
        page.get_by_test_id("exchanges").locator("summary").first.click()
        shot(page, artefacts, "40-roaming-connection")
        assert partner.callbacks == [(live_server.url + "/ocpi/versions", 200)]

        page.goto("/portal/alpha/roaming/")
        page.get_by_test_id("invite-form").get_by_label("Name").fill("Newcomer")
        page.get_by_test_id("invite").click()
        token = page.get_by_test_id("token-a").inner_text()
        assert len(token) >= 40
        shot(page, artefacts, "41-roaming-invitation")
        page.goto("/portal/alpha/roaming/")
        expect(page.get_by_test_id("connections")).to_contain_text("Newcomer")
        expect(page.locator("body")).not_to_contain_text(token)
        shot(page, artefacts, "42-roaming-list")
        assert sorted(OcpiConnection.objects.values_list("status", flat=True)) == [
            "PENDING",
            "REGISTERED",
        ]
    finally:
        partner.stop()
