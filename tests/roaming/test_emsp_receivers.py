"""eMSP receivers: what a CPO partner PUTs / PATCHes / POSTs is stored exactly, keyed
case-insensitively with the casing kept, flagged with reasons, refused (2001) only when it
cannot be stored; CDRs never duplicated; another tenant never sees the rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.roaming import transport
from apps.roaming.models import ForeignCdr, ForeignObject
from tests.roaming.emsp_world import World, cdr_doc, location_doc, make_world, tariff_doc

pytestmark = pytest.mark.django_db

BASE = "/ocpi/2.2.1/emsp"


def send(w: World, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any], Any]:
    c = w.client()
    data = transport.dumps(body) if body is not None else ""
    resp = c.generic(method, BASE + path, data=data, content_type="application/json")
    return resp.status_code, transport.loads(resp.content), resp


def rules(flags: list[dict[str, str]]) -> list[str]:
    return [f["rule"] for f in flags]


def test_location_put_stored_exactly_and_read_back_case_insensitively() -> None:
    w = make_world()
    status, env, _ = send(w, "PUT", "/locations/de/cpo/Loc1", location_doc())
    assert (status, env["status_code"]) == (200, 1000)
    row = ForeignObject.objects.get()
    assert (row.module, row.country_code, row.party_id, row.object_id) == (
        "locations",
        "DE",
        "CPO",
        "LOC1",
    )
    assert row.data["id"] == "Loc1"  # the partner's casing kept
    assert row.data["coordinates"] == {"latitude": "52.520008", "longitude": "13.404954"}
    assert row.flags == []
    assert row.last_updated.isoformat() == "2026-12-01T10:00:00+00:00"
    status, env, _ = send(w, "GET", "/locations/DE/CPO/LOC1")
    assert status == 200 and env["data"]["id"] == "Loc1"
    status, env, _ = send(w, "GET", "/locations/DE/CPO/loc1/evse1/1")
    assert status == 200 and env["data"]["tariff_ids"] == ["T1"]


def test_location_missing_fields_stored_with_flags() -> None:
    w = make_world()
    doc = location_doc()
    del doc["time_zone"]
    doc["evses"][0].pop("status")
    status, env, _ = send(w, "PUT", "/locations/DE/CPO/Loc1", doc)
    assert (status, env["status_code"]) == (200, 1000)
    assert ForeignObject.objects.get().flags == [
        {"rule": "missing_field", "detail": "$.time_zone is required"},
        {"rule": "missing_field", "detail": "$.evses[0].status is required"},
    ]


def test_evse_and_connector_put_patch_merge_into_the_location() -> None:
    w = make_world()
    send(w, "PUT", "/locations/DE/CPO/Loc1", location_doc())
    status, env, _ = send(
        w,
        "PATCH",
        "/locations/DE/CPO/LOC1/EVSE1",
        {"status": "CHARGING", "last_updated": "2026-12-01T12:00:00Z"},
    )
    assert (status, env["status_code"]) == (200, 1000)
    new_evse = {
        "uid": "Evse2",
        "status": "AVAILABLE",
        "connectors": [],
        "last_updated": "2026-12-01T12:30:00Z",
    }
    assert send(w, "PUT", "/locations/DE/CPO/Loc1/Evse2", new_evse)[0] == 200
    status, _, _ = send(
        w,
        "PATCH",
        "/locations/DE/CPO/Loc1/Evse1/1",
        {"max_amperage": 16, "last_updated": "2026-12-01T13:00:00Z"},
    )
    assert status == 200
    row = ForeignObject.objects.get()
    evses = row.data["evses"]
    assert [e["uid"] for e in evses] == ["Evse1", "Evse2"]
    assert evses[0]["status"] == "CHARGING"
    assert evses[0]["connectors"][0]["max_amperage"] == 16
    assert evses[0]["connectors"][0]["max_voltage"] == 230  # untouched
    assert evses[0]["last_updated"] == "2026-12-01T13:00:00Z"
    assert row.data["last_updated"] == "2026-12-01T13:00:00Z"
    assert row.last_updated.isoformat() == "2026-12-01T13:00:00+00:00"
    assert ForeignObject.objects.count() == 1


def test_patch_without_last_updated_is_2001_and_changes_nothing() -> None:
    w = make_world()
    send(w, "PUT", "/locations/DE/CPO/Loc1", location_doc())
    status, env, _ = send(w, "PATCH", "/locations/DE/CPO/Loc1/Evse1", {"status": "CHARGING"})
    assert (status, env["status_code"]) == (400, 2001)
    assert "last_updated" in env["status_message"]
    assert ForeignObject.objects.get().data["evses"][0]["status"] == "AVAILABLE"


def test_url_id_differs_from_body_is_2001_and_nothing_stored() -> None:
    w = make_world()
    status, env, _ = send(w, "PUT", "/locations/DE/CPO/Other", location_doc())
    assert (status, env["status_code"]) == (400, 2001)
    assert "differs" in env["status_message"]
    status, env, _ = send(w, "PUT", "/tariffs/DE/CPO/T1", tariff_doc(party_id="XYZ"))
    assert (status, env["status_code"]) == (400, 2001)
    assert not ForeignObject.objects.exists()


def test_a_party_not_of_the_connection_is_2001() -> None:
    w = make_world()
    status, env, _ = send(
        w, "PUT", "/locations/FR/XYZ/Loc1", location_doc(country_code="FR", party_id="XYZ")
    )
    assert (status, env["status_code"]) == (400, 2001)
    assert "not a CPO role of this connection" in env["status_message"]
    assert not ForeignObject.objects.exists()


def test_unknown_location_patch_is_404_2003() -> None:
    w = make_world()
    status, env, _ = send(
        w, "PATCH", "/locations/DE/CPO/Nope", {"last_updated": "2026-12-01T12:00:00Z"}
    )
    assert (status, env["status_code"]) == (404, 2003)


def test_tariff_put_get_delete_and_invalid_tariff_flagged() -> None:
    w = make_world()
    assert send(w, "PUT", "/tariffs/DE/CPO/T1", tariff_doc())[0] == 200
    status, env, _ = send(w, "GET", "/tariffs/de/cpo/t1")
    assert status == 200 and env["data"]["elements"][0]["price_components"][0]["price"] == Decimal(
        "0.30"
    )
    bad = tariff_doc(
        id="T2",
        elements=[
            {"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1, "colour": "red"}]}
        ],
    )
    assert send(w, "PUT", "/tariffs/DE/CPO/T2", bad)[0] == 200
    row = ForeignObject.objects.get(object_id="T2")
    assert rules(row.flags) == ["tariff_invalid"]
    assert "$.elements[0].price_components[0]" in row.flags[0]["detail"]
    status, env, _ = send(w, "DELETE", "/tariffs/DE/CPO/T1")
    assert (status, env["status_code"]) == (200, 1000)
    assert send(w, "GET", "/tariffs/DE/CPO/T1")[0] == 404
    assert rules(ForeignObject.objects.get(object_id="T1").flags) == ["deleted"]  # kept


def test_session_patch_appends_charging_periods_once() -> None:
    w = make_world()
    session = {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "S1",
        "start_date_time": "2026-12-01T10:00:00Z",
        "kwh": 0,
        "cdr_token": {
            "uid": "04A1",
            "type": "RFID",
            "contract_id": "C1",
            "country_code": "NL",
            "party_id": "EMS",
        },
        "auth_method": "WHITELIST",
        "location_id": "Loc1",
        "evse_uid": "Evse1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "PENDING",
        "charging_periods": [],
        "last_updated": "2026-12-01T10:00:00Z",
    }
    assert send(w, "PUT", "/sessions/DE/CPO/S1", session)[0] == 200
    p1 = {
        "start_date_time": "2026-12-01T10:00:00Z",
        "dimensions": [{"type": "ENERGY", "volume": Decimal("1.5")}],
    }
    p2 = {
        "start_date_time": "2026-12-01T10:15:00Z",
        "dimensions": [{"type": "ENERGY", "volume": Decimal("2.25")}],
    }
    patch1 = {
        "status": "ACTIVE",
        "kwh": Decimal("1.5"),
        "charging_periods": [p1],
        "last_updated": "2026-12-01T10:15:00Z",
    }
    patch2 = {
        "kwh": Decimal("3.75"),
        "charging_periods": [p1, p2],
        "last_updated": "2026-12-01T10:30:00Z",
    }
    assert send(w, "PATCH", "/sessions/DE/CPO/s1", patch1)[0] == 200
    assert send(w, "PATCH", "/sessions/DE/CPO/s1", patch2)[0] == 200
    data = ForeignObject.objects.get().data
    assert data["status"] == "ACTIVE"
    assert data["kwh"] == Decimal("3.75")
    assert data["charging_periods"] == [p1, p2]
    status, env, _ = send(w, "PATCH", "/sessions/DE/CPO/S1", {"kwh": 5})
    assert (status, env["status_code"]) == (400, 2001)


def test_cdr_post_stored_raw_with_location_header_and_get() -> None:
    w = make_world()
    send(w, "PUT", "/locations/DE/CPO/Loc1", location_doc())
    send(w, "PUT", "/tariffs/DE/CPO/T1", tariff_doc())
    body = transport.dumps(cdr_doc())
    resp = w.client().post(BASE + "/cdrs", data=body, content_type="application/json")
    assert resp.status_code == 201
    row = ForeignCdr.objects.get()
    assert resp["Location"] == f"http://127.0.0.1:8000/ocpi/2.2.1/emsp/cdrs/{row.pk}"
    assert row.raw == body
    assert (row.country_code, row.party_id, row.cdr_id) == ("DE", "CPO", "CDR-0001")
    assert row.currency == "EUR" and row.total_cost_excl_vat == Decimal("5.75")
    assert row.flags == []
    assert row.repriced_excl_vat == Decimal("5.75") and row.difference_excl_vat == Decimal("0")
    got = w.client().get(f"{BASE}/cdrs/{row.pk}")
    assert transport.loads(got.content)["data"]["id"] == "CDR-0001"


def test_same_cdr_twice_not_duplicated_and_flagged_when_different() -> None:
    w = make_world()
    body = transport.dumps(cdr_doc())
    c = w.client()
    assert c.post(BASE + "/cdrs", data=body, content_type="application/json").status_code == 201
    again = c.post(BASE + "/cdrs", data=body, content_type="application/json")
    assert again.status_code == 200 and transport.loads(again.content)["status_code"] == 1000
    assert ForeignCdr.objects.count() == 1
    assert "duplicate" not in rules(ForeignCdr.objects.get().flags)
    other = transport.dumps(cdr_doc(id="cdr-0001", remark="changed"))  # same id, other casing
    assert c.post(BASE + "/cdrs", data=other, content_type="application/json").status_code == 200
    row = ForeignCdr.objects.get()
    assert rules(row.flags).count("duplicate") == 1
    assert row.raw == body  # the first one stays as received


def test_cdr_that_breaks_rules_is_stored_with_every_reason() -> None:
    w = make_world()
    token = {"uid": "04A1B2C3", "type": "RFID", "contract_id": "C1"}  # no issuer (2.2.1)
    doc = cdr_doc(
        id="CDR-BAD",
        cdr_token=token,
        total_energy=Decimal("13"),
        total_cost={"excl_vat": Decimal("6.75"), "incl_vat": Decimal("8.03")},
    )
    del doc["auth_method"]
    resp = w.client().post(
        BASE + "/cdrs", data=transport.dumps(doc), content_type="application/json"
    )
    assert resp.status_code == 201
    row = ForeignCdr.objects.get()
    details = {(f["rule"], f["detail"]) for f in row.flags}
    assert ("missing_field", "$.auth_method is required") in details
    assert ("cdr_token_issuer", "$.cdr_token.country_code is required since OCPI 2.2.1") in details
    assert ("cdr_token_issuer", "$.cdr_token.party_id is required since OCPI 2.2.1") in details
    assert ("unknown_location", "location 'Loc1' was never published to us") in details
    assert (
        "totals_do_not_add_up",
        "total_energy 13 kWh but the charging periods' ENERGY adds up to 12.5 kWh",
    ) in details
    assert (
        "totals_do_not_add_up",
        "total_cost.excl_vat 6.75 but its parts add up to 5.75",
    ) in details
    assert (
        "cannot_reprice",
        "no time zone: the CDR's location was never published to us with a time_zone",
    ) in details
    assert row.repriced_excl_vat is None


def test_credit_cdr_without_reference_is_stored_and_flagged() -> None:
    w = make_world()
    doc = cdr_doc(
        id="CDR-CR",
        credit=True,
        total_cost={"excl_vat": Decimal("-5.75"), "incl_vat": Decimal("-6.84")},
    )
    resp = w.client().post(
        BASE + "/cdrs", data=transport.dumps(doc), content_type="application/json"
    )
    assert resp.status_code == 201
    assert {
        "rule": "credit_reference",
        "detail": "a Credit CDR needs credit_reference_id",
    } in ForeignCdr.objects.get().flags


def test_cdr_without_id_is_2001() -> None:
    w = make_world()
    doc = cdr_doc()
    del doc["id"]
    status, env, _ = send(w, "POST", "/cdrs", doc)
    assert (status, env["status_code"]) == (400, 2001)
    assert not ForeignCdr.objects.exists()


def test_another_tenant_never_sees_the_rows() -> None:
    a = make_world()
    b = make_world(cpo=("DE", "CPO"), emsp=("NL", "EMT"))
    send(a, "PUT", "/locations/DE/CPO/Loc1", location_doc())
    resp = a.client().post(
        BASE + "/cdrs", data=transport.dumps(cdr_doc()), content_type="application/json"
    )
    pk = ForeignCdr.objects.get().pk
    assert resp.status_code == 201
    assert send(b, "GET", "/locations/DE/CPO/Loc1")[0] == 404
    assert b.client().get(f"{BASE}/cdrs/{pk}").status_code == 404
    # b's own PUT of the same ids is b's own row, a's untouched
    send(b, "PUT", "/locations/DE/CPO/Loc1", location_doc(city="Hamburg"))
    assert ForeignObject.objects.filter(tenant_id=a.tenant_id).get().data["city"] == "Berlin"
    assert ForeignObject.objects.filter(tenant_id=b.tenant_id).get().data["city"] == "Hamburg"


def test_unknown_token_is_401_and_nothing_stored() -> None:
    w = make_world()
    w.token = "not-a-token"
    status, _, _ = send(w, "PUT", "/locations/DE/CPO/Loc1", location_doc())
    assert status == 401
    assert not ForeignObject.objects.exists()


def test_an_object_path_glued_to_the_listed_url_reaches_the_same_receivers() -> None:
    """Inbound leniency (the extrawest-ocpi push): `…/emsp/tariffsDE/CPO/T1` is
    `…/emsp/tariffs/DE/CPO/T1`; the same rules apply (the URL's party must be the
    connection's CPO: 2001 otherwise) and nothing else is routed so."""
    w = make_world()
    assert send(w, "PUT", "/locationsDE/CPO/Loc1", location_doc())[0] == 200
    status, env, _ = send(w, "PUT", "/tariffsDE/CPO/T1", tariff_doc())
    assert (status, env["status_code"]) == (200, 1000)
    assert sorted(ForeignObject.objects.values_list("module", "object_id")) == [
        ("locations", "LOC1"),
        ("tariffs", "T1"),
    ]
    status, env, _ = send(w, "GET", "/tariffs/DE/CPO/T1")  # the listed form reads it back
    assert status == 200 and env["data"]["id"] == "T1"
    status, env, _ = send(w, "PUT", "/tariffsFR/XXX/T2", tariff_doc(id="T2"))
    assert (status, env["status_code"]) == (400, 2001)
    assert not ForeignObject.objects.filter(object_id="T2").exists()
    assert w.client().get(BASE + "/cdrsDE/CPO/1").status_code == 404
