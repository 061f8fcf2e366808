"""Thin Celery tasks of the roaming app (queue `roaming`): ids in, one service call,
idempotent, acknowledged late."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.roaming import jobs
from apps.roaming.services import commands_in, exchanges, push


@shared_task(name=jobs.PURGE_EXCHANGE_BODIES, ignore_result=True, acks_late=True)
def purge_exchange_bodies() -> int:
    return exchanges.exchange_bodies_purge(now=timezone.now())


@shared_task(name=jobs.PUSH_DRAIN, ignore_result=True, acks_late=True)
def push_drain(connection_id: int) -> int:
    return push.push_drain(connection_id=connection_id)


@shared_task(name=jobs.PUSHES_DUE, ignore_result=True)
def pushes_due() -> int:
    return push.pushes_due(now=timezone.now())


@shared_task(name=jobs.COMMAND_RUN, ignore_result=True)
def command_run(command_id: int) -> str:
    # Not acks_late: the station command must not be sent twice after a worker crash (the
    # partner then gets no result and its command times out, as OCPI allows).
    return commands_in.command_run(command_id=command_id)
