"""Remote commands on the embedded default (`make run`: no Redis): from Django code in this
process, through the local unix socket (RELAY_SOCKET, ADR 0018), to a real gateway process
(`python -m csms_gateway`, started without any Redis URL), to a simulated station and back;
on OCPP 1.6 and 2.0.1. No Redis is used or needed.

What must not happen is asserted too: nothing sent for an invalid request, no Redis key
written, the socket file not reachable by other users, not left behind by a stopped node."""

from __future__ import annotations

import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from apps.common.errors import ValidationFailed
from apps.locations import api as locations_api
from apps.locations.contracts import (
    ChangeConfiguration,
    CommandOutcome,
    CommandStatus,
    ConfigurationKey,
    ConfigurationReport,
    GetConfiguration,
    Reset,
    StationCommand,
)
from apps.locations.models import ChargeStation, RemoteCommand
from tests.conftest import wait_for
from tests.factories import ConnectorFactory
from tests.relay_fixtures import GatewayProcess, SimStation

pytestmark = pytest.mark.usefixtures("transactional_db")


class LocalNode(GatewayProcess):
    """`python -m csms_gateway` as `make run` starts it: no Redis URL, so the command relay is
    the local socket at `socket_path`."""

    def __init__(self, socket_path: Path, node_id: str = "node-local") -> None:
        self.socket_path = socket_path
        # Logged once the socket file is in place (renamed there after listen()).
        ready = f"command relay: node {node_id} on the local socket {socket_path}"
        super().__init__(
            node_id,
            {"REDIS_URL": "", "RELAY_REDIS_URL": "", "RELAY_SOCKET": str(socket_path)},
            lambda: ready in self.log(),
            f"gateway node {node_id} listening",
        )


@pytest.fixture
def socket_path(settings: Any) -> Iterator[Path]:
    """A short private directory (a unix socket path has at most 107 bytes) and this
    process's Django settings pointing at it, with no Redis."""
    directory = Path(tempfile.mkdtemp(prefix="relay-"))
    settings.RELAY_REDIS_URL = ""
    settings.RELAY_SOCKET = str(directory / "relay.sock")
    yield directory / "relay.sock"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def local_node(socket_path: Path) -> Iterator[LocalNode]:
    node = LocalNode(socket_path)
    yield node
    node.stop()


def new_station() -> tuple[ChargeStation, str]:
    st = ConnectorFactory().evse.charge_station
    return st, locations_api.charge_station_reset_password(station_id=st.pk)


def send(st: ChargeStation, command: StationCommand, **kwargs: Any) -> CommandOutcome:
    return locations_api.charge_station_command(
        tenant_id=st.tenant_id, station_id=st.pk, command=command, requested_by="test", **kwargs
    )


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_commands_reach_the_station_through_the_local_socket(
    local_node: LocalNode, socket_path: Path, sim_station: Any, protocol: str
) -> None:
    st, password = new_station()
    sim: SimStation = sim_station([local_node.ws_url], st.identity, password, protocol)
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")

    key = ConfigurationKey("HeartbeatInterval", component="OCPPCommCtrlr")
    if protocol == "1.6":
        key = ConfigurationKey("HeartbeatInterval")
    out = send(st, ChangeConfiguration(key=key, value="120"))
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "Accepted"), out
    assert (out.protocol, out.gateway_node) == (protocol, "node-local")
    out = send(st, GetConfiguration(keys=(key,)))
    assert out.status is CommandStatus.ACCEPTED, out
    assert isinstance(out.data, ConfigurationReport)
    assert [(v.key.name, v.value) for v in out.data.values] == [("HeartbeatInterval", "120")]
    out = send(st, Reset())
    assert (out.status, out.ocpp_action) == (CommandStatus.ACCEPTED, "Reset")
    # The station reboots after Reset; the next command waits until it is back (a command to
    # a station that is offline fails before the node sees it).
    wait_for(lambda: sim.station.boots >= 2, timeout=30, what="rebooted")
    # An invalid request: refused by the node, nothing sent to the station.
    sent_before = len(sim.calls())
    with pytest.raises(ValidationFailed):
        send(st, ChangeConfiguration(key=ConfigurationKey("x" * 60), value="1"))
    assert len(sim.calls()) == sent_before

    rows = list(RemoteCommand.objects.filter(charge_station=st).order_by("id"))
    assert [(r.kind, r.status) for r in rows] == [
        ("CHANGE_CONFIGURATION", "ACCEPTED"),
        ("GET_CONFIGURATION", "ACCEPTED"),
        ("RESET", "ACCEPTED"),
        ("CHANGE_CONFIGURATION", "FAILED"),
    ]
    assert {r.gateway_node for r in rows[:3]} == {"node-local"}
    assert [c.action for c in sim.calls()] == [
        "ChangeConfiguration" if protocol == "1.6" else "SetVariables",
        "GetConfiguration" if protocol == "1.6" else "GetVariables",
        "Reset",
    ]
    # Only its owner may connect (whoever can, commands the stations).
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert "command relay: node node-local on the local socket" in local_node.log()


def test_a_station_not_connected_to_the_node_is_offline(local_node: LocalNode) -> None:
    st, _ = new_station()
    out = send(st, Reset())
    assert (out.status, out.gateway_node) == (CommandStatus.OFFLINE, "node-local")
    assert out.message == f"{st.identity} is not connected to gateway node node-local"
    row = RemoteCommand.objects.get(pk=out.id)
    assert (row.status, row.answered_at) == ("OFFLINE", None)


def test_without_a_running_gateway_every_station_is_offline(socket_path: Path) -> None:
    st, _ = new_station()
    out = send(st, Reset())
    assert out.status is CommandStatus.OFFLINE
    assert out.message == (
        f"the OCPP gateway is not running (nothing listens on {socket_path}), "
        f"so {st.identity} is not connected"
    )
    assert RemoteCommand.objects.get(pk=out.id).status == "OFFLINE"  # recorded, not lost


def test_a_stopped_node_removes_its_socket_and_a_killed_one_is_replaced(
    socket_path: Path,
) -> None:
    node = LocalNode(socket_path)
    node.stop()
    assert node.proc.returncode == 0
    assert not socket_path.exists()
    # A killed node leaves its socket file behind: the next node replaces it.
    node = LocalNode(socket_path)
    inode = socket_path.stat().st_ino
    node.kill()
    assert socket_path.stat().st_ino == inode  # left behind, nothing listens
    st, _ = new_station()
    assert send(st, Reset()).status is CommandStatus.OFFLINE
    node = LocalNode(socket_path, node_id="node-next")
    try:
        assert socket_path.stat().st_ino != inode
        out = send(st, Reset())
        assert (out.status, out.gateway_node) == (CommandStatus.OFFLINE, "node-next")
    finally:
        node.stop()


def test_a_node_that_dies_holding_a_command_is_a_timeout_at_once(
    local_node: LocalNode, sim_station: Any
) -> None:
    """The station never answers Reset; the node is killed while it waits for the answer:
    the caller learns at once (not after the timeout) that the outcome is unknown."""
    st, password = new_station()
    sim = sim_station(
        [local_node.ws_url], st.identity, password, "1.6", silent=frozenset({"Reset"})
    )
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")
    result: list[CommandOutcome] = []

    def call() -> None:
        try:
            result.append(send(st, Reset(), timeout=600))
        finally:
            connection.close()  # this thread's own database connection

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: sim.calls("Reset"), what="the Reset at the station")
    local_node.kill()
    caller.join(30)
    assert not caller.is_alive()
    (out,) = result
    assert out.status is CommandStatus.TIMEOUT
    assert out.message == (
        "the OCPP gateway closed the connection before it replied "
        "(it stopped; the station may have received the command)"
    )
    assert RemoteCommand.objects.get(pk=out.id).status == "TIMEOUT"
