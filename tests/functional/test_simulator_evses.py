"""A simulated station with several EVSEs reports every one of them after its boot, on 1.6
and 2.0.1 (`--evses`, what `make run` uses: the demo stations have two EVSEs each, and the
second must not stay UNKNOWN)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.locations import api as locations_api
from apps.locations.models import Evse
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
