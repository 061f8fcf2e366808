"""The cost of receiving one CDR (issue 19, `make bench-ocpi` receive) is pinned by its SQL
statements, so that it cannot creep back: every statement of a POST of a CDR, stored,
checked, re-priced and billed, in order. And what makes the statements fewer keeps the
guarantees: a repeat stores and bills nothing, a changed tariff re-prices at once (the parsed
tariff reused per process is the stored one), the exact amounts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charging.models import Cdr
from apps.parties.models import AuditEntry, Party
from apps.roaming import transport
from apps.roaming.models import ForeignCdr
from tests.factories import TokenFactory
from tests.roaming.emsp_world import World, cdr_doc, location_doc, make_world, tariff_doc

pytestmark = pytest.mark.django_db

BASE = "/ocpi/2.2.1/emsp"
D = Decimal

# One POST of a CDR whose party, location and tariff are known and whose token is one of
# ours (the test's transaction turns BEGIN / COMMIT into a SAVEPOINT / RELEASE).
RECEIVE_STATEMENTS = [
    "SELECT roaming_ocpiconnection",  # the token's connection (auth)
    "SELECT roaming_ocpiconnection",  # its tenant, name and CPO roles (one join)
    "SAVEPOINT",  # the receive's transaction
    "SELECT roaming_foreignobject",  # the location and the periods' tariffs, one read
    "INSERT roaming_foreigncdr",  # stored once, re-priced and flagged already
    "SELECT parties_party",  # the partner CPO party of the tenant
    "SELECT parties_party",  # that party and the tenant's own eMSP identities
    "SELECT tokens_token",  # the driver's token
    "SELECT customers_contract",  # its contract in force
    "SAVEPOINT",  # charging's idempotent write
    "INSERT charging_cdr",
    "INSERT parties_auditentry",
    "SELECT integrations_webhooksubscription",  # who wants cdr.created
    "RELEASE",
    "RELEASE",
    "INSERT roaming_ocpiexchange",  # the exchange log
]


def _shape(sql: str) -> str:
    """'SELECT table' / 'INSERT table' / 'SAVEPOINT' / 'RELEASE' of one statement."""
    s = sql.lstrip("( ")
    verb = s.split(None, 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK"):
        return verb
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', s)
    return f"{verb} {table.group(1) if table else '?'}"


def _world() -> World:
    w = make_world()
    own = Party.objects.get(pk=w.emsp_party_pk)
    TokenFactory(party=own, tenant_id=w.tenant_id, uid="04A1B2C3")
    client = w.client()
    for path, doc in (
        ("/tariffs/DE/CPO/T1", tariff_doc()),
        ("/locations/DE/CPO/Loc1", location_doc()),
    ):
        resp = client.put(BASE + path, data=transport.dumps(doc), content_type="application/json")
        assert resp.status_code in (200, 201)
    return w


def _post(w: World, body: dict) -> int:  # type: ignore[type-arg]
    resp = w.client().post(
        BASE + "/cdrs", data=transport.dumps(body), content_type="application/json"
    )
    return resp.status_code


def test_a_received_cdr_costs_these_statements_and_no_more() -> None:
    w = _world()
    assert _post(w, cdr_doc(id="CDR-0001")) == 201  # warm: the parsed tariff is cached
    with CaptureQueriesContext(connection) as q:
        assert _post(w, cdr_doc(id="CDR-0002")) == 201
    assert [_shape(x["sql"]) for x in q.captured_queries] == RECEIVE_STATEMENTS
    row = ForeignCdr.objects.get(cdr_id="CDR-0002")
    assert (row.total_cost_excl_vat, row.repriced_excl_vat, row.difference_excl_vat) == (
        D("5.75"),
        D("5.75"),
        D("0"),
    )
    assert row.flags == []
    cdr = Cdr.objects.get(tenant_id=w.tenant_id, ocpi_id="CDR-0002")
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (D("5.75"), D("6.84"))
    assert cdr.annotations["roaming"]["foreign_cdr"] == row.pk
    audit = AuditEntry.objects.get(action="cdr.roaming_receive", object_id=str(cdr.pk))
    assert audit.actor_name == f"OCPI connection {w.connection.pk} ({w.connection.name})"


def test_a_repeat_stores_and_bills_nothing_and_leaves_no_trace_but_the_exchange() -> None:
    w = _world()
    assert _post(w, cdr_doc()) == 201
    before = (ForeignCdr.objects.count(), Cdr.objects.count(), AuditEntry.objects.count())
    assert _post(w, cdr_doc()) == 200
    assert _post(w, cdr_doc(id="cdr-0001")) == 200  # the same CiString id, other casing
    assert (ForeignCdr.objects.count(), Cdr.objects.count(), AuditEntry.objects.count()) == before
    row = ForeignCdr.objects.get()
    # the second body differs (its id's casing): flagged, not stored again
    assert [f["rule"] for f in row.flags] == ["duplicate"]


def test_a_changed_tariff_reprices_the_next_cdr_at_once() -> None:
    w = _world()
    assert _post(w, cdr_doc(id="CDR-0001")) == 201
    doc = tariff_doc(last_updated="2026-12-01T09:30:00Z")
    doc["elements"][0]["price_components"][0]["price"] = D("0.40")  # energy 0.30 -> 0.40
    resp = w.client().put(
        BASE + "/tariffs/DE/CPO/T1", data=transport.dumps(doc), content_type="application/json"
    )
    assert resp.status_code == 200
    assert _post(w, cdr_doc(id="CDR-0002")) == 201
    first = ForeignCdr.objects.get(cdr_id="CDR-0001")
    second = ForeignCdr.objects.get(cdr_id="CDR-0002")
    assert (first.repriced_excl_vat, first.difference_excl_vat) == (D("5.75"), D("0"))
    # 12.5 kWh x 0.40 + 1 h x 2.00 = 7.00 against the CPO's 5.75
    assert (second.repriced_excl_vat, second.difference_excl_vat) == (D("7.00"), D("-1.25"))
    assert "repricing_difference" in [f["rule"] for f in second.flags]
    # billed at the CPO's price all the same (the wholesale line is theirs, ADR 0041)
    assert Cdr.objects.get(ocpi_id="CDR-0002").total_cost_excl_vat == D("5.75")


def test_a_tariff_equal_in_python_but_not_as_json_is_parsed_again() -> None:
    """1 == True in Python: a step_size changed from 1 to true (invalid) must not reuse the
    tariff parsed from 1 (the document is otherwise the same, last_updated included)."""
    w = _world()
    assert _post(w, cdr_doc(id="CDR-0001")) == 201
    doc = tariff_doc()
    doc["elements"][0]["price_components"][0]["step_size"] = True
    resp = w.client().put(
        BASE + "/tariffs/DE/CPO/T1", data=transport.dumps(doc), content_type="application/json"
    )
    assert resp.status_code == 200  # stored and flagged, never refused
    assert _post(w, cdr_doc(id="CDR-0002")) == 201
    second = ForeignCdr.objects.get(cdr_id="CDR-0002")
    assert second.repriced_excl_vat is None
    assert [f["rule"] for f in second.flags if f["rule"] == "cannot_reprice"] == ["cannot_reprice"]
