"""The JSON form of the remote-command contracts (msgspec underneath): exactly the JSON the
hand-written codec wrote before (stored command rows and the REST API's command log show
it), and every field checked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import msgspec
import pytest

from apps.locations.contracts import (
    ChargingProfile,
    ChargingSchedule,
    CommandKind,
    CommandStatus,
    CompositeSchedule,
    ConfigurationKey,
    ConfigurationReport,
    ConfigurationValue,
    GetConfiguration,
    ProfileKind,
    ProfilePurpose,
    RateUnit,
    RelayReply,
    RelayRequest,
    ReserveNow,
    SchedulePeriod,
    SetChargingProfile,
    answer_from_json,
    command_from_json,
    relay_decode_reply,
    relay_decode_request,
    relay_encode,
    to_json,
)

T = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
SCHEDULE = ChargingSchedule(
    unit=RateUnit.W,
    periods=(SchedulePeriod(0, Decimal("11000.50")), SchedulePeriod(900, Decimal("1E+3"), 1)),
    start_schedule=T,
)


def test_datetimes_decimals_enums_and_tuples_are_written_as_before() -> None:
    command = SetChargingProfile(
        evse_id=1,
        profile=ChargingProfile(
            id=5,
            stack_level=1,
            purpose=ProfilePurpose.TX_DEFAULT,
            kind=ProfileKind.ABSOLUTE,
            schedule=SCHEDULE,
            valid_from=datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=2))),
        ),
    )
    assert to_json(command) == {
        "evse_id": 1,
        "profile": {
            "id": 5,
            "stack_level": 1,
            "purpose": "TX_DEFAULT",
            "kind": "Absolute",
            "schedule": {
                "unit": "W",
                "periods": [
                    {"start_period": 0, "limit": "11000.50", "number_phases": None},
                    {"start_period": 900, "limit": "1E+3", "number_phases": 1},
                ],
                "id": 1,
                "duration": None,
                "start_schedule": "2026-03-01T12:00:00.250000+00:00",  # isoformat, not "Z"
                "min_charging_rate": None,
            },
            "recurrency": None,
            "valid_from": "2026-03-01T00:00:00+02:00",
            "valid_to": None,
            "transaction_id": None,
        },
    }
    assert command_from_json(CommandKind.SET_CHARGING_PROFILE, to_json(command)) == command


def test_an_answer_carries_its_type_after_its_fields() -> None:
    answer = CompositeSchedule(evse_id=1, start=T, schedule=SCHEDULE)
    data = to_json(answer)
    assert list(data) == ["evse_id", "start", "schedule", "type"]
    assert data["type"] == "CompositeSchedule"
    assert answer_from_json(data) == answer
    report = ConfigurationReport(
        values=(ConfigurationValue(ConfigurationKey("HeartbeatInterval"), "60", readonly=False),)
    )
    assert answer_from_json(to_json(report)) == report
    assert answer_from_json(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"keys": [], "extra": 1},  # unknown field
        {"keys": [{"name": "A", "colour": "red"}]},  # unknown field of a nested value
        {"keys": [{"component": "X"}]},  # required field missing
        {"keys": "A"},  # wrong type
        [],  # not an object
    ],
)
def test_a_command_that_does_not_fit_is_refused(raw: object) -> None:
    with pytest.raises(ValueError):  # what the gateway node answers FAILED for
        command_from_json(CommandKind.GET_CONFIGURATION, raw)  # type: ignore[arg-type]
    assert issubclass(msgspec.ValidationError, ValueError)


def test_a_datetime_without_offset_and_one_with_z_are_read() -> None:
    naive = command_from_json(
        "RESERVE_NOW", {"reservation_id": 1, "expiry": "2026-03-01T12:00:00", "id_tag": "A"}
    )
    assert isinstance(naive, ReserveNow) and naive.expiry == datetime(2026, 3, 1, 12)  # noqa: DTZ001
    zulu = command_from_json(
        "RESERVE_NOW", {"reservation_id": 1, "expiry": "2026-03-01T12:00:00Z", "id_tag": "A"}
    )
    assert isinstance(zulu, ReserveNow) and zulu.expiry == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_relay_messages_keep_their_wire_form() -> None:
    request = RelayRequest(
        id="ab",
        identity="CS-é",
        kind=CommandKind.GET_CONFIGURATION,
        command=to_json(GetConfiguration(keys=(ConfigurationKey("A"),))),
        deadline=1765000000.25,
        reply_to="ocpp:reply:ab",
    )
    wire = relay_encode(request)
    assert wire == (
        '{"id":"ab","identity":"CS-\\u00e9","kind":"GET_CONFIGURATION","command":{"keys":'
        '[{"name":"A","component":"","instance":"","evse_id":null}]},'
        '"deadline":1765000000.25,"reply_to":"ocpp:reply:ab"}'
    )
    assert relay_decode_request(wire) == request
    reply = RelayReply(id="ab", status=CommandStatus.FAILED, invalid=("$.keys: too many",))
    assert relay_encode(reply) == (
        '{"id":"ab","status":"FAILED","station_status":"","message":"","data":null,'
        '"ocpp_action":"","ocpp_request":null,"response":null,"protocol":"","node":"",'
        '"invalid":["$.keys: too many"]}'
    )
    assert relay_decode_reply(relay_encode(reply).encode()) == reply
    with pytest.raises(ValueError):
        relay_decode_request('{"id":"ab"}')
