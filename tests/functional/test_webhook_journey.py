"""End to end: an OCPP 1.6 journey over a real websocket, processed by a real worker process,
delivered by that worker to a real HTTP receiver: every event once, signed, and nothing for
another tenant's subscriber; replays (resent messages, a re-queued task) deliver nothing new."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.charging import api as charging_api
from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.integrations.contracts import SUBSCRIBABLE_EVENTS
from apps.integrations.models import WebhookDelivery
from tests.conftest import RunningGateway, wait_for
from tests.factories import OperatorFactory
from tests.journey_fixtures import cdr_for, connect, z
from tests.ocpp_client import OcppClient
from tests.webhook_receiver import Receiver, verify

SETUP = Actor.system("test setup")

pytestmark = pytest.mark.usefixtures("worker_process")

# What a charging journey emits: every subscribable event but the invoicing ones (a
# finalized document is not part of a station's journey).
ALL = {e for e in SUBSCRIBABLE_EVENTS if not e.startswith(("invoice.", "credit_note."))}


def test_an_ocpp_journey_reaches_the_subscriber_once_signed_and_only_its_tenant(
    gateway: RunningGateway, station: dict[str, Any], receiver: Receiver
) -> None:
    st = station["station"]
    _, secret = integrations_api.webhook_subscription_create(
        tenant_id=st.tenant_id, url=receiver.url, events=SUBSCRIBABLE_EVENTS, actor=SETUP
    )
    stranger = Receiver([])
    other = OperatorFactory()
    integrations_api.webhook_subscription_create(
        tenant_id=other.pk, url=stranger.url, events=SUBSCRIBABLE_EVENTS, actor=SETUP
    )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    start = {"connectorId": 1, "idTag": "04AA11BB22CC33", "meterStart": 1000, "timestamp": z(t0)}

    def status(value: str, minutes: int) -> dict[str, Any]:
        return {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": value,
            "timestamp": z(t0 + timedelta(minutes=minutes)),
        }

    async def journey() -> tuple[str, dict[str, Any]]:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            await c.call("BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
            assert await c.call("Authorize", {"idTag": "04AA11BB22CC33"}) == {
                "idTagInfo": {"status": "Accepted"}
            }
            txid = (await c.call("StartTransaction", start))["transactionId"]
            await c.call("StatusNotification", status("Charging", 0))
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": txid,
                    "meterValue": [
                        {
                            "timestamp": z(t0 + timedelta(minutes=30)),
                            "sampledValue": [{"value": "8000", "unit": "Wh"}],
                        }
                    ],
                },
            )
            stop = {
                "transactionId": txid,
                "idTag": "04AA11BB22CC33",
                "meterStop": 10000,
                "timestamp": z(t0 + timedelta(minutes=60)),
                "reason": "EVDisconnected",
            }
            await c.call("StopTransaction", stop)
            await c.call("StatusNotification", status("Available", 61))
            return str(txid), stop

    async def replay(stop: dict[str, Any]) -> None:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            await c.call("StartTransaction", start)
            await c.call("StopTransaction", stop)

    try:
        txid, stop = asyncio.run(journey())
        cdr = cdr_for(st.pk, txid)

        def arrived() -> Counter[str]:
            got = Counter(e["type"] for e in receiver.events())
            return got if set(got) == ALL else Counter()

        counts = wait_for(arrived, what="one delivery of each of the five events")
        time.sleep(2)  # anything doubled would arrive meanwhile
        counts = Counter(e["type"] for e in receiver.events())
        # On failure: every delivery with its event id, attempt and session, to tell a
        # redelivery (same id) from a second event (another id).
        seen = [
            (e["type"], e["id"], r["headers"].get("Webhook-Attempt"), e["data"].get("id"))
            for r, e in zip(receiver.requests, receiver.events(), strict=False)
        ]
        assert counts == {
            "token.authorized": 1,
            "session.started": 1,
            "station.status_changed": 2,  # AVAILABLE -> CHARGING, CHARGING -> AVAILABLE
            "session.ended": 1,
            "cdr.created": 1,
        }, seen
        now = int(time.time())
        for request in receiver.requests:
            headers = request["headers"]
            assert verify(secret, headers["Webhook-Signature"], request["body"], now=now)
        events = {e["type"]: e for e in receiver.events()}
        assert events["cdr.created"]["data"]["platform_id"] == cdr.pk
        assert events["cdr.created"]["data"]["total_cost"] == {"excl_vat": 3.2, "incl_vat": 3.87}
        assert events["session.ended"]["data"]["status"] == "COMPLETED"
        assert events["session.ended"]["data"]["kwh"] == 9.0
        authorized = events["token.authorized"]["data"]
        assert (authorized["uid"], authorized["status"]) == ("04AA11BB22CC33", "Accepted")
        # The fixture's token is the station tenant's (Authorize looks only there): described.
        assert station["token"].tenant_id == st.tenant_id
        assert (authorized["token"]["platform_id"], authorized["token"]["uid"]) == (
            station["token"].pk,
            "04AA11BB22CC33",
        )
        assert len({r["headers"]["Webhook-Id"] for r in receiver.requests}) == 6

        # Replays: the station resends its start and stop; the worker gets the transaction
        # again. Nothing new is recorded or sent.
        rows = WebhookDelivery.objects.count()
        asyncio.run(replay(stop))
        charging_api.transactions_enqueue([(st.pk, txid)])
        time.sleep(4)
        assert WebhookDelivery.objects.count() == rows
        assert len(receiver.requests) == 6
        assert stranger.requests == []  # the other tenant's subscriber never heard of it
    finally:
        stranger.close()
