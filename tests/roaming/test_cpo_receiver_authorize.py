"""Real-time authorization (CPO → eMSP) against a loopback eMSP: ALLOWED, BLOCKED, unknown,
and an eMSP that never answers (a short timeout setting: no sleeps racing the machine);
when the gateway's decision asks the eMSP and when the token cache decides alone; the
gateway authorizing a pushed token and an unknown uid over a real websocket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.charging.models import OcppEvent
from apps.locations.models import ChargeStation
from apps.roaming import api as roaming_api
from apps.tokens.contracts import AuthorizationStatus
from apps.tokens.models import Token
from tests.conftest import RunningGateway
from tests.factories import TokenFactory
from tests.ocpp_client import OcppClient, basic, open_station
from tests.roaming.cpo_receiver_world import World, connect, ocpi
from tests.roaming.emsp_double import EmspDouble, SilentServer, envelope

TOKEN = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": "CAFE0001",
    "type": "RFID",
    "contract_id": "DE-EMS-C00000001-X",
    "issuer": "Partner eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-12-01T10:00:00Z",
}


def answers(allowed: dict[str, Any]) -> Any:
    """An eMSP whose answer depends on the uid: `allowed[uid]` is an AuthorizationInfo,
    or an int status code for an error envelope."""

    def answer(method: str, path: str, body: Any) -> tuple[int, Any]:
        uid = path.split("/tokens/")[1].split("/")[0]
        got = allowed.get(uid, 2004)
        if isinstance(got, int):
            return (404 if got == 2004 else 200), envelope(status_code=got)
        return 200, envelope(got)

    return answer


@pytest.fixture
def emsp() -> Iterator[tuple[EmspDouble, dict[str, Any]]]:
    table: dict[str, Any] = {}
    double = EmspDouble(answers(table))
    yield double, table
    double.close()


def _world(double: EmspDouble, **kwargs: Any) -> World:
    return connect(tokens_url=double.url + "/ocpi/2.2.1/tokens", **kwargs)


@pytest.mark.django_db
def test_allowed_answer_with_reference_and_the_token_stored(
    emsp: tuple[EmspDouble, dict[str, Any]], settings: Any
) -> None:
    double, table = emsp
    world = _world(double)
    table["CAFE0001"] = {"allowed": "ALLOWED", "token": TOKEN, "authorization_reference": "REF-1"}
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CAFE0001"
    )
    assert decision == roaming_api.StationAuthorization(
        AuthorizationStatus.ACCEPTED, authorization_reference="REF-1", source="REALTIME"
    )
    (request,) = double.requests
    assert (request["method"], request["path"]) == (
        "POST",
        "/ocpi/2.2.1/tokens/CAFE0001/authorize?type=RFID",
    )
    assert request["body"] == {"location_id": "LOC-Ams-1", "evse_uids": ["Evse-1"]}
    headers = request["headers"]
    assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == ("DE", "EMS")
    assert (headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]) == (
        world.cpo.country_code,
        world.cpo.party_id,
    )
    token = Token.objects.get()
    assert (token.party_id, token.uid, token.contract_id) == (
        world.emsp.pk,
        "CAFE0001",
        "DE-EMS-C00000001-X",
    )
    # Now the cache knows it (whitelist ALLOWED): decided locally, the eMSP not asked again.
    again = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CAFE0001"
    )
    assert (again.status, again.source) == (AuthorizationStatus.ACCEPTED, "LOCAL")
    assert len(double.requests) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        ("BLOCKED", AuthorizationStatus.BLOCKED),
        ("EXPIRED", AuthorizationStatus.EXPIRED),
        ("NO_CREDIT", AuthorizationStatus.BLOCKED),
        ("NOT_ALLOWED", AuthorizationStatus.NOT_AT_THIS_LOCATION),
    ],
)
def test_refusals_map_to_ocpp_and_store_nothing(
    emsp: tuple[EmspDouble, dict[str, Any]], allowed: str, status: AuthorizationStatus
) -> None:
    double, table = emsp
    world = _world(double)
    table["CAFE0001"] = {"allowed": allowed, "token": TOKEN}
    info = roaming_api.authorize_realtime(tenant_id=world.tenant.pk, uid="CAFE0001")
    assert info is not None and (info.allowed, info.connection_id) == (allowed, world.conn.pk)
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CAFE0001"
    )
    assert (decision.status, decision.source, decision.cacheable) == (status, "REALTIME", True)
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_an_uid_no_emsp_knows_stays_unknown(emsp: tuple[EmspDouble, dict[str, Any]]) -> None:
    double, _ = emsp
    world = _world(double)
    assert roaming_api.authorize_realtime(tenant_id=world.tenant.pk, uid="NOBODY") is None
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="NOBODY"
    )
    assert (decision.status, decision.source, decision.cacheable) == (
        AuthorizationStatus.UNKNOWN,
        "REALTIME",
        True,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("whitelist", "status"),
    [
        (None, AuthorizationStatus.UNKNOWN),  # no token: unknown stays unknown
        ("ALLOWED_OFFLINE", AuthorizationStatus.ACCEPTED),
        ("NEVER", AuthorizationStatus.INVALID),
    ],
)
def test_an_emsp_that_never_answers_falls_back_per_whitelist(
    settings: Any, whitelist: str | None, status: AuthorizationStatus
) -> None:
    silent = SilentServer()
    try:
        settings.OCPI_AUTHORIZE_TIMEOUT_MS = 200
        world = connect(tokens_url=silent.url + "/ocpi/2.2.1/tokens")
        if whitelist:
            TokenFactory(party=world.emsp, uid="SLOW1", whitelist=whitelist)
        started = time.monotonic()
        decision = roaming_api.station_authorize(
            tenant_id=world.tenant.pk, station_id=world.station.pk, uid="SLOW1"
        )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert (decision.status, decision.source, decision.cacheable) == (status, "FALLBACK", False)
    assert elapsed < 2.0  # bounded by the setting (connect + answer), not the 10 s default


@pytest.mark.django_db
@pytest.mark.parametrize("whitelist", ["ALWAYS", "ALLOWED"])
def test_the_cache_decides_for_always_and_allowed_tokens(
    emsp: tuple[EmspDouble, dict[str, Any]], whitelist: str
) -> None:
    double, table = emsp
    world = _world(double)
    TokenFactory(party=world.emsp, uid="CACHED1", whitelist=whitelist)
    table["CACHED1"] = {"allowed": "BLOCKED"}
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CACHED1"
    )
    assert (decision.status, decision.source) == (AuthorizationStatus.ACCEPTED, "LOCAL")
    assert double.requests == []


@pytest.mark.django_db
def test_never_tokens_are_asked_every_time_and_own_tokens_never(
    emsp: tuple[EmspDouble, dict[str, Any]],
) -> None:
    double, table = emsp
    world = _world(double)
    TokenFactory(party=world.emsp, uid="NEVER1", whitelist="NEVER", type="APP_USER")
    TokenFactory(party__tenant=world.tenant, party__kind="OWN", party__role="EMSP", uid="MINE1")
    table["NEVER1"] = {"allowed": "NO_CREDIT"}
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="NEVER1"
    )
    assert (decision.status, decision.source) == (AuthorizationStatus.BLOCKED, "REALTIME")
    assert [r["path"] for r in double.requests] == [
        "/ocpi/2.2.1/tokens/NEVER1/authorize?type=APP_USER"
    ]
    mine = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="MINE1"
    )
    assert (mine.status, mine.source) == (AuthorizationStatus.ACCEPTED, "LOCAL")
    assert len(double.requests) == 1


@pytest.mark.django_db
def test_no_roaming_at_the_station_no_question(emsp: tuple[EmspDouble, dict[str, Any]]) -> None:
    double, table = emsp
    world = _world(double)
    ChargeStation.objects.filter(pk=world.station.pk).update(roaming=False)
    table["CAFE0001"] = {"allowed": "ALLOWED", "token": TOKEN}
    decision = roaming_api.station_authorize(
        tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CAFE0001"
    )
    assert (decision.status, decision.source) == (AuthorizationStatus.UNKNOWN, "LOCAL")
    assert double.requests == []


@pytest.mark.django_db
def test_another_tenants_emsp_is_never_asked(emsp: tuple[EmspDouble, dict[str, Any]]) -> None:
    double, table = emsp
    other_double = EmspDouble(answers({"CAFE0001": {"allowed": "ALLOWED", "token": TOKEN}}))
    try:
        world = _world(double)
        _world(other_double, name="other tenant's eMSP")  # a second tenant
        decision = roaming_api.station_authorize(
            tenant_id=world.tenant.pk, station_id=world.station.pk, uid="CAFE0001"
        )
    finally:
        other_double.close()
    assert decision.status is AuthorizationStatus.UNKNOWN
    assert len(double.requests) == 1 and other_double.requests == []


@pytest.mark.django_db(transaction=True)
def test_several_emsps_are_asked_in_parallel_and_allowed_wins() -> None:
    first = EmspDouble(answers({}))  # answers 2004 for every uid
    theirs = {**TOKEN, "country_code": "FR", "party_id": "EMP"}
    second = EmspDouble(answers({"CAFE0001": {"allowed": "ALLOWED", "token": theirs}}))
    try:
        world = _world(first)
        conn2 = connect(
            tenant=world.tenant,
            emsp_code=("FR", "EMP"),
            tokens_url=second.url + "/tokens",
            station=False,
        ).conn
        info = roaming_api.authorize_realtime(tenant_id=world.tenant.pk, uid="CAFE0001")
    finally:
        first.close()
        second.close()
    assert info is not None and (info.allowed, info.connection_id) == ("ALLOWED", conn2.pk)
    assert (info.country_code, info.party_id) == ("FR", "EMP")
    assert len(first.requests) == 1 and len(second.requests) == 1
    token = Token.objects.get()  # the token of the eMSP that allowed it
    assert (token.party.country_code, token.party.party_id, token.uid) == ("FR", "EMP", "CAFE0001")


# -- through the OCPP gateway ------------------------------------------------------------------


def _authorize_then_start(
    gw: RunningGateway, station: ChargeStation, password: str, uids: list[str], start: str
) -> list[str]:
    """Authorize each uid, then StartTransaction with `start`: the answers' statuses."""

    async def run() -> list[str]:
        async with open_station(
            gw.ws_url + station.identity,
            protocol="ocpp1.6",
            headers=basic(station.identity, password),
        ) as ws:
            c = OcppClient(ws)
            got = [
                str((await c.call("Authorize", {"idTag": uid}))["idTagInfo"]["status"])
                for uid in uids
            ]
            started = await c.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": start,
                    "meterStart": 0,
                    "timestamp": "2026-12-07T12:00:00Z",
                },
            )
            return [*got, str(started["idTagInfo"]["status"])]

    return asyncio.run(run())


def test_the_gateway_authorizes_a_pushed_token_and_asks_the_emsp_for_an_unknown_uid(
    gateway: RunningGateway, emsp: tuple[EmspDouble, dict[str, Any]]
) -> None:
    from apps.locations import api as locations_api

    double, table = emsp
    world = _world(double)
    password = locations_api.charge_station_reset_password(station_id=world.station.pk)
    status, env = ocpi(
        Client(), world, "PUT", "/ocpi/2.2.1/cpo/tokens/DE/EMS/PUSHED1", {**TOKEN, "uid": "PUSHED1"}
    )
    assert (status, env["status_code"]) == (200, 1000)
    table["CAFE0001"] = {"allowed": "ALLOWED", "token": TOKEN, "authorization_reference": "R9"}
    got = _authorize_then_start(
        gateway, world.station, password, ["PUSHED1", "CAFE0001", "NOBODY"], start="CAFE0001"
    )
    assert got == ["Accepted", "Accepted", "Invalid", "Accepted"]
    assert [r["path"].split("/")[4] for r in double.requests] == ["CAFE0001", "NOBODY"]
    # The transaction started after the eMSP's ALLOWED carries its reference.
    event = OcppEvent.objects.get(action="StartTransaction")
    assert (event.auth_method, event.authorization_reference) == ("AUTH_REQUEST", "R9")
