"""The tariffs app's Celery task names, and how its services queue them (apps.common.jobs)."""

from __future__ import annotations

from apps.common.jobs import enqueue

TARIFF_CODE_IMPORT_RUN = "apps.tariffs.tariff_code_import_run"


def tariff_code_import_run(import_id: int) -> None:
    enqueue(TARIFF_CODE_IMPORT_RUN, import_id)
