"""The portal benchmark runs end to end on a small data set (it builds its data with raw SQL,
so a model change that adds a NOT NULL column breaks it silently otherwise: it did once).
Its own throw-away PostgreSQL database, not the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_bench_portal_builds_its_data_and_measures_every_page() -> None:
    db = settings.DATABASES["default"]
    server = urlparse(f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/")
    url = urlunparse(server._replace(path="/bench_portal_smoke"))
    env = {**os.environ, "BENCH_PORTAL_DATABASE_URL": url}
    env.update(BENCH_SESSIONS="2000", BENCH_CDRS="5000")
    try:
        done = subprocess.run(
            [sys.executable, "bench/bench_portal.py", "--rebuild", "--requests", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        subprocess.run(
            ["psql", "-h", str(db["HOST"]), "-p", str(db["PORT"]), "-U", str(db["USER"]),
             "-d", "postgres", "-c", "DROP DATABASE IF EXISTS bench_portal_smoke"],
            capture_output=True,
            check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    pages = [x for x in lines if x["bench"] == "portal_page"]
    assert lines[0]["bench"] == "setup" and lines[-1]["bench"] == "done"
    assert len(pages) == 29 and all(p["queries"] > 0 for p in pages)
    assert {"sessions: newer than row 1,000 (keyset, back)", "audit log"} <= {
        p["page"] for p in pages
    }
