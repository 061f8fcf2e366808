"""The portal's eMSP view (ADR 0027): tenant B sees its driver's session and CDR at tenant
A's station without A's internals; A keeps seeing it as its own; tenant C sees nothing."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from apps.charging.models import ChargingSession
from apps.parties.models import Operator
from tests.factories import CdrFactory, TokenFactory
from tests.portal.world import make_tenant, now, signed_in_client
from tests.rating.views_world import line


def _roamed(a, b):  # type: ignore[no-untyped-def]
    Operator.objects.filter(pk__in=[a.operator.pk, b.operator.pk]).update(marketplace=True)
    token = TokenFactory(party=b.emsp, tenant=b.operator, uid="BETA-DRIVER-9")
    session = ChargingSession.objects.create(
        tenant=a.operator,
        charge_station=a.station,
        evse=a.evse,
        connector=a.connector,
        token=token,
        id_tag=token.uid,
        token_source="MARKETPLACE",
        emsp_tenant=b.operator,
        ocpp_transaction_id="roamed-7",
        status="COMPLETED",
        started_at=a.session.started_at,
        ended_at=a.session.ended_at,
        meter_start_wh=Decimal(0),
        energy_wh=Decimal(7000),
        time_zone="Europe/Amsterdam",
        currency="EUR",
    )
    data = {
        **a.cdr.data,
        "id": "CDR-ROAMED-7",
        "cdr_location": {"name": "Car park alpha", "evse_uid": "alpha-E1", "connector_id": "1"},
        "cdr_token": {"uid": token.uid, "type": "RFID", "contract_id": token.contract_id},
    }
    cdr = CdrFactory(
        session=session,
        tenant=a.operator,
        party=a.party,
        ocpi_id="CDR-ROAMED-7",
        token=token,
        token_source="MARKETPLACE",
        emsp_tenant=b.operator,
        data=data,
    )
    return session, cdr


def test_the_emsp_tenant_sees_its_driver_without_the_cpos_internals(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    session, cdr = _roamed(a, b)
    client = signed_in_client(b.users["emsp_admin"])
    body = client.get(reverse("portal:emsp", args=["beta"])).content.decode()
    assert f"emsp-session-{session.pk}" in body and "CDR-ROAMED-7" in body
    assert "BETA-DRIVER-9" in body and "Car park alpha" in body
    assert a.station.identity not in body  # the CPO's station admin data stays with the CPO
    detail = client.get(reverse("portal:emsp_cdr", args=["beta", cdr.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "CDR-ROAMED-7" in page and "2.5" in page
    assert a.station.identity not in page and "ocpp_transaction_id" not in page
    # Not through the CPO's pages.
    assert client.get(reverse("portal:cdr", args=["beta", cdr.pk])).status_code == 404
    assert client.get(reverse("portal:session", args=["beta", session.pk])).status_code == 404
    # The CPO tenant keeps seeing it as its own (and not in its eMSP view).
    cpo = signed_in_client(a.users["cpo_admin"])
    assert "CDR-ROAMED-7" in cpo.get(reverse("portal:cdrs", args=["alpha"])).content.decode()
    assert cpo.get(reverse("portal:cdr", args=["alpha", cdr.pk])).status_code == 200
    assert "CDR-ROAMED-7" not in cpo.get(reverse("portal:emsp", args=["alpha"])).content.decode()
    assert cpo.get(reverse("portal:emsp_cdr", args=["alpha", cdr.pk])).status_code == 404


def test_a_third_tenant_sees_nothing(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    _, cdr = _roamed(a, b)
    c = make_tenant("gamma", "CCC", now=now())
    Operator.objects.filter(pk=c.operator.pk).update(marketplace=True)
    client = signed_in_client(c.users["platform_admin"])
    body = client.get(reverse("portal:emsp", args=["gamma"])).content.decode()
    assert "CDR-ROAMED-7" not in body and "BETA-DRIVER-9" not in body
    assert client.get(reverse("portal:emsp_cdr", args=["gamma", cdr.pk])).status_code == 404


def test_the_emsp_tenant_sees_what_its_driver_pays_and_what_it_pays_the_cpo(world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    _session, cdr = _roamed(a, b)
    # The CPO rated wholesale (B pays A) and reimbursement (A pays the owner); B rated retail.
    line(cdr, "WHOLESALE", 1, tenant=a.operator, excl="2.50", buyer_tenant=b.operator)
    line(cdr, "REIMBURSEMENT", 1, tenant=a.operator, excl="1.10")
    line(cdr, "RETAIL", 1, tenant=b.operator, excl="3.20")
    page = (
        signed_in_client(b.users["emsp_admin"])
        .get(reverse("portal:emsp_cdr", args=["beta", cdr.pk]))
        .content.decode()
    )
    assert "Driver pays" in page and "eMSP pays CPO" in page
    assert "Owner receives" not in page and "1.10" not in page
    assert "3.20" in page and "2.50" in page
