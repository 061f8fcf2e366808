"""REST: send a command to a CPO partner and read it back (scope `commands`), the
reconciliation report (scope `cdrs`); another tenant's key sees nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.parties.models import AuditEntry
from apps.roaming import api as roaming_api
from apps.roaming import transport
from tests.factories import TokenFactory
from tests.roaming.emsp_cpo_double import CpoDouble, serve
from tests.roaming.emsp_world import cdr_doc, make_world

pytestmark = pytest.mark.django_db(transaction=True)


def _client(tenant_id: int, *scopes: str) -> APIClient:
    _, key = integrations_api.api_key_create(
        tenant_id=tenant_id,
        name="t",
        scopes=scopes,
        rate_limit_per_minute=None,
        actor=Actor.system("t"),
    )
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return c


def test_command_send_and_get_over_rest() -> None:
    double = CpoDouble()
    double.command_answer = {"result": "REJECTED", "timeout": 10}
    with serve(double):
        w = make_world(partner_base=double.base)
        token = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="BB22")
        c = _client(w.tenant_id, "commands:write", "commands:read")
        resp = c.post(
            f"/api/v1/roaming/connections/{w.connection.pk}/commands",
            {"command": "START_SESSION", "token_id": token.pk, "location_id": "Loc1"},
            format="json",
        )
    assert resp.status_code == 201, resp.content
    out = resp.json()
    assert (out["command"], out["response"], out["result"]) == ("START_SESSION", "REJECTED", "")
    entry = AuditEntry.objects.get(action="ocpi_command.send")
    assert entry.actor_api_key_id is not None and entry.object_type == "ocpi_command"
    assert entry.after["uid"] == out["uid"]
    got = c.get(f"/api/v1/roaming/commands/{out['uid']}")
    assert got.status_code == 200 and got.json()["uid"] == out["uid"]
    other = make_world(emsp=("NL", "EMT"))
    oc = _client(other.tenant_id, "commands:write", "commands:read")
    assert oc.get(f"/api/v1/roaming/commands/{out['uid']}").status_code == 404
    resp = oc.post(
        f"/api/v1/roaming/connections/{w.connection.pk}/commands",
        {"command": "STOP_SESSION", "session_id": "S1"},
        format="json",
    )
    assert resp.status_code == 404
    assert (
        _client(w.tenant_id, "cdrs:read").get(f"/api/v1/roaming/commands/{out['uid']}").status_code
        == 403
    )


def test_reconciliation_report_over_rest() -> None:
    w = make_world()
    doc = cdr_doc()
    roaming_api.emsp_cdr_receive(
        connection_id=w.connection.pk,
        version="2.2.1",
        raw=transport.dumps(doc),
        body=doc,
        now=datetime(2026, 12, 2, tzinfo=UTC),
    )
    c = _client(w.tenant_id, "cdrs:read")
    resp = c.get(
        f"/api/v1/roaming/connections/{w.connection.pk}/reconciliation",
        {"period_from": "2026-12-01T00:00:00Z", "period_to": "2026-12-03T00:00:00Z"},
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["cdrs"], body["repriced"], body["not_repriced"]) == (1, 0, 1)
    assert body["totals"][0]["currency"] == "EUR"
    assert Decimal(body["totals"][0]["theirs_excl_vat"]) == Decimal("5.75")
    assert body["differing_cdrs"][0]["cdr_id"] == "CDR-0001"
    assert any(
        f.startswith("cannot_reprice: no time zone") for f in body["differing_cdrs"][0]["flags"]
    )
