"""Portal page of the eMSP role: a command sent to a CPO partner through the form (audited
with the user), the reconciliation report; a read-only role cannot send."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.parties.models import AuditEntry
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import OcpiCommand, OcpiConnection
from tests.factories import MembershipFactory, TokenFactory, UserFactory
from tests.portal.world import signed_in_client
from tests.roaming.emsp_cpo_double import CpoDouble, serve
from tests.roaming.emsp_world import cdr_doc, make_world

pytestmark = pytest.mark.django_db(transaction=True)


def _user(tenant_id: int, role: str):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(user=user, tenant_id=tenant_id, role=role)
    return user


def test_send_a_command_from_the_portal_and_read_the_report() -> None:
    double = CpoDouble()
    with serve(double):
        w = make_world(partner_base=double.base, slug="emsp-portal")
        token = TokenFactory(party_id=w.emsp_party_pk, tenant_id=w.tenant_id, uid="CC33")
        user = _user(w.tenant_id, "platform_admin")
        c = signed_in_client(user)
        resp = c.post(
            "/portal/emsp-portal/roaming/emsp/commands/",
            {
                "connection": w.connection.pk,
                "command": "START_SESSION",
                "token_id": token.pk,
                "location_id": "Loc1",
            },
        )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    row = OcpiCommand.objects.get()
    assert (row.command, row.response, row.request["location_id"]) == (
        "START_SESSION",
        "ACCEPTED",
        "Loc1",
    )
    entry = AuditEntry.objects.get(action="ocpi_command.send")
    assert entry.actor_id == user.pk and entry.object_id == str(row.pk)
    doc = cdr_doc()
    roaming_api.emsp_cdr_receive(
        connection_id=w.connection.pk,
        version="2.2.1",
        raw=transport.dumps(doc),
        body=doc,
        now=datetime(2026, 12, 2, tzinfo=UTC),
    )
    page = c.get(
        "/portal/emsp-portal/roaming/emsp/",
        {"connection": w.connection.pk, "period_from": "2026-12-01", "period_to": "2026-12-03"},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 CDRs: 0 match, 0 differ, 1 could not be re-priced, 1 flagged." in html
    assert "START_SESSION" in html and "CDR-0001" in html


def test_support_cannot_send_and_another_tenant_connection_is_refused() -> None:
    w = make_world(slug="emsp-portal-a")
    other = make_world(slug="emsp-portal-b", emsp=("NL", "EMT"))
    support = signed_in_client(_user(w.tenant_id, "support"))
    resp = support.post(
        "/portal/emsp-portal-a/roaming/emsp/commands/",
        {"connection": w.connection.pk, "command": "STOP_SESSION", "session_id": "S1"},
    )
    assert resp.status_code == 403
    admin = signed_in_client(_user(w.tenant_id, "platform_admin"))
    resp = admin.post(
        "/portal/emsp-portal-a/roaming/emsp/commands/",
        {"connection": other.connection.pk, "command": "STOP_SESSION", "session_id": "S1"},
    )
    assert resp.status_code == 400  # not a choice of this tenant
    assert not OcpiCommand.objects.exists()
    assert OcpiConnection.objects.count() == 2
