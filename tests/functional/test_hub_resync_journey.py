"""HubClientInfo re-sync with real parts: the hub (our hub double on loopback) PUTs a CPO
behind it OFFLINE, then CONNECTED again, to our hubclientinfo endpoint; the re-sync task goes
through the real broker to a real worker, which GETs that CPO's locations and tariffs
through the hub (TO = that party, from our last pull) and stores what it missed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from apps.roaming import transport
from apps.roaming.models import ForeignObject, OcpiConnection, OcpiPartyRole, OcpiPullCursor
from apps.roaming.services import emsp_pull
from tests.conftest import wait_for
from tests.factories import OperatorFactory, PartyFactory
from tests.roaming.hub_double import T0, HubDouble
from tests.roaming.peers.world import registered_connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_process")]

ROLES = (("HUB", "NL", "HUB"), ("CPO", "DE", "AAA"), ("CPO", "FR", "BBB"))
PULLED = T0 + timedelta(hours=20)  # our last pull, a fixed instant before the party left
URL = "/ocpi/2.2.1/hubclientinfo/DE/AAA"


@pytest.fixture
def hub() -> Iterator[HubDouble]:
    h = HubDouble().start()
    yield h
    h.stop()


def _location(cc: str, pid: str, oid: str) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": oid,
        "publish": True,
        "address": "Hubweg 9",
        "city": "Arnhem",
        "country": "NLD",
        "coordinates": {"latitude": "51.985103", "longitude": "5.898730"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": transport.iso(PULLED + timedelta(hours=1)),
    }


def test_a_cpo_back_at_the_hub_is_pulled_again_by_the_worker(hub: HubDouble) -> None:
    tenant = OperatorFactory()
    PartyFactory(tenant=tenant, role="EMSP", country_code="NL", party_id="OUE")
    theirs, ours = f"hub-token-{tenant.pk}", f"our-token-{tenant.pk}"
    hub.accept_token(theirs)
    conn: OcpiConnection = registered_connection(
        tenant,
        name="hub",
        versions_url=hub.versions_url,
        their_token=theirs,
        our_token=ours,
        is_hub=True,
        roles=ROLES,
        endpoints={(m, "SENDER"): hub.module_url(m) for m in ("locations", "tariffs")},
    )
    for module in ("locations", "tariffs"):
        assert emsp_pull.pull_module(connection_id=conn.pk, module=module, now=PULLED).error == ""
    assert ForeignObject.objects.filter(connection=conn, module="locations").count() == 6

    auth = {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(ours.encode()).decode()}
    info = {"country_code": "DE", "party_id": "AAA", "role": "CPO"}

    def put(status: str) -> int:
        resp = Client().put(
            URL,
            data=transport.dumps({**info, "status": status, "last_updated": PULLED}),
            content_type="application/json",
            **auth,
        )
        return resp.status_code

    assert put("OFFLINE") == 200
    assert OcpiPartyRole.objects.get(connection=conn, party_id="AAA").hub_status == "OFFLINE"
    # While it was away, both CPOs changed a location (the hub has them; we do not).
    hub.add_object("locations", "DE", "AAA", _location("DE", "AAA", "AAA-LOC-9"))
    hub.add_object("locations", "FR", "BBB", _location("FR", "BBB", "BBB-LOC-9"))
    seen = len(hub.requests)

    assert put("CONNECTED") == 200
    wait_for(
        lambda: (
            ForeignObject.objects.filter(connection=conn, object_id="AAA-LOC-9").exists()
            and len([r for r in hub.requests[seen:] if r.method == "GET"]) == 2
        ),
        timeout=60,
        what="the worker's re-sync of DE*AAA",
    )
    gets = [r for r in hub.requests[seen:] if r.method == "GET"]
    since = transport.iso(PULLED - emsp_pull.SAFETY_MARGIN)
    assert sorted(
        (r.path, r.query.get("date_from"), r.header("ocpi-to-party-id")) for r in gets
    ) == [
        ("/ocpi/2.2.1/locations", since, "AAA"),
        ("/ocpi/2.2.1/tariffs", since, "AAA"),
    ]
    assert hub.violations == []
    assert not ForeignObject.objects.filter(connection=conn, object_id="BBB-LOC-9").exists()
    assert ForeignObject.objects.filter(connection=conn, module="locations").count() == 7
    assert set(
        OcpiPullCursor.objects.filter(connection=conn).values_list("last_success_at", flat=True)
    ) == {PULLED}
