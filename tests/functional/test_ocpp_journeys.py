"""Journeys from OCPP frames to priced CDRs, over real websockets, with a real worker process.

Tariff (VAT 21 %): FLAT 0.50, ENERGY 0.30 / kWh, PARKING_TIME 3.00 / h per minute.
Session: 60 minutes, 9.000 kWh charged in the first 40, parked (SuspendedEV) the last 20.
By hand:  energy  9 × 0.30 = 2.70 excl, × 1.21 = 3.267 incl
          flat    0.50 excl,            × 1.21 = 0.605 incl
          parking 20 min = 1/3 h × 3.00 = 1.00 excl, × 1.21 = 1.21 incl
          total   4.20 excl, 3.267 + 0.605 + 1.21 = 5.082 → 5.08 incl (ROUND_HALF_UP)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.models import Cdr, ChargingSession, OcppEvent, ReviewFlag
from apps.locations import api as locations_api
from tests.conftest import RunningGateway, wait_for
from tests.factories import (
    ConnectorFactory,
    PartyFactory,
    TariffAssignmentFactory,
    TariffCodeFactory,
    TariffVersionFactory,
    TokenFactory,
)
from tests.ocpp_client import CallErrorReceived, OcppClient, basic, open_station

pytestmark = pytest.mark.usefixtures("worker_process")

TARIFF = {
    "country_code": "NL",
    "party_id": "CPO",
    "id": "JOURNEY",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 3.00, "vat": 21.0, "step_size": 60},
            ]
        }
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


def z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def station() -> dict[str, Any]:
    connector = ConnectorFactory()
    st = connector.evse.charge_station
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
    token = TokenFactory(uid="04AA11BB22CC33")
    password = locations_api.charge_station_reset_password(station_id=st.pk)
    return {"station": st, "password": password, "token": token}


def connect(gw: RunningGateway, station: dict[str, Any], protocol: str) -> Any:
    identity = station["station"].identity
    return open_station(
        gw.ws_url + identity, protocol=protocol, headers=basic(identity, station["password"])
    )


def cdr_for(station_id: int, txid: str) -> Cdr:
    return wait_for(
        lambda: Cdr.objects.filter(
            session__charge_station_id=station_id, session__ocpp_transaction_id=txid
        ).first(),
        what=f"the CDR of transaction {txid}",
    )


def assert_journey_cdr(cdr: Cdr) -> None:
    assert cdr.currency == "EUR"
    assert cdr.total_energy_kwh == Decimal("9.0000")
    assert cdr.total_energy_cost_excl_vat == Decimal("2.70")
    assert cdr.total_energy_cost_incl_vat == Decimal("3.27")
    assert cdr.total_fixed_cost_excl_vat == Decimal("0.50")
    assert cdr.total_fixed_cost_incl_vat == Decimal("0.61")
    assert cdr.total_parking_cost_excl_vat == Decimal("1.00")
    assert cdr.total_parking_cost_incl_vat == Decimal("1.21")
    assert cdr.total_cost_excl_vat == Decimal("4.20")
    assert cdr.total_cost_incl_vat == Decimal("5.08")
    assert cdr.total_time_hours == Decimal("1.000000")
    assert cdr.total_parking_time_hours == Decimal("0.333333")
    assert cdr.data["cdr_token"]["uid"] == "04AA11BB22CC33"
    assert len(cdr.data["charging_periods"]) >= 2


def test_ocpp16_session_becomes_a_cdr_priced_to_the_cent(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    st = station["station"]

    async def run() -> str:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            boot = await c.call(
                "BootNotification", {"chargePointVendor": "Alfen", "chargePointModel": "Eve"}
            )
            assert boot["status"] == "Accepted"
            auth = await c.call("Authorize", {"idTag": "04AA11BB22CC33"})
            assert auth == {"idTagInfo": {"status": "Accepted"}}
            start = {
                "connectorId": 1,
                "idTag": "04AA11BB22CC33",
                "meterStart": 1000,
                "timestamp": z(t0),
            }
            started = await c.call("StartTransaction", start)
            txid = started["transactionId"]
            assert isinstance(txid, int) and 0 < txid < 2**31
            # The station lost our answer and sends the same StartTransaction again.
            again = await c.call("StartTransaction", start)
            assert again["transactionId"] == txid
            await c.call(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "Charging",
                    "timestamp": z(t0),
                },
            )
            for minutes, wh, unit in [(15, "4000", "Wh"), (30, "8.0", "kWh")]:
                await c.call(
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": txid,
                        "meterValue": [
                            {
                                "timestamp": z(t0 + timedelta(minutes=minutes)),
                                "sampledValue": [
                                    {
                                        "value": wh,
                                        "unit": unit,
                                        "measurand": "Energy.Active.Import.Register",
                                    }
                                ],
                            }
                        ],
                    },
                )
            await c.call(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "SuspendedEV",
                    "timestamp": z(t0 + timedelta(minutes=40)),
                },
            )
            stop = {
                "transactionId": txid,
                "idTag": "04AA11BB22CC33",
                "meterStop": 10000,
                "timestamp": z(t0 + timedelta(minutes=60)),
                "reason": "EVDisconnected",
                "transactionData": [
                    {
                        "timestamp": z(t0 + timedelta(minutes=40)),
                        "sampledValue": [{"value": "10000", "unit": "Wh"}],
                    }
                ],
            }
            assert await c.call("StopTransaction", stop) == {"idTagInfo": {"status": "Accepted"}}
            # A resent stop is answered the same and changes nothing.
            assert await c.call("StopTransaction", stop) == {"idTagInfo": {"status": "Accepted"}}
            return str(txid)

    txid = asyncio.run(run())
    cdr = cdr_for(st.pk, txid)
    assert_journey_cdr(cdr)
    assert cdr.start_date_time == t0
    assert cdr.end_date_time == t0 + timedelta(hours=1)
    assert OcppEvent.objects.filter(charge_station=st, ocpp_transaction_id=txid).count() == 4
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert session.status == "COMPLETED" and session.energy_wh == Decimal("9000.000")
    assert session.stop_reason == "EVDisconnected"
    # Nothing doubled: one CDR, even after the worker has seen every event.
    assert Cdr.objects.filter(session=session).count() == 1


def test_ocpp201_session_becomes_a_cdr_priced_to_the_cent(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    st = station["station"]
    txid = "tx-201-journey"

    def event(kind: str, seq: int, minutes: int, wh: str, state: str, **extra: Any) -> dict:
        payload: dict[str, Any] = {
            "eventType": kind,
            "timestamp": z(t0 + timedelta(minutes=minutes)),
            "triggerReason": "MeterValuePeriodic",
            "seqNo": seq,
            "offline": True,
            "transactionInfo": {"transactionId": txid, "chargingState": state},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": z(t0 + timedelta(minutes=minutes)),
                    "sampledValue": [
                        {
                            "value": float(wh),  # a JSON number on the wire
                            "unitOfMeasure": {"unit": "kWh"},
                            "measurand": "Energy.Active.Import.Register",
                        }
                    ],
                }
            ],
        }
        payload.update(extra)
        return payload

    async def run() -> None:
        async with connect(gateway, station, "ocpp2.0.1") as ws:
            c = OcppClient(ws)
            boot = await c.call(
                "BootNotification",
                {"reason": "PowerUp", "chargingStation": {"model": "X", "vendorName": "ABB"}},
            )
            assert boot["status"] == "Accepted"
            id_token = {"idToken": "04AA11BB22CC33", "type": "ISO14443"}
            started = await c.call(
                "TransactionEvent",
                event(
                    "Started",
                    0,
                    0,
                    "1.000",
                    "Charging",
                    idToken=id_token,
                    triggerReason="Authorized",
                ),
            )
            assert started == {"idTokenInfo": {"status": "Accepted"}}
            await c.call("TransactionEvent", event("Updated", 1, 30, "8.000", "Charging"))
            await c.call("TransactionEvent", event("Updated", 2, 40, "10.000", "SuspendedEV"))
            ended = event("Ended", 3, 60, "10.000", "SuspendedEV", triggerReason="EVDeparted")
            ended["transactionInfo"]["stoppedReason"] = "EVDisconnected"
            await c.call("TransactionEvent", ended)
            await c.call("TransactionEvent", ended)  # replayed: nothing doubles

    asyncio.run(run())
    cdr = cdr_for(st.pk, txid)
    assert_journey_cdr(cdr)
    assert OcppEvent.objects.filter(charge_station=st, ocpp_transaction_id=txid).count() == 4
    assert Cdr.objects.filter(session__ocpp_transaction_id=txid).count() == 1
    assert not ReviewFlag.objects.filter(ocpp_transaction_id=txid, reason="CLOCK_SKEW").exists()


def test_stop_for_an_unknown_transaction_is_answered_stored_and_flagged(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]
    stamp = z(datetime.now(UTC) - timedelta(hours=5))

    async def run() -> dict[str, Any]:
        async with connect(gateway, station, "ocpp1.6") as ws:
            return await OcppClient(ws).call(
                "StopTransaction",
                {"transactionId": -1, "meterStop": 5000, "timestamp": stamp, "reason": "Local"},
            )

    assert asyncio.run(run()) == {}
    flag = wait_for(
        lambda: ReviewFlag.objects.filter(charge_station=st, reason="UNKNOWN_TRANSACTION").first(),
        what="the review flag",
    )
    assert flag.ocpp_transaction_id == "-1"
    assert OcppEvent.objects.filter(charge_station=st, ocpp_transaction_id="-1").count() == 1
    assert not Cdr.objects.exists()


def test_station_clock_ahead_is_flagged_but_the_session_still_counts(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]
    ahead = datetime.now(UTC) + timedelta(minutes=10)

    async def run() -> int:
        async with connect(gateway, station, "ocpp1.6") as ws:
            started = await OcppClient(ws).call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "04AA11BB22CC33",
                    "meterStart": 0,
                    "timestamp": z(ahead),
                },
            )
            return int(started["transactionId"])

    txid = str(asyncio.run(run()))
    flag = wait_for(
        lambda: ReviewFlag.objects.filter(
            charge_station=st, ocpp_transaction_id=txid, reason="CLOCK_SKEW"
        ).first(),
        what="the clock-skew flag",
    )
    assert flag.details["offset_seconds"] >= 595
    assert ChargingSession.objects.filter(charge_station=st, ocpp_transaction_id=txid).exists()


def test_a_malformed_frame_never_breaks_the_connection(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    async def run() -> None:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            await ws.send("not json at all")
            await ws.send('{"an": "object"}')
            await ws.send('[2, 7, "Heartbeat", {}]')  # integer id: answered as an error
            error = await ws.recv()
            assert error == '[4,"7","FormationViolation","message id must be a string",{}]'
            with pytest.raises(CallErrorReceived) as info:
                await c.call("StatusNotification", {"connectorId": 1})
            assert info.value.code == "OccurenceConstraintViolation"
            with pytest.raises(CallErrorReceived) as info:
                await c.call("CancelReservation", {"reservationId": 1})
            assert info.value.code == "NotSupported"
            with pytest.raises(CallErrorReceived) as info:
                await c.call("MakeCoffee", {})
            assert info.value.code == "NotImplemented"
            assert "currentTime" in await c.call("Heartbeat", {})

    asyncio.run(run())
