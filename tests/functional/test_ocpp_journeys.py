"""Journeys from OCPP frames to priced CDRs, over real websockets, with a real worker process.
The tariff, the session and the hand-computed prices are in `tests/functional/conftest.py`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.models import Cdr, ChargingSession, OcppEvent, ReviewFlag
from apps.locations.models import Evse
from tests.conftest import RunningGateway, wait_for
from tests.journey_fixtures import assert_journey_cdr, cdr_for, connect, z
from tests.ocpp_client import CallErrorReceived, OcppClient

pytestmark = pytest.mark.usefixtures("worker_process")
LOCATION_KEYS = (
    "evse_uid",
    "evse_id",
    "connector_id",
    "connector_standard",
    "connector_format",
    "connector_power_type",
)


def test_ocpp16_session_becomes_a_cdr_priced_to_the_cent(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    st = station["station"]
    Evse.objects.filter(charge_station=st).update(evse_id="NL*CPO*E1234*1")  # eMI3, printed

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
    cdr = cdr_for(st.pk, txid)  # also: a valid OCPI 2.2.1 CDR (strict parser)
    assert_journey_cdr(cdr)
    assert cdr.start_date_time == t0
    assert cdr.end_date_time == t0 + timedelta(hours=1)
    # The station asked us (Authorize) before it started: AUTH_REQUEST, no reference.
    assert cdr.data["auth_method"] == "AUTH_REQUEST"
    assert "authorization_reference" not in cdr.data
    evse = Evse.objects.get(charge_station=st)
    assert {k: cdr.data["cdr_location"][k] for k in LOCATION_KEYS} == {
        "evse_uid": evse.uid,
        "evse_id": "NL*CPO*E1234*1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    # The platform's notes are beside the OCPI object, not in it.
    assert not set(cdr.data) & {"time_zone", "meter_start_wh", "pricing", "ocpp_transaction_id"}
    assert cdr.annotations["meter_start_wh"] == "1000.000"
    assert cdr.annotations["ocpp_transaction_id"] == txid
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
    cdr = cdr_for(st.pk, txid)  # also: a valid OCPI 2.2.1 CDR (strict parser)
    assert_journey_cdr(cdr)
    # Started with a token it never asked us about: the station's own list or cache.
    assert cdr.data["auth_method"] == "WHITELIST"
    evse = Evse.objects.get(charge_station=st)
    assert cdr.data["cdr_location"]["evse_id"] == evse.uid  # no eMI3 id set: the uid
    assert cdr.data["cdr_location"]["connector_format"] == "SOCKET"
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


def test_live_cost_follows_meter_values_and_signed_values_reach_the_cdr(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    """At minute 30, 7.000 kWh charged: 7 × 0.30 + 0.50 = 2.60 excl;
    2.541 + 0.605 = 3.146 → 3.15 incl."""
    st = station["station"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ocmf = 'OCMF|{"FV":"1.0","GI":"DEMO","RD":[{"TM":"x","RV":10.0,"RU":"kWh"}]}|{"SD":"304502"}'

    async def start_and_meter() -> int:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            started = await c.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "04AA11BB22CC33",
                    "meterStart": 1000,
                    "timestamp": z(t0),
                },
            )
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": started["transactionId"],
                    "meterValue": [
                        {
                            "timestamp": z(t0 + timedelta(minutes=30)),
                            "sampledValue": [{"value": "8000"}],
                        }
                    ],
                },
            )
            return int(started["transactionId"])

    txid = asyncio.run(start_and_meter())
    # Wait for the live cost of the meter value (the start alone is priced too: the flat fee;
    # a fast worker can have priced the start before the meter value was stored).
    session = wait_for(
        lambda: (
            ChargingSession.objects.filter(
                charge_station=st,
                ocpp_transaction_id=str(txid),
                live_cost_excl_vat__isnull=False,
                last_meter_at=t0 + timedelta(minutes=30),
            )
            .exclude(live_cost_excl_vat=Decimal("0.50"))
            .first()
        ),
        what="the live cost",
    )
    assert session.status == "ACTIVE"
    assert session.energy_wh == Decimal("7000.000")
    assert session.live_cost_excl_vat == Decimal("2.60")
    assert session.live_cost_incl_vat == Decimal("3.15")
    assert not Cdr.objects.filter(session=session).exists()

    async def stop() -> None:
        async with connect(gateway, station, "ocpp1.6") as ws:
            await OcppClient(ws).call(
                "StopTransaction",
                {
                    "transactionId": txid,
                    "meterStop": 10000,
                    "reason": "Local",
                    "timestamp": z(t0 + timedelta(minutes=60)),
                    "transactionData": [
                        {
                            "timestamp": z(t0 + timedelta(minutes=60)),
                            "sampledValue": [{"value": ocmf, "format": "SignedData"}],
                        }
                    ],
                },
            )

    asyncio.run(stop())
    cdr = cdr_for(st.pk, str(txid))
    # OCPI SignedData: the OCMF value verbatim, its payload as plain data (strict-parsed).
    assert cdr.data["signed_data"] == {
        "encoding_method": "OCMF",
        "signed_values": [
            {
                "nature": "End",
                "plain_data": '{"FV":"1.0","GI":"DEMO","RD":[{"TM":"x","RV":10.0,"RU":"kWh"}]}',
                "signed_data": ocmf,
            }
        ],
    }
    assert cdr.total_energy_kwh == Decimal("9.0000")
    # No parking status was sent: the whole hour is charging time, priced at 0 (no TIME).
    assert cdr.total_cost_excl_vat == Decimal("3.20")
