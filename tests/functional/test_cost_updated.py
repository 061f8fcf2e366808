"""OCPP 2.0.1 CostUpdated from the live price: the worker prices the running cost, publishes
it through Redis after commit, and the gateway node holding the station sends CostUpdated.

The end-to-end test needs Redis (REDIS_URL, as in the PostgreSQL/Redis run); the delivery
rules are tested without it. Journey tariff (VAT 21 %): at minute 30, 7.000 kWh charged:
7 × 0.30 + 0.50 = 2.60 excl; 2.541 + 0.605 = 3.146 → 3.15 incl.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from apps.charging.api import live_cost_channel
from apps.charging.contracts import EventKind, MeterSampleIn
from apps.charging.models import ChargingSession
from apps.charging.services import live_cost_feed, processing
from csms_gateway import ocppj, schemas
from csms_gateway.commands import Outbound
from csms_gateway.cost_updates import CostUpdates
from tests.conftest import start_gateway
from tests.integration.test_pipeline_batches import T0, event, record, start
from tests.journey_fixtures import connect, z


def test_the_channel_is_per_redis_database() -> None:
    assert live_cost_channel("redis://127.0.0.1:6379/8") == "charging.live_cost.db8"
    assert live_cost_channel("redis://h:6379") == "charging.live_cost.db0"
    assert live_cost_channel("redis://h:6379?db=3") == "charging.live_cost.db3"


@dataclass
class FakeAuth:
    id: int


@dataclass
class FakeConnection:
    subprotocol: str
    station_auth: FakeAuth
    sent: list[str] = field(default_factory=list)

    async def send(self, frame: str) -> None:
        self.sent.append(frame)


def message(**overrides: Any) -> str:
    body = {
        "session_id": 1,
        "station_id": 7,
        "identity": "CS-7",
        "transaction_id": "tx-1",
        "currency": "EUR",
        "total_cost_incl_vat": "3.1500",
        "total_cost_excl_vat": "2.6000",
    }
    return json.dumps({**body, **overrides})


def test_cost_updated_goes_only_to_the_201_station_this_node_holds() -> None:
    held = FakeConnection("ocpp2.0.1", FakeAuth(7))
    on16 = FakeConnection("ocpp1.6", FakeAuth(8))
    connections = {"CS-7": held, "CS-8": on16}

    async def run() -> tuple[list[bool], Outbound]:
        links = {k: Outbound(c.send, "2.0.1", k) for k, c in connections.items()}
        updates = CostUpdates("redis://127.0.0.1:6379/15", connections, links.get)
        delivered = [
            await updates.deliver(message()),
            await updates.deliver(message(identity="CS-9")),  # another node's station
            await updates.deliver(message(station_id=99)),  # same name, another station
            await updates.deliver(message(identity="CS-8", station_id=8)),  # 1.6: no such message
            await updates.deliver(b"not json"),
        ]
        for _ in range(5):
            await asyncio.sleep(0)
        # A second price waits in the station's line behind the first (one outstanding CALL).
        assert await updates.deliver(message(total_cost_incl_vat="3.2000"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(held.sent) == 1 and updates.sent == 2
        first = json.loads(held.sent[0])
        assert links["CS-7"].resolve(ocppj.CallResult(first[1], {}))  # the station answers
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(held.sent) == 2 and updates.answered == 1
        await updates.stop()
        return delivered, links["CS-7"]

    delivered, _ = asyncio.run(run())
    assert delivered == [True, False, False, False, False]
    assert on16.sent == []
    # The exact amount as a JSON number, never through float.
    first, second = (json.loads(f, parse_float=Decimal) for f in held.sent)
    assert (
        held.sent[0]
        == f'[2,"{first[1]}","CostUpdated",{{"totalCost":3.1500,"transactionId":"tx-1"}}]'
    )
    assert second[3] == {"totalCost": Decimal("3.2000"), "transactionId": "tx-1"}
    assert first[1] != second[1]
    schemas.validate("2.0.1", "CostUpdated", first[3], response=False)


@pytest.mark.django_db
def test_each_live_cost_pricing_is_published_once_after_commit(
    station: dict[str, Any], django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    """The worker side without Redis: what `live_cost_feed` would publish, when."""
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(live_cost_feed, "_publish", published.append)
    st = station["station"]
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/15"):
        (r,), _ = record([start(st, "cost")], django_capture_on_commit_callbacks)
        txid = r.ocpp_transaction_id
        sample = MeterSampleIn(timestamp=T0 + timedelta(minutes=30), energy_wh=Decimal(7000))
        update = event(st, EventKind.UPDATED, "m1", 30, ocpp_transaction_id=txid, samples=(sample,))
        record([update], django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            processing.transactions_process([(st.pk, txid)])
        assert published == []  # nothing before the commit
        for callback in callbacks:
            callback()
    (message,) = published
    assert message["identity"] == st.identity and message["station_id"] == st.pk
    assert message["transaction_id"] == txid and message["currency"] == "EUR"
    # 7 kWh × 0.30 + 0.50 = 2.60 excl; 2.541 + 0.605 = 3.146 → 3.15 incl.
    assert Decimal(message["total_cost_incl_vat"]) == Decimal("3.15")
    assert Decimal(message["total_cost_excl_vat"]) == Decimal("2.60")
    # Without REDIS_URL (the embedded default) a pricing queues nothing at all.
    with override_settings(REDIS_URL="", CHARGING_LIVE_COST_SECONDS=0):
        sample = MeterSampleIn(timestamp=T0 + timedelta(minutes=45), energy_wh=Decimal(10000))
        update = event(st, EventKind.UPDATED, "m2", 45, ocpp_transaction_id=txid, samples=(sample,))
        record([update], django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            processing.transactions_process([(st.pk, txid)])
    assert callbacks == []
    session = ChargingSession.objects.get(charge_station=st, ocpp_transaction_id=txid)
    assert session.live_cost_excl_vat == Decimal("3.50")  # priced: 10 kWh × 0.30 + 0.50
    assert len(published) == 1


@pytest.mark.skipif(
    not settings.REDIS_URL, reason="CostUpdated travels through Redis: set REDIS_URL"
)
def test_live_cost_reaches_the_station_as_cost_updated(
    worker_process: Any, transactional_db: None, station: dict[str, Any]
) -> None:
    running, stop = start_gateway(redis_url=settings.REDIS_URL)
    try:
        updates = running.gateway.cost_updates
        assert updates is not None
        asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(updates.subscribed.wait(), 10), running.loop
        ).result(15)
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
        txid = "tx-cost-updated"

        def event(kind: str, seq: int, minutes: int, kwh: str, **extra: Any) -> dict[str, Any]:
            return {
                "eventType": kind,
                "timestamp": z(t0 + timedelta(minutes=minutes)),
                "triggerReason": "MeterValuePeriodic",
                "seqNo": seq,
                "transactionInfo": {"transactionId": txid, "chargingState": "Charging"},
                "evse": {"id": 1, "connectorId": 1},
                "meterValue": [
                    {
                        "timestamp": z(t0 + timedelta(minutes=minutes)),
                        "sampledValue": [{"value": float(kwh), "unitOfMeasure": {"unit": "kWh"}}],
                    }
                ],
                **extra,
            }

        async def run() -> list[str]:
            costs: list[str] = []
            async with connect(running, station, "ocpp2.0.1") as ws:
                pending: dict[str, asyncio.Future[Any]] = {}

                async def read() -> None:
                    async for text in ws:
                        frame = json.loads(text, parse_float=Decimal)
                        if frame[0] == 2:  # a CALL from the CSMS
                            assert frame[2] == "CostUpdated", frame
                            schemas.validate("2.0.1", "CostUpdated", frame[3], response=False)
                            assert frame[3]["transactionId"] == txid
                            costs.append(str(frame[3]["totalCost"]))
                            await ws.send(json.dumps([3, frame[1], {}]))
                        else:
                            pending.pop(frame[1]).set_result(frame)

                reader = asyncio.create_task(read())

                async def call(mid: str, action: str, payload: dict[str, Any]) -> Any:
                    pending[mid] = asyncio.get_running_loop().create_future()
                    await ws.send(json.dumps([2, mid, action, payload]))
                    answer = await asyncio.wait_for(pending[mid], 10)
                    assert answer[0] == 3, answer
                    return answer[2]

                token = {"idToken": "04AA11BB22CC33", "type": "ISO14443"}
                await call("1", "TransactionEvent", event("Started", 0, 0, "1.000", idToken=token))
                await call("2", "TransactionEvent", event("Updated", 1, 30, "8.000"))
                for _ in range(600):  # up to 60 s for the worker
                    if any(Decimal(c) == Decimal("3.15") for c in costs):
                        break
                    await asyncio.sleep(0.1)
                reader.cancel()
            return costs

        costs = asyncio.run(run())
        assert costs, "no CostUpdated arrived"
        # Maybe the price at the start (the flat fee, 0.61) first; then the running total.
        assert Decimal(costs[-1]) == Decimal("3.15")
        assert all(Decimal(c) in (Decimal("0.61"), Decimal("3.15")) for c in costs)
        assert updates.sent == len(costs)
    finally:
        stop()
