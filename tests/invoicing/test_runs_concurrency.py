"""Two schedulers at once (beat on two machines) make one scheduled run per tenant, frequency
and period; two workers executing the same run bill every line once (PostgreSQL: real
concurrent transactions)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from apps.invoicing import api
from apps.invoicing import jobs as invoicing_jobs
from apps.invoicing.models import BillingRun, Document, DocumentLine
from apps.invoicing.services import runs as run_services
from tests.factories import CustomerFactory
from tests.invoicing import runs_world as w

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL")


@pytest.fixture(autouse=True)
def _no_queued_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests execute their runs themselves, in the threads they choose. A started run is
    queued on commit; the suite's session-wide Celery worker (started by an earlier
    functional test) would take it and execute it alongside (CI: a run DONE with 5 of 7
    groups counted, the worker's count)."""
    monkeypatch.setattr(invoicing_jobs, "enqueue", lambda *args, **kwargs: None)


def together(n: int, fn: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_two_schedulers_make_one_run_per_period() -> None:
    m = w.market()
    c = w.session(m, ended=w.IN_MARCH)
    w.retail(m, c, "1.00")
    w.wholesale(m, c, "1.00")
    now = w.MARCH_END + timedelta(days=5)

    results = together(2, lambda: api.billing_runs_schedule(now=now))

    runs = BillingRun.objects.filter(trigger="SCHEDULE", period_start=w.MARCH_START)
    assert runs.count() == 2  # one per tenant with rated lines
    assert sorted(i for r in results for i in r) == sorted(r.pk for r in runs)


def test_two_workers_on_one_run_bill_every_line_once() -> None:
    m = w.market()
    for i in range(40):
        customer = CustomerFactory(party=m.emsp_party, tenant=m.emsp_tenant, name=f"D{i}")
        for _ in range(3):
            w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00", customer=customer)
    run_id = api.billing_run_start(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        frequency="MONTHLY",
        period_start=w.IN_MARCH.date(),
        now=w.AFTER_MARCH,
    )
    BillingRun.objects.filter(pk=run_id).update(status="RUNNING")  # both see a redelivery

    together(2, lambda: api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH))

    assert DocumentLine.objects.count() == 120
    assert DocumentLine.objects.values("rated_line").distinct().count() == 120
    assert Document.objects.filter(billing_run_id=run_id).count() == 40
    run = BillingRun.objects.get(pk=run_id)
    assert run.status == "DONE" and run.documents_created == 40


def test_a_run_outside_a_transaction_streams_across_its_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in a worker (autocommit): the server-side cursor outlives each batch's commit."""
    m = w.market()
    for i in range(7):
        customer = CustomerFactory(party=m.emsp_party, tenant=m.emsp_tenant, name=f"S{i}")
        w.retail(m, w.session(m, ended=w.IN_MARCH), "1.00", customer=customer)
        w.retail(m, w.session(m, ended=w.IN_MARCH), "2.00", customer=customer)
    monkeypatch.setattr(run_services, "BATCH_GROUPS", 2)
    run_id = api.billing_run_start(
        tenant_id=m.emsp_tenant.pk,
        actor=w.ACTOR,
        frequency="MONTHLY",
        period_start=w.IN_MARCH.date(),
        now=w.AFTER_MARCH,
    )
    assert connection.get_autocommit()

    api.billing_run_execute(run_id=run_id, now=w.AFTER_MARCH)

    run = BillingRun.objects.get(pk=run_id)
    assert (run.status, run.groups_done, run.documents_created, run.lines_billed) == (
        "DONE",
        7,
        7,
        14,
    )
    assert {d.net_total for d in Document.objects.filter(billing_run_id=run_id)} == {
        Decimal("3.00")
    }
