"""Every portal form refuses bad input with the message next to the field that is wrong (or,
for the action buttons, a notice naming it), keeps what was typed, and writes nothing."""

from __future__ import annotations

import re

from django.urls import reverse

from apps.locations.models import Evse, Location
from apps.parties.models import AuditEntry
from apps.tariffs.models import Tariff, TariffAssignment, TariffCode, TariffVersion
from tests.portal.test_pages import FORM
from tests.portal.world import signed_in_client


def _notice(client) -> str:  # type: ignore[no-untyped-def]
    return str(client.session.get("portal_notice", ""))


def _field_error(body: str, name: str) -> str:
    """The message shown under the input `name` (which is marked invalid)."""
    m = re.search(
        rf'name="{re.escape(name)}"[^>]*aria-invalid="true"[^>]*>'
        r"(?:[^<]*</textarea>|(?:<option[^>]*>[^<]*</option>)*</select>)?"
        r'<small class="field-error">([^<]+)</small>',
        body,
    )
    assert m, f"no error shown at {name}"
    return m.group(1)


# --- tariff editor --------------------------------------------------------------------------


def test_a_new_tariff_without_an_id_says_so_at_the_id_and_keeps_the_prices(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    tariffs = Tariff.objects.count()
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "ocpi_id": "", "party": a.party.pk, "op": "save"},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert _field_error(body, "ocpi_id") == (
        "Give the tariff an id (1 to 36 characters, e.g. AC-STANDARD)."
    )
    assert "<li>Tariff id — Give the tariff an id" in body
    assert 'name="el-0-pc-1-price" value="0,25"' in body  # what was typed is still there
    assert Tariff.objects.count() == tariffs and not AuditEntry.objects.exists()


def test_a_party_of_another_tenant_is_refused_at_the_party(world) -> None:
    a, b = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]), {**FORM, "party": b.party.pk, "op": "save"}
    )
    assert r.status_code == 400
    assert _field_error(r.content.decode(), "party") == "Choose the party that owns this tariff."
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()


def test_a_new_version_without_a_date_says_so_at_the_date(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    url = reverse("portal:tariff_version_new", args=["alpha", a.tariff.pk])
    for when in ("", "next tuesday"):
        r = client.post(url, {**FORM, "op": "save", "effective_from": when})
        assert r.status_code == 400
        body = r.content.decode()
        assert (
            _field_error(body, "effective_from")
            == "Give the date and time from which the new prices apply."
        )
    assert TariffVersion.objects.filter(tariff=a.tariff).count() == 1
    assert not AuditEntry.objects.exists()


def test_a_wrong_restriction_is_shown_at_its_input(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "party": a.party.pk, "op": "save", "el-0-min_kwh": "lots"},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "expected a number" in _field_error(body, "el-0-min_kwh")
    assert 'name="el-0-min_kwh" value="lots"' in body
    assert "<details open>" in body  # the restrictions are unfolded to show it
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()


def test_a_post_without_the_editors_formset_fields_is_refused_not_an_error(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    data = {k: v for k, v in FORM.items() if "FORMS" not in k}
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]), {**data, "party": a.party.pk, "op": "save"}
    )
    assert r.status_code == 400
    assert "ManagementForm data is missing" in r.content.decode()
    assert not Tariff.objects.filter(ocpi_id="AC-NEW").exists()


def test_the_preview_names_the_sample_field_that_is_wrong(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_preview", args=["alpha"]),
        {**FORM, "sample_kwh": "many", "sample_tz": "Mars/Base"},
    )
    body = r.content.decode()
    assert "The sample session is not complete: kWh: Enter a number." in body
    assert "time zone: “Mars/Base” is no IANA time zone" in body


def test_adding_an_element_keeps_an_unsaved_id_and_limits(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:tariff_new", args=["alpha"]),
        {**FORM, "op": "add-component-0", "min_price": "1,00"},
    )
    assert r.status_code == 200
    body = r.content.decode()
    assert 'value="AC-NEW"' in body and 'name="min_price" value="1,00"' in body
    assert 'name="el-0-pc-2-price" value=""' in body  # the component asked for
    assert 'name="el-0-pc-TOTAL_FORMS" value="3"' in body


# --- locations --------------------------------------------------------------------------------


def _location(a, **changes):  # type: ignore[no-untyped-def]
    return {
        "party": a.party.pk,
        "ocpi_id": "L-NEW",
        "name": "New car park",
        "address": "Stationsplein 1",
        "postal_code": "1012AB",
        "city": "Amsterdam",
        "country": "NLD",
        "latitude": "52.37",
        "longitude": "4.89",
        "time_zone": "Europe/Amsterdam",
        **changes,
    }


def test_a_location_with_a_wrong_latitude_says_so_there_and_keeps_the_rest(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(reverse("portal:location_new", args=["alpha"]), _location(a, latitude="north"))
    assert r.status_code == 400
    body = r.content.decode()
    assert _field_error(body, "latitude") == (
        "“north” is not a number: write degrees with a decimal point, e.g. 52.37"
    )
    assert 'name="name" value="New car park"' in body
    assert not Location.objects.filter(ocpi_id="L-NEW").exists()
    assert not AuditEntry.objects.exists()


def test_wrong_opening_times_name_the_line_under_the_field(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    r = client.post(
        reverse("portal:location_new", args=["alpha"]),
        _location(a, opening_times="Mon-Fri 07:00-22:00\nFri-Mon 09:00-17:00\nFunday 07:00"),
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "line 2: Fri comes after Mon" in body
    assert "line 3 “Funday 07:00”: write e.g. “Mon-Fri 07:00-22:00”" in body
    assert 'name="opening_times" rows="3" aria-invalid="true">Mon-Fri 07:00-22:00' in body
    assert not Location.objects.filter(ocpi_id="L-NEW").exists()


def test_a_services_problem_lands_on_its_field_and_the_location_is_unchanged(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    before = Location.objects.get(pk=a.location.pk)
    r = client.post(
        reverse("portal:location_edit", args=["alpha", a.location.pk]),
        _location(a, time_zone="Mars/Base", name="Renamed"),
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "is not an IANA time zone" in _field_error(body, "time_zone")
    assert 'name="name" value="Renamed"' in body
    after = Location.objects.get(pk=a.location.pk)
    assert (after.name, after.time_zone) == (before.name, before.time_zone)
    assert not AuditEntry.objects.exists()


def test_an_evse_with_a_wrong_connector_value_names_the_row_and_field(world) -> None:
    a, _ = world
    client = signed_in_client(a.users["cpo_admin"])
    client.post(
        reverse("portal:evse_save", args=["alpha", a.location.pk]),
        {"uid": "E-NEW", "status": "AVAILABLE", "c0-id": "1", "c0-max_voltage": "high"},
    )
    assert _notice(client) == (
        "EVSE E-NEW not saved: connector row 1, max voltage: Enter a whole number."
    )
    assert not Evse.objects.filter(uid="E-NEW").exists()
    client.post(reverse("portal:evse_save", args=["alpha", a.location.pk]), {"uid": ""})
    assert _notice(client) == (
        "EVSE (no uid) not saved: uid: give the EVSE a uid (unique in this tenant)"
    )
    assert not AuditEntry.objects.exists()


# --- action buttons -----------------------------------------------------------------------------


def test_the_action_buttons_name_what_is_missing_and_change_nothing(world) -> None:
    a, _ = world
    cpo = signed_in_client(a.users["cpo_admin"])
    cpo.post(reverse("portal:tariff_code_new", args=["alpha"]), {"code": "AC-99"})
    assert _notice(cpo) == (
        "Tariff code not created: tariff: choose the tariff the code stands for"
    )
    assert not TariffCode.objects.filter(code="AC-99").exists()
    assignments = TariffAssignment.objects.count()
    cpo.post(reverse("portal:tariff_copy", args=["alpha", a.tariff.pk]), {"new_id": " "})
    assert _notice(cpo) == "Not copied: new tariff id: give the copy an id (1 to 36 characters)"
    cpo.post(
        reverse("portal:station_assign", args=["alpha", a.station.pk]),
        {"tariff_code": a.code.code, "effective_from": "soon"},
    )
    assert _notice(cpo) == "Not assigned: from: Enter a valid date/time."
    assert TariffAssignment.objects.count() == assignments
    emsp = signed_in_client(a.users["emsp_admin"])
    emsp.post(reverse("portal:token_block", args=["alpha", a.token.pk]), {"valid": "maybe"})
    assert _notice(emsp).startswith("Nothing changed: block or unblock: Select a valid choice.")
    a.token.refresh_from_db()
    assert a.token.valid is True
    admin = signed_in_client(a.users["platform_admin"])
    admin.post(reverse("portal:sign_in_unlock", args=["alpha"]), {"username": ""})
    assert _notice(admin) == (
        "Nothing unlocked: user: give the e-mail address of the member to unlock"
    )
    assert not AuditEntry.objects.exists()
