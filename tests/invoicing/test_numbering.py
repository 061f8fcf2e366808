"""Gapless numbers (ADR 0037): the series' format, a rolled-back finalize gives its number
back, and on PostgreSQL 8 concurrent finalizers (threads, each its own connection) take
1..8N with no gap and no repeat, also when one of them rolls back a finalize."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.db import connection, transaction

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.invoicing import api as invoicing_api
from apps.invoicing import jobs as invoicing_jobs
from apps.invoicing.models import Document, InvoicingSettings
from apps.invoicing.services import numbering
from tests.factories import OperatorFactory
from tests.invoicing.documents_world import AFTER_GRACE, draft

ACTOR = Actor.system("test: numbering")
WORKERS = 8
PER_WORKER = 6


class _RolledBack(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_queued_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A committed finalize queues its files' render. The suite's session-wide Celery worker
    (started by an earlier functional test) would take it and lock these rows while the
    test's teardown truncates the tables (CI: "deadlock detected", the flush failed)."""
    monkeypatch.setattr(invoicing_jobs, "enqueue", lambda *args, **kwargs: None)


def test_number_text_and_series_name() -> None:
    assert numbering.number_text(prefix="INV", year=2026, n=42) == "INV-2026-000042"
    assert numbering.number_text(prefix="CN", year=None, n=1_234_567) == "CN-1234567"
    assert (
        numbering.series_name(tenant_id=7, doc_type="SELF_BILLING", year=None)
        == "invoicing/7/SELF_BILLING/all"
    )


def test_a_number_is_taken_only_in_a_transaction() -> None:
    with pytest.raises(RuntimeError, match="inside the finalizing transaction"):
        numbering.next_number(
            tenant_id=1,
            doc_type="CUSTOMER_INVOICE",
            issue_date=date(2026, 4, 1),
            settings=InvoicingSettings(tenant_id=1),
        )


@pytest.mark.django_db
def test_a_rolled_back_finalize_gives_its_number_back() -> None:
    tenant = OperatorFactory(slug="numbers-rollback")
    a, b = draft(tenant), draft(tenant)
    with pytest.raises(_RolledBack):
        with transaction.atomic():
            number = invoicing_api.document_finalize(
                tenant_id=tenant.pk, document_id=a.pk, actor=ACTOR, now=AFTER_GRACE
            )
            assert number == "INV-2026-000001"
            raise _RolledBack
    a.refresh_from_db()
    assert (a.status, a.number) == ("DRAFT", "")
    assert (
        invoicing_api.document_finalize(
            tenant_id=tenant.pk, document_id=b.pk, actor=ACTOR, now=AFTER_GRACE
        )
        == "INV-2026-000001"
    )


def _run_workers(work: list[Any]) -> list[BaseException]:
    """Run each callable in its own thread (its own connection), all released at once."""
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            start.wait(timeout=30)
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a finalizer hangs"
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_finalizers_take_every_number_once() -> None:
    tenant = OperatorFactory(slug="numbers-concurrent")
    batches = [[draft(tenant).pk for _ in range(PER_WORKER)] for _ in range(WORKERS)]
    victim = draft(tenant).pk  # finalized in a transaction that rolls back

    def singles(ids: list[int], roll_back_after: int | None = None) -> Any:
        def work() -> None:
            for i, pk in enumerate(ids):
                invoicing_api.document_finalize(
                    tenant_id=tenant.pk, document_id=pk, actor=ACTOR, now=AFTER_GRACE
                )
                if i == roll_back_after:
                    try:
                        with transaction.atomic():
                            invoicing_api.document_finalize(
                                tenant_id=tenant.pk,
                                document_id=victim,
                                actor=ACTOR,
                                now=AFTER_GRACE,
                            )
                            raise _RolledBack
                    except _RolledBack:
                        pass

        return work

    def bulk(ids: list[int]) -> Any:
        def work() -> None:
            invoicing_api.documents_finalize(
                tenant_id=tenant.pk, document_ids=ids, actor=ACTOR, now=AFTER_GRACE, chunk_size=2
            )

        return work

    # Six finalize one by one (one of them also rolls a finalize back); two in bulk chunks.
    work = [singles(ids, roll_back_after=2 if i == 0 else None) for i, ids in enumerate(batches)]
    work[-2:] = [bulk(batches[-2]), bulk(batches[-1])]
    errors = _run_workers(work)
    assert errors == []
    numbers = list(
        Document.objects.filter(tenant=tenant, status="FINALIZED").values_list("number", flat=True)
    )
    total = WORKERS * PER_WORKER
    assert len(numbers) == total
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, total + 1)]
    assert Document.objects.get(pk=victim).status == "DRAFT"
    # The series' row holds the last number given: the rolled-back one was given again.
    assert (
        invoicing_api.document_finalize(
            tenant_id=tenant.pk, document_id=victim, actor=ACTOR, now=AFTER_GRACE
        )
        == f"INV-2026-{total + 1:06d}"
    )
    # Within each bulk worker's documents, numbers follow ids.
    for ids in batches[-2:]:
        got = list(
            Document.objects.filter(pk__in=ids).order_by("id").values_list("number", flat=True)
        )
        assert got == sorted(got)


@pytest.mark.django_db(transaction=True)
def test_a_bulk_chunk_that_fails_gives_its_block_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk 2 of 3 fails after taking its block of numbers: chunk 1 stays finalized, chunk
    2 rolls back with its numbers, and the next finalize continues with no gap."""
    tenant = OperatorFactory(slug="numbers-bulk-rollback")
    ids = [draft(tenant).pk for _ in range(6)]
    emit = integrations_api.webhook_events_emit
    calls = {"n": 0}

    def failing_second(**kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise _RolledBack
        return int(emit(**kw))

    monkeypatch.setattr(integrations_api, "webhook_events_emit", failing_second)
    with pytest.raises(_RolledBack):
        invoicing_api.documents_finalize(
            tenant_id=tenant.pk, document_ids=ids, actor=ACTOR, now=AFTER_GRACE, chunk_size=2
        )
    monkeypatch.undo()
    assert list(
        Document.objects.filter(pk__in=ids).order_by("id").values_list("number", flat=True)
    ) == ["INV-2026-000001", "INV-2026-000002", "", "", "", ""]
    result = invoicing_api.documents_finalize(
        tenant_id=tenant.pk, document_ids=ids, actor=ACTOR, now=AFTER_GRACE, chunk_size=2
    )
    assert [n for _, n in result.finalized] == [f"INV-2026-{n:06d}" for n in range(3, 7)]
    assert len(result.refused) == 2  # the two finalized before
