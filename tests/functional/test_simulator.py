"""The simulator against the in-process gateway and a real worker process: every simulated
session ends as exactly one CDR with the totals its meter data imply, on both protocols, and
an offline station's replayed messages are stored once.

Tariff (as in the journeys, VAT 21 %): FLAT 0.50, ENERGY 0.30 / kWh, PARKING_TIME 3.00 / h
per minute. A simulated session: 60 minutes, charging for 40 at the station's power, then
parked (SuspendedEV) for 20, so parking costs 1.00 excl. VAT.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from apps.charging.models import Cdr, ChargingSession, OcppEvent
from apps.locations import api as locations_api
from csms_gateway.simulator import SimConfig, simulate
from tests.conftest import RunningGateway, wait_for
from tests.factories import (
    ConnectorFactory,
    EmspFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffVersionFactory,
    TokenFactory,
)
from tests.journey_fixtures import TARIFF

pytestmark = pytest.mark.usefixtures("worker_process")
CENT = Decimal("0.01")
ID_TAG = "04AA11BB22CC33"


def expected_totals(session: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(excl. VAT, incl. VAT) by hand from what the simulator sent."""
    kwh = Decimal(session["meter_stop_wh"] - session["meter_start_wh"]) / 1000
    ended = datetime.fromisoformat(session["stopped_at"])
    parked_from = datetime.fromisoformat(session["charging_ended_at"])
    parking_hours = Decimal(int((ended - parked_from).total_seconds())) / 3600
    exact = Decimal("0.50") + kwh * Decimal("0.30") + parking_hours * Decimal("3.00")
    return (
        exact.quantize(CENT, rounding=ROUND_HALF_UP),
        (exact * Decimal("1.21")).quantize(CENT, rounding=ROUND_HALF_UP),
    )


def stations(n: int) -> dict[str, str]:
    credentials = {}
    for _ in range(n):
        st = ConnectorFactory().evse.charge_station
        TokenFactory(uid=ID_TAG, party=EmspFactory(tenant=st.tenant))  # the station's tenant
        version = TariffVersionFactory(
            tariff__party=PartyFactory(tenant=st.tenant),
            tenant=st.tenant,
            ocpi=TARIFF,
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
        )
        TariffAssignmentFactory(
            charge_station=st,
            tariff_code=TariffCodeFactory(tariff=version.tariff, tenant=st.tenant),
            effective_from=datetime(2020, 1, 1, tzinfo=UTC),
        )
        credentials[st.identity] = locations_api.charge_station_reset_password(station_id=st.pk)
    return credentials


def run(gateway: RunningGateway, credentials: dict[str, str], **options: Any) -> list[dict]:
    lines: list[dict[str, Any]] = []
    cfg = SimConfig(
        url=gateway.ws_url, credentials=credentials, id_tags=(ID_TAG,), duration=60, **options
    )
    summary = asyncio.run(simulate(cfg, lines.append))
    assert summary["errors"] == 0, summary
    assert summary["call_errors"] == 0, summary
    sessions = [line for line in lines if line["type"] == "session"]
    assert summary["sessions_stopped"] == len(sessions)
    return lines


def assert_one_cdr_each(sessions: list[dict[str, Any]]) -> None:
    for s in sessions:
        cdr = wait_for(
            lambda s=s: Cdr.objects.filter(
                session__charge_station__identity=s["identity"],
                session__ocpp_transaction_id=s["transaction_id"],
            ).first(),
            what=f"the CDR of {s['identity']} {s['transaction_id']}",
        )
        excl, incl = expected_totals(s)
        assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (excl, incl), s
        assert cdr.total_energy_kwh * 1000 == s["meter_stop_wh"] - s["meter_start_wh"]
        assert cdr.total_parking_cost_excl_vat == Decimal("1.00")
        assert cdr.total_time_hours == Decimal("1.000000")
    assert Cdr.objects.count() == len(sessions)
    assert ChargingSession.objects.filter(status="COMPLETED").count() == len(sessions)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_simulated_sessions_end_as_one_cdr_each_with_the_expected_totals(
    gateway: RunningGateway, protocol: str
) -> None:
    lines = run(gateway, stations(2), protocol=protocol, sessions_per_station=2)
    sessions = [line for line in lines if line["type"] == "session"]
    assert len(sessions) == 4
    assert_one_cdr_each(sessions)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_offline_replay_stores_resent_messages_once_and_bills_once(
    gateway: RunningGateway, protocol: str
) -> None:
    lines = run(gateway, stations(1), protocol=protocol, offline_replay=True)
    (session,) = [line for line in lines if line["type"] == "session"]
    assert session["offline_replay"]
    answered = [line for line in lines if line["type"] == "answered"]
    # Start; samples at 15, 30, 40 (parking begins) and 45 minutes; the stop. The sample
    # at 15 minutes was sent twice (its answer was lost when the station went offline).
    assert len(answered) == 6
    assert_one_cdr_each([session])
    events = OcppEvent.objects.filter(ocpp_transaction_id=session["transaction_id"])
    assert events.count() == 6
    if protocol == "2.0.1":
        # Queued while offline, sent late: the station says so.
        ended = json.loads(answered[-1]["payload"])
        assert ended["eventType"] == "Ended" and ended["offline"] is True


def test_hold_stops_meters_every_session_first_then_sends_all_stops(
    gateway: RunningGateway,
) -> None:
    """The CDR-pipeline benchmark's two phases: no stop is sent before every station has
    started and metered its session and `release` has returned."""
    credentials = stations(3)
    seen: dict[str, Any] = {}

    async def release(held: dict[str, Any]) -> None:
        seen.update(held)
        seen["ended_before_release"] = await asyncio.to_thread(
            lambda: OcppEvent.objects.filter(kind="ENDED").count()
        )
        seen["started_before_release"] = await asyncio.to_thread(
            lambda: OcppEvent.objects.filter(kind="STARTED").count()
        )

    async def release_close(held: dict[str, Any]) -> None:
        # Every session ended, and every station is still connected (they hang up after).
        seen["connected_after_sessions"] = len(gateway.gateway.connections)
        seen["stop_phase_messages"] = held["stop_phase_messages"]

    lines: list[dict[str, Any]] = []
    cfg = SimConfig(
        url=gateway.ws_url,
        credentials=credentials,
        id_tags=(ID_TAG,),
        duration=60,
        protocol="1.6",
        hold_stops=True,
    )
    summary = asyncio.run(simulate(cfg, lines.append, release, release_close))
    assert summary["errors"] == 0, summary
    assert (seen["connected_after_sessions"], seen["stop_phase_messages"]) == (3, 9)
    assert seen["held"] == 3
    assert (seen["started_before_release"], seen["ended_before_release"]) == (3, 0)
    assert summary["hold_stops"]["stop_phase_messages"] == 3 * 3  # stop, Finishing, Available
    sessions = [line for line in lines if line["type"] == "session"]
    assert len(sessions) == 3
    assert_one_cdr_each(sessions)
