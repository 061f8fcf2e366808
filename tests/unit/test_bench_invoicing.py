"""`make bench-invoicing` end to end on a tiny scale (50 customers, 500 CDRs), as
tests/architecture/test_bench_runs.py runs the other benches: its own throw-away template
and run databases (dropped), never the test database; the figures are not checked, only
that the data is what bench/invoicing_data.py promises, every phase either runs or reports
its entry point missing (never crashes), and a phase that runs is correct (every billable
rated line on a draft, own charge never, gapless numbers, nothing exported twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _pg() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"


def _drop_database(name: str) -> None:
    db = settings.DATABASES["default"]
    subprocess.run(
        ["psql", "-h", str(db["HOST"]), "-p", str(db["PORT"]), "-U", str(db["USER"]),
         "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        capture_output=True,
        check=False,
    )  # fmt: skip


@pytest.mark.postgres
def test_bench_invoicing_builds_its_data_and_runs_or_reports_every_phase() -> None:
    name = os.environ.get("BENCH_INVOICING_SMOKE_DB", "bench_invoicing_smoke")
    try:
        done = subprocess.run(
            [sys.executable, "bench/bench_invoicing.py", "--pg", _pg(), "--customers", "50",
             "--cdrs", "500", "--rebuild", "--template", f"{name}_tpl", "--db", name,
             "--sample", "3", "--phases", "drafts,finalize,ubl,pdf,export,files"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=400,
        )  # fmt: skip
    finally:
        _drop_database(name)
        _drop_database(f"{name}_tpl")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    lines: list[dict[str, Any]] = [
        json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")
    ]
    assert lines[0]["bench"] == "start" and [x["bench"] for x in lines[-2:]] == ["summary", "done"]
    (setup,) = [x for x in lines if x["bench"] == "setup"]
    # 500 RETAIL lines + the re-rating of CDR 500 (a REVERSAL and a new LINE), 500 WHOLESALE
    # (every fifth to a partner), 50 REIMBURSEMENT (the payee stations' CDRs).
    assert (setup["customers"], setup["cdrs"], setup["rated_lines"]) == (50, 500, 1052)
    engines = {k: v["lines"] for k, v in setup["per_engine"].items()}
    assert engines == {
        "RETAIL/LINE": 501,
        "RETAIL/REVERSAL": 1,
        "WHOLESALE/LINE": 100,
        "WHOLESALE/LINE/own": 400,
        "REIMBURSEMENT/LINE": 50,
    }
    phases = {x["phase"]: x for x in lines if x["bench"] == "invoicing"}
    assert list(phases) == ["drafts", "finalize", "ubl", "pdf", "export", "files"]
    for phase in phases.values():
        assert phase["status"] in {"ok", "missing", "skipped"}, phase
    drafts = phases["drafts"]
    if drafts["status"] == "ok":
        billed = {t: (v["lines"], Decimal(v["net"])) for t, v in drafts["billed_lines"].items()}
        expected = {t: (v["lines"], Decimal(v["net"])) for t, v in drafts["expected_lines"].items()}
        assert billed == expected
        assert drafts["own_charge_lines_billed"] == 0
        assert drafts["per_type"]["CUSTOMER_INVOICE"]["documents"] == 50
    finalize = phases["finalize"]
    if finalize["status"] == "ok":
        assert finalize["documents"] == finalize["drafts"] and finalize["drafts_left"] == 0
        assert (finalize["duplicate_numbers"], finalize["series_with_gaps"]) == (0, 0)
    if phases["pdf"]["status"] == "ok":
        assert phases["pdf"]["pages"] >= 3
    if phases["export"]["status"] == "ok":
        assert phases["export"]["rated_lines_exported_twice"] == 0
