"""Platform-level tasks. `ping` proves that a worker process really executes tasks."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="apps.common.ping")
def ping(token: str) -> dict[str, object]:
    return {"token": token, "pid": os.getpid(), "hostname": socket.gethostname()}
