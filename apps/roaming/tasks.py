"""Thin Celery tasks of the roaming app (queue `roaming`): ids in, one service call,
idempotent, acknowledged late."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.roaming import jobs
from apps.roaming.services import cpo_push, exchanges, push


@shared_task(name=jobs.PURGE_EXCHANGE_BODIES, ignore_result=True, acks_late=True)
def purge_exchange_bodies() -> int:
    return exchanges.exchange_bodies_purge(now=timezone.now())


@shared_task(name=jobs.PUSH_DRAIN, ignore_result=True, acks_late=True)
def push_drain(connection_id: int) -> int:
    return push.push_drain(connection_id=connection_id)


@shared_task(name=jobs.PUSHES_DUE, ignore_result=True)
def pushes_due() -> int:
    return push.pushes_due(now=timezone.now())


# -- area "cpo" ------------------------------------------------------------------------------


@shared_task(name=jobs.OCPI_EVENTS, ignore_result=True, acks_late=True)
def ocpi_events(payload: str) -> int:
    return cpo_push.ocpi_events_handle(payload=payload)


@shared_task(name=jobs.CPO_LOCATIONS_SYNC, ignore_result=True)
def cpo_locations_sync() -> int:
    return cpo_push.cpo_locations_sync(now=timezone.now())
