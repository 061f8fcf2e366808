from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.tariffs.tariff_code_import_run", acks_late=True)
def tariff_code_import_run(import_id: int) -> None:
    from apps.tariffs.portal import tariff_code_import_run as run

    run(import_id=import_id)
