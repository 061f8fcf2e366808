"""Remote commands: issued from Django code in this process, through Redis, to a gateway
node that is a separate process (`python -m csms_gateway`, node id `node-b`), to a
simulated station connected to it, and back; on OCPP 1.6 and 2.0.1.

What must not happen is asserted too: nothing sent for an invalid request, no second CALL
before the first is answered, no command lost when the node holding a station dies."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.charging.models import OcppEvent
from apps.common.errors import ValidationFailed
from apps.devices.models import CertificateRequest, DeviceVariable, StationEvent
from apps.locations import api as locations_api
from apps.locations.contracts import (
    CancelReservation,
    ChangeAvailability,
    ChangeConfiguration,
    ChargingProfile,
    ChargingSchedule,
    ClearCache,
    ClearChargingProfile,
    CommandOutcome,
    CommandStatus,
    CompositeSchedule,
    ConfigurationChanged,
    ConfigurationKey,
    ConfigurationReport,
    DataTransfer,
    GetBaseReport,
    GetChargingProfiles,
    GetCompositeSchedule,
    GetConfiguration,
    GetDiagnostics,
    GetLocalListVersion,
    LocalListEntry,
    LocalListVersion,
    LogUpload,
    ProfileKind,
    ProfilePurpose,
    RateUnit,
    RemoteStart,
    RemoteStop,
    ReportBase,
    ReserveNow,
    Reset,
    SchedulePeriod,
    SendLocalList,
    SetChargingProfile,
    StationCommand,
    TriggerMessage,
    UnlockConnector,
    UpdateFirmware,
    VendorData,
)
from apps.locations.models import ChargeStation, RemoteCommand
from tests.conftest import RunningGateway, wait_for
from tests.factories import ConnectorFactory, EmspFactory, TokenFactory
from tests.relay_fixtures import NodeProcess, Relay, SimStation

pytestmark = pytest.mark.usefixtures("transactional_db")
ID_TAG = "04AA11BB22CC33"


def new_station() -> tuple[ChargeStation, str]:
    st = ConnectorFactory().evse.charge_station
    return st, locations_api.charge_station_reset_password(station_id=st.pk)


def send(st: ChargeStation, command: StationCommand, **kwargs: Any) -> CommandOutcome:
    return locations_api.charge_station_command(
        tenant_id=st.tenant_id, station_id=st.pk, command=command, requested_by="test", **kwargs
    )


def connected(relay: Relay, st: ChargeStation, node: str, sim: SimStation) -> None:
    wait_for(lambda: relay.owner(st.identity) == node, timeout=30, what=f"on {node}")
    wait_for(lambda: sim.station.boots >= 1, timeout=30, what="booted")


def key(name: str, protocol: str) -> ConfigurationKey:
    if protocol != "2.0.1":
        return ConfigurationKey(name)
    component = {"HeartbeatInterval": "OCPPCommCtrlr", "Model": "ChargingStation"}
    return ConfigurationKey(name, component=component.get(name, "OCPPCommCtrlr"))


PROFILE = ChargingProfile(
    id=1,
    stack_level=0,
    purpose=ProfilePurpose.TX_DEFAULT,
    kind=ProfileKind.ABSOLUTE,
    schedule=ChargingSchedule(unit=RateUnit.A, periods=(SchedulePeriod(0, Decimal("16")),)),
)


def progress(out: CommandOutcome, entries: int, what: str) -> list[str]:
    """The statuses on the command's progress, once it has `entries` of them."""
    row = wait_for(
        lambda: (r := RemoteCommand.objects.get(pk=out.id)) and len(r.progress) == entries and r,
        what=what,
    )
    return [p["status"] for p in row.progress]


def refused_unsent(st: ChargeStation, sim: Any, protocol: str, *commands: StationCommand) -> None:
    """Commands the station's OCPP version does not have: NOT_SUPPORTED, nothing sent."""
    sent_before = len(sim.calls())
    for command in commands:
        out = send(st, command)
        assert (out.status, out.ocpp_action) == (CommandStatus.NOT_SUPPORTED, ""), out
        assert out.message == f"OCPP {protocol} has no {command.kind} command"
        assert out.protocol == protocol and out.gateway_node == "node-b"
    assert len(sim.calls()) == sent_before


def base_report(st: ChargeStation, sim: Any, protocol: str) -> None:
    """GetBaseReport (2.0.1): accepted, then the device model in NotifyReport parts, stored
    and recorded on the command's progress; 1.x: not supported, nothing sent."""
    if protocol != "2.0.1":
        refused_unsent(st, sim, protocol, GetBaseReport(), GetChargingProfiles())
        return
    out = send(st, GetBaseReport())
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "Accepted"), out
    assert out.ocpp_request == {"requestId": out.id, "reportBase": "FullInventory"}
    # The simulator's six variables in parts of four.
    assert progress(out, 2, "two NotifyReport parts on the command") == [
        "part 0: 4 attributes, more to come",
        "part 1: 2 attributes, last part",
    ]
    stored = DeviceVariable.objects.filter(charge_station=st, report_request_id=out.id)
    assert sorted(stored.values_list("component", "variable", "value", "mutability")) == [
        ("ChargingStation", "Model", "SimAC22", "ReadOnly"),
        ("LocalAuthListCtrlr", "Enabled", "true", "ReadWrite"),
        ("OCPPCommCtrlr", "HeartbeatInterval", "120", "ReadWrite"),  # changed above
        ("SampledDataCtrlr", "TxUpdatedInterval", "900", "ReadWrite"),
        ("SecurityCtrlr", "SecurityProfile", "1", "ReadOnly"),
        ("SmartChargingCtrlr", "Enabled", "true", "ReadOnly"),
    ]
    out = send(st, GetBaseReport(report_base=ReportBase.SUMMARY_INVENTORY))
    assert (out.status, out.station_status) == (CommandStatus.NOT_SUPPORTED, "NotSupported")


def trigger(st: ChargeStation, sim: Any, v16: bool) -> None:
    """TriggerMessage (1.6, 2.0.1): the station sends what was asked for."""
    heartbeats = sim.stats.messages_sent
    out = send(st, TriggerMessage(message="Heartbeat"))
    assert out.status is CommandStatus.ACCEPTED
    wait_for(lambda: sim.stats.messages_sent > heartbeats, what="the triggered heartbeat")
    out = send(st, TriggerMessage(message="DiagnosticsStatusNotification"))
    assert out.ocpp_request == {
        "requestedMessage": "DiagnosticsStatusNotification" if v16 else "LogStatusNotification"
    }
    assert out.status is CommandStatus.ACCEPTED
    # A certificate renewal: 1.6 ExtendedTriggerMessage (security extension), 2.0.1
    # TriggerMessage; the station sends a new CSR (kept PENDING: node-b has no CA).
    out = send(st, TriggerMessage(message="SignChargingStationCertificate"))
    assert (out.status, out.ocpp_action) == (
        CommandStatus.ACCEPTED,
        "ExtendedTriggerMessage" if v16 else "TriggerMessage",
    )
    request = wait_for(
        lambda: CertificateRequest.objects.filter(charge_station=st).first(), what="the CSR"
    )
    assert request.status == "PENDING" and "BEGIN CERTIFICATE REQUEST" in request.csr
    if v16:  # not a message TriggerMessage or ExtendedTriggerMessage of 1.6 knows
        with pytest.raises(ValidationFailed):
            send(st, TriggerMessage(message="SignV2GCertificate"))
    else:  # a 2.0.1 message this station does not implement
        out = send(st, TriggerMessage(message="SignV2GCertificate"))
        assert (out.status, out.station_status) == (CommandStatus.NOT_SUPPORTED, "NotImplemented")


@pytest.mark.parametrize("protocol", ["1.5", "1.6", "2.0.1"])
def test_each_command_reaches_the_station_through_a_second_gateway_process(
    relay: Relay, node_b: NodeProcess, sim_station: Any, protocol: str
) -> None:
    st, password = new_station()
    TokenFactory(uid=ID_TAG, party=EmspFactory(tenant=st.tenant))  # the station's tenant
    sim = sim_station([node_b.ws_url], st.identity, password, protocol, speed=60, meter_interval=60)
    connected(relay, st, "node-b", sim)
    v16 = protocol != "2.0.1"  # 1.5 and 1.6 share the payloads
    v15 = protocol == "1.5"

    # Remote start: the station starts a session; remote stop ends it.
    out = send(st, RemoteStart(id_tag=ID_TAG, evse_id=1))
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "Accepted"), out
    assert out.ocpp_action == ("RemoteStartTransaction" if v16 else "RequestStartTransaction")
    assert out.gateway_node == "node-b" and out.protocol == protocol
    txid = wait_for(lambda: sim.station.active_txid, timeout=30, what="a remote session")
    if not v16:
        assert out.ocpp_request is not None
        assert out.ocpp_request["remoteStartId"] == out.id  # the audit row names the start
    # The start is stored as started by a command (OCPI COMMAND), naming the command: the
    # 2.0.1 remoteStartId; for 1.x the gateway remembered the remote start it sent.
    start = wait_for(
        lambda: OcppEvent.objects.filter(
            charge_station=st, ocpp_transaction_id=str(txid), kind="STARTED"
        ).first(),
        what="the start stored",
    )
    assert (start.auth_method, start.authorization_reference) == ("COMMAND", str(out.id))
    out = send(st, RemoteStop(transaction_id="999999" if v16 else "not-this-one"))
    assert out.status is CommandStatus.REJECTED
    out = send(st, RemoteStop(transaction_id=txid))
    assert out.status is CommandStatus.ACCEPTED, out
    wait_for(lambda: sim.station.active_txid is None, timeout=30, what="the remote stop")
    stop = wait_for(
        lambda: OcppEvent.objects.filter(
            charge_station=st, ocpp_transaction_id=txid, kind="ENDED"
        ).first(),
        what="the stop stored",
    )
    assert stop.reason == ("" if v15 else "Remote")  # 1.5 has no stop reason

    out = send(st, UnlockConnector(evse_id=1))
    assert (out.status, out.station_status) == (
        CommandStatus.ACCEPTED,
        "Accepted" if v15 else "Unlocked",
    )
    out = send(st, UnlockConnector(evse_id=2))
    if v15:  # 1.5 answers Accepted / Rejected
        assert (out.status, out.station_status) == (CommandStatus.REJECTED, "Rejected")
    else:
        assert out.status is (CommandStatus.NOT_SUPPORTED if v16 else CommandStatus.REJECTED)
        assert out.station_status == ("NotSupported" if v16 else "UnknownConnector")

    out = send(st, ChangeAvailability(operative=False, evse_id=1))
    assert out.status is CommandStatus.ACCEPTED
    assert out.ocpp_request == (
        {"connectorId": 1, "type": "Inoperative"}
        if v16
        else {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    )
    assert sim.station.state.operative[1] is False
    assert send(st, ChangeAvailability(operative=True)).status is CommandStatus.ACCEPTED

    out = send(
        st, GetConfiguration(keys=(key("HeartbeatInterval", protocol), key("Nope", protocol)))
    )
    assert out.status is CommandStatus.ACCEPTED
    assert isinstance(out.data, ConfigurationReport)
    assert [(v.key.name, v.value) for v in out.data.values] == [("HeartbeatInterval", "300")]
    assert [k.name for k in out.data.unknown] == ["Nope"]
    if v16:
        everything = send(st, GetConfiguration())
        assert isinstance(everything.data, ConfigurationReport)
        assert len(everything.data.values) == 7

    out = send(st, ChangeConfiguration(key=key("HeartbeatInterval", protocol), value="120"))
    assert out.status is CommandStatus.ACCEPTED
    assert out.data == ConfigurationChanged(reboot_required=False)
    readonly = "NumberOfConnectors" if v16 else "Model"
    component = "" if v16 else "ChargingStation"
    out = send(st, ChangeConfiguration(key=ConfigurationKey(readonly, component), value="9"))
    assert out.status is CommandStatus.REJECTED
    out = send(st, ChangeConfiguration(key=key("NoSuchKey", protocol), value="1"))
    assert out.status is (CommandStatus.NOT_SUPPORTED if v16 else CommandStatus.REJECTED)

    if v15:  # no TriggerMessage, no smart charging in 1.5: refused, nothing sent
        refused_unsent(
            st,
            sim,
            protocol,
            TriggerMessage(message="Heartbeat"),
            SetChargingProfile(evse_id=1, profile=PROFILE),
            ClearChargingProfile(profile_id=1),
            GetCompositeSchedule(evse_id=1, duration=60),
        )
    else:
        trigger(st, sim, v16)

    assert send(st, ClearCache()).status is CommandStatus.ACCEPTED

    entries = (LocalListEntry(ID_TAG), LocalListEntry("BLOCKED01", status="Blocked"))
    assert send(st, SendLocalList(version=3, full=True, entries=entries)).status is (
        CommandStatus.ACCEPTED
    )
    assert sim.station.state.local_list == {ID_TAG: "Accepted", "BLOCKED01": "Blocked"}
    out = send(st, SendLocalList(version=2, full=False, entries=(LocalListEntry("X1"),)))
    assert (out.status, out.station_status) == (CommandStatus.REJECTED, "VersionMismatch")
    assert sim.station.state.local_list_version == 3
    out = send(st, GetLocalListVersion())
    assert (out.status, out.data, out.ocpp_action) == (
        CommandStatus.ACCEPTED,
        LocalListVersion(3),
        "GetLocalListVersion",
    )
    assert out.response == ({"listVersion": 3} if v16 else {"versionNumber": 3})

    # DataTransfer to the station (the simulator's vendor extension); a 2.0.1 station may
    # answer with JSON, kept as JSON text.
    out = send(st, DataTransfer(vendor_id="org.example.sim", message_id="Echo", data="hello"))
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "Accepted"), out
    assert out.data == VendorData("hello" if v16 else '{"echo":"hello"}')
    assert out.ocpp_request == {"vendorId": "org.example.sim", "messageId": "Echo", "data": "hello"}
    out = send(st, DataTransfer(vendor_id="org.example.sim", message_id="Nope"))
    assert (out.status, out.station_status) == (CommandStatus.NOT_SUPPORTED, "UnknownMessageId")
    out = send(st, DataTransfer(vendor_id="com.other"))
    assert (out.status, out.station_status) == (CommandStatus.NOT_SUPPORTED, "UnknownVendorId")

    base_report(st, sim, protocol)

    out = send(st, GetDiagnostics(location="ftp://logs.example/upload/"))
    assert out.status is CommandStatus.ACCEPTED
    name = ("diagnostics-" if v16 else "log-") + st.identity + ".zip"
    assert out.data == LogUpload(file_name=name)
    uploads = ["Uploaded"] if v15 else ["Uploading", "Uploaded"]  # 1.5: outcomes only
    assert progress(out, len(uploads), "the log upload's status notifications") == uploads

    expiry = datetime.now(UTC) + timedelta(minutes=30)
    out = send(st, ReserveNow(reservation_id=7, expiry=expiry, id_tag=ID_TAG, evse_id=1))
    assert out.status is CommandStatus.ACCEPTED
    out = send(st, ReserveNow(reservation_id=8, expiry=expiry, id_tag="OTHER", evse_id=1))
    assert (out.status, out.station_status) == (CommandStatus.REJECTED, "Occupied")
    assert send(st, CancelReservation(reservation_id=7)).status is CommandStatus.ACCEPTED
    assert send(st, CancelReservation(reservation_id=7)).status is CommandStatus.REJECTED

    # Reset last: the station reboots (reconnects and boots again) and is reachable again.
    boots = sim.station.boots
    out = send(st, Reset(hard=False))
    assert out.status is CommandStatus.ACCEPTED
    assert out.ocpp_request == ({"type": "Soft"} if v16 else {"type": "OnIdle"})
    wait_for(lambda: sim.station.boots > boots, timeout=30, what="the reboot")
    wait_for(lambda: relay.owner(st.identity) == "node-b", what="registered again")
    assert wait_for(
        lambda: send(st, ClearCache()).status is CommandStatus.ACCEPTED, what="reachable"
    )

    # Every command reached the station once, in the order sent (no duplicates).
    sent = list(RemoteCommand.objects.filter(charge_station=st).order_by("id"))
    received = [c.message_id for c in sim.calls()]
    assert len(received) == len(set(received))
    assert all(r.requested_by == "test" for r in sent)
    assert all(r.answered_at for r in sent if r.status != "FAILED")
    assert sim.stats.errors == 0, sim.stats.error_samples


def test_an_invalid_request_is_refused_and_nothing_is_sent(
    relay: Relay, node_b: NodeProcess, sim_station: Any
) -> None:
    st, password = new_station()
    sim = sim_station([node_b.ws_url], st.identity, password, "1.6")
    connected(relay, st, "node-b", sim)
    with pytest.raises(ValidationFailed) as info:
        send(st, ChangeConfiguration(key=ConfigurationKey("x" * 60), value="1"))
    assert info.value.problems[0].path == "$.key"
    with pytest.raises(ValidationFailed):
        send(st, ChangeConfiguration(key=ConfigurationKey("A", component="C"), value="1"))
    with pytest.raises(ValidationFailed):  # a 1.6 transaction id is an integer
        send(st, RemoteStop(transaction_id="abc"))
    assert sim.calls() == []
    rows = RemoteCommand.objects.filter(charge_station=st)
    assert [r.status for r in rows] == ["FAILED"] * 3
    assert all(r.message.startswith("not sent:") for r in rows)


def test_offline_station_and_dead_node(relay: Relay) -> None:
    st, _ = new_station()
    begin = time.monotonic()
    out = send(st, ClearCache(), timeout=60)
    assert out.status is CommandStatus.OFFLINE
    # Known at once, not after the command's timeout (a bound far from both: no race).
    assert time.monotonic() - begin < 30
    assert "not connected" in out.message
    # The registry names a node that is gone (its liveness key lapsed): offline too.
    relay.redis.set(f"{relay.prefix}:station:{st.identity}", "node-gone|abc")
    out = send(st, Reset())
    assert out.status is CommandStatus.OFFLINE
    assert "node-gone" in out.message
    assert not relay.redis.exists(f"{relay.prefix}:inbox:node-gone")  # nothing queued
    assert list(
        RemoteCommand.objects.filter(charge_station=st).values_list("status", flat=True)
    ) == [
        "OFFLINE",
        "OFFLINE",
    ]


def test_a_silent_station_times_out_and_the_next_command_goes_through(
    relay: Relay, node_b: NodeProcess, sim_station: Any
) -> None:
    st, password = new_station()
    sim = sim_station([node_b.ws_url], st.identity, password, "2.0.1", silent=frozenset({"Reset"}))
    connected(relay, st, "node-b", sim)
    begin = time.monotonic()
    out = send(st, Reset(), timeout=1.5)
    assert out.status is CommandStatus.TIMEOUT
    # The timeout was waited for (the lower bound cannot race); the upper one only says it
    # was not much longer, generously for a loaded machine.
    assert 1.4 < time.monotonic() - begin < 15
    assert "no answer from the station" in out.message
    assert out.gateway_node == "node-b"
    out = send(st, ClearCache(), timeout=5)
    assert out.status is CommandStatus.ACCEPTED
    assert [c.action for c in sim.calls()] == ["Reset", "ClearCache"]


def test_calls_to_a_station_are_serialised_and_inbound_calls_are_not_blocked(
    relay: Relay, node_b: NodeProcess, sim_station: Any
) -> None:
    """The station holds its answer to the first command until the test lets it go (not a
    fixed delay: nothing here depends on how fast a loaded machine is)."""
    st, password = new_station()
    sim = sim_station([node_b.ws_url], st.identity, password, "1.6")
    connected(relay, st, "node-b", sim)
    received: list[str] = []
    release = asyncio.Event()  # bound to the station's loop when first awaited there
    answer = sim.station.on_csms_call

    async def held(ws: Any, frame: Any) -> None:
        received.append(frame.action)
        await release.wait()
        await answer(ws, frame)

    sim.station.on_csms_call = held
    outcomes: list[CommandOutcome] = []

    def command(c: StationCommand) -> None:
        outcomes.append(send(st, c, timeout=60))

    threads = [
        threading.Thread(target=command, args=(ClearCache(),)),
        threading.Thread(target=command, args=(TriggerMessage(message="Heartbeat"),)),
    ]
    threads[0].start()
    wait_for(lambda: received == ["ClearCache"], timeout=30, what="the first command")
    threads[1].start()
    wait_for(
        lambda: RemoteCommand.objects.filter(charge_station=st).count() == 2,
        timeout=30,
        what="the second command requested",
    )
    # While the first command waits for the station's answer, the station's own CALLs are
    # answered: the outbound queue does not block the inbound direction.
    assert "currentTime" in sim.run(sim.station.call("Heartbeat", {}))
    # ... and the second command has not left the gateway: one CALL at a time.
    assert received == ["ClearCache"]
    sim.loop.call_soon_threadsafe(release.set)
    for t in threads:
        t.join(60)
    assert sorted(o.status for o in outcomes) == [CommandStatus.ACCEPTED] * 2
    assert received == ["ClearCache", "TriggerMessage"]
    first, second = sim.calls()
    assert (first.action, second.action) == ("ClearCache", "TriggerMessage")
    assert first.answered is not None
    # The second CALL left the gateway only after the first was answered.
    assert second.received >= first.answered


def test_a_node_dies_its_station_reconnects_to_the_other_and_commands_follow(
    relay: Relay, node_a: RunningGateway, sim_station: Any
) -> None:
    node_c = NodeProcess(relay, "node-c")
    try:
        st, password = new_station()
        # The station's configuration lists both nodes: C first, A as the fallback.
        sim = sim_station([node_c.ws_url, node_a.ws_url], st.identity, password, "1.6")
        connected(relay, st, "node-c", sim)
        assert send(st, ClearCache()).gateway_node == "node-c"
        node_c.kill()  # SIGKILL: no goodbye, no registry cleanup
        wait_for(lambda: relay.owner(st.identity) == "node-a", timeout=30, what="on node-a")
    finally:
        node_c.stop()
    out = send(st, TriggerMessage(message="StatusNotification"))
    assert (out.status, out.gateway_node) == (CommandStatus.ACCEPTED, "node-a")
    assert [c.action for c in sim.calls()] == ["ClearCache", "TriggerMessage"]

    def history() -> Any:
        return locations_api.charge_station_connectivity(tenant_id=st.tenant_id, station_id=st.pk)

    # The station booted on each node (its BootNotifications are in the history too). Node A
    # owns the station from its websocket handshake on and stores the BootNotification that
    # follows on its own time: wait for it rather than race it.
    wait_for(
        lambda: [e.kind.value for e in history().history].count("BOOTED") == 2,
        timeout=30,
        what="a BOOTED event from each node",
    )
    seen = history()
    nodes = [(e.kind.value, e.node) for e in reversed(seen.history) if e.kind.value != "BOOTED"]
    assert nodes == [("CONNECTED", "node-c"), ("CONNECTED", "node-a")]
    assert (seen.connectivity.value, seen.gateway_node) == ("online", "node-a")


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_smart_charging_round_trip(
    relay: Relay, node_b: NodeProcess, sim_station: Any, protocol: str
) -> None:
    """SetChargingProfile (a station maximum and a default profile for EVSE 1), then the
    composite schedule the station computes from them: the lower of both at each moment."""
    st, password = new_station()
    sim = sim_station([node_b.ws_url], st.identity, password, protocol)
    connected(relay, st, "node-b", sim)
    cap = ChargingProfile(
        id=1, stack_level=0, purpose=ProfilePurpose.STATION_MAX, kind=ProfileKind.ABSOLUTE,
        schedule=ChargingSchedule(unit=RateUnit.W, periods=(SchedulePeriod(0, Decimal("10000")),)),
    )  # fmt: skip
    default = ChargingProfile(
        id=2, stack_level=1, purpose=ProfilePurpose.TX_DEFAULT, kind=ProfileKind.ABSOLUTE,
        schedule=ChargingSchedule(
            unit=RateUnit.W, duration=7200,
            periods=(
                SchedulePeriod(0, Decimal("7400")),
                SchedulePeriod(1800, Decimal("3680.5")),
                SchedulePeriod(3600, Decimal("22000")),
            ),
        ),
    )  # fmt: skip
    assert send(st, SetChargingProfile(evse_id=0, profile=cap)).status is CommandStatus.ACCEPTED
    out = send(st, SetChargingProfile(evse_id=1, profile=default))
    assert out.status is CommandStatus.ACCEPTED
    purpose = out.ocpp_request["csChargingProfiles" if protocol == "1.6" else "chargingProfile"]
    assert purpose["chargingProfilePurpose"] == "TxDefaultProfile"
    # A TX profile needs a transaction: refused by the station.
    tx = ChargingProfile(
        id=3, stack_level=2, purpose=ProfilePurpose.TX, kind=ProfileKind.RELATIVE,
        schedule=default.schedule, transaction_id="1",
    )  # fmt: skip
    assert send(st, SetChargingProfile(evse_id=1, profile=tx)).status is CommandStatus.REJECTED

    out = send(st, GetCompositeSchedule(evse_id=1, duration=5400, unit=RateUnit.W))
    assert out.status is CommandStatus.ACCEPTED
    assert isinstance(out.data, CompositeSchedule)
    assert out.data.evse_id == 1
    assert out.data.schedule is not None
    assert out.data.schedule.unit is RateUnit.W
    assert out.data.schedule.duration == 5400
    assert [(p.start_period, p.limit) for p in out.data.schedule.periods] == [
        (0, Decimal("7400")),
        (1800, Decimal("3680.5")),
        (3600, Decimal("10000")),  # 22 kW capped by the station maximum
    ]
    # Cleared: the default profile goes, the cap alone remains.
    charging_profiles_report(st, sim, protocol)

    assert send(st, ClearChargingProfile(profile_id=2)).status is CommandStatus.ACCEPTED
    assert send(st, ClearChargingProfile(profile_id=2)).status is CommandStatus.REJECTED
    out = send(st, GetCompositeSchedule(evse_id=1, duration=600))
    assert isinstance(out.data, CompositeSchedule) and out.data.schedule is not None
    assert [(p.start_period, p.limit) for p in out.data.schedule.periods] == [(0, Decimal("10000"))]


def charging_profiles_report(st: ChargeStation, sim: Any, protocol: str) -> None:
    """GetChargingProfiles (2.0.1): one ReportChargingProfiles per EVSE with the profiles
    that match, stored and recorded on the command's progress; 1.6: not supported."""
    if protocol != "2.0.1":
        refused_unsent(st, sim, protocol, GetChargingProfiles())
        return
    reported = "ReportChargingProfiles on the command"
    out = send(st, GetChargingProfiles())
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "Accepted")
    assert out.ocpp_request == {"requestId": out.id, "chargingProfile": {}}
    assert progress(out, 2, reported) == [
        "EVSE 0 profiles 1, more to come",
        "EVSE 1 profiles 2, last part",
    ]
    reports = StationEvent.objects.filter(
        charge_station=st, action="ReportChargingProfiles", request_id=out.id
    ).order_by("id")
    assert [(e.evse_ocpp_id, e.status) for e in reports] == [(0, "CSO"), (1, "CSO")]
    assert [p["id"] for p in reports[1].details["chargingProfile"]] == [2]

    out = send(st, GetChargingProfiles(purpose=ProfilePurpose.TX_DEFAULT))
    assert out.status is CommandStatus.ACCEPTED
    assert progress(out, 1, reported) == ["EVSE 1 profiles 2, last part"]
    out = send(st, GetChargingProfiles(profile_ids=(99,)))
    assert (out.status, out.station_status) == (CommandStatus.ACCEPTED, "NoProfiles")
    time.sleep(0.5)
    assert RemoteCommand.objects.get(pk=out.id).progress == []  # nothing follows


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_firmware_update_status_flow(
    relay: Relay, node_b: NodeProcess, sim_station: Any, protocol: str
) -> None:
    """UpdateFirmware, then the station's FirmwareStatusNotifications (Downloading,
    Downloaded, Installing, Installed) are recorded on the command; the station reboots and
    boots with the new firmware version."""
    st, password = new_station()
    sim = sim_station([node_b.ws_url], st.identity, password, protocol, firmware_step=0.1)
    connected(relay, st, "node-b", sim)
    wait_for(
        lambda: ChargeStation.objects.get(pk=st.pk).firmware_version == "sim-1.0",
        what="the boot recorded",
    )
    out = send(
        st,
        UpdateFirmware(
            location="https://firmware.example/sim/sim-2.0.bin", retrieve_at=datetime.now(UTC)
        ),
    )
    assert out.status is CommandStatus.ACCEPTED
    assert out.station_status == ("" if protocol == "1.6" else "Accepted")
    if protocol == "2.0.1":
        assert out.ocpp_request is not None and out.ocpp_request["requestId"] == out.id
    assert progress(out, 4, "four firmware status notifications") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    wait_for(
        lambda: ChargeStation.objects.get(pk=st.pk).firmware_version == "sim-2.0",
        what="the boot with the new firmware",
    )
    assert sim.stats.errors == 0, sim.stats.error_samples
