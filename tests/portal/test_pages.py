"""What operators do in the portal, with exact results: tariffs and their preview, versions,
assignments, the CSV import, CDR export, flags, tokens, locations, and no N+1 queries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.locations.models import Location
from apps.parties.models import AuditEntry
from apps.tariffs.models import Tariff, TariffAssignment, TariffCodeImport, TariffVersion
from apps.tariffs.services import tariff_code_import_run
from tests.factories import (
    ChargeStationFactory,
    EvseFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
)
from tests.portal.world import add_rows, now, signed_in_client

FORM = {
    "ocpi_id": "AC-NEW",
    "name": "AC new",
    "type": "REGULAR",
    "currency": "EUR",
    # The editor's formsets: one element, two price components.
    "el-TOTAL_FORMS": "1",
    "el-INITIAL_FORMS": "0",
    "el-0-pc-TOTAL_FORMS": "2",
    "el-0-pc-INITIAL_FORMS": "0",
    "el-0-pc-0-type": "FLAT",
    "el-0-pc-0-price": "0.50",
    "el-0-pc-0-vat": "21",
    "el-0-pc-0-step_size": "1",
    "el-0-pc-1-type": "ENERGY",
    "el-0-pc-1-price": "0,25",
    "el-0-pc-1-vat": "21",
    "el-0-pc-1-step_size": "1",
    "sample_start": "2026-03-02T18:00",
    "sample_tz": "Europe/Amsterdam",
    "sample_kwh": "20",
    "sample_minutes": "60",
    "sample_parking": "0",
}


def test_the_preview_prices_the_sample_session_to_the_cent(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(reverse("portal:tariff_preview", args=["alpha"]), FORM)
    body = r.content.decode()
    # 0.50 start + 20 kWh x 0.25 = 5.50 excl. VAT; 21 % VAT: 0.605 + 6.05 = 6.655 -> 6.66
    assert 'data-testid="preview-total-excl">5.50<' in body
    assert 'data-testid="preview-total">6.66<' in body
    assert Tariff.objects.count() == 2  # nothing stored by a preview


def test_the_preview_says_in_words_what_is_wrong(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_preview", args=["alpha"]), {**FORM, "el-0-pc-1-price": "abc"}
    )
    assert "element 1, component 2: price — expected a number" in r.content.decode()


def test_creating_a_tariff_stores_version_one_and_an_audit_entry(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]), {**FORM, "party": a.party.pk, "op": "save"}
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    tariff = Tariff.objects.get(ocpi_id="AC-NEW")
    version = TariffVersion.objects.get(tariff=tariff)
    components = version.ocpi["elements"][0]["price_components"]
    assert [(c["type"], Decimal(str(c["price"]))) for c in components] == [
        ("FLAT", Decimal("0.50")),
        ("ENERGY", Decimal("0.25")),
    ]
    entry = AuditEntry.objects.get(action="tariff.create")
    assert entry.actor_id == a.users["cpo_admin"].pk and entry.object_id == str(tariff.pk)
    assert entry.after["id"] == "AC-NEW"


def test_an_invalid_tariff_is_not_saved_and_the_field_says_why(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "party": a.party.pk, "op": "save", "el-0-pc-1-price": "-1"},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "The tariff was not saved" in body
    assert "element 1, component 2: price" in body
    assert 'aria-invalid="true"' in body
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()
    assert not AuditEntry.objects.exists()


def test_add_element_re_renders_the_form_without_saving(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(reverse("portal:tariff_new", args=["alpha"]), {**FORM, "op": "add-element"})
    assert r.status_code == 200
    assert 'data-testid="element-1"' in r.content.decode()
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()


def test_a_scheduled_price_change_is_a_new_version_for_future_sessions(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:tariff_version_new", args=["alpha", a.tariff.pk])
    future = (now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(url, {**FORM, "op": "save", "effective_from": future})
    assert r.status_code == 302
    versions = list(TariffVersion.objects.filter(tariff=a.tariff).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].effective_from.strftime("%Y-%m-%dT%H:%M") == future
    page = client.get(reverse("portal:tariff", args=["alpha", a.tariff.pk])).content.decode()
    assert "scheduled" in page
    # A change in the past is refused, in words.
    past = (now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(url, {**FORM, "op": "save", "effective_from": past})
    assert r.status_code == 400 and "future sessions only" in r.content.decode()
    assert TariffVersion.objects.filter(tariff=a.tariff).count() == 2


def test_copy_a_tariff(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_copy", args=["alpha", a.tariff.pk]), {"new_id": "T-COPY"}
    )
    assert r.status_code == 302
    copy = Tariff.objects.get(ocpi_id="T-COPY")
    assert copy.tenant_id == a.operator.pk
    assert (
        TariffVersion.objects.get(tariff=copy).ocpi["elements"]
        == TariffVersion.objects.get(tariff=a.tariff).ocpi["elements"]
    )


def test_assign_a_tariff_code_to_a_station_and_a_connector(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:station_assign", args=["alpha", a.station.pk])
    code = TariffCodeFactory(tariff=a.tariff, tenant=a.operator, code="FAST")
    client.post(url, {"tariff_code": "FAST", "connector": ""})
    client.post(url, {"tariff_code": code.code, "connector": f"{a.evse.uid}/1"})
    rows = TariffAssignment.objects.filter(charge_station=a.station, tariff_code=code)
    assert sorted((r.connector_id or 0) for r in rows) == [0, a.connector.pk]
    assert AuditEntry.objects.filter(action="tariff.assign").count() == 2


def test_tariff_code_csv_import_preview_then_apply_leaves_overrides(
    world, django_capture_on_commit_callbacks
) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    second = ChargeStationFactory(location=a.location, tenant=a.operator, identity="ALPHA-2")
    fast = TariffCodeFactory(tariff=a.tariff, tenant=a.operator, code="FAST")
    override = TariffAssignmentFactory(
        charge_station=a.station,
        connector=a.connector,
        tenant=a.operator,
        tariff_code=a.code,
        effective_from=now() - timedelta(days=1),
    )
    url = reverse("portal:tariff_import", args=["alpha"])
    bad = "station,tariff_code\nALPHA-STATION-1,FAST\nNOPE,FAST\nALPHA-2,NOCODE\n"
    r = client.post(url, {"csv_text": bad, "op": "preview"})
    body = r.content.decode()
    assert "1 change(s), 0 unchanged, 2 error(s)" in body
    assert "no charge station &#x27;NOPE&#x27; in this tenant" in body
    assert "no tariff code &#x27;NOCODE&#x27;" in body
    assert 'data-testid="start-import"' not in body
    good = "station,tariff_code\nALPHA-STATION-1,FAST\nALPHA-2,FAST\n"
    r = client.post(url, {"csv_text": good, "op": "preview"})
    assert "2 change(s), 0 unchanged, 0 error(s)" in r.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = client.post(url, {"csv_text": good, "op": "start"})
    assert r.status_code == 302 and len(callbacks) == 1
    job = TariffCodeImport.objects.get()
    assert (job.status, job.total, job.done) == ("PENDING", 2, 0)
    tariff_code_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.report["applied"]) == ("DONE", 2, 2)
    for station in (a.station, second):
        latest = (
            TariffAssignment.objects.filter(charge_station=station, connector__isnull=True)
            .order_by("-effective_from")
            .first()
        )
        assert latest.tariff_code_id == fast.pk
    # The connector override is untouched and still the only connector row.
    assert list(TariffAssignment.objects.filter(connector__isnull=False)) == [override]
    override.refresh_from_db()
    assert override.tariff_code_id == a.code.pk
    page = client.get(reverse("portal:tariff_import_status", args=["alpha", job.pk]))
    assert b"2 default code(s) changed" in page.content


def test_cdr_export_streams_exact_amounts(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["finance"])
    r = client.get(reverse("portal:cdr_export", args=["alpha"]))
    assert r.status_code == 200 and r.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    # 10 kWh x 0.25 + 0.50 = 3.00 excl.; 0.605 + 3.025 = 3.63 incl. 21 % VAT
    assert (row["id"], row["total_energy_kwh"]) == (a.cdr.ocpi_id, "10.0000")
    assert (row["total_cost_excl_vat"], row["total_cost_incl_vat"]) == ("3.0000", "3.6300")
    assert row["station"] == "ALPHA-STATION-1"
    # Support may read CDRs but not export them.
    assert (
        signed_in_client(a.users["support"])
        .get(reverse("portal:cdr_export", args=["alpha"]))
        .status_code
        == 403
    )


def test_cdr_detail_shows_the_breakdown_per_dimension(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["finance"])
    body = client.get(reverse("portal:cdr", args=["alpha", a.cdr.pk])).content.decode()
    # Each line in cents; incl. VAT 0.61 + 3.03 = 3.64 against the exact total's 3.63
    # (0.605 + 3.025): the rounding difference is a line of its own, so the page adds up.
    assert (
        '<tr class="part"><td>Start fee (flat)</td><td class="num">0.50</td>'
        '<td class="num">0.61</td></tr>'
        '<tr class="part"><td>Energy</td><td class="num">2.50</td><td class="num">3.03</td></tr>'
        '<tr class="part"><td>Charging time</td><td class="num">0.00</td>'
        '<td class="num">0.00</td></tr>'
        '<tr class="part"><td>Parking time</td><td class="num">0.00</td>'
        '<td class="num">0.00</td></tr>'
        '<tr class="part"><td>Reservation</td><td class="num">0.00</td>'
        '<td class="num">0.00</td></tr>'
        '<tr class="difference"><td>Rounding difference</td><td class="num">0.00</td>'
        '<td class="num">-0.01</td></tr>'
        '<tr class="total"><td>Total</td><td class="num">3.00</td><td class="num">3.63</td></tr>'
    ) in body
    # The periods in cents too, the exact amount on hover.
    assert '<td class="num" title="3.0250">3.03</td>' in body
    assert "3.0250</td>" not in body and "0.6100" not in body


def test_dismiss_a_flag_is_audited_and_reprice_says_why_not(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["finance"])
    r = client.post(reverse("portal:flag_action", args=["alpha", a.flag.pk, "reprice"]))
    page = client.get(r["Location"]).content.decode()
    assert "still no start for this transaction" in page
    a.flag.refresh_from_db()
    assert a.flag.status == "OPEN"
    client.post(reverse("portal:flag_action", args=["alpha", a.flag.pk, "dismiss"]))
    a.flag.refresh_from_db()
    assert a.flag.status == "DISMISSED"
    entry = AuditEntry.objects.get(action="flag.dismiss")
    assert entry.before == {"status": "OPEN"} and entry.after["status"] == "DISMISSED"
    # Dismissing twice is refused and writes nothing.
    client.post(reverse("portal:flag_action", args=["alpha", a.flag.pk, "dismiss"]))
    assert AuditEntry.objects.filter(action="flag.dismiss").count() == 1


def test_block_and_unblock_a_token_with_before_and_after(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["emsp_admin"])
    url = reverse("portal:token_block", args=["alpha", a.token.pk])
    client.post(url, {"valid": "0"})
    a.token.refresh_from_db()
    assert a.token.valid is False
    client.post(url, {"valid": "1"})
    a.token.refresh_from_db()
    assert a.token.valid is True
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "before", "after"))
    assert entries == [
        ("token.block", {"valid": True}, {"valid": False}),
        ("token.unblock", {"valid": False}, {"valid": True}),
    ]


def test_a_remote_command_without_relay_says_nothing_was_sent(world, settings) -> None:
    settings.RELAY_REDIS_URL = settings.RELAY_SOCKET = ""  # no command relay at all
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:station_command", args=["alpha", a.station.pk]),
        {"command": "RESET", "type": "Soft"},
        HTTP_HX_REQUEST="true",
    )
    body = r.content.decode()
    assert "Not sent." in body and "nothing was sent to the station" in body
    assert not AuditEntry.objects.exists()


def test_locations_several_at_one_address_with_opening_times(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:location_new", args=["alpha"])
    base = {
        "party": a.party.pk,
        "name": "P1",
        "address": "Stationsplein 1",
        "postal_code": "1012AB",
        "city": "Amsterdam",
        "country": "nld",
        "latitude": "52.37",
        "longitude": "4.89",
        "time_zone": "Europe/Amsterdam",
        "opening_times": "Mon-Fri 07:00-22:00\nSat 09:00-17:00",
        "charging_when_closed": "1",
    }
    assert client.post(url, {**base, "ocpi_id": "L-P1"}).status_code == 302
    assert client.post(url, {**base, "ocpi_id": "L-P2", "name": "P2"}).status_code == 302
    loc = Location.objects.get(ocpi_id="L-P1")
    assert loc.country == "NLD"
    assert loc.opening_times["regular_hours"][0] == {
        "weekday": 1,
        "period_begin": "07:00",
        "period_end": "22:00",
    }
    assert len(loc.opening_times["regular_hours"]) == 6
    listing = client.get(reverse("portal:locations", args=["alpha"])).content.decode()
    assert "3 at this address" in listing  # the fixture's location shares it too
    r = client.post(
        url, {**base, "ocpi_id": "L-P3", "time_zone": "Mars/Base", "opening_times": "Funday 07:00"}
    )
    body = r.content.decode()
    assert r.status_code == 400 and "Funday 07:00" in body
    r = client.post(url, {**base, "ocpi_id": "L-P3", "time_zone": "Mars/Base"})
    assert r.status_code == 400 and "is not an IANA time zone" in r.content.decode()
    # An EVSE with its connector.
    r = client.post(
        reverse("portal:evse_save", args=["alpha", loc.pk]),
        {
            "uid": "P1-E1",
            "evse_id": "NL*AAA*E1",
            "status": "AVAILABLE",
            "c0-id": "1",
            "c0-standard": "IEC_62196_T2",
            "c0-format": "SOCKET",
            "c0-power_type": "AC_3_PHASE",
            "c0-max_voltage": "230",
            "c0-max_amperage": "32",
        },
    )
    assert loc.evses.get().connectors.get().max_amperage == 32


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_do_not_query_per_row(world) -> None:
    """The query count of every list page is the same with 1 and with 4 of each thing."""
    a, _ = world
    client = signed_in_client(a.users["platform_admin"])
    names = [
        "stations",
        "locations",
        "sessions",
        "cdrs",
        "flags",
        "tariffs",
        "tokens",
        "customers",
        "audit",
        "dashboard",
    ]
    before = {n: _queries(client, reverse(f"portal:{n}", args=["alpha"])) for n in names}
    add_rows(a, 3)
    after = {n: _queries(client, reverse(f"portal:{n}", args=["alpha"])) for n in names}
    assert after == before


def test_a_command_to_a_station_no_node_holds_is_logged_offline(world, relay) -> None:
    """With the relay (Redis) but the station not connected anywhere: OFFLINE, in the
    station's command log and in the audit log."""
    from apps.locations.models import RemoteCommand

    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:station_command", args=["alpha", a.station.pk])
    r = client.post(url, {"command": "CLEAR_CACHE"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "OFFLINE" in body and "not connected to any gateway node" in body
    # The answer carries the command log too (swapped out of band): the command is listed.
    log = body[body.index('<table id="command-log"') :]
    assert 'hx-swap-oob="true"' in log and "CLEAR_CACHE" in log and "OFFLINE" in log
    (row,) = RemoteCommand.objects.all()
    assert (row.kind, row.status, row.charge_station_id) == ("CLEAR_CACHE", "OFFLINE", a.station.pk)
    assert row.requested_by == f"user:{a.users['cpo_admin'].pk}"
    (entry,) = AuditEntry.objects.filter(action="station.command")
    assert entry.after["command_id"] == row.pk and entry.after["status"] == "OFFLINE"
    # A field the command needs is named when missing; nothing is sent or logged.
    r = client.post(url, {"command": "CHANGE_CONFIGURATION"}, HTTP_HX_REQUEST="true")
    assert "Not sent." in r.content.decode() and "key" in r.content.decode()
    r = client.post(url, {"command": "STOP_SESSION", "session_id": "x"}, HTTP_HX_REQUEST="true")
    assert "session id — the id of one of this station" in r.content.decode()
    assert RemoteCommand.objects.count() == 1
    page = client.get(reverse("portal:station", args=["alpha", a.station.pk])).content.decode()
    assert "CLEAR_CACHE" in page and "OFFLINE" in page


def test_the_vendor_message_and_local_list_version_forms(world, relay) -> None:
    """Data transfer reads `vendor/message` from Key and the data from Value (a missing vendor
    is named, nothing sent); both new commands are logged with what was asked."""
    from apps.locations.models import RemoteCommand

    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:station_command", args=["alpha", a.station.pk])
    r = client.post(url, {"command": "DATA_TRANSFER", "key": " /Echo"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "Not sent." in body and "key — the vendor id, e.g. com.vendor" in body
    assert not RemoteCommand.objects.exists()
    form = {"command": "DATA_TRANSFER", "key": "com.vendor/Ping", "value": "42"}
    client.post(url, form, HTTP_HX_REQUEST="true")
    client.post(url, {"command": "DATA_TRANSFER", "key": "com.vendor"}, HTTP_HX_REQUEST="true")
    client.post(url, {"command": "GET_LOCAL_LIST_VERSION"}, HTTP_HX_REQUEST="true")
    rows = RemoteCommand.objects.order_by("pk")
    vendor = {"vendor_id": "com.vendor"}
    assert [(c.kind, c.status, c.request) for c in rows] == [
        ("DATA_TRANSFER", "OFFLINE", vendor | {"message_id": "Ping", "data": "42"}),
        ("DATA_TRANSFER", "OFFLINE", vendor | {"message_id": "", "data": None}),
        ("GET_LOCAL_LIST_VERSION", "OFFLINE", {}),
    ]


def test_the_message_log_has_both_directions_and_every_kind_of_message(world) -> None:
    """Transaction messages and status notifications (charging), the station's other reports
    (devices) and the commands sent to it with its answer (command log), newest first."""
    from apps.devices import api as devices_api
    from apps.devices.contracts import StationEventIn, StationEventKind
    from apps.locations.models import RemoteCommand

    a, b = world
    at = now()
    devices_api.station_event_record(
        event=StationEventIn(
            tenant_id=a.operator.pk,
            station_id=a.station.pk,
            kind=StationEventKind.FIRMWARE,
            action="FirmwareStatusNotification",
            protocol="1.6",
            received_at=at - timedelta(minutes=2),
            status="Downloading",
            request_id=None,
            evse_ocpp_id=None,
            station_timestamp=None,
            details={"status": "Downloading"},
            frame='[2,"m1","FirmwareStatusNotification",{"status":"Downloading"}]',
        )
    )
    RemoteCommand.objects.create(
        tenant_id=a.operator.pk,
        charge_station=a.station,
        relay_id="r-log-1",
        kind="UPDATE_FIRMWARE",
        request={},
        requested_at=at - timedelta(minutes=3),
        status="ACCEPTED",
        station_status="Accepted",
        ocpp_action="UpdateFirmware",
        ocpp_request={
            "location": "https://fw.example/1.bin",
            "retrieveDate": "2026-01-01T00:00:00Z",
        },
        response={},
        progress=[{"status": "Downloading", "at": (at - timedelta(minutes=2)).isoformat()}],
    )
    client = signed_in_client(a.users["support"])
    body = client.get(reverse("portal:station", args=["alpha", a.station.pk])).content.decode()
    log = body[body.index('data-testid="message-log"') :]
    firmware = log.index("FirmwareStatusNotification")
    command = log.index("UpdateFirmware")
    assert firmware < command  # newest first
    assert "station → CSMS" in log and "CSMS → station" in log
    assert "ACCEPTED (Accepted), then Downloading" in log
    assert "firmware Downloading" in log
    assert "https://fw.example/1.bin" in log  # the payload as sent, in its frame
    # The other tenant's station page does not show it.
    other = signed_in_client(b.users["support"])
    body_b = other.get(reverse("portal:station", args=["beta", b.station.pk])).content.decode()
    assert "UpdateFirmware" not in body_b and "FirmwareStatusNotification" not in body_b


def test_session_and_periods_show_amounts_in_cents_not_20_decimals(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["support"])
    body = client.get(reverse("portal:session", args=["alpha", a.session.pk])).content.decode()
    assert "EUR 3.00 excl. VAT · 3.63 incl. VAT" in body
    # A parking period as the pricing core writes it (exact to 20 decimals).
    period = {
        "start_date_time": "2026-12-06T10:47:21Z",
        "end_date_time": "2026-12-06T11:10:25Z",
        "dimensions": [
            {
                "type": "PARKING_TIME",
                "volume": "0.384444",
                "billed_volume": "0.416667",
                "unit_price": "6.0",
                "vat": "19.0",
                "excl_vat": "2.50000000000000000000",
                "incl_vat": "2.97500000000000000000",
            }
        ],
    }
    html = render_to_string("portal/cdrs/_periods.html", {"periods": [period], "currency": "EUR"})
    assert '<td class="num" title="2.50000000000000000000">2.50</td>' in html
    assert '<td class="num" title="2.97500000000000000000">2.98</td>' in html
    assert ">2.50000000000000000000<" not in html


def test_location_evses_name_their_station_by_identity(world) -> None:
    a, _ = world
    # An EVSE here of a station placed at another location (found by one more read).
    elsewhere = ChargeStationFactory(
        location__party=a.party, location__tenant=a.operator, identity="ALPHA-FAR-AWAY"
    )
    EvseFactory(charge_station=elsewhere, location=a.location, uid="FAR-1", ocpp_evse_id=2)
    client = signed_in_client(a.users["support"])
    body = client.get(reverse("portal:location", args=["alpha", a.location.pk])).content.decode()
    station = reverse("portal:station", args=["alpha", a.station.pk])
    far = reverse("portal:station", args=["alpha", elsewhere.pk])
    assert f'<a href="{station}">ALPHA-STATION-1</a> <small class="muted">EVSE 1</small>' in body
    assert f'<a href="{far}">ALPHA-FAR-AWAY</a> <small class="muted">EVSE 2</small>' in body
    assert ">station</a>" not in body


def _save_new_tariff(client, a, **fields):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "party": a.party.pk, "op": "save", **fields},
    )


def test_a_negative_vat_marks_the_vat_input_not_the_price(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = _save_new_tariff(client, a, **{"el-0-pc-1-vat": "-5"})
    assert r.status_code == 400
    body = r.content.decode()
    assert "<li>element 1, component 2: VAT % — must be &gt;= 0, got -5</li>" in body
    assert 'data-testid="vat-0-1" aria-invalid="true">' in body
    assert 'data-testid="price-0-1">' in body  # the price input is not marked
    assert body.count('aria-invalid="true"') == 1
    assert '<p class="field-error">VAT %: must be &gt;= 0, got -5</p>' in body
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()


def test_a_step_size_of_zero_is_refused_in_words_with_every_other_problem(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = _save_new_tariff(client, a, **{"el-0-pc-1-step_size": "0", "el-0-pc-0-vat": "-1"})
    assert r.status_code == 400
    body = r.content.decode()
    assert (
        "<li>element 1, component 2: step size — must be 1 or more: the dimension is billed in "
        "blocks of this many Wh (ENERGY) or seconds (TIME, PARKING_TIME); 1 bills the exact "
        "amount</li><li>element 1, component 1: VAT % — must be &gt;= 0, got -1</li>"
    ) in body
    assert 'data-testid="step-0-1" aria-invalid="true">' in body
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()
    assert not AuditEntry.objects.exists()
    # The preview says so too; a new version is refused the same way; FLAT ignores steps.
    preview = client.post(
        reverse("portal:tariff_preview", args=["alpha"]), {**FORM, "el-0-pc-1-step_size": "0"}
    )
    assert "element 1, component 2: step size — must be 1 or more" in preview.content.decode()
    version = client.post(
        reverse("portal:tariff_version_new", args=["alpha", a.tariff.pk]),
        {**FORM, "op": "save", "effective_from": "2099-01-01T00:00", "el-0-pc-1-step_size": "0"},
    )
    assert version.status_code == 400
    assert TariffVersion.objects.filter(tariff=a.tariff).count() == 1
    assert _save_new_tariff(client, a, **{"el-0-pc-0-step_size": "0"}).status_code == 302


def test_price_limit_problems_use_the_forms_words_and_mark_their_input(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    body = _save_new_tariff(client, a, min_price="abc").content.decode()
    assert (
        "<li>minimum price excl. VAT — expected a number, got string &#x27;abc&#x27;</li>" in body
    )
    assert "min price" not in body and "excl vat" not in body
    assert '<input name="min_price" value="abc" inputmode="decimal" aria-invalid="true">' in body


def test_price_components_have_column_labels(world) -> None:
    a, _ = world
    body = (
        signed_in_client(a.users["cpo_admin"])
        .get(reverse("portal:tariff_new", args=["alpha"]))
        .content.decode()
    )
    assert (
        '<div class="row head" aria-hidden="true" data-testid="component-columns-0">'
        "<span>Dimension</span><span>Price excl. VAT</span><span>VAT %</span>"
        "<span>Step size</span><span></span></div>"
    ) in body


def test_a_tariff_serves_one_engine_and_its_party_must_have_the_matching_role(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    form = client.get(reverse("portal:tariff_new", args=["alpha"])).content.decode()
    assert 'data-testid="engine"' in form and "(EMSP)" in form and "(CPO)" in form
    wrong = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "party": a.party.pk, "engine": "RETAIL", "op": "save"},
    )
    assert wrong.status_code == 400
    assert "A retail tariff belongs to one of your EMSP identities" in wrong.content.decode()
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()
    ok = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "party": a.emsp.pk, "engine": "RETAIL", "op": "save"},
    )
    assert ok.status_code == 302, ok.content.decode()[:2000]
    tariff = Tariff.objects.get(ocpi_id="AC-NEW")
    assert (tariff.engine, tariff.party_id) == ("RETAIL", a.emsp.pk)
    listing = client.get(reverse("portal:tariffs", args=["alpha"])).content.decode()
    assert "<td>Retail</td>" in listing
