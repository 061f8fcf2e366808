"""Thin Celery tasks of the invoicing app (queue `billing`): ids in, one service call,
idempotent. Acknowledged late (settings): a worker killed mid-task has its message
redelivered; each service finds what an earlier attempt committed and does not repeat it."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.common.contracts import Actor
from apps.invoicing import jobs
from apps.invoicing.services import delivery, files, runs

ACTOR = Actor.system("invoicing worker")

_RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


@shared_task(name=jobs.RUN_BILLING, ignore_result=True, **_RETRY)
def run_billing(run_id: int) -> None:
    """Make the drafts of one billing run (apps.invoicing.services.runs)."""
    runs.billing_run_execute(run_id=run_id)


@shared_task(name=jobs.SCHEDULE_RUNS, ignore_result=True, **_RETRY)
def schedule_runs() -> None:
    """Beat: start every scheduled run whose period and grace period have ended."""
    runs.billing_runs_schedule()


@shared_task(name=jobs.RENDER_FILES, ignore_result=True, **_RETRY)
def render_files(document_ids: list[int]) -> None:
    """Render and store the files of finalized documents (apps.invoicing.services.files)."""
    for document_id in document_ids:
        files.document_files_render(document_id=document_id)


@shared_task(name=jobs.DELIVER, ignore_result=True, **_RETRY)
def deliver(document_id: int) -> None:
    """E-mail a finalized document with its files (apps.invoicing.services.delivery)."""
    delivery.document_deliver(document_id=document_id, actor=ACTOR)
