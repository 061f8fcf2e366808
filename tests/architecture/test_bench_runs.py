"""Every `make bench-*` that measures a target of an issue runs end to end here on a small
scale, so a change elsewhere cannot break a benchmark unseen (the portal's raw-SQL data build
broke once on a new NOT NULL column). Each uses its own throw-away PostgreSQL database and its
reserved Redis dbs (docs/benchmarks.md), never the test database; the figures are not checked
here, only that the run completes and its correctness counts are clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _server() -> tuple[str, str]:
    """PostgreSQL and Redis of this test run, as the benches take them (no database name)."""
    db = settings.DATABASES["default"]
    redis_url = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return (
        f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}",
        urlunparse(redis_url._replace(path="")),
    )


def _drop_database(name: str) -> None:
    db = settings.DATABASES["default"]
    subprocess.run(
        ["psql", "-h", str(db["HOST"]), "-p", str(db["PORT"]), "-U", str(db["USER"]),
         "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        capture_output=True,
        check=False,
    )  # fmt: skip


def _run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> list[Any]:
    """Run a bench script; its JSON lines (the run must end with exit status 0)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.postgres
def test_bench_portal_builds_its_data_and_measures_every_page() -> None:
    pg, _ = _server()
    env = {**os.environ, "BENCH_PORTAL_DATABASE_URL": f"{pg}/bench_portal_smoke"}
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
        _drop_database("bench_portal_smoke")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    pages = [x for x in lines if x["bench"] == "portal_page"]
    assert lines[0]["bench"] == "setup" and lines[-1]["bench"] == "done"
    assert len(pages) == 29 and all(p["queries"] > 0 for p in pages)
    assert {"sessions: newer than row 1,000 (keyset, back)", "audit log"} <= {
        p["page"] for p in pages
    }


@pytest.mark.postgres
def test_bench_gateway_holds_loads_commands_and_storms() -> None:
    """`make bench-gateway` with 40 stations on one driver, no baseline: every station held,
    every CALL answered, every command accepted, every station back after the storm."""
    pg, redis_url = _server()
    lines = _run(
        ["bench/bench_gateway.py", "--pg", pg, "--redis", redis_url, "--stations", "40",
         "--drivers", "1", "--rates", "100", "--load-seconds", "2", "--idle-seconds", "1",
         "--commands", "10", "--no-baseline"],
        timeout=180,
    )  # fmt: skip
    phases = {x["phase"]: x for x in lines}
    assert (phases["held"]["held"], phases["held"]["connect_errors"]) == (40, 0)
    assert phases["load"]["errors"] == 0 and phases["load"]["answered"] >= 150
    assert phases["load"]["commands"]["outcomes"] == {"ACCEPTED": 10}
    assert (phases["storm"]["held_after"], phases["storm"]["errors"]) == (40, 0)
    assert lines[-1]["phase"] == "summary" and lines[-1]["stations_held"] == 40


@pytest.mark.postgres
def test_bench_cdr_pipeline_one_cdr_per_session_with_exact_totals() -> None:
    pg, redis_url = _server()
    lines = _run(
        ["bench/bench_cdr_pipeline.py", "--pg", pg, "--redis", redis_url, "--stations", "15",
         "--workers", "1", "--timeout", "120"],
        timeout=240,
    )  # fmt: skip
    runs = [x for x in lines if "protocol" in x and "cdrs" in x]
    assert [(r["rating"], r["protocol"], r["sessions"], r["cdrs"]) for r in runs] == [
        ("off", "1.6", 15, 15),
        ("off", "2.0.1", 15, 15),
        ("on", "1.6", 15, 15),
        ("on", "2.0.1", 15, 15),
    ]
    for r in runs:
        bad = ("sessions_without_cdr", "sessions_with_two_cdrs", "cdrs_with_wrong_totals")
        assert [r[k] for k in bad] == [0, 0, 0], r
    for r in runs[2:]:  # rating on: every CDR rated by the worker (lines or flags)
        assert r["rated_cdrs"] == 15, r


@pytest.mark.postgres
def test_bench_rating_rates_a_small_run_and_doubles_nothing() -> None:
    """`make bench-rating` on 2,000 CDRs (template and run database of its own, dropped):
    the 10,000 rules, matching timed per engine, every CDR rated by two processes, no CDR
    with two lines of one engine."""
    pg, _ = _server()
    name = os.environ.get("BENCH_RATING_SMOKE_DB", "bench_rating_smoke")
    try:
        lines = _run(
            ["bench/bench_rating.py", "--pg", pg, "--cdrs", "2000", "--rebuild",
             "--template", f"{name}_tpl", "--db", name, "--match-sample", "500"],
            timeout=400,
        )  # fmt: skip
    finally:
        _drop_database(name)
        _drop_database(f"{name}_tpl")
    (setup,) = [x for x in lines if x["bench"] == "setup"]
    assert (setup["cdrs"], setup["rules"]) == (2000, 10000)
    matches = {x["engine"]: x for x in lines if x["bench"] == "rule_match"}
    assert sorted(matches) == ["REIMBURSEMENT", "RETAIL", "WHOLESALE"]
    assert all(m["samples"] > 0 for m in matches.values())
    (rating,) = [x for x in lines if x["bench"] == "rating"]
    assert rating["cdrs"] == 2000 and rating["cdr_engines_with_two_lines"] == 0, rating
    assert rating["lines"] > 2000, rating
    assert lines[-1]["bench"] == "done"


@pytest.mark.postgres
def test_kill_test_loses_and_doubles_nothing() -> None:
    """`make bench-kill` on 40 stations: the gateway and a worker are killed mid-run."""
    pg, redis_url = _server()
    lines = _run(
        ["bench/kill_test.py", "--pg", pg, "--redis", redis_url, "--stations", "40",
         "--kill-gateway-after", "3", "--kill-worker-after", "6", "--timeout", "150"],
        timeout=240,
    )  # fmt: skip
    (result,) = [x for x in lines if x.get("bench") == "kill_test"]
    assert (result["stopped_sessions"], result["cdrs"]) == (40, 40), result
    clean = (
        "sessions_without_cdr", "sessions_with_two_cdrs", "cdrs_with_wrong_totals",
        "answered_messages_missing_from_event_log", "duplicate_event_keys",
        "transactions_with_two_starts_or_ends", "db_sessions_without_cdr",
    )  # fmt: skip
    assert {k: result[k] for k in clean} == dict.fromkeys(clean, 0)


@pytest.mark.postgres
def test_bench_api_pages_bulk_and_single_upserts() -> None:
    """`make bench-api` on 3,000 CDRs, a few requests of each kind (wrk when installed, the
    Python client otherwise)."""
    pg, _ = _server()
    try:
        lines = _run(
            ["bench/bench_api.py", "--rebuild", "--page-requests", "5", "--upsert-seconds", "1",
             "--threads", "2", "--connections", "2"],
            env={"BENCH_DATABASE_URL": f"{pg}/bench_api_smoke", "BENCH_CDRS": "3000"},
            timeout=180,
        )  # fmt: skip
    finally:
        _drop_database("bench_api_smoke")
    kinds = [x["bench"] for x in lines]
    assert kinds[0] == "setup" and kinds[-1] == "done"
    pages = [x for x in lines if x["bench"] == "cdr_page"]
    assert [p["rows"] for p in pages[:4]] == [100, 100, 100, 100] and len(pages) == 5
    bulk = [x for x in lines if x["bench"] == "token_bulk_upsert"]
    assert [(b["created"], b["updated"]) for b in bulk] == [(10000, 0), (0, 10000), (0, 10000)]
    (single,) = [x for x in lines if x["bench"] == "token_single_upsert"]
    assert single["errors"] == 0 and single["requests"] > 0


def test_bench_pricing_quick_run_reprices_without_mismatch() -> None:
    """`make bench-pricing` on a few thousand sessions (no database): the mixed case, the
    rounding comparison and the end-to-end re-pricing of JSON lines are measured, and the
    latter agrees with the sample it re-checks."""
    lines = _run(
        ["bench/bench_pricing.py", "--quick", "--jsonl", "2000", "--processes", "1"], timeout=120
    )
    cases = {x["case"]: x for x in lines if x.get("bench") == "pricing" and "case" in x}
    assert {"mix", "floor_decimal_loop", "jsonl_end_to_end"} <= cases.keys()
    end_to_end = cases["jsonl_end_to_end"]
    assert end_to_end["cdrs"] == 2000 and end_to_end["sample_mismatches"] == 0
    assert end_to_end["verified_sample"] >= 1


def test_bench_rule_match_quick_run_measures_every_engine() -> None:
    """`make bench-rule-match` on 1,000 rules and 5,000 sessions (no database): every engine
    measured on every session, and its index holds every rule version."""
    lines = _run(["bench/bench_rule_match.py", "--quick"], timeout=120)
    engines = {x["engine"]: x for x in lines if x.get("bench") == "rule_match"}
    assert set(engines) == {"WHOLESALE", "RETAIL", "REIMBURSEMENT"}
    for x in engines.values():
        assert x["rules"] == 1000 and x["rule_versions"] >= 1000
        assert x["matched"] + x["no_rule"] + x["ambiguous"] == x["facts"] == 5000
        assert x["matched"] > 0


@pytest.mark.postgres
def test_bench_bulk_update_measures_both_ways_of_both_shapes() -> None:
    """`bench/bulk_update.py` (the evidence for `apps.common.bulk.update_where`'s two ways)
    on 50 stations: every shape and way measured on all rows."""
    pg, _ = _server()
    lines = _run(["bench/bulk_update.py", "--pg", pg, "--stations", "50", "--rounds", "1"],
                 timeout=180)  # fmt: skip
    assert {(x["shape"], x["way"]) for x in lines} == {
        ("storm", "values_raw"),
        ("storm", "values"),
        ("storm", "executemany"),
        ("by_pk", "executemany"),
        ("by_pk", "values"),
    }
    assert {x["rows"] for x in lines} == {50}


@pytest.mark.postgres
def test_bench_ocpi_pulls_pushes_and_receives_with_clean_counts() -> None:
    pg, _ = _server()
    env = {"BENCH_OCPI_DATABASE_URL": f"{pg}/bench_ocpi_smoke", "OUTBOUND_HTTP_ALLOW_LOOPBACK": "1"}
    args = ["bench/bench_ocpi.py", "--rebuild", "--locations", "120", "--evses-per-location", "2"]
    args += ["--cdrs", "60", "--pull-rounds", "1", "--fail-every", "25", "--status-changes", "5"]
    try:
        # 240 s: the receive phase starts uvicorn worker processes (87 s in all at load ~5).
        lines = _run(args, timeout=240, env=env)
    finally:
        _drop_database("bench_ocpi_smoke")
    by = {x["bench"]: x for x in lines}
    assert lines[0]["bench"] == "setup" and lines[-1]["bench"] == "done"
    assert (by["setup"]["locations"], by["setup"]["evses"]) == (120, 240)
    pull = by["pull"]
    assert (pull["total_count"], pull["items"], pull["evses"]) == (120, 120, 240)
    assert (pull["pages"], pull["duplicates"], pull["errors"]) == (2, 0, 0)  # 100 a page
    push = by["push"]
    assert push["receiver_500s"] == 2 and push["receiver_requests"] == 62  # retried
    assert push["arrived_once"] == 60 and push["arrived_twice_or_more"] == 0
    assert push["outbox"] == {"SENT": 60}
    receive = by["receive"]
    assert receive["http_statuses"] == {"201": 60} and receive["repeat_statuses"] == {"200": 10}
    assert (receive["stored"], receive["billed"], receive["not_billed"]) == (60, 60, 0)
    assert receive["total_5_75_excl_vat"] == 60  # re-priced against the PUT tariff
    assert (receive["mode"], receive["clients"]) == ("server", 8)  # uvicorn over loopback HTTP
    status = by["status"]  # through a real Celery worker to the loopback receiver
    assert (status["changes"], status["arrived_once"], status["patches"]) == (5, 5, 5)
    assert all(x["counts_clean"] for x in (pull, push, receive, status))
