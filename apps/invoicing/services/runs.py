"""Billing runs: rated lines -> draft documents (area "runs", ADR 0035). To be built."""

from __future__ import annotations

from datetime import datetime


def billing_run_execute(*, run_id: int, now: datetime | None = None) -> None:
    raise NotImplementedError("billing runs are being built (issue 18)")


def billing_runs_schedule(*, now: datetime | None = None) -> list[int]:
    raise NotImplementedError("billing runs are being built (issue 18)")
