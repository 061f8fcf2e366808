"""Two posters at once on PostgreSQL (one advisory lock per tenant): the same period gives
one batch; overlapping periods split the lines, none exported twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from apps.invoicing import api
from apps.invoicing.models import ExportBatch, ExportedLine
from tests.invoicing.finance_world import ACTOR, MARCH, POSTED, world

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls: list[dict[str, object]]) -> list[object]:
    results: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = api.export_batch_post(**calls[i])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_posts_never_export_a_line_twice() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite has one writer)")
    w = world()
    a = w.m.cpo_tenant.pk
    march = {
        "tenant_id": a,
        "period_start": MARCH[0],
        "period_end": MARCH[1],
        "actor": ACTOR,
        "now": POSTED,
    }
    wider = {**march, "period_start": datetime(2026, 1, 1, tzinfo=UTC)}
    results = _race([march, dict(march), wider])
    assert not [r for r in results if isinstance(r, Exception)], results
    batches = list(ExportBatch.objects.filter(tenant_id=a).order_by("number"))
    assert [b.number for b in batches] == [1, 2]
    lines = list(ExportedLine.objects.filter(tenant_id=a).values_list("rated_line_id", flat=True))
    assert len(lines) == len(set(lines)) == 4  # own charge never exported
    march_ids = {r.batch.id for r in results[:2]}  # type: ignore[attr-defined]
    assert len(march_ids) == 1  # the same period twice: one batch
