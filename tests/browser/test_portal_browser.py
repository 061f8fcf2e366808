"""The issue's browser journeys in Chromium: sign in with MFA, switch tenant, create a tariff
and see the preview price, assign it to a station, send a remote command and see the answer,
open a CDR and check its breakdown, import a tariff-code CSV, live station status.
Screenshots of the main pages go to DATA_DIR/artefacts/portal/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.locations import api as locations_api
from apps.locations.models import Evse
from apps.tariffs.models import TariffAssignment, TariffCodeImport
from tests.browser.conftest import sign_in_as
from tests.conftest import TotpClock, wait_for
from tests.factories import (
    ChargeStationFactory,
    MembershipFactory,
    OperatorFactory,
    TariffAssignmentFactory,
)
from tests.portal.world import PASSWORD, make_tenant, now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bworld(transactional_db: None) -> tuple[Any, Any]:
    at = now()
    return make_tenant("alpha", "AAA", now=at), make_tenant("beta", "BBB", now=at)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_sign_in_with_mfa_then_switch_tenant(
    page, live_server, bworld, artefacts, totp_clock: TotpClock
) -> None:
    a, b = bworld
    user = a.users["cpo_admin"]
    MembershipFactory(user=user, tenant=b.operator, role="support")
    page.goto("/portal/alpha/cdrs/")
    expect(page).to_have_url(re.compile(r"/portal/sign-in/\?next="))
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # First sign-in: enrolment with a QR code drawn on the server.
    expect(page.get_by_test_id("qr").locator("svg")).to_be_visible()
    shot(page, artefacts, "01-enrol")
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.fill("input[name=code]", totp_clock.code(secret))
    page.click("button[type=submit]")
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("button", name=re.compile("saved them")).click()
    expect(page).to_have_url(re.compile(r"/portal/alpha/cdrs/$"))
    expect(page.get_by_role("heading", name="Charge detail records")).to_be_visible()
    # Switch tenant with the search box.
    page.get_by_test_id("tenant-switcher").locator("summary").click()
    page.get_by_placeholder("Find a tenant…").fill("bet")
    expect(page.get_by_role("link", name=re.compile("Tenant ALPHA"))).to_be_hidden()
    page.get_by_role("link", name=re.compile("Tenant BETA")).click()
    expect(page).to_have_url(re.compile(r"/portal/beta/$"))
    expect(page.get_by_role("heading", name=re.compile("Dashboard"))).to_contain_text("Tenant BETA")
    expect(page.get_by_test_id("tenant-switcher")).to_contain_text("Support (read-only)")
    shot(page, artefacts, "02-dashboard")
    # Sign out; the next sign-in asks for the code (a fresh time step).
    page.get_by_role("button", name="Sign out").click()
    page.goto("/portal/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    totp_clock.next_step()  # the enrolment's step is spent: the code of the next one
    page.fill("input[name=code]", totp_clock.code(secret))
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Dashboard"))).to_be_visible()


def test_create_a_tariff_see_the_preview_and_assign_it(
    page, live_server, bworld, artefacts
) -> None:
    a, _ = bworld
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto("/portal/alpha/tariffs/")
    page.get_by_test_id("new-tariff").click()
    page.get_by_test_id("ocpi-id").fill("AC-BROWSER")
    page.fill("input[name=name]", "Browser AC")
    page.select_option("select[name='el-0-pc-0-type']", "ENERGY")
    page.get_by_test_id("price-0-0").fill("0.30")
    page.fill("input[name='el-0-pc-0-vat']", "21")
    page.get_by_test_id("sample-kwh").fill("20")
    page.get_by_test_id("sample-kwh").press("Tab")
    # 20 kWh x 0.30 = 6.00 excl. VAT, 7.26 incl. 21 % VAT
    expect(page.get_by_test_id("preview-total-excl")).to_have_text("6.00")
    expect(page.get_by_test_id("preview-total")).to_have_text("7.26")
    # A mistake is explained in words while typing.
    page.get_by_test_id("price-0-0").fill("abc")
    page.get_by_test_id("price-0-0").press("Tab")
    expect(page.get_by_test_id("preview-errors")).to_contain_text("element 1, component 1: price")
    page.get_by_test_id("price-0-0").fill("0.30")
    page.get_by_test_id("price-0-0").press("Tab")
    expect(page.get_by_test_id("preview-total")).to_have_text("7.26")
    shot(page, artefacts, "03-tariff-form-preview")
    page.get_by_test_id("save").click()
    expect(page.get_by_role("heading", name=re.compile("Tariff AC-BROWSER"))).to_be_visible()
    shot(page, artefacts, "04-tariff-detail")
    # A code for it, then assign the code to the station.
    page.goto("/portal/alpha/tariffs/")
    page.get_by_test_id("code-name").fill("AC-30")
    page.get_by_test_id("code-tariff").select_option(label="AC-BROWSER")
    page.get_by_role("button", name="Create code").click()
    expect(page.get_by_role("status")).to_contain_text("Tariff code AC-30 created")
    page.goto(f"/portal/alpha/stations/{a.station.pk}/")
    page.get_by_test_id("assign-code").select_option(value="AC-30")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_contain_text("Tariff code AC-30 assigned")
    expect(page.locator("tr", has_text="AC-30")).to_contain_text("in force")
    assert TariffAssignment.objects.filter(
        charge_station=a.station, tariff_code__code="AC-30", connector__isnull=True
    ).exists()


def test_send_a_remote_command_and_see_the_answer(
    page, live_server, bworld, artefacts, relay, node_a, sim_station
) -> None:
    """A simulated station connected to a gateway node (the relay through Redis): the
    operator reads a configuration key, asks for the local list version, sends a vendor
    message and resets the station from its page, and sees the station's answers and the
    command log."""
    a, _ = bworld
    password = locations_api.charge_station_reset_password(station_id=a.station.pk)
    sim = sim_station([node_a.ws_url], a.station.identity, password, "1.6")
    wait_for(lambda: relay.owner(a.station.identity) == "node-a", timeout=30, what="connected")
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto(f"/portal/alpha/stations/{a.station.pk}/")
    page.get_by_test_id("command").select_option("GET_CONFIGURATION")
    page.get_by_test_id("command-key").fill("HeartbeatInterval")
    page.get_by_role("button", name="Send").click()
    result = page.get_by_test_id("command-result")
    expect(result).to_contain_text("ACCEPTED")
    expect(page.get_by_test_id("command-answer")).to_have_text("HeartbeatInterval = 300")
    # The command log lists it at once, without a reload.
    log = page.get_by_test_id("command-log")
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log.locator("tbody tr").first).to_contain_text("GET_CONFIGURATION")
    page.get_by_test_id("command").select_option("GET_LOCAL_LIST_VERSION")
    page.get_by_role("button", name="Send").click()
    expect(result).to_contain_text("GET_LOCAL_LIST_VERSION")
    expect(page.get_by_test_id("command-answer")).to_have_text("local list version 0 (no list)")
    page.get_by_test_id("command").select_option("DATA_TRANSFER")
    page.get_by_test_id("command-key").fill("org.example.sim/Echo")
    page.locator("input[name=value]").fill("hello")
    page.get_by_role("button", name="Send").click()
    expect(result).to_contain_text("DATA_TRANSFER")
    expect(page.get_by_test_id("command-answer")).to_have_text("data: hello")
    # Last: the reset reboots the station (it drops its connection).
    page.get_by_test_id("command").select_option("RESET")
    page.get_by_role("button", name="Send").click()
    expect(result).to_contain_text("RESET")
    expect(result).to_contain_text("The station accepted it (Accepted)")
    assert [c.action for c in sim.calls()] == [
        "GetConfiguration", "GetLocalListVersion", "DataTransfer", "Reset"
    ]  # fmt: skip
    page.reload()
    log = page.get_by_test_id("command-log")
    expect(log.locator("tbody tr")).to_have_count(4)
    expect(log.locator("tbody tr").first).to_contain_text("RESET")
    shot(page, artefacts, "05-station-detail-command")


def test_open_a_cdr_and_check_its_breakdown(page, live_server, bworld, artefacts) -> None:
    a, _ = bworld
    sign_in_as(page, live_server, a.users["finance"])
    page.goto("/portal/alpha/cdrs/")
    shot(page, artefacts, "06-cdrs")
    page.get_by_role("link", name=a.cdr.ocpi_id).click()
    table = page.get_by_test_id("breakdown")
    expect(table.locator("tr", has_text="Start fee")).to_have_text(re.compile(r"0\.50\s*0\.61"))
    expect(table.locator("tr", has_text="Energy")).to_have_text(re.compile(r"2\.50\s*3\.03"))
    # 0.61 + 3.03 shown against 3.63: the difference is a line of its own.
    expect(table.locator("tr", has_text="Rounding difference")).to_have_text(
        re.compile(r"0\.00\s*-0\.01")
    )
    expect(table.locator("tr", has_text="Total")).to_have_text(re.compile(r"3\.00\s*3\.63"))
    expect(page.get_by_test_id("periods")).to_contain_text("ENERGY")
    shot(page, artefacts, "07-cdr-detail")
    page.get_by_role("link", name=re.compile(r"session \d+")).click()
    expect(page.locator("canvas[data-chart=meter-chart]")).to_be_visible()
    shot(page, artefacts, "08-session-detail")


def test_import_a_tariff_code_csv(
    page, live_server, bworld, artefacts, worker_process, tmp_path
) -> None:
    """Upload, preview, apply with a real Celery worker, progress bar, result report; the
    connector override stays."""
    a, _ = bworld
    ChargeStationFactory(location=a.location, tenant=a.operator, identity="ALPHA-2")
    override = TariffAssignmentFactory(
        charge_station=a.station,
        connector=a.connector,
        tenant=a.operator,
        tariff_code=a.code,
        effective_from=a.session.started_at,
    )
    fast = a.code.__class__.objects.create(tenant=a.operator, code="FAST", tariff=a.tariff)
    csv_file = tmp_path / "codes.csv"
    csv_file.write_text("station,tariff_code\nALPHA-STATION-1,FAST\nALPHA-2,FAST\n")
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto("/portal/alpha/tariffs/import/")
    page.get_by_test_id("csv-file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_test_id("import-preview")).to_contain_text("2 change(s), 0 unchanged")
    shot(page, artefacts, "09-import-preview")
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-progress")).to_be_visible()
    expect(page.get_by_test_id("import-status")).to_have_text("DONE", timeout=60_000)
    expect(page.get_by_test_id("import-report")).to_contain_text("2 default code(s) changed")
    shot(page, artefacts, "10-import-done")
    assert TariffCodeImport.objects.get().done == 2
    assert TariffAssignment.objects.filter(tariff_code=fast, connector__isnull=True).count() == 2
    override.refresh_from_db()
    assert override.tariff_code_id == a.code.pk


def test_station_status_updates_without_reload(page, live_server, bworld, artefacts) -> None:
    a, _ = bworld
    sign_in_as(page, live_server, a.users["support"])
    page.goto("/portal/alpha/stations/")
    row = page.locator(f"tr[data-station='{a.station.identity}']")
    expect(row.get_by_test_id("state")).to_have_text("available")
    page.evaluate("window.__marker = 1")  # lost if the page reloads
    Evse.objects.filter(pk=a.evse.pk).update(status="CHARGING")
    expect(row.get_by_test_id("state")).to_have_text("charging", timeout=15_000)
    assert page.evaluate("window.__marker") == 1
    shot(page, artefacts, "11-stations")
    for name, url in [
        ("12-sessions", "/portal/alpha/sessions/"),
        ("13-tariffs", "/portal/alpha/tariffs/"),
        ("14-locations", f"/portal/alpha/locations/{a.location.pk}/"),
        ("15-tokens", "/portal/alpha/tokens/"),
        ("16-customer", f"/portal/alpha/customers/{a.customer.pk}/"),
        ("17-flags", "/portal/alpha/flags/"),
    ]:
        page.goto(url)
        expect(page.locator("main h2")).to_be_visible()
        shot(page, artefacts, name)


def test_tenant_switcher_lists_every_tenant_and_filters_keep_their_size(
    page, live_server, bworld, artefacts
) -> None:
    a, b = bworld
    user = a.users["platform_admin"]
    for slug in ("gamma", "delta"):
        MembershipFactory(
            user=user, tenant=OperatorFactory(slug=slug, name=f"Tenant {slug.upper()}")
        )
    MembershipFactory(user=user, tenant=b.operator, role="support")
    sign_in_as(page, live_server, user)
    page.goto("/portal/alpha/stations/")
    page.get_by_test_id("tenant-switcher").locator("summary").click()
    links = page.get_by_test_id("tenant-switcher").get_by_role("link")
    expect(links).to_have_count(4)
    boxes = [links.nth(i).bounding_box() for i in range(4)]
    # One under the other, each as wide as the menu (not 1,078 px side by side), all on
    # the screen.
    assert {round(box["x"]) for box in boxes} == {round(boxes[0]["x"])}
    assert [box["y"] for box in boxes] == sorted(box["y"] for box in boxes)
    assert all(box["y"] + box["height"] <= 900 and box["width"] < 500 for box in boxes)
    for i in range(4):
        expect(links.nth(i)).to_be_in_viewport()
    shot(page, artefacts, "18-tenant-switcher")
    page.keyboard.press("Escape")
    # "Unstable only" is a checkbox of its own size, not an empty 9 rem pill.
    box = page.locator("input[name=unstable]").bounding_box()
    assert box["width"] < 40 and box["height"] < 40


def test_the_remote_command_form_shows_the_commands_own_fields(
    page, live_server, bworld, artefacts
) -> None:
    a, _ = bworld
    sign_in_as(page, live_server, a.users["cpo_admin"])
    page.goto(f"/portal/alpha/stations/{a.station.pk}/")
    form = page.locator("form", has=page.get_by_test_id("command"))

    def shown() -> list[str]:
        """The names of the visible fields (a label's own text, not its options')."""
        return form.locator("label:visible").evaluate_all(
            "labels => labels.map(l => ((l.querySelector('[data-field-name]') || l.firstChild)"
            ".textContent.trim()))"
        )

    expected = {
        "RESET": ["Command", "Reset type"],
        "UNLOCK_CONNECTOR": ["Command", "EVSE"],
        "CHANGE_AVAILABILITY": ["Command", "EVSE", "Operative"],
        "START_SESSION": ["Command", "EVSE", "Token uid"],
        "STOP_SESSION": ["Command", "Session id"],
        "GET_CONFIGURATION": ["Command", "Configuration keys"],
        "CHANGE_CONFIGURATION": ["Command", "Configuration key", "New value"],
        "TRIGGER_MESSAGE": ["Command", "EVSE", "Message"],
        "CLEAR_CACHE": ["Command"],
        "GET_LOCAL_LIST_VERSION": ["Command"],
        "DATA_TRANSFER": ["Command", "Vendor id / message id", "Data"],
    }
    for kind, labels in expected.items():
        page.get_by_test_id("command").select_option(kind)
        assert shown() == labels, kind
        # The fields of other commands are not sent either.
        enabled = form.locator("[data-command-field] :is(input, select):enabled")
        assert enabled.count() == len(labels) - 1, kind
    page.get_by_test_id("command").select_option("DATA_TRANSFER")
    shot(page, artefacts, "19-station-command-form")
