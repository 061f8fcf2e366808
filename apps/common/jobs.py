"""Queueing a Celery task by its registered name.

Inside an app the tasks sit above the services (a task is a thin shell: ids in, one service
call), so a service that queues work must not import the task it queues: that is a cycle. It
queues the task by name instead. Each app keeps the names of its tasks in its own `jobs`
module, below its services: `tasks` registers each task under its name, `services` queues it
through the typed function beside the name. `tests/architecture/test_jobs.py` checks that
every name is a registered task, so a misspelt name fails there rather than in a worker.

Queue after commit (`transaction.on_commit`) when the task reads what the caller writes.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue(
    name: str, *args: Any, ignore_result: bool = False, countdown: float | None = None
) -> None:
    """Send the task registered as `name` with positional `args` (what `task.delay(*args)`
    sends: the routes in settings apply by name). `ignore_result`: nobody waits for it, so
    no result is stored (a task declared with `ignore_result=True`). `countdown`: run it no
    sooner than this many seconds from now."""
    options: dict[str, Any] = {}
    if ignore_result:
        options["ignore_result"] = True
    if countdown is not None and countdown > 0:
        options["countdown"] = countdown
    current_app.send_task(name, args=args, **options)
