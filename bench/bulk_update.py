"""The two ways of `apps.common.bulk.update_where`, on the rows of its two callers.

Run from the repository root::

    python bench/bulk_update.py --pg postgres://postgres@127.0.0.1:5432 [--stations 10000]

Own database ``simbench_bulk`` (created, dropped at the end); no Redis. ``--stations``
charge stations are written, then, each ``--rounds`` times in alternation:

- the gateway's shape (``storm``): 5 columns of every station in batches of 200, as
  `charge_station_connections_record` writes a reconnect storm's connects: one
  ``UPDATE ... FROM (VALUES ...)`` per batch (``values``; ``values_raw``: without the fields'
  conversion, as the locations app calls it) against ``executemany`` (one statement per row,
  pipelined);
- the charging worker's shape (``by_pk``): `update_rows` of 14 mixed columns (NULLs,
  timestamps, integers) in batches of 100, ``executemany`` against ``values``.

Prints one JSON line per shape and way: medians of wall and process CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NAME = "simbench_bulk"

STORM = ("connectivity", "gateway_node", "connection_id", "connected_at", "last_seen_at")
BY_PK = [
    "vendor", "model", "serial_number", "firmware_version", "ocpp_version", "last_boot_at",
    "last_seen_at", "connectivity", "gateway_node", "connection_id", "connected_at",
    "enabled", "security_profile", "updated_at",
]  # fmt: skip


def _admin(pg: str, sql: str) -> None:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--stations", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    _admin(args.pg, f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    _admin(args.pg, f'CREATE DATABASE "{NAME}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{args.pg}/{NAME}",
        DATA_DIR=str(ROOT / "var" / NAME),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        run(args.stations, args.rounds)
    finally:
        from django.db import connections

        connections.close_all()
        _admin(args.pg, f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


def run(n: int, rounds: int) -> None:
    from django.db import transaction

    from apps.common.bulk import update_rows, update_where
    from apps.locations.models import ChargeStation
    from apps.parties import api as parties

    op = parties.operator_ensure(slug="bulk-bench", name="Bulk bench")
    ChargeStation.objects.bulk_create(
        [ChargeStation(tenant_id=op, identity=f"BB-{i:05d}") for i in range(n)]
    )
    objs = list(ChargeStation.objects.order_by("id"))
    ids = [s.pk for s in objs]
    attnames = BY_PK  # no foreign keys among them: each name is the attribute

    def storm(way: str, k: int) -> None:
        at = datetime(2026, 12, 7, tzinfo=UTC) + timedelta(seconds=k)
        for i in range(0, n, 200):
            update_where(
                ChargeStation,
                set_fields=STORM,
                where_fields=["id"],
                rows=[("online", "node-a", f"c{s}-{k}", at, at, s) for s in ids[i : i + 200]],
                stamp=False,
                one_statement=way != "executemany",
                convert=way != "values_raw",
            )

    def by_pk(way: str, k: int) -> None:
        for o in objs:
            o.vendor, o.last_boot_at, o.updated_at = f"v{k}", None, datetime.now(UTC)
        for i in range(0, n, 100):
            chunk = objs[i : i + 100]
            if way == "executemany":
                update_rows(ChargeStation, chunk, BY_PK)
            else:
                rows = [[*(getattr(o, a) for a in attnames), o.pk] for o in chunk]
                update_where(
                    ChargeStation,
                    set_fields=BY_PK,
                    where_fields=["id"],
                    rows=rows,
                    stamp=False,
                    one_statement=True,
                )

    shapes: dict[str, tuple[Callable[[str, int], None], tuple[str, ...]]] = {
        "storm": (storm, ("values_raw", "values", "executemany")),
        "by_pk": (by_pk, ("executemany", "values")),
    }
    for shape, (fn, ways) in shapes.items():
        times: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
        for k in range(rounds):
            for way in ways:
                c0, t0 = time.process_time(), time.perf_counter()
                with transaction.atomic():
                    fn(way, k)
                times[way].append((time.perf_counter() - t0, time.process_time() - c0))
        for way, xs in times.items():
            print(
                json.dumps(
                    {
                        "bench": "bulk_update",
                        "shape": shape,
                        "way": way,
                        "rows": n,
                        "rounds": rounds,
                        "wall_s_median": round(statistics.median(x[0] for x in xs), 3),
                        "cpu_s_median": round(statistics.median(x[1] for x in xs), 3),
                        "load_average_1m": round(os.getloadavg()[0], 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
