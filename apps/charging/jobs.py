"""Queueing the charging worker's work by task name, from below the tasks layer (the app's
`jobs` module, as every app's: `apps.common.jobs`, ADR 0026).

Inside the app, tasks sit above services (pyproject `app-internal-layers`): a task calls a
service, never the reverse. Yet the intake service must queue the processing of what it
stored once its transaction commits, and the sweeps queue the same work. So the work is
published by name (`celery.current_app.send_task`, what a task's `apply_async` does after
reading the task's options): the name is the contract between publisher and worker (routing
is by name as well: `apps.charging.*` goes to the `charging` queue), and `tasks.py` declares
its tasks with the names defined here, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from apps.common.jobs import enqueue

TRANSACTION_PROCESS = "apps.charging.transaction_process"
TRANSACTIONS_PROCESS = "apps.charging.transactions_process"

# Keys per `transactions_process` message: large enough that a worker's fixed cost per task
# (a dozen statements, the broker) is shared by many transactions, small enough that a big
# batch still spreads over the workers (bench/worker_cost.py, docs/benchmarks.md).
KEYS_PER_TASK = 50


def transactions_enqueue(keys: Iterable[tuple[int, str]]) -> None:
    """Publish the processing of (station, transaction) pairs, `KEYS_PER_TASK` per message
    (nobody waits for the result: no result backend round trip per task)."""
    ordered = sorted(set(keys))
    for i in range(0, len(ordered), KEYS_PER_TASK):
        chunk = [[station, txid] for station, txid in ordered[i : i + KEYS_PER_TASK]]
        enqueue(TRANSACTIONS_PROCESS, chunk, ignore_result=True)


# The billing engines' task (apps.rating sits above charging, so its name is repeated here;
# tests/architecture/test_jobs.py checks it is a registered task). ADR 0031.
RATING_RATE_CDRS = "rating.rate_cdrs"
RATING_CDRS_PER_TASK = 500


def cdrs_rate_enqueue(cdr_ids: Iterable[int]) -> None:
    """Publish the rating of freshly stored CDRs (the caller queues this on commit)."""
    ordered = sorted(set(cdr_ids))
    for i in range(0, len(ordered), RATING_CDRS_PER_TASK):
        enqueue(RATING_RATE_CDRS, ordered[i : i + RATING_CDRS_PER_TASK], ignore_result=True)
