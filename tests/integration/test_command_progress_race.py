"""A station's follow-up report can be recorded on the command before the web process has
written the station's answer (the gateway node handles the report while the answer travels
back through Redis). Writing the answer must not wipe that progress, and the outcome
returned says what is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.locations import api as locations_api
from apps.locations import relay
from apps.locations.contracts import (
    CommandKind,
    CommandStatus,
    GetBaseReport,
    RelayReply,
    StationCommand,
)
from apps.locations.models import RemoteCommand
from tests.factories import ChargeStationFactory

pytestmark = pytest.mark.django_db


def test_a_report_part_recorded_before_the_answer_is_kept(monkeypatch: Any) -> None:
    st = ChargeStationFactory()
    at = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(relay, "check", lambda: None)

    def send(identity: str, command: StationCommand, timeout: float) -> RelayReply:
        # What the gateway node does while the web process waits: the station answered and
        # at once sent the first NotifyReport part, handled before the answer is written.
        row = RemoteCommand.objects.get(charge_station=st)
        assert row.request_id == row.pk  # stored before the command went out
        assert (
            locations_api.charge_station_command_progress(
                station_id=st.pk,
                kind=CommandKind.GET_BASE_REPORT,
                status="part 0: 4 attributes, more to come",
                at=at,
                request_id=row.pk,
                by_request_id_only=True,
            )
            == row.pk
        )
        return RelayReply(
            id="x",
            status=CommandStatus.ACCEPTED,
            station_status="Accepted",
            ocpp_action="GetBaseReport",
            ocpp_request={"requestId": row.pk, "reportBase": "FullInventory"},
            response={"status": "Accepted"},
            protocol="2.0.1",
            node="node-x",
        )

    monkeypatch.setattr(relay, "send", send)
    out = locations_api.charge_station_command(
        tenant_id=st.tenant_id, station_id=st.pk, command=GetBaseReport(), requested_by="test"
    )
    assert (out.status, out.station_status, out.gateway_node) == (
        CommandStatus.ACCEPTED,
        "Accepted",
        "node-x",
    )
    expected = [{"status": "part 0: 4 attributes, more to come", "at": at.isoformat()}]
    assert list(out.progress) == expected
    row = RemoteCommand.objects.get(pk=out.id)
    assert row.progress == expected and row.status == "ACCEPTED" and row.answered_at
    # Another request id (a GetReport sent elsewhere) is not attached to this command.
    assert (
        locations_api.charge_station_command_progress(
            station_id=st.pk,
            kind=CommandKind.GET_BASE_REPORT,
            status="part 0",
            at=at,
            request_id=row.pk + 1000,
            by_request_id_only=True,
        )
        is None
    )
    assert RemoteCommand.objects.get(pk=out.id).progress == expected
