"""The task queue runs real worker processes: on the embedded default (kombu's filesystem
transport, no server) and in CI (Redis), the same test sends a task and a separate worker
process executes it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from django.conf import settings

from apps.common.tasks import ping
from config.env import BASE_DIR


def test_a_worker_process_executes_a_task() -> None:
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = ping.apply_async(args=["hello"], queue=queue)
        value = result.get(timeout=90)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert value["token"] == "hello", output
    # Executed by the worker process (solo pool: in its main process), not by this one.
    assert value["pid"] == worker.pid
    assert value["pid"] != os.getpid()
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    assert transport in {"filesystem", "redis"}
