"""The eMSP view (ADR 0027): a marketplace tenant reads its drivers' sessions and CDRs at
another tenant's stations as OCPI objects, without the CPO tenant's internals; the CPO
tenant keeps seeing them as its own; a third tenant sees nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.charging.models import Cdr, ChargingSession
from apps.parties.models import Operator
from tests.api.conftest import World, build_world, key_with
from tests.factories import CdrFactory, TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def roamed(world_a: World, world_b: World) -> dict[str, int]:
    """A session and its CDR at tenant A's station with tenant B's token (marketplace)."""
    Operator.objects.filter(pk__in=[world_a.tenant.pk, world_b.tenant.pk]).update(marketplace=True)
    token = TokenFactory(party=world_b.emsp, tenant=world_b.tenant, uid="B-DRIVER")
    session = ChargingSession.objects.get(pk=world_a.ids["session_id"])
    roamed = ChargingSession.objects.create(
        tenant=world_a.tenant,
        charge_station=session.charge_station,
        evse=session.evse,
        connector=session.connector,
        token=token,
        id_tag=token.uid,
        token_source="MARKETPLACE",
        emsp_tenant=world_b.tenant,
        ocpp_transaction_id="roamed-1",
        started_at=session.started_at,
        meter_start_wh=Decimal(0),
        time_zone="Europe/Amsterdam",
        currency="EUR",
    )
    cdr = CdrFactory(
        session=roamed,
        tenant=world_a.tenant,
        party=world_a.cpo,
        token=token,
        token_source="MARKETPLACE",
        emsp_tenant=world_b.tenant,
        data={"id": "CDR-ROAMED", "currency": "EUR", "cdr_token": {"uid": "B-DRIVER"}},
    )
    return {"session": roamed.pk, "cdr": cdr.pk}


def test_the_emsp_tenant_sees_its_drivers_session_and_cdr_without_cpo_internals(
    world_a: World, world_b: World, roamed: dict[str, int]
) -> None:
    b = world_b.client()
    sessions = b.get("/api/v1/emsp/sessions").json()["data"]
    assert [s["platform_id"] for s in sessions] == [roamed["session"]]
    assert (sessions[0]["country_code"], sessions[0]["party_id"]) == ("NL", "AAA")
    assert sessions[0]["cdr_token"]["uid"] == "B-DRIVER"
    assert "charge_station_id" not in sessions[0]
    one = b.get(f"/api/v1/emsp/sessions/{roamed['session']}").json()
    assert one["id"] == str(roamed["session"]) and "charge_station_id" not in one
    cdrs = b.get("/api/v1/emsp/cdrs").json()["data"]
    assert [c["platform_id"] for c in cdrs] == [roamed["cdr"]]
    assert not {"charge_station_id", "session_platform_id"} & set(cdrs[0])
    detail = b.get(f"/api/v1/emsp/cdrs/{roamed['cdr']}").json()
    assert (detail["total_cost"]["excl_vat"], detail["total_energy"]) == (2.5, 10.0)
    assert not {"charge_station_id", "session_platform_id"} & set(detail)
    # B's own lists (its stations) do not hold A's session; A's own lists (CPO) do, whole.
    assert roamed["cdr"] not in {c["platform_id"] for c in b.get("/api/v1/cdrs").json()["data"]}
    a_cdrs = world_a.client().get("/api/v1/cdrs").json()["data"]
    mine = next(c for c in a_cdrs if c["platform_id"] == roamed["cdr"])
    assert mine["charge_station_id"] == Cdr.objects.get(pk=roamed["cdr"]).session.charge_station_id
    # A's eMSP view is empty: these are A's stations, not A's drivers elsewhere.
    assert world_a.client().get("/api/v1/emsp/cdrs").json()["data"] == []


def test_a_third_tenant_sees_nothing(
    world_a: World, world_b: World, roamed: dict[str, int]
) -> None:
    c = build_world("tenant-c", "CCC")
    Operator.objects.filter(pk=c.tenant.pk).update(marketplace=True)
    client = c.client()
    assert client.get("/api/v1/emsp/sessions").json()["data"] == []
    assert client.get("/api/v1/emsp/cdrs").json()["data"] == []
    for url in (f"/api/v1/emsp/sessions/{roamed['session']}", f"/api/v1/emsp/cdrs/{roamed['cdr']}"):
        assert client.get(url).status_code == 404
    assert client.get(f"/api/v1/cdrs/{roamed['cdr']}").status_code == 404
    # B reads its driver's CDR only through the eMSP view, never as a CPO's own record.
    assert world_b.client().get(f"/api/v1/cdrs/{roamed['cdr']}").status_code == 404


def test_the_emsp_view_needs_the_scopes(world_b: World, roamed: dict[str, int]) -> None:
    key = key_with(world_b.tenant.pk, "tokens:read")
    assert world_b.client(key).get("/api/v1/emsp/cdrs").status_code == 403
    assert world_b.client(key).get("/api/v1/emsp/sessions").status_code == 403
