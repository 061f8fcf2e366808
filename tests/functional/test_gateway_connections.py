"""Connections and security profiles at the handshake, over real sockets and real TLS.

Certificates are generated per test run with trustme (a throwaway CA, a server certificate for
127.0.0.1, client certificates for stations).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.locations import api as locations_api
from apps.locations.contracts import SecurityProfile
from apps.locations.models import ChargeStation
from csms_gateway import security
from tests.conftest import RunningGateway, start_gateway, wait_for
from tests.factories import ChargeStationFactory
from tests.ocpp_client import OcppClient, basic, open_station

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(root / "server.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    station_cert = ca.issue_cert("CS-SECURE")
    other_cert = ca.issue_cert("CS-OTHER")
    return {"root": root, "ca": ca, "station": station_cert, "other": other_cert}


def der_fingerprint(cert: trustme.LeafCert) -> str:
    pem = cert.cert_chain_pems[0].bytes().decode()
    return security.fingerprint_der(ssl.PEM_cert_to_DER_cert(pem))


@pytest.fixture
def tls_gateway(pki: dict[str, Any]) -> Iterator[RunningGateway]:
    root: Path = pki["root"]
    running, stop = start_gateway(
        tls_port=0,
        tls_cert=str(root / "server.pem"),
        tls_key=str(root / "server.pem"),
        tls_client_ca=str(root / "ca.pem"),
    )
    yield running
    stop()


def client_tls(pki: dict[str, Any], cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    pki["ca"].configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def station_with(profile: SecurityProfile, fingerprint: str = "") -> tuple[ChargeStation, str]:
    station = ChargeStationFactory()
    password = locations_api.charge_station_reset_password(station_id=station.pk)
    if profile > SecurityProfile.BASIC:
        locations_api.charge_station_set_security_profile(
            station_id=station.pk, profile=profile, client_cert_fingerprint=fingerprint
        )
    return station, password


async def _boot(url: str, **kwargs: Any) -> str:
    async with open_station(url, protocol="ocpp1.6", **kwargs) as ws:
        reply = await OcppClient(ws).call(
            "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
        )
        return str(reply["status"])


def refused(url: str, **kwargs: Any) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        asyncio.run(_boot(url, **kwargs))
    return info.value


def test_profile_1_basic_auth(tls_gateway: RunningGateway) -> None:
    station, password = station_with(SecurityProfile.BASIC)
    url = tls_gateway.ws_url + station.identity
    assert asyncio.run(_boot(url, headers=basic(station.identity, password))) == "Accepted"
    wrong = refused(url, headers=basic(station.identity, password + "x"))
    assert wrong.response.status_code == 401
    assert wrong.response.headers["WWW-Authenticate"].startswith("Basic")
    assert refused(url).response.status_code == 401
    # The user name must be the station's own identity.
    assert refused(url, headers=basic("someone-else", password)).response.status_code == 401


def test_profile_2_needs_tls_and_is_never_downgraded(
    tls_gateway: RunningGateway, pki: dict[str, Any]
) -> None:
    station, password = station_with(SecurityProfile.TLS_BASIC)
    creds = basic(station.identity, password)
    plain = refused(tls_gateway.ws_url + station.identity, headers=creds)
    assert plain.response.status_code == 403
    assert b"requires TLS" in plain.response.body
    secure = tls_gateway.wss_url + station.identity
    assert asyncio.run(_boot(secure, headers=creds, ssl_context=client_tls(pki))) == "Accepted"
    bad = refused(secure, headers=basic(station.identity, "nope"), ssl_context=client_tls(pki))
    assert bad.response.status_code == 401


def test_profile_3_needs_the_stations_own_client_certificate(
    tls_gateway: RunningGateway, pki: dict[str, Any]
) -> None:
    station, _ = station_with(SecurityProfile.TLS_CLIENT_CERT, der_fingerprint(pki["station"]))
    secure = tls_gateway.wss_url + station.identity
    ok = asyncio.run(_boot(secure, ssl_context=client_tls(pki, pki["station"])))
    assert ok == "Accepted"
    no_cert = refused(secure, ssl_context=client_tls(pki))
    assert no_cert.response.status_code == 403
    other = refused(secure, ssl_context=client_tls(pki, pki["other"]))
    assert other.response.status_code == 403
    assert b"not the station's" in other.response.body
    assert refused(tls_gateway.ws_url + station.identity).response.status_code == 403


def test_profile_3_a_certificate_issued_by_the_csms_replaces_the_pinned_one(
    tls_gateway: RunningGateway, pki: dict[str, Any]
) -> None:
    """After the station accepted CertificateSigned, both its old and its new certificate
    are admitted; its first connection with the new one pins it, and the old one is refused
    from then on (ADR 0014). Another certificate never is."""
    station, _ = station_with(SecurityProfile.TLS_CLIENT_CERT, der_fingerprint(pki["station"]))
    secure = tls_gateway.wss_url + station.identity
    locations_api.charge_station_certificate_issued(
        station_id=station.pk, fingerprint=der_fingerprint(pki["other"])
    )
    assert asyncio.run(_boot(secure, ssl_context=client_tls(pki, pki["station"]))) == "Accepted"
    station.refresh_from_db()
    assert station.client_cert_fingerprint == der_fingerprint(pki["station"])  # not yet
    assert asyncio.run(_boot(secure, ssl_context=client_tls(pki, pki["other"]))) == "Accepted"
    wait_for(
        lambda: ChargeStation.objects.get(pk=station.pk).client_cert_fingerprint_next == "",
        what="the new certificate pinned",
    )
    station.refresh_from_db()
    assert station.client_cert_fingerprint == der_fingerprint(pki["other"])
    old = refused(secure, ssl_context=client_tls(pki, pki["station"]))
    assert old.response.status_code == 403 and b"not the station's" in old.response.body


def test_tls_terminated_at_a_trusted_proxy(pki: dict[str, Any]) -> None:
    station, _ = station_with(SecurityProfile.TLS_CLIENT_CERT, der_fingerprint(pki["station"]))
    pem = pki["station"].cert_chain_pems[0].bytes().decode()
    forwarded = {"X-Forwarded-Proto": "https", "X-Client-Cert": urllib.parse.quote(pem)}
    behind_proxy, stop = start_gateway(trust_proxy=True)
    try:
        url = behind_proxy.ws_url + station.identity
        assert asyncio.run(_boot(url, headers=forwarded)) == "Accepted"
        xfcc = {
            "X-Forwarded-Proto": "https",
            "X-Client-Cert": f"Hash={der_fingerprint(pki['station'])}",
        }
        assert asyncio.run(_boot(url, headers=xfcc)) == "Accepted"
    finally:
        stop()
    # Off by default: the same headers from a client are not believed.
    direct, stop = start_gateway()
    try:
        denied = refused(direct.ws_url + station.identity, headers=forwarded)
        assert denied.response.status_code == 403
    finally:
        stop()


def test_unknown_and_disabled_stations(tls_gateway: RunningGateway) -> None:
    assert refused(tls_gateway.ws_url + "NO-SUCH-STATION").response.status_code == 404
    assert (
        refused(tls_gateway.ws_url.replace("/ocpp/", "/other/") + "x").response.status_code == 404
    )
    station, password = station_with(SecurityProfile.BASIC)
    ChargeStation.objects.filter(pk=station.pk).update(enabled=False)
    disabled = refused(
        tls_gateway.ws_url + station.identity, headers=basic(station.identity, password)
    )
    assert disabled.response.status_code == 403


def test_the_stations_first_enabled_preference_wins(tls_gateway: RunningGateway) -> None:
    station, password = station_with(SecurityProfile.BASIC)
    url = tls_gateway.ws_url + station.identity

    async def chosen(offered: list[str], gateway_url: str = url) -> str | None:
        from websockets.asyncio.client import connect

        async with connect(
            gateway_url, subprotocols=offered, additional_headers=basic(station.identity, password)
        ) as ws:
            return ws.subprotocol

    assert asyncio.run(chosen(["ocpp1.6", "ocpp2.0.1"])) == "ocpp1.6"
    assert asyncio.run(chosen(["ocpp2.0.1", "ocpp1.6"])) == "ocpp2.0.1"
    only16, stop = start_gateway(subprotocols=("ocpp1.6",))
    try:
        other = only16.ws_url + station.identity
        assert asyncio.run(chosen(["ocpp2.0.1", "ocpp1.6"], other)) == "ocpp1.6"
    finally:
        stop()


def test_no_common_subprotocol_completes_the_handshake_then_closes(
    tls_gateway: RunningGateway,
) -> None:
    station, password = station_with(SecurityProfile.BASIC)

    async def run() -> tuple[str | None, int | None]:
        from websockets.asyncio.client import connect

        async with connect(
            tls_gateway.ws_url + station.identity,
            subprotocols=["ocpp1.2"],
            additional_headers=basic(station.identity, password),
        ) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            return ws.subprotocol, info.value.rcvd.code if info.value.rcvd else None

    assert asyncio.run(run()) == (None, 1002)


def test_a_new_connection_for_the_same_identity_wins(tls_gateway: RunningGateway) -> None:
    station, password = station_with(SecurityProfile.BASIC)
    url = tls_gateway.ws_url + station.identity
    creds = basic(station.identity, password)

    async def run() -> int | None:
        async with open_station(url, protocol="ocpp1.6", headers=creds) as first:
            async with open_station(url, protocol="ocpp1.6", headers=creds) as second:
                with pytest.raises(ConnectionClosed) as info:
                    await first.recv()
                assert "currentTime" in await OcppClient(second).call("Heartbeat", {})
                return info.value.rcvd.code if info.value.rcvd else None

    assert asyncio.run(run()) == 1000
    # Once the second connection is gone too, the station is no longer registered.
    wait_for(
        lambda: station.identity not in tls_gateway.gateway.connections,
        timeout=10,
        what="the registry to drop the closed connection",
    )


def test_an_oversized_frame_closes_only_that_connection() -> None:
    station, password = station_with(SecurityProfile.BASIC)
    small, stop = start_gateway(max_frame_bytes=4096)
    try:
        url = small.ws_url + station.identity
        creds = basic(station.identity, password)

        async def run() -> int | None:
            async with open_station(url, protocol="ocpp1.6", headers=creds) as ws:
                await ws.send('[2,"1","DataTransfer",{"vendorId":"x","data":"' + "y" * 8000 + '"}]')
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                return info.value.rcvd.code if info.value.rcvd else None

        assert asyncio.run(run()) == 1009  # message too big
        assert asyncio.run(_boot(url, headers=creds)) == "Accepted"
    finally:
        stop()


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        '{"an": "object"}',
        "[2]",
        '[2, null, "Heartbeat", {}]',
        '[2, "' + "x" * 37 + '", "Heartbeat", {}]',
    ],
)
def test_a_frame_without_a_readable_id_is_answered_as_each_version_says(frame: str) -> None:
    """2.0.1 Part 4 (4.2.3): a CALLERROR with message id "-1". OCPP-J 1.6 has no such id (a
    CALLERROR carries the id of the CALL it answers): nothing is sent back. Either way the
    connection stays open and the next CALL is answered."""
    station, password = station_with(SecurityProfile.BASIC)
    gateway, stop = start_gateway()
    try:
        url = gateway.ws_url + station.identity
        creds = basic(station.identity, password)

        async def run(protocol: str) -> list[Any]:
            async with open_station(url, protocol=protocol, headers=creds) as ws:
                await ws.send(frame)
                await ws.send('[2,"hb","Heartbeat",{}]')
                # Arrival order: an answer to the broken frame comes before the Heartbeat's.
                # (The timeout only turns a missing answer into a failure, not a hang.)
                count = 2 if "2.0" in protocol else 1
                return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(count)]

        v201 = asyncio.run(run("ocpp2.0.1"))
        assert v201[0][:3] == [4, "-1", "RpcFrameworkError"]
        assert v201[0][3]  # says what was wrong
        assert v201[0][4] == {}
        assert v201[1][:2] == [3, "hb"] and "currentTime" in v201[1][2]
        v16 = asyncio.run(run("ocpp1.6"))
        assert v16[0][:2] == [3, "hb"]  # no CALLERROR came first
    finally:
        stop()
