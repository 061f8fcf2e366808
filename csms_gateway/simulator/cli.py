"""`python -m csms_gateway.simulator`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

from csms_gateway.simulator.config import DEMO_ID_TAGS, SimConfig, default_credentials_path
from csms_gateway.simulator.fleet import simulate


def load_credentials(path: Path, *, stations: int, match: str) -> dict[str, str]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object identity -> password")
    chosen = sorted(i for i in data if fnmatch.fnmatchcase(i, match))[:stations]
    if len(chosen) < stations:
        raise SystemExit(
            f"{path}: {len(chosen)} stations match {match!r}, {stations} asked "
            "(`python manage.py load_demo_data` writes the demo stations)"
        )
    return {i: str(data[i]) for i in chosen}


def _speed(value: str) -> float:
    if value in ("max", "0"):
        return 0.0
    speed = float(value)
    if speed <= 0:
        raise argparse.ArgumentTypeError("speed must be positive, or 'max'")
    return speed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m csms_gateway.simulator",
        description="Simulated OCPP charge stations over real websockets.",
    )
    p.add_argument("--stations", type=int, required=True, help="how many stations to run")
    p.add_argument("--protocol", choices=["1.5", "1.6", "2.0.1"], default="1.6")
    p.add_argument("--url", default="ws://127.0.0.1:9000/ocpp/", help="CSMS URL + identity")
    p.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="JSON identity -> password (default: DATA_DIR/demo-stations.json)",
    )
    p.add_argument("--match", default="*", help="only identities matching this glob")
    p.add_argument("--sessions-per-station", type=int, default=1)
    p.add_argument("--duration", type=float, default=600.0, help="wall seconds (bound)")
    p.add_argument("--speed", type=_speed, default=0.0, help="station s per wall s, or 'max'")
    p.add_argument("--session-minutes", type=int, default=60)
    p.add_argument("--meter-interval", type=int, default=900, help="station seconds")
    p.add_argument("--gap-minutes", type=int, default=5)
    p.add_argument("--offline-replay", action="store_true")
    p.add_argument("--id-tags", default=",".join(DEMO_ID_TAGS))
    p.add_argument("--heartbeat", type=float, default=None, help="wall seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--record", type=Path, default=None, help="write JSON lines here")
    p.add_argument(
        "--hold-stops",
        action="store_true",
        help="hold every first stop until all stations are there, print a JSON line "
        '{"holding": ...}, send all stops once a line is read from stdin; after the sessions '
        'print {"sessions_done": ...} and disconnect once another line is read',
    )
    p.add_argument(
        "--stay",
        action="store_true",
        help="after the sessions stay connected until --duration, answering CSMS commands "
        "(reconnect and fail over to the next of several comma-separated --url)",
    )
    p.add_argument("--answer-delay", type=float, default=0.0, help="wall s before answering")
    p.add_argument("--silent", default="", help="comma-separated CSMS actions never answered")
    p.add_argument("--evses", type=int, default=1, help="EVSEs per station (status at boot)")
    args = p.parse_args(argv)
    if args.stations < 1 or args.sessions_per_station < 0 or args.duration <= 0:
        p.error("--stations >= 1, --sessions-per-station >= 0, --duration > 0")
    if args.evses < 1:
        p.error("--evses >= 1")
    if args.session_minutes < 2 or args.meter_interval < 1:
        p.error("--session-minutes >= 2, --meter-interval >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = SimConfig(
        url=args.url,
        credentials=load_credentials(
            args.credentials or default_credentials_path(),
            stations=args.stations,
            match=args.match,
        ),
        protocol=args.protocol,
        sessions_per_station=args.sessions_per_station,
        duration=args.duration,
        speed=args.speed,
        session_minutes=args.session_minutes,
        meter_interval=args.meter_interval,
        gap_minutes=args.gap_minutes,
        offline_replay=args.offline_replay,
        id_tags=tuple(t for t in args.id_tags.split(",") if t),
        heartbeat=args.heartbeat,
        seed=args.seed,
        hold_stops=args.hold_stops,
        stay=args.stay,
        answer_delay=args.answer_delay,
        silent=frozenset(a for a in args.silent.split(",") if a),
        evses=args.evses,
    )
    out = open(args.record, "w") if args.record else None  # noqa: SIM115

    def record(line: dict[str, Any]) -> None:
        if out is not None:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")

    async def release(held: dict[str, Any]) -> None:
        print(json.dumps({"holding": held}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def release_close(held: dict[str, Any]) -> None:
        if out is not None:
            out.flush()
        print(json.dumps({"sessions_done": held}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    try:
        summary = asyncio.run(
            simulate(
                cfg,
                record,
                release if args.hold_stops else None,
                release_close if args.hold_stops else None,
            )
        )
    finally:
        if out is not None:
            out.close()
    print(json.dumps(summary), flush=True)
    return 0 if summary["errors"] == 0 else 1
