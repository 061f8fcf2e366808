"""Issue 19's journey, end to end with real parts: a foreign eMSP's token (one we never
received) authorizes at our OCPP 1.6 station through real-time authorization, the session is
pushed to the eMSP as it starts, while it runs (a meter value: a PATCH) and when it ends, the
CDR is pushed once, a real worker rates
it as wholesale to that eMSP, and the eMSP's copy is byte for byte what our OCPI cdrs
interface serves. The eMSP is a loopback HTTP server started by the test."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from apps.common import crypto
from apps.rating.models import RatedLine
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import (
    OcpiConnection,
    OcpiEndpoint,
    OcpiExchange,
    OcpiPartyRole,
    OcpiPush,
)
from tests.conftest import RunningGateway, wait_for
from tests.factories import PartyFactory
from tests.integration.rating import builders as b
from tests.journey_fixtures import cdr_for, connect, z
from tests.ocpp_client import OcppClient
from tests.roaming import schemas

pytestmark = pytest.mark.usefixtures("worker_process")

UID = "CAFE0001"
TOKEN = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": UID,
    "type": "RFID",
    "contract_id": "DE-EMS-C00000001-X",
    "issuer": "Partner eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-12-01T10:00:00Z",
}


class Emsp:
    """The foreign eMSP: answers real-time authorization ALLOWED for UID, accepts sessions
    and CDRs, keeps every request's raw body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                outer.requests.append((self.command, self.path, raw))
                data: Any = None
                if f"/tokens/{UID}/authorize" in self.path:
                    data = {"allowed": "ALLOWED", "token": TOKEN, "authorization_reference": "R1"}
                out = {"status_code": 1000, "timestamp": "2026-12-07T12:00:00Z"}
                if data is not None:
                    out["data"] = data
                payload = json.dumps(out).encode()
                self.send_response(201 if self.command == "POST" and data is None else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ocpi/2.2.1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def got(self, method: str, part: str) -> list[bytes]:
        return [raw for m, p, raw in self.requests if m == method and part in p]


@pytest.fixture
def emsp() -> Iterator[Emsp]:
    e = Emsp()
    yield e
    e.server.shutdown()
    e.server.server_close()


def test_a_foreign_token_charges_and_the_emsp_gets_the_session_and_the_cdr_we_bill(
    gateway: RunningGateway, station: dict[str, Any], emsp: Emsp
) -> None:
    st = station["station"]
    tenant = st.tenant
    partner = PartyFactory(
        tenant=tenant, role="EMSP", kind="PARTNER", country_code="DE", party_id="EMS"
    )
    token = transport.new_token()
    conn = OcpiConnection.objects.create(
        tenant=tenant,
        name="Partner eMSP",
        versions_url=emsp.url.replace("/2.2.1", "/versions"),
        version="2.2.1",
        status="REGISTERED",
        initiator="THEM",
        our_token_digest=transport.token_digest(token),
        their_token_encrypted=crypto.encrypt("token-b"),
    )
    OcpiPartyRole.objects.create(
        tenant=tenant,
        connection=conn,
        role="EMSP",
        country_code="DE",
        party_id="EMS",
        partner=partner,
    )
    for module, role in (("tokens", "SENDER"), ("sessions", "RECEIVER"), ("cdrs", "RECEIVER")):
        OcpiEndpoint.objects.create(
            tenant=tenant, connection=conn, module=module, role=role, url=f"{emsp.url}/{module}"
        )
    roaming_api.cpo_interest_sync(tenant_id=tenant.pk)
    cpo_party = st.location.party
    wholesale = b.tariff(tenant, cpo_party, "WHOLESALE", [b.energy("0.25", vat="21")])
    b.rule(tenant, "WHOLESALE", tariff_version=wholesale)

    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # station times: a fixed past instant

    async def journey() -> str:
        async with connect(gateway, station, "ocpp1.6") as ws:
            c = OcppClient(ws)
            await c.call("BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"})
            answer = await c.call("Authorize", {"idTag": UID})
            if answer["idTagInfo"]["status"] != "Accepted":
                return "refused"
            start = {"connectorId": 1, "idTag": UID, "meterStart": 1000, "timestamp": z(t0)}
            txid = (await c.call("StartTransaction", start))["transactionId"]
            # Once the PUT is there, a meter value: the live cost priced by the worker
            # becomes a running PATCH (bounded waits, never a sleep).
            await asyncio.to_thread(
                wait_for, lambda: emsp.got("PUT", "/sessions/"), what="the session PUT"
            )
            sample = {
                "value": "5500",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
            await c.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": txid,
                    "meterValue": [
                        {"timestamp": z(t0 + timedelta(minutes=30)), "sampledValue": [sample]}
                    ],
                },
            )
            await asyncio.to_thread(
                wait_for,
                lambda: emsp.got("PATCH", "/sessions/"),
                what="the PATCH of the running session",
            )
            stop = {
                "transactionId": txid,
                "idTag": UID,
                "meterStop": 10000,
                "timestamp": z(t0 + timedelta(minutes=60)),
                "reason": "EVDisconnected",
            }
            await c.call("StopTransaction", stop)
            return str(txid)

    txid = asyncio.run(journey())
    assert txid != "refused", (
        emsp.requests,
        list(OcpiExchange.objects.values("url", "http_status", "error")),
    )
    cdr = cdr_for(st.pk, txid)
    assert cdr.emsp_party_id == partner.pk  # the token the eMSP answered with, stored

    posted = wait_for(lambda: emsp.got("POST", "/cdrs"), what="the CDR pushed to the eMSP")
    wait_for(
        lambda: emsp.got("PUT", "/sessions/") and emsp.got("PATCH", "/sessions/"),
        what="the session PUT at its start and PATCHed at its end",
    )
    line = wait_for(
        lambda: RatedLine.objects.filter(cdr=cdr, engine="WHOLESALE").first(),
        what="the wholesale line the worker rates",
    )
    assert (line.seller_party_id, line.buyer_party_id) == (cpo_party.pk, partner.pk)
    assert (line.energy, line.total_excl_vat, line.vat, line.total_incl_vat) == (
        Decimal("2.25"),  # 9 kWh x 0.25
        Decimal("2.25"),
        Decimal("0.47"),
        Decimal("2.72"),
    )
    # The eMSP's copy is what our cdrs interface serves, byte for byte.
    served = Client(HTTP_AUTHORIZATION=transport.authorization_header(token, base64_encoded=True))
    page = transport.loads(served.get("/ocpi/2.2.1/cpo/cdrs").content)
    (ours,) = [c for c in page["data"] if c["id"] == cdr.ocpi_id]
    assert posted == [transport.dumps(ours).encode()]
    # The drain records SENT after the answer (its writes are batched): waited for, not raced.
    wait_for(
        lambda: OcpiPush.objects.filter(connection=conn, module="cdrs", status="SENT").count() == 1,
        what="the CDR push recorded as sent",
    )
    # Once each: the session PUT at its start, the CDR POST (the worker's events may repeat).
    assert (len(emsp.got("PUT", "/sessions/")), len(posted)) == (1, 1)
    # The running PATCH (4.5 kWh at the meter value), then the final one.
    wait_for(lambda: len(emsp.got("PATCH", "/sessions/")) == 2, what="the final PATCH")
    running, final = (transport.loads(raw) for raw in emsp.got("PATCH", "/sessions/"))
    assert set(running) <= {"kwh", "charging_periods", "total_cost", "last_updated"}
    assert running["kwh"] == Decimal("4.5") and "last_updated" in running
    schemas.validate_patch(running, "2.2.1", "session")
    assert final["status"] == "COMPLETED" and final["kwh"] == Decimal("9")
    schemas.validate_patch(final, "2.2.1", "session")
