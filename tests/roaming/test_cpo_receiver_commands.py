"""Commands receiver (CPO role): the CommandResponse at once, the station command through the
same path as the portal's, the CommandResult to the partner's response_url through the push
outbox. End to end: a simulated station behind a gateway node receives RemoteStartTransaction
and the partner's loopback server the CommandResult ACCEPTED."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from apps.charging.models import OcppEvent
from apps.locations.contracts import CommandKind, CommandOutcome, CommandStatus
from apps.locations.models import RemoteCommand
from apps.roaming import api as roaming_api
from apps.roaming import transport
from apps.roaming.models import OcpiCommand, OcpiPush
from apps.roaming.services import commands_in, push
from apps.tokens.models import Token
from tests.conftest import RunningGateway, wait_for
from tests.factories import ChargingSessionFactory
from tests.relay_fixtures import Relay, SimStation
from tests.roaming import schemas
from tests.roaming.cpo_receiver_world import World, connect, ocpi
from tests.roaming.emsp_double import EmspDouble, envelope

URL = "/ocpi/2.2.1/cpo/commands/"
TOKEN = {
    "country_code": "DE",
    "party_id": "EMS",
    "uid": "04aa11bb22cc33",
    "type": "RFID",
    "contract_id": "DE-EMS-C00000002-X",
    "issuer": "Partner eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-12-01T10:00:00Z",
}
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The tasks the services queue (by name), instead of sending them to a broker."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def enqueue(name: str, *args: Any, **_: Any) -> None:
        sent.append((name, args))

    monkeypatch.setattr(commands_in, "enqueue", enqueue)
    monkeypatch.setattr(push, "enqueue", enqueue)
    return sent


@pytest.fixture
def partner() -> Iterator[EmspDouble]:
    double = EmspDouble(lambda method, path, body: (200, envelope()))
    yield double
    double.close()


def start_body(world: World, response_url: str, **over: Any) -> dict[str, Any]:
    return {
        "response_url": response_url,
        "token": TOKEN,
        "location_id": "loc-ams-1",  # other casing than ours: CiString
        "evse_uid": "EVSE-1",
        **over,
    }


def outcome(status: CommandStatus, station_status: str = "", message: str = "") -> CommandOutcome:
    return CommandOutcome(
        id=77,
        station_id=1,
        kind=CommandKind.REMOTE_START,
        status=status,
        station_status=station_status,
        message=message,
        data=None,
        request={},
        ocpp_action="",
        ocpp_request=None,
        response=None,
        protocol="1.6",
        gateway_node="n",
        requested_by="",
        requested_at=T0,
        answered_at=None,
    )


@pytest.mark.django_db(transaction=True)
def test_start_session_is_accepted_at_once_and_its_result_pushed(
    client: Client,
    queued: list[tuple[str, tuple[Any, ...]]],
    partner: EmspDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = connect()
    sent: list[Any] = []

    def station_command(**kwargs: Any) -> CommandOutcome:
        sent.append(kwargs)
        return outcome(CommandStatus.ACCEPTED, "Accepted")

    monkeypatch.setattr(commands_in.locations_api, "charge_station_command", station_command)
    status, env = ocpi(
        client,
        world,
        "POST",
        URL + "START_SESSION",
        start_body(world, partner.url + "/cb/1", authorization_reference="EMSP-REF-1"),
    )
    assert (status, env["status_code"], env["data"]) == (
        200,
        1000,
        {"result": "ACCEPTED", "timeout": 60},  # STATION_COMMAND_TIMEOUT 30 + 30
    )
    row = OcpiCommand.objects.get()
    assert (row.direction, row.command, row.response, row.result) == (
        "RECEIVED",
        "START_SESSION",
        "ACCEPTED",
        "",
    )
    assert row.response_url == partner.url + "/cb/1"
    token = Token.objects.get()  # the command's token, stored like a pushed one
    assert (token.party_id, token.uid) == (world.emsp.pk, "04aa11bb22cc33")
    assert queued == [("roaming.command_run", (row.pk,))] and sent == []
    # The task: the station command, then the result owed to the partner.
    assert roaming_api.command_run(command_id=row.pk, now=T0) == "ACCEPTED"
    (kwargs,) = sent
    assert (kwargs["tenant_id"], kwargs["station_id"]) == (world.tenant.pk, world.station.pk)
    assert kwargs["command"].id_tag == "04aa11bb22cc33" and kwargs["command"].evse_id == 1
    assert kwargs["actor"].name == f"OCPI connection {world.conn.pk} (eMSP partner)"
    row.refresh_from_db()
    assert (row.result, row.result_at, row.relay_id) == ("ACCEPTED", T0, "77")
    pushed = OcpiPush.objects.get()
    assert (pushed.module, pushed.method, pushed.path, pushed.key) == (
        "commands",
        "POST",
        partner.url + "/cb/1",
        f"command-result:{row.uid}",
    )
    # Outbound strict: both answers validate against the spec's definitions.
    schemas.validate(env["data"], "2.2.1", "command_response")
    schemas.validate(transport.loads(pushed.body), "2.2.1", "command_result")
    # The session the station starts carries our reference (the station command's id):
    # the eMSP's authorization_reference is found by it (OCPI: on the Session and CDR).
    assert roaming_api.command_authorization_references(
        tenant_id=world.tenant.pk, references=["77", "78", ""]
    ) == {"77": "EMSP-REF-1"}
    assert (
        roaming_api.command_authorization_references(
            tenant_id=world.tenant.pk + 1000, references=["77"]
        )
        == {}
    )
    # Run again (a redelivery): nothing is sent twice.
    assert roaming_api.command_run(command_id=row.pk) == "ACCEPTED"
    assert len(sent) == 1 and OcpiPush.objects.count() == 1
    assert push.push_drain(connection_id=world.conn.pk) == 1
    (request,) = partner.requests
    assert (request["method"], request["path"], request["body"]) == (
        "POST",
        "/cb/1",
        {"result": "ACCEPTED"},
    )
    assert (request["headers"]["OCPI-from-party-id"], request["headers"]["OCPI-to-party-id"]) == (
        world.cpo.party_id,
        "EMS",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "body", "result", "message"),
    [
        ("START_SESSION", {"location_id": "NOWHERE"}, "REJECTED", "unknown location NOWHERE"),
        (
            "START_SESSION",
            {"evse_uid": "EVSE-9"},
            "REJECTED",
            "unknown EVSE EVSE-9 at location loc-ams-1",
        ),
        (
            "UNLOCK_CONNECTOR",
            {"evse_uid": "nope", "connector_id": "1", "token": None},
            "REJECTED",
            "unknown EVSE nope at location loc-ams-1",
        ),
        ("STOP_SESSION", {"session_id": "999999"}, "UNKNOWN_SESSION", "unknown session 999999"),
        ("STOP_SESSION", {"session_id": "abc"}, "UNKNOWN_SESSION", "unknown session abc"),
        ("CANCEL_RESERVATION", {"reservation_id": "R1"}, "REJECTED", "unknown reservation R1"),
        (
            "SET_CHARGING_PROFILE",
            {},
            "NOT_SUPPORTED",
            "command SET_CHARGING_PROFILE is not supported",
        ),
    ],
)
def test_what_cannot_be_sent_is_answered_at_once_and_never_queued(
    client: Client,
    queued: list[Any],
    command: str,
    body: dict[str, Any],
    result: str,
    message: str,
) -> None:
    world = connect()
    status, env = ocpi(
        client, world, "POST", URL + command, start_body(world, "https://emsp.example/cb", **body)
    )
    assert (status, env["status_code"]) == (200, 1000), env
    assert env["data"] == {
        "result": result,
        "timeout": 60,
        "message": [{"language": "en", "text": message}],
    }
    assert queued == []
    if result != "NOT_SUPPORTED":
        assert OcpiCommand.objects.get().response == result


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"response_url": None}, "$.response_url: required"),
        ({"response_url": "ftp://x"}, "$.response_url: an http(s) URL"),
        ({"token": "abc"}, "$.token: required, a Token object"),
        ({"token": {**TOKEN, "party_id": "ZZZ"}}, "DE*ZZZ is not an eMSP role"),
    ],
)
def test_bodies_that_cannot_be_understood_are_2001(
    client: Client, queued: list[Any], body: dict[str, Any], message: str
) -> None:
    world = connect()
    request = {**start_body(world, "https://e.example/cb"), **body}
    status, env = ocpi(client, world, "POST", URL + "START_SESSION", request)
    assert (status, env["status_code"]) == (400, 2001)
    assert env["status_message"].startswith(message), env["status_message"]
    assert queued == [] and not OcpiCommand.objects.exists()


@pytest.mark.django_db
def test_stop_session_names_our_published_session_id(
    client: Client, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = connect()
    session = ChargingSessionFactory(
        tenant=world.tenant, charge_station=world.station, ocpp_transaction_id="4711"
    )
    sent: list[Any] = []
    monkeypatch.setattr(
        commands_in.locations_api,
        "charge_station_command",
        lambda **kw: sent.append(kw) or outcome(CommandStatus.REJECTED, "Rejected"),
    )
    status, env = ocpi(
        client, world, "POST", URL + "STOP_SESSION",
        {"response_url": "https://e.example/cb", "session_id": str(session.pk)},
    )  # fmt: skip
    assert env["data"]["result"] == "ACCEPTED"
    row = OcpiCommand.objects.get()
    assert roaming_api.command_run(command_id=row.pk) == "REJECTED"
    assert sent[0]["command"].transaction_id == "4711"
    assert sent[0]["station_id"] == world.station.pk


@pytest.mark.parametrize(
    ("command", "status", "said", "result"),
    [
        ("RESERVE_NOW", CommandStatus.REJECTED, "Occupied", "EVSE_OCCUPIED"),
        ("RESERVE_NOW", CommandStatus.REJECTED, "Faulted", "EVSE_INOPERATIVE"),
        ("CANCEL_RESERVATION", CommandStatus.REJECTED, "Rejected", "UNKNOWN_RESERVATION"),
        ("START_SESSION", CommandStatus.OFFLINE, "", "FAILED"),
        ("START_SESSION", CommandStatus.TIMEOUT, "", "TIMEOUT"),
        ("UNLOCK_CONNECTOR", CommandStatus.ACCEPTED, "Unlocked", "ACCEPTED"),
        ("UNLOCK_CONNECTOR", CommandStatus.NOT_SUPPORTED, "NotSupported", "NOT_SUPPORTED"),
    ],
)
def test_station_outcomes_map_to_command_results(
    command: str, status: CommandStatus, said: str, result: str
) -> None:
    assert commands_in.command_result_of(command, outcome(status, said))[0] == result


@pytest.mark.django_db
def test_reserve_now_then_cancel_use_one_ocpp_reservation_id(
    client: Client, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = connect()
    sent: list[Any] = []
    monkeypatch.setattr(
        commands_in.locations_api,
        "charge_station_command",
        lambda **kw: sent.append(kw) or outcome(CommandStatus.ACCEPTED, "Accepted"),
    )
    reserve = start_body(
        world, "https://e.example/cb/r", reservation_id="Res-1", expiry_date="2026-12-07T13:00:00Z"
    )
    assert (
        ocpi(client, world, "POST", URL + "RESERVE_NOW", reserve)[1]["data"]["result"] == "ACCEPTED"
    )
    cancel = {"response_url": "https://e.example/cb/c", "reservation_id": "RES-1"}
    assert (
        ocpi(client, world, "POST", URL + "CANCEL_RESERVATION", cancel)[1]["data"]["result"]
        == "ACCEPTED"
    )
    reserved, cancelled = OcpiCommand.objects.order_by("id")
    roaming_api.command_run(command_id=reserved.pk)
    roaming_api.command_run(command_id=cancelled.pk)
    assert sent[0]["command"].reservation_id == reserved.pk
    assert sent[0]["command"].expiry == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    assert sent[0]["command"].id_tag == "04aa11bb22cc33"
    assert sent[1]["command"].reservation_id == reserved.pk
    assert sent[1]["station_id"] == world.station.pk


@pytest.mark.django_db
def test_another_tenants_locations_are_unknown(client: Client, queued: list[Any]) -> None:
    world = connect()
    other = connect(name="other tenant")  # its own LOC-Ams-1 / Evse-1, in another tenant
    status, env = ocpi(client, other, "POST", URL + "UNLOCK_CONNECTOR", {
        "response_url": "https://e.example/cb", "location_id": "LOC-Ams-1",
        "evse_uid": world.evse.uid, "connector_id": "1",
    })  # fmt: skip
    assert env["data"]["result"] == "ACCEPTED"  # its own EVSE of that name
    row = OcpiCommand.objects.get()
    assert row.tenant_id == other.tenant.pk
    plan = commands_in._plan(
        other.conn, "UNLOCK_CONNECTOR", row.request, cpo=None, token_uid="", this_command_pk=None
    )
    assert plan.station_id == other.station.pk != world.station.pk


# -- end to end: a simulated station behind a gateway node --------------------------------------


def test_start_session_reaches_the_station_and_the_partner_gets_accepted(
    relay: Relay,
    node_a: RunningGateway,
    sim_station: Any,
    queued: list[tuple[str, tuple[Any, ...]]],
    partner: EmspDouble,
) -> None:
    from apps.locations import api as locations_api

    world = connect()
    password = locations_api.charge_station_reset_password(station_id=world.station.pk)
    sim: SimStation = sim_station(
        [node_a.ws_url], world.station.identity, password, "1.6", speed=60, meter_interval=60
    )
    wait_for(lambda: relay.owner(world.station.identity) == "node-a", timeout=30, what="on node-a")
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")
    status, env = ocpi(
        Client(),
        world,
        "POST",
        URL + "START_SESSION",
        start_body(world, partner.url + "/cb/9", authorization_reference="EMSP-REF-9"),
    )
    assert env["data"]["result"] == "ACCEPTED"
    (name, (command_pk,)) = queued[0]
    assert roaming_api.command_run(command_id=command_pk) == "ACCEPTED"
    (call,) = sim.calls("RemoteStartTransaction")
    assert call.payload == {"idTag": "04aa11bb22cc33", "connectorId": 1}
    remote = RemoteCommand.objects.get()
    assert (remote.status, remote.requested_by) == (
        "ACCEPTED",
        f"ocpi:{world.conn.pk}:{OcpiCommand.objects.get().uid}",
    )
    assert push.push_drain(connection_id=world.conn.pk) == 1
    (request,) = partner.requests
    assert (request["path"], request["body"]) == ("/cb/9", {"result": "ACCEPTED"})
    # The station starts: its StartTransaction is authorized with the command's token, and
    # the start carries our reference, by which the eMSP's is found.
    wait_for(lambda: sim.station.active_txid, timeout=30, what="the remote session")
    start = OcppEvent.objects.get(action="StartTransaction")
    assert (start.auth_method, start.authorization_reference) == ("COMMAND", str(remote.pk))
    assert roaming_api.command_authorization_references(
        tenant_id=world.tenant.pk, references=[start.authorization_reference]
    ) == {str(remote.pk): "EMSP-REF-9"}


@pytest.mark.django_db
def test_version_2_1_1_response_without_timeout_and_its_result_words(
    client: Client, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = connect(version="2.1.1")
    monkeypatch.setattr(
        commands_in.locations_api,
        "charge_station_command",
        lambda **kw: outcome(CommandStatus.OFFLINE),
    )
    token_2_1_1 = {
        "uid": "12345678905880",
        "type": "RFID",
        "auth_id": "DE8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2015-06-29T22:39:09Z",
    }
    body = {
        "response_url": "https://e.example/cb/211",
        "token": token_2_1_1,
        "location_id": "LOC-AMS-1",
        "evse_uid": "EVSE-1",
    }
    status, env = ocpi(client, world, "POST", "/ocpi/2.1.1/cpo/commands/START_SESSION", body)
    assert (status, env["status_code"], env["data"]) == (200, 1000, {"result": "ACCEPTED"})
    token = Token.objects.get()  # the connection's only eMSP role is the token's party
    assert (token.party_id, token.contract_id) == (world.emsp.pk, "DE8ACC12E46L89")
    row = OcpiCommand.objects.get()
    assert roaming_api.command_run(command_id=row.pk) == "FAILED"
    pushed = OcpiPush.objects.get()
    assert push.transport.loads(pushed.body) == {
        "result": "REJECTED",
        "message": [{"language": "en", "text": "the charge station is not connected"}],
    }
