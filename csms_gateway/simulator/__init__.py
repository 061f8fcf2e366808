"""Charge-station simulator: `python -m csms_gateway.simulator --stations N --protocol 1.6`
(`1.5`, `1.6` or `2.0.1`).

Drives real charge stations over real websockets (the `websockets` package) against any CSMS
that speaks OCPP-J: boot, heartbeats, status notifications, authorize, then sessions with
periodic meter values (energy register, power, current), a parking phase (SuspendedEV)
before the stop. It is an outer layer: it speaks only OCPP over the network and imports
nothing of Django or the apps (import-linter contract `simulator-network-only`).

Time is virtual. Each station stamps its messages with its own clock, which advances
`--speed` station seconds per wall second (`--speed 60`: a 60-minute session in 60 s;
`--speed max`: no waiting at all). In live time (`--speed 1`, or slower) the station clock
starts now, so the CSMS sees sessions as they happen. Faster than that, so that no stamp is
ever ahead of the CSMS's clock, it starts in the past by the station time the run can
cover. A 2.0.1 station marks an event `offline: true` when it sends it more than a minute
after it happened (always the case in compressed time: the CSMS gets history, as from a
station that was offline).

Transaction messages are durable, as on a real station: a message that got no answer (the
connection dropped, the CSMS restarted) stays first in the station's outbox and is sent again
with the same content after the station reconnects. `--offline-replay` makes every session go
offline once: the station sends a meter value and drops the connection before the answer
arrives, queues the rest of the session (meter values, status changes, the stop) with their
original timestamps, then reconnects and replays the queue in order.

A station answers the CSMS's commands from state it keeps (`responder`, `smart_charging`,
`certificates`: configuration, charging profiles and the composite schedule, reservations,
local list, availability, remote start / stop of a session, firmware and log uploads with their
status notifications, a reboot after Reset); any other CALL with a CALLERROR `NotImplemented`,
and a frame of an unknown message type with the error the version defines. With `--stay` a
station stays connected after its sessions, reconnecting (and failing over to the next of
several URLs) when its connection drops. At the end the simulator prints a JSON summary;
`--record FILE` also writes one JSON line per session and per answered transaction message
(what benchmarks verify).

The package: `config` (SimConfig, Stats, the clock rule), `link` (the websocket and the
durable outbox), `station` (a station's life and sessions), `base` / `responder` /
`smart_charging` / `certificates` (answers to the CSMS's commands), `fleet` (`simulate`: a
run of many stations), `cli` (the command line). Callers import from this package.
"""

from csms_gateway.simulator.cli import load_credentials, main, parse_args
from csms_gateway.simulator.config import (
    DEMO_ID_TAGS,
    SimConfig,
    Stats,
    default_credentials_path,
    station_clock_start,
)
from csms_gateway.simulator.fleet import simulate
from csms_gateway.simulator.station import Station

__all__ = [
    "DEMO_ID_TAGS",
    "SimConfig",
    "Station",
    "Stats",
    "default_credentials_path",
    "load_credentials",
    "main",
    "parse_args",
    "simulate",
    "station_clock_start",
]
