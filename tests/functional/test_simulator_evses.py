"""`make run`'s simulated stations as an operator sees them: a station with several EVSEs
reports every one of them after its boot, on 1.6 and 2.0.1 (`--evses`: the demo stations
have two EVSEs each, and the second must not stay UNKNOWN); a live simulator (`--speed 1`)
stamps its messages with the current time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.charging.models import StatusEvent
from apps.locations import api as locations_api
from apps.locations.models import Evse
from csms_gateway.simulator import SimConfig, simulate
from tests.conftest import RunningGateway, wait_for
from tests.factories import ConnectorFactory, EvseFactory

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_every_evse_reports_a_status_after_the_boot(
    gateway: RunningGateway, sim_station: Any, protocol: str
) -> None:
    first = ConnectorFactory(evse__ocpp_evse_id=1).evse
    st = first.charge_station
    second = ConnectorFactory(evse=EvseFactory(charge_station=st, ocpp_evse_id=2)).evse
    password = locations_api.charge_station_reset_password(station_id=st.pk)
    sim = sim_station([gateway.ws_url], st.identity, password, protocol, evses=2)
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")

    def statuses() -> list[tuple[int, str]]:
        rows = Evse.objects.filter(pk__in=[first.pk, second.pk]).order_by("ocpp_evse_id")
        return list(rows.values_list("ocpp_evse_id", "status"))

    wait_for(lambda: statuses() == [(1, "AVAILABLE"), (2, "AVAILABLE")], what="both EVSEs")


def test_a_live_simulator_stamps_what_it_sends_with_the_current_time(
    gateway: RunningGateway,
) -> None:
    """`make run`'s simulators run at `--speed 1`: their stations' clocks must start now, so
    that a status or session stamped by them is today's, not a day old."""
    st = ConnectorFactory(evse__ocpp_evse_id=1).evse.charge_station
    password = locations_api.charge_station_reset_password(station_id=st.pk)
    cfg = SimConfig(
        url=gateway.ws_url,
        credentials={st.identity: password},
        protocol="1.6",
        speed=1,
        sessions_per_station=0,
        duration=2,
    )
    before = datetime.now(UTC).replace(microsecond=0)
    summary = asyncio.run(simulate(cfg))
    after = datetime.now(UTC)
    assert summary["errors"] == 0, summary["error_samples"]
    events = wait_for(
        lambda: list(StatusEvent.objects.filter(charge_station=st)), what="the EVSE's status"
    )
    assert [e.evse_ocpp_id for e in events] == [1]
    assert before <= events[0].station_timestamp <= after, (events[0].station_timestamp, before)
