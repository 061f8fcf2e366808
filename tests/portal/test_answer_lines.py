"""What the station page says of a command's parsed answer, per answer type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.locations.contracts import (
    CommandAnswer,
    CommandKind,
    CommandOutcome,
    CommandStatus,
    ConfigurationChanged,
    LocalListVersion,
    RemoteStarted,
    VendorData,
)
from portal.views.stations import _answer_lines

REBOOT = "the station needs a reboot for the change to take effect"


def outcome(data: CommandAnswer | None) -> CommandOutcome:
    fields: dict[str, Any] = dict(
        id=1, station_id=1, kind=CommandKind.DATA_TRANSFER, status=CommandStatus.ACCEPTED,
        station_status="Accepted", message="", data=data, request={}, ocpp_action="",
        ocpp_request=None, response=None, protocol="1.6", gateway_node="", requested_by="",
        requested_at=datetime(2026, 11, 22, tzinfo=UTC), answered_at=None,
    )  # fmt: skip
    return CommandOutcome(**fields)


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (LocalListVersion(3), ["local list version 3"]),
        (LocalListVersion(0), ["local list version 0 (no list)"]),
        (VendorData('{"echo":"hi"}'), ['data: {"echo":"hi"}']),
        (VendorData(None), []),
        (RemoteStarted("77"), ["transaction 77"]),
        (ConfigurationChanged(reboot_required=True), [REBOOT]),
        (None, []),
    ],
)  # fmt: skip
def test_answer_lines(data: CommandAnswer | None, lines: list[str]) -> None:
    assert _answer_lines(outcome(data)) == lines
