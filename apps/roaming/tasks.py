"""Thin Celery tasks of the roaming app (queue `roaming`): ids in, one service call,
idempotent, acknowledged late."""

from __future__ import annotations

import random

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.common.jobs import enqueue
from apps.roaming import jobs
from apps.roaming.services import commands_in, cpo_push, exchanges, push
from apps.roaming.services import emsp_pull as emsp_pull_service

PULL_JITTER_SECONDS = 600.0


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


# -- area "emsp" -------------------------------------------------------------------------------


@shared_task(name=jobs.EMSP_PULL, ignore_result=True, acks_late=True)
def emsp_pull(connection_id: int, module: str, full: bool = False) -> int:
    report = emsp_pull_service.pull_module(
        connection_id=connection_id, module=module, now=timezone.now(), full=full
    )
    return report.stored


@shared_task(name=jobs.EMSP_PARTY_RESYNC, ignore_result=True, acks_late=True)
def emsp_party_resync(
    connection_id: int, country_code: str, party_id: str, offline_since: str | None
) -> int:
    reports = emsp_pull_service.party_resync(
        connection_id=connection_id,
        country_code=country_code,
        party_id=party_id,
        offline_since=parse_datetime(offline_since) if offline_since else None,
        now=timezone.now(),
    )
    return sum(r.stored for r in reports)


@shared_task(name=jobs.EMSP_PULL_ALL, ignore_result=True)
def emsp_pull_all(full: bool = False) -> int:
    """Incremental every few hours (with jitter: partners dislike synchronised crawlers),
    full at night (settings CELERY_BEAT_SCHEDULE)."""
    targets = emsp_pull_service.pull_targets()
    for connection_id, module in targets:
        enqueue(
            jobs.EMSP_PULL,
            connection_id,
            module,
            full,
            ignore_result=True,
            countdown=0 if full else random.uniform(0, PULL_JITTER_SECONDS),
        )
    return len(targets)


# -- area "cpo" ------------------------------------------------------------------------------


@shared_task(name=jobs.OCPI_EVENTS, ignore_result=True, acks_late=True)
def ocpi_events(payload: str) -> int:
    return cpo_push.ocpi_events_handle(payload=payload)


@shared_task(name=jobs.CPO_LOCATIONS_SYNC, ignore_result=True)
def cpo_locations_sync() -> int:
    return cpo_push.cpo_locations_sync(now=timezone.now())
