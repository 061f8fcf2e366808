"""Two renderers of one document at once (the task and a download racing it, or a
redelivered task) store each file once, on PostgreSQL (the document row lock serializes
them; SQLite serializes writers anyway)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from apps.invoicing import api as invoicing
from apps.invoicing.models import DocumentFile
from tests.factories import OperatorFactory
from tests.invoicing.files_world import L, finalized

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_renders_store_each_file_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    doc = finalized(OperatorFactory(), [L("12.34"), L("5.00", rate="9")])
    start = threading.Barrier(2)
    stored: list[list[str]] = []
    errors: list[BaseException] = []

    def render() -> None:
        try:
            start.wait()
            stored.append(invoicing.document_files_render(document_id=doc.pk))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=render) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(map(sorted, stored)) == [[], ["CII", "PDF", "UBL"]]
    rows: Any = DocumentFile.objects.filter(document_id=doc.pk)
    assert sorted(rows.values_list("kind", flat=True)) == ["CII", "PDF", "UBL"]
