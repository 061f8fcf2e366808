"""Pull as catch-up against a loopback CPO (pages, a total that changes while crawling, the
cursor) and commands sent with their result received on our response_url."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.common.contracts import Actor
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import ForeignCdr, ForeignObject, OcpiCommand, OcpiPullCursor
from tests.factories import TokenFactory
from tests.roaming.emsp_cpo_double import CpoDouble, serve
from tests.roaming.emsp_world import cdr_doc, location_doc, make_world

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def test_pull_pages_with_a_changing_total_and_moves_the_cursor() -> None:
    double = CpoDouble()
    double.items["locations"] = [location_doc(id=f"L{i}") for i in range(5)]

    def grow(module: str, offset: int) -> None:
        if offset == 2 and len(double.items[module]) == 5:  # a location appears mid-crawl
            double.items[module].insert(0, location_doc(id="L-new"))

    double.on_page = grow
    with serve(double):
        w = make_world(partner_base=double.base)
        report = roaming_api.emsp_pull_module(
            connection_id=w.connection.pk, module="locations", now=NOW
        )
        assert report.error == ""
        # L-new arrived at the front while we crawled: L1 was shifted onto the page read
        # next (read twice, stored once); L-new is the next pull's (its date_from is earlier)
        assert sorted(ForeignObject.objects.values_list("object_id", flat=True)) == [
            "L0",
            "L1",
            "L2",
            "L3",
            "L4",
        ]
        assert (report.stored, report.pages) == (6, 3)
        gets = [u for m, u, _ in double.requests if m == "GET"]
        assert "date_from" not in gets[0]
        cursor = OcpiPullCursor.objects.get(module="locations")
        assert cursor.last_success_at == NOW
        double.requests.clear()
        roaming_api.emsp_pull_module(connection_id=w.connection.pk, module="locations", now=LATER)
        first = [u for m, u, _ in double.requests if m == "GET"][0]
        assert "date_from=2026-12-07T11%3A45%3A00Z" in first  # NOW minus the 15 min margin
        assert ForeignObject.objects.filter(object_id="L-NEW").exists()
        roaming_api.emsp_pull_module(
            connection_id=w.connection.pk, module="locations", now=LATER, full=True
        )
        assert "date_from" not in [u for m, u, _ in double.requests if m == "GET"][-1]


def test_pull_cdrs_stored_like_the_receiver_and_a_failure_keeps_the_cursor() -> None:
    double = CpoDouble()
    double.items["cdrs"] = [cdr_doc(id="C1"), cdr_doc(id="C2"), cdr_doc(id="C1")]
    with serve(double):
        w = make_world(partner_base=double.base)
        report = roaming_api.emsp_pull_module(connection_id=w.connection.pk, module="cdrs", now=NOW)
        assert report.stored == 3
        assert sorted(ForeignCdr.objects.values_list("cdr_id", flat=True)) == ["C1", "C2"]
        assert "unknown_location" in [f["rule"] for f in ForeignCdr.objects.get(cdr_id="C1").flags]
    # the partner is gone: the cursor stays where it was, the error is recorded
    report = roaming_api.emsp_pull_module(connection_id=w.connection.pk, module="cdrs", now=LATER)
    assert report.error.startswith("network:")
    cursor = OcpiPullCursor.objects.get(module="cdrs")
    assert cursor.last_success_at == NOW and cursor.last_error == report.error


def test_command_round_trip_with_the_result_on_our_response_url() -> None:
    double = CpoDouble()
    with serve(double):
        w = make_world(partner_base=double.base)
        token = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="AA11")
        sent = roaming_api.command_send(
            tenant_id=w.tenant_id,
            connection_id=w.connection.pk,
            command="START_SESSION",
            args={"token_id": token.pk, "location_id": "Loc1", "evse_uid": "Evse1"},
            actor=Actor(name="test"),
        )
    assert sent.response == "ACCEPTED" and sent.result == ""
    method, url, body = double.requests[-1]
    assert (method, url) == ("POST", "/ocpi/cpo/2.2.1/commands/START_SESSION")
    assert body["response_url"] == f"http://127.0.0.1:8000/ocpi/2.2.1/emsp/commands/{sent.uid}"
    assert body["token"]["uid"] == "AA11" and body["token"]["country_code"] == "NL"
    assert (body["location_id"], body["evse_uid"]) == ("Loc1", "Evse1")
    # the CPO posts the result to the response_url
    resp = w.client().post(
        f"/ocpi/2.2.1/emsp/commands/{sent.uid}",
        data=transport.dumps({"result": "ACCEPTED"}),
        content_type="application/json",
    )
    assert resp.status_code == 200
    row = OcpiCommand.objects.get()
    assert (row.direction, row.command, row.response, row.result) == (
        "SENT",
        "START_SESSION",
        "ACCEPTED",
        "ACCEPTED",
    )
    assert roaming_api.command_get(tenant_id=w.tenant_id, uid=sent.uid).result == "ACCEPTED"
    # another connection cannot post a result for it
    other = make_world(emsp=("NL", "EMT"))
    resp = other.client().post(
        f"/ocpi/2.2.1/emsp/commands/{sent.uid}",
        data=transport.dumps({"result": "FAILED"}),
        content_type="application/json",
    )
    assert resp.status_code == 404
    assert OcpiCommand.objects.get().result == "ACCEPTED"
    assert roaming_api.command_get(tenant_id=other.tenant_id, uid=sent.uid) is None


def test_command_needs_its_arguments() -> None:
    w = make_world()
    with pytest.raises(roaming_api.CommandInvalid, match="STOP_SESSION needs session_id"):
        roaming_api.command_send(
            tenant_id=w.tenant_id,
            connection_id=w.connection.pk,
            command="STOP_SESSION",
            args={},
            actor=Actor(name="test"),
        )
    assert not OcpiCommand.objects.exists()


def test_reserve_now_body_and_a_partner_that_cannot_be_reached() -> None:
    double = CpoDouble()
    with serve(double):
        w = make_world(partner_base=double.base)
        token = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="RR11")
        sent = roaming_api.command_send(
            tenant_id=w.tenant_id,
            connection_id=w.connection.pk,
            command="reserve_now",
            args={
                "token_id": token.pk,
                "location_id": "Loc1",
                "reservation_id": "R1",
                "expiry_date": datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
            },
            actor=Actor(name="test"),
        )
    _, url, body = double.requests[-1]
    assert url.endswith("/commands/RESERVE_NOW")
    assert (body["expiry_date"], body["reservation_id"]) == ("2026-12-07T13:00:00Z", "R1")
    assert OcpiCommand.objects.get(uid=sent.uid).request["expiry_date"] == "2026-12-07T13:00:00Z"
    # the double is gone: the command is recorded with NO_ANSWER, nothing raised
    gone = roaming_api.command_send(
        tenant_id=w.tenant_id,
        connection_id=w.connection.pk,
        command="CANCEL_RESERVATION",
        args={"reservation_id": "R1"},
        actor=Actor(name="test"),
    )
    assert (gone.response, gone.result) == ("NO_ANSWER", "")
    assert gone.message.startswith("network:")


def test_a_211_partner_gets_only_211_fields() -> None:
    double = CpoDouble()
    with serve(double):
        w = make_world(partner_base=double.base, version="2.1.1")
        token = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="OLD1")
        sent = roaming_api.command_send(
            tenant_id=w.tenant_id,
            connection_id=w.connection.pk,
            command="START_SESSION",
            args={"token_id": token.pk, "location_id": "L", "connector_id": "1"},
            actor=Actor(name="test"),
        )
    body = double.requests[-1][2]
    assert sorted(body) == ["location_id", "response_url", "token"]
    assert body["response_url"].endswith(f"/ocpi/2.1.1/emsp/commands/{sent.uid}")
    assert "country_code" not in body["token"] and body["token"]["auth_id"] == token.contract_id
