"""Connectivity: connect / disconnect history written by the gateway, the station's
online / offline state under reconnects (also across nodes, events out of order), and the
"unstable" badge (more than STATION_UNSTABLE_CONNECTS connections in the window), in the
api for the portal and in the REST resource."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.locations import api as locations_api
from apps.locations.contracts import ConnectionEventIn, ConnectionEventKind, Connectivity
from apps.locations.models import ChargeStation, StationConnectionEvent
from tests.conftest import RunningGateway, wait_for
from tests.factories import ConnectorFactory
from tests.ocpp_client import OcppClient, basic, open_station

pytestmark = pytest.mark.usefixtures("transactional_db")


def new_station() -> tuple[ChargeStation, str]:
    st = ConnectorFactory().evse.charge_station
    return st, locations_api.charge_station_reset_password(station_id=st.pk)


async def connect_and_leave(gw: RunningGateway, st: ChargeStation, password: str) -> None:
    headers = basic(st.identity, password)
    async with open_station(gw.ws_url + st.identity, protocol="ocpp1.6", headers=headers) as ws:
        await OcppClient(ws).call("Heartbeat", {})


def test_reconnects_make_a_station_unstable(
    gateway: RunningGateway, settings: Any, client: Any
) -> None:
    settings.STATION_UNSTABLE_CONNECTS = 2
    settings.STATION_UNSTABLE_WINDOW_SECONDS = 600
    st, password = new_station()
    for _ in range(2):
        asyncio.run(connect_and_leave(gateway, st, password))
    events = lambda: StationConnectionEvent.objects.filter(charge_station=st).count()  # noqa: E731
    wait_for(lambda: events() == 4, what="two connects and two disconnects recorded")
    report = locations_api.charge_station_connectivity(tenant_id=st.tenant_id, station_id=st.pk)
    # Exactly the threshold is not "more than" it.
    assert (report.connects_in_window, report.unstable) == (2, False)
    assert report.connectivity is Connectivity.OFFLINE

    asyncio.run(connect_and_leave(gateway, st, password))
    wait_for(lambda: events() == 6, what="the third connection recorded")
    report = locations_api.charge_station_connectivity(tenant_id=st.tenant_id, station_id=st.pk)
    assert (report.connects_in_window, report.unstable) == (3, True)
    assert report.window_seconds == 600 and report.unstable_threshold == 2
    kinds = [e.kind.value for e in report.history]
    assert kinds == ["DISCONNECTED", "CONNECTED"] * 3  # newest first
    assert {e.node for e in report.history} == {gateway.gateway.node}
    assert {e.protocol for e in report.history} == {"1.6"}
    assert [e.close_code for e in report.history if e.kind.value == "DISCONNECTED"] == [1000] * 3

    # Out of the window, the same history is no longer unstable.
    later = datetime.now(UTC) + timedelta(seconds=601)
    report = locations_api.charge_station_connectivity(
        tenant_id=st.tenant_id, station_id=st.pk, now=later
    )
    assert (report.connects_in_window, report.unstable) == (0, False)

    # The REST resource shows the badge; the connectivity endpoint the history.
    _, key = integrations_api.api_key_create(
        tenant_id=st.tenant_id,
        name="k",
        scopes=["locations:read"],
        actor=Actor.system("tests"),
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = client.get(f"/api/v1/charge-stations/{st.pk}", **auth).json()
    assert (body["unstable"], body["connectivity"]) == (True, "offline")
    listed = client.get("/api/v1/charge-stations", **auth).json()["data"]
    assert [(s["id"], s["unstable"]) for s in listed] == [(st.pk, True)]
    body = client.get(f"/api/v1/charge-stations/{st.pk}/connectivity", **auth).json()
    assert (body["unstable"], body["connects_in_window"], len(body["history"])) == (True, 3, 6)


def test_a_new_connection_on_the_same_node_keeps_the_station_online(
    gateway: RunningGateway,
) -> None:
    st, password = new_station()
    headers = basic(st.identity, password)
    url = gateway.ws_url + st.identity

    async def twice() -> None:
        async with open_station(url, protocol="ocpp1.6", headers=headers) as first:
            await OcppClient(first).call("Heartbeat", {})
            async with open_station(url, protocol="ocpp2.0.1", headers=headers) as second:
                await OcppClient(second).call("Heartbeat", {})
                await first.wait_closed()  # the gateway closed the older connection
                assert first.close_code == 1000
                await asyncio.to_thread(check_online)

    def check_online() -> None:
        wait_for(
            lambda: StationConnectionEvent.objects.filter(charge_station=st).count() == 3,
            what="connect, connect, disconnect",
        )
        station = ChargeStation.objects.get(pk=st.pk)
        assert station.connectivity == "online"
        assert station.connection_id == gateway.gateway.links[st.identity].token

    asyncio.run(twice())
    wait_for(
        lambda: ChargeStation.objects.get(pk=st.pk).connectivity == "offline",
        what="offline after the last connection closed",
    )


def _event(
    st: ChargeStation, kind: ConnectionEventKind, node: str, conn: str, at: datetime
) -> ConnectionEventIn:
    return ConnectionEventIn(
        station_id=st.pk, tenant_id=st.tenant_id, kind=kind, at=at, node=node, connection_id=conn
    )


def test_a_late_disconnect_from_the_old_node_does_not_take_the_station_offline() -> None:
    st, _ = new_station()
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)
    up, down = ConnectionEventKind.CONNECTED, ConnectionEventKind.DISCONNECTED
    record = locations_api.charge_station_connections_record
    record(events=[_event(st, up, "node-a", "c1", t)])
    # The station moved to node B; node A notices the old connection's end only later.
    record(events=[_event(st, up, "node-b", "c2", t + timedelta(seconds=5))])
    record(events=[_event(st, down, "node-a", "c1", t + timedelta(seconds=30))])
    st.refresh_from_db()
    assert (st.connectivity, st.gateway_node, st.connection_id) == ("online", "node-b", "c2")
    # The same order inside one batch.
    record(
        events=[
            _event(st, up, "node-a", "c3", t + timedelta(seconds=40)),
            _event(st, up, "node-b", "c4", t + timedelta(seconds=41)),
            _event(st, down, "node-a", "c3", t + timedelta(seconds=42)),
        ]
    )
    st.refresh_from_db()
    assert (st.connectivity, st.gateway_node, st.connection_id) == ("online", "node-b", "c4")
    # Its own connection's end does take it offline.
    record(events=[_event(st, down, "node-b", "c4", t + timedelta(seconds=50))])
    st.refresh_from_db()
    assert (st.connectivity, st.gateway_node, st.connection_id) == ("offline", "", "")
    assert st.last_seen_at == t + timedelta(seconds=50)
    assert StationConnectionEvent.objects.filter(charge_station=st).count() == 7
