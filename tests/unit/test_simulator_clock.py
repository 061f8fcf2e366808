"""Where the simulator's station clocks start: now in live time (what `make run` runs, so the
portal shows its sessions as today's), in the past only for compressed replays."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from csms_gateway.simulator import SimConfig, station_clock_start

NOW = datetime(2026, 12, 7, 0, 3, 27, 512_000, tzinfo=UTC)  # just after midnight


def config(speed: float) -> SimConfig:
    # make run's simulators: 5-minute sessions, a minute apart, 240 each, for 24 hours.
    return SimConfig(
        url="ws://127.0.0.1:9000/ocpp/",
        credentials={"GFX-1": "pw"},
        protocol="1.6",
        speed=speed,
        session_minutes=5,
        gap_minutes=1,
        sessions_per_station=240,
        duration=86400,
    )


@pytest.mark.parametrize("speed", [1.0, 0.5])
def test_live_time_starts_the_station_clock_now(speed: float) -> None:
    start = station_clock_start(config(speed), NOW)
    assert start == datetime(2026, 12, 7, 0, 3, 27, tzinfo=UTC)
    assert start.date() == NOW.date()  # not yesterday


def test_a_compressed_replay_starts_in_the_past_by_what_it_can_cover() -> None:
    # 60 station seconds per wall second for 86400 s would pass now: it is capped by the
    # sessions it runs, 240 x 6 minutes, plus 10 minutes.
    assert station_clock_start(config(60), NOW) == NOW.replace(microsecond=0) - timedelta(
        seconds=240 * 360 + 600
    )
    fast = dataclasses.replace(config(2), duration=600)  # 1200 s + one session + 10 min
    assert station_clock_start(fast, NOW) == NOW.replace(microsecond=0) - timedelta(
        seconds=1200 + 360 + 600
    )


def test_as_fast_as_possible_starts_in_the_past_by_every_session() -> None:
    assert station_clock_start(config(0), NOW) == NOW.replace(microsecond=0) - timedelta(
        seconds=240 * 360 + 600
    )
