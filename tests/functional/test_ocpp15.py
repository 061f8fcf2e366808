"""OCPP 1.5 over JSON end to end: real websockets, the in-process gateway, a real worker.

The journey tariff (tests/journey_fixtures.py, VAT 21 %): FLAT 0.50, ENERGY 0.30 / kWh,
PARKING_TIME 3.00 / h. OCPP 1.5 has no SuspendedEV: a plugged-in EV is `Occupied` whether
it takes energy or not, so a 1.5 session has no parking time. By hand, 9.000 kWh in 60 min:
    energy  9 × 0.30 = 2.70 excl, × 1.21 = 3.267 incl
    flat    0.50 excl,            × 1.21 = 0.605 incl
    parking none
    total   3.20 excl, 3.267 + 0.605 = 3.872 → 3.87 incl (ROUND_HALF_UP)
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from apps.charging.models import Cdr, ChargingSession, OcppEvent, StatusEvent
from apps.devices.models import DeviceState, StationEvent
from apps.locations import api as locations_api
from apps.locations.models import ChargeStation
from csms_gateway import schemas
from csms_gateway.simulator import SimConfig, simulate
from tests.conftest import RunningGateway, start_gateway
from tests.journey_fixtures import cdr_for, connect, z
from tests.ocpp_client import OcppClient, basic

CENT = Decimal("0.01")


class Client15(OcppClient):
    """Checks every answer against the project's 1.5 response schema."""

    async def call(self, action: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        schemas.validate("1.5", action, payload, response=False)
        answer = await super().call(action, payload, **kwargs)
        schemas.validate("1.5", action, answer, response=True)
        return answer


def reading(value: str, unit: str = "Wh") -> dict[str, str]:
    return {"value": value, "unit": unit, "measurand": "Energy.Active.Import.Register"}


def test_ocpp15_session_becomes_a_cdr_priced_to_the_cent(
    worker_process: Any, gateway: RunningGateway, station: dict[str, Any]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    st = station["station"]

    async def run() -> str:
        async with connect(gateway, station, "ocpp1.5") as ws:
            assert ws.subprotocol == "ocpp1.5"
            c = Client15(ws)
            boot = await c.call(
                "BootNotification",
                {"chargePointVendor": "Alfen", "chargePointModel": "NG9", "firmwareVersion": "3.2"},
            )
            assert boot["status"] == "Accepted" and boot["heartbeatInterval"] == 300
            assert await c.call("Authorize", {"idTag": "04AA11BB22CC33"}) == {
                "idTagInfo": {"status": "Accepted"}
            }
            occupied = {"connectorId": 1, "status": "Occupied", "errorCode": "NoError"}
            await c.call(
                "StatusNotification", {**occupied, "timestamp": z(t0 - timedelta(minutes=1))}
            )
            start = {
                "connectorId": 1,
                "idTag": "04AA11BB22CC33",
                "meterStart": 1000,
                "timestamp": z(t0),
            }
            txid = (await c.call("StartTransaction", start))["transactionId"]
            assert isinstance(txid, int) and 0 < txid < 2**31
            assert (await c.call("StartTransaction", start))["transactionId"] == txid  # resent
            # The WSDL's shape: readings in `value`, objects with attributes.
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": txid,
                    "values": [
                        {"timestamp": z(t0 + timedelta(minutes=15)), "value": [reading("4000")]}
                    ],
                },
            )
            # The field's shape: readings in `values`; kWh.
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": txid,
                    "values": [
                        {
                            "timestamp": z(t0 + timedelta(minutes=30)),
                            "values": [reading("8.0", "kWh")],
                        }
                    ],
                },
            )
            # A reading without attributes is the bare text (Wh, the import register).
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": txid,
                    "values": [{"timestamp": z(t0 + timedelta(minutes=40)), "value": ["10000"]}],
                },
            )
            stop = {
                "transactionId": txid,
                "idTag": "04AA11BB22CC33",
                "meterStop": 10000,
                "timestamp": z(t0 + timedelta(minutes=60)),
                "transactionData": [
                    {
                        "values": [
                            {
                                "timestamp": z(t0 + timedelta(minutes=60)),
                                "value": [reading("10000")],
                            }
                        ]
                    }
                ],
            }
            assert await c.call("StopTransaction", stop) == {"idTagInfo": {"status": "Accepted"}}
            assert await c.call("StopTransaction", stop) == {"idTagInfo": {"status": "Accepted"}}
            await c.call(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "status": "Available",
                    "errorCode": "NoError",
                    "timestamp": z(t0 + timedelta(minutes=61)),
                },
            )
            return str(txid)

    txid = asyncio.run(run())
    cdr = cdr_for(st.pk, txid)
    assert cdr.currency == "EUR"
    assert cdr.total_energy_kwh == Decimal("9.0000")
    assert (cdr.total_energy_cost_excl_vat, cdr.total_energy_cost_incl_vat) == (
        Decimal("2.70"),
        Decimal("3.27"),
    )
    assert (cdr.total_fixed_cost_excl_vat, cdr.total_fixed_cost_incl_vat) == (
        Decimal("0.50"),
        Decimal("0.61"),
    )
    assert cdr.total_parking_time_hours == Decimal("0")
    assert not cdr.total_parking_cost_excl_vat
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (Decimal("3.20"), Decimal("3.87"))
    assert cdr.total_time_hours == Decimal("1.000000")
    assert (cdr.start_date_time, cdr.end_date_time) == (t0, t0 + timedelta(hours=1))
    assert cdr.data["cdr_token"]["uid"] == "04AA11BB22CC33"
    # Stored once each: start, three meter values, stop; all marked 1.5.
    events = OcppEvent.objects.filter(charge_station=st, ocpp_transaction_id=txid)
    assert sorted(events.values_list("action", flat=True)) == [
        "MeterValues",
        "MeterValues",
        "MeterValues",
        "StartTransaction",
        "StopTransaction",
    ]
    assert set(events.values_list("protocol", flat=True)) == {"1.5"}
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert session.status == "COMPLETED" and session.energy_wh == Decimal("9000.000")
    assert session.stop_reason == ""  # 1.5 sends none
    assert Cdr.objects.filter(session=session).count() == 1
    assert ChargeStation.objects.get(pk=st.pk).ocpp_version == "1.5"
    # Occupied is stored as charging (1.5 cannot tell charging from a parked EV).
    assert set(
        StatusEvent.objects.filter(charge_station=st, status="Occupied").values_list(
            "charging_state", flat=True
        )
    ) == {"Charging"}


def test_ocpp15_firmware_diagnostics_and_data_transfer_are_stored(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]

    async def run() -> list[dict[str, Any]]:
        async with connect(gateway, station, "ocpp1.5") as ws:
            c = Client15(ws)
            answers = [
                await c.call("FirmwareStatusNotification", {"status": s})
                for s in ("Downloaded", "Installed")
            ]
            answers.append(
                await c.call("DiagnosticsStatusNotification", {"status": "UploadFailed"})
            )
            answers.append(
                await c.call(
                    "DataTransfer", {"vendorId": "com.example", "messageId": "Hi", "data": "x"}
                )
            )
            return answers

    assert asyncio.run(run()) == [{}, {}, {}, {"status": "UnknownVendorId"}]
    rows = list(StationEvent.objects.filter(charge_station=st).order_by("id"))
    assert [(r.kind, r.action, r.status, r.protocol) for r in rows] == [
        ("FIRMWARE", "FirmwareStatusNotification", "Downloaded", "1.5"),
        ("FIRMWARE", "FirmwareStatusNotification", "Installed", "1.5"),
        ("DIAGNOSTICS", "DiagnosticsStatusNotification", "UploadFailed", "1.5"),
        ("DATA_TRANSFER", "DataTransfer", "com.example", "1.5"),
    ]
    assert rows[3].details["data"] == "x" and rows[3].details["answered"] == "UnknownVendorId"
    state = DeviceState.objects.get(charge_station=st)
    assert (state.firmware_status, state.diagnostics_status) == ("Installed", "UploadFailed")
    assert not OcppEvent.objects.filter(charge_station=st).exists()


# --- subprotocol negotiation -------------------------------------------------------------


async def _negotiate(gw: RunningGateway, station: dict[str, Any], offered: list[str]) -> str | None:
    identity = station["station"].identity
    async with ws_connect(
        gw.ws_url + identity,
        subprotocols=offered,  # type: ignore[arg-type]
        additional_headers=basic(identity, station["password"]),
        open_timeout=10,
    ) as ws:
        chosen = ws.subprotocol
        if chosen is None:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1002
        return chosen


def test_the_station_first_preference_among_enabled_versions_wins(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    async def run() -> list[str | None]:
        return [
            await _negotiate(gateway, station, offered)
            for offered in (
                ["ocpp1.5", "ocpp1.6"],
                ["ocpp1.6", "ocpp1.5"],
                ["ocpp2.0.1", "ocpp1.5"],
                ["ocpp1.2", "ocpp1.5"],
                ["ocpp1.2"],
            )
        ]

    assert asyncio.run(run()) == ["ocpp1.5", "ocpp1.6", "ocpp2.0.1", "ocpp1.5", None]


def test_a_station_limited_to_versions_gets_its_first_allowed_preference(
    gateway: RunningGateway, station: dict[str, Any]
) -> None:
    st = station["station"]
    locations_api.charge_station_set_ocpp_versions(station_id=st.pk, versions=["1.6", "2.0.1"])

    async def run() -> list[str | None]:
        return [
            await _negotiate(gateway, station, offered)
            for offered in (
                ["ocpp1.5", "ocpp1.6"],
                ["ocpp1.5", "ocpp2.0.1", "ocpp1.6"],
                ["ocpp1.5"],
            )
        ]

    assert asyncio.run(run()) == ["ocpp1.6", "ocpp2.0.1", None]
    locations_api.charge_station_set_ocpp_versions(station_id=st.pk, versions=[])
    assert asyncio.run(_negotiate(gateway, station, ["ocpp1.5"])) == "ocpp1.5"


def test_a_gateway_without_15_enabled_never_speaks_it(
    transactional_db: None, station: dict[str, Any]
) -> None:
    running, stop = start_gateway(subprotocols=("ocpp2.0.1", "ocpp1.6"))
    try:

        async def run() -> list[str | None]:
            return [
                await _negotiate(running, station, ["ocpp1.5", "ocpp1.6"]),
                await _negotiate(running, station, ["ocpp1.5"]),
            ]

        assert asyncio.run(run()) == ["ocpp1.6", None]
    finally:
        stop()


def test_unknown_versions_cannot_be_configured_for_a_station(
    db: None, station: dict[str, Any]
) -> None:
    from apps.common.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        locations_api.charge_station_set_ocpp_versions(
            station_id=station["station"].pk, versions=["1.6", "1.2"]
        )


# --- the simulator speaks 1.5 --------------------------------------------------------------


def test_simulated_ocpp15_sessions_end_as_one_cdr_each(
    worker_process: Any, gateway: RunningGateway, station: dict[str, Any]
) -> None:
    """Both inner MeterValues shapes go out (the simulator alternates them); each session is
    one CDR of 0.50 + kWh × 0.30 (no parking in 1.5), VAT 21 %, rounded half up."""
    st = station["station"]
    lines: list[dict[str, Any]] = []
    cfg = SimConfig(
        url=gateway.ws_url,
        credentials={st.identity: station["password"]},
        id_tags=("04AA11BB22CC33",),
        duration=60,
        protocol="1.5",
        sessions_per_station=2,
    )
    summary = asyncio.run(simulate(cfg, lines.append))
    assert summary["errors"] == 0 and summary["call_errors"] == 0, summary
    sessions = [line for line in lines if line["type"] == "session"]
    assert len(sessions) == 2
    meter_values = [
        json.loads(line["payload"])["values"][0]
        for line in lines
        if line["type"] == "answered" and line["action"] == "MeterValues"
    ]
    shapes = {"value" if "value" in mv else "values" for mv in meter_values}
    assert shapes == {"value", "values"}
    readings = [r for mv in meter_values for r in mv.get("value", mv.get("values"))]
    assert any(isinstance(r, str) for r in readings)  # a bare-text reading too
    for s in sessions:
        cdr = cdr_for(st.pk, s["transaction_id"])
        kwh = Decimal(s["meter_stop_wh"] - s["meter_start_wh"]) / 1000
        exact = Decimal("0.50") + kwh * Decimal("0.30")
        assert cdr.total_energy_kwh == kwh
        assert cdr.total_cost_excl_vat == exact.quantize(CENT, rounding=ROUND_HALF_UP)
        assert cdr.total_cost_incl_vat == (exact * Decimal("1.21")).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        assert cdr.total_parking_time_hours == Decimal("0")
    assert Cdr.objects.filter(session__charge_station=st).count() == 2
