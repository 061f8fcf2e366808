"""The intake and the sweeps queue the worker's work by task name (ADR 0022): the names are
the ones the worker registers, the messages go to the charging queue, `KEYS_PER_TASK` keys
each, and nobody waits for a result."""

from __future__ import annotations

from typing import Any

import pytest

from apps.charging import jobs, tasks
from config.celery import app


def test_work_is_published_under_the_names_the_worker_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options)))
    keys = [(2, "b"), (1, "a"), (1, "a")] + [(3, f"t{i:02d}") for i in range(60)]
    jobs.transactions_enqueue(keys)
    assert [name for name, _ in sent] == [jobs.TRANSACTIONS_PROCESS] * 2
    first, second = (options["args"][0] for _, options in sent)
    assert first[:3] == [[1, "a"], [2, "b"], [3, "t00"]]  # sorted, each key once
    assert len(first) == jobs.KEYS_PER_TASK and len(first) + len(second) == 62
    assert all(options["ignore_result"] for _, options in sent)
    for name, task in [
        (jobs.TRANSACTIONS_PROCESS, tasks.transactions_process),
        (jobs.TRANSACTION_PROCESS, tasks.transaction_process),
    ]:
        assert task.name == name and app.tasks[name].name == name
        assert app.amqp.router.route({}, name)["queue"].name == "charging"
