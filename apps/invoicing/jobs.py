"""The invoicing app's task names (apps.common.jobs, ADR 0026). Names start with
`invoicing.`: the `billing` queue takes them (CELERY_TASK_ROUTES)."""

from __future__ import annotations

from django.db import transaction

from apps.common.jobs import enqueue

RUN_BILLING = "invoicing.run_billing"  # one billing run: rated lines -> drafts
SCHEDULE_RUNS = "invoicing.schedule_runs"  # beat: start the runs whose period (+ grace) ended
RENDER_FILES = "invoicing.render_files"  # a finalized document's PDF / UBL / CII
DELIVER = "invoicing.deliver"  # e-mail a finalized document with its files


def billing_run_enqueue(run_id: int) -> None:
    transaction.on_commit(lambda: enqueue(RUN_BILLING, run_id, ignore_result=True))


def files_render_enqueue(document_ids: list[int]) -> None:
    """After the finalizing transaction commits: render the documents' files."""
    ids = sorted(set(document_ids))
    if ids:
        transaction.on_commit(lambda: enqueue(RENDER_FILES, ids, ignore_result=True))


def deliver_enqueue(document_id: int) -> None:
    transaction.on_commit(lambda: enqueue(DELIVER, document_id, ignore_result=True))
