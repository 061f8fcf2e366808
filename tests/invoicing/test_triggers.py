"""The PostgreSQL guards of migration 0001 (ADR 0037): raw SQL through the connection may
not UPDATE or DELETE a finalized (or discarded) document, its lines, its VAT breakdown or its
files, nor add lines to it; a draft may be edited; nothing is ever deleted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.common.contracts import Actor
from apps.invoicing import api as invoicing_api
from apps.invoicing.models import Document, DocumentFile, DocumentLine
from tests.factories import OperatorFactory
from tests.invoicing.documents_world import AFTER_GRACE, draft

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
ACTOR = Actor.system("test: triggers")


def _refused(sql: str, params: list[Any], match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _ok(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@pytest.fixture
def finalized() -> Document:
    tenant = OperatorFactory(slug="triggers")
    doc = draft(tenant, [("10.00", "21"), ("2.00", "9")])
    invoicing_api.document_finalize(
        tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, now=AFTER_GRACE
    )
    return Document.objects.get(pk=doc.pk)


def test_a_finalized_document_refuses_update_and_delete(finalized: Document) -> None:
    pk = finalized.pk
    _refused("UPDATE invoicing_document SET total = 0 WHERE id = %s", [pk], "immutable")
    _refused(
        "UPDATE invoicing_document SET status = 'DRAFT', number = '' WHERE id = %s",
        [pk],
        "immutable",
    )
    _refused("DELETE FROM invoicing_document WHERE id = %s", [pk], "never deleted")
    finalized.refresh_from_db()
    assert (finalized.status, finalized.total) == ("FINALIZED", Decimal("14.28"))


def test_its_lines_and_breakdown_refuse_every_change(finalized: Document) -> None:
    pk = finalized.pk
    line_id = DocumentLine.objects.filter(document_id=pk).values_list("id", flat=True)[0]
    _refused("UPDATE invoicing_documentline SET net = 0 WHERE id = %s", [line_id], "immutable")
    _refused(
        "UPDATE invoicing_documentline SET active = false WHERE id = %s", [line_id], "immutable"
    )
    _refused("DELETE FROM invoicing_documentline WHERE id = %s", [line_id], "never deleted")
    _refused(
        "INSERT INTO invoicing_documentline (tenant_id, created_at, updated_at, document_id, "
        "position, section, kind, active, description, location, evse, energy_kwh, "
        "duration_hours, fixed, energy, time, parking, reservation, adjustment, net, "
        "vat_category, vat_rate, exemption_reason) SELECT tenant_id, now(), now(), id, 99, "
        "'PERIOD', 'SESSION', true, '', '', '', 0, 0, 0, 0, 0, 0, 0, 0, 1, 'S', 21, '' "
        "FROM invoicing_document WHERE id = %s",
        [pk],
        "immutable",
    )
    _refused("UPDATE invoicing_vatbreakdown SET vat = 0 WHERE document_id = %s", [pk], "immutable")
    _refused("DELETE FROM invoicing_vatbreakdown WHERE document_id = %s", [pk], "never deleted")
    assert DocumentLine.objects.filter(document_id=pk).count() == 2


def test_its_files_refuse_update_and_delete(finalized: Document) -> None:
    f = DocumentFile.objects.create(
        tenant_id=finalized.tenant_id,
        document=finalized,
        kind="UBL",
        filename="x.xml",
        content_type="application/xml",
        content=b"<Invoice/>",
        sha256="0" * 64,
        size=10,
    )
    _refused(
        "UPDATE invoicing_documentfile SET content = %s WHERE id = %s",
        [b"<Other/>", f.pk],
        "append-only",
    )
    _refused("DELETE FROM invoicing_documentfile WHERE id = %s", [f.pk], "append-only")


def test_a_draft_may_be_edited_and_a_discarded_one_not() -> None:
    tenant = OperatorFactory(slug="triggers-draft")
    doc = draft(tenant)
    line_id = DocumentLine.objects.get(document=doc).pk
    assert _ok("UPDATE invoicing_documentline SET description = 'x' WHERE id = %s", [line_id]) == 1
    assert _ok("UPDATE invoicing_vatbreakdown SET vat = vat WHERE document_id = %s", [doc.pk]) == 1
    assert _ok("UPDATE invoicing_document SET email = 'a@b.test' WHERE id = %s", [doc.pk]) == 1
    _refused("DELETE FROM invoicing_document WHERE id = %s", [doc.pk], "never deleted")
    _refused("DELETE FROM invoicing_documentline WHERE id = %s", [line_id], "never deleted")
    invoicing_api.document_discard(
        tenant_id=tenant.pk, document_id=doc.pk, actor=ACTOR, reason="duplicate"
    )
    _refused("UPDATE invoicing_document SET status = 'DRAFT' WHERE id = %s", [doc.pk], "immutable")
    _refused(
        "UPDATE invoicing_documentline SET active = true WHERE id = %s", [line_id], "immutable"
    )
