"""Thin tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from apps.tariffs import jobs, services


@shared_task(name=jobs.TARIFF_CODE_IMPORT_RUN, acks_late=True)
def tariff_code_import_run(import_id: int) -> None:
    services.tariff_code_import_run(import_id=import_id)
