"""E-mail delivery of finalized documents (ADR 0038), through Django's locmem backend: the
PDF and the UBL attached (the stored bytes), subject and body in the document's language,
a Delivery row per attempt (SENT, or FAILED with the error when SMTP fails), the first
delivery never twice, resend to another address audited as `document.resend`."""

from __future__ import annotations

import io
import smtplib
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from pypdf import PdfReader

from apps.common.contracts import Actor
from apps.common.errors import NotFound, ValidationFailed
from apps.invoicing import api as invoicing
from apps.invoicing import tasks
from apps.invoicing.contracts import DocumentStatus
from apps.invoicing.models import Delivery, DocumentFile
from apps.parties.models import AuditEntry
from tests.factories import OperatorFactory
from tests.invoicing.files_world import L, finalized

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_locmem"),
]
WORKER = Actor.system("invoicing worker")
CLERK = Actor.system("clerk@a-charging.example")


@pytest.fixture
def _locmem() -> Any:
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


class RefusingSmtp(BaseEmailBackend):
    """An SMTP server that refuses every recipient."""

    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"mailbox unavailable")})


def test_first_delivery_mails_pdf_and_ubl_and_is_logged() -> None:
    tenant = OperatorFactory()
    doc = finalized(tenant, [L("12.34")])
    row = invoicing.document_deliver(document_id=doc.pk, actor=WORKER)
    assert row is not None and row.status == "SENT" and row.error == ""
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.com"]
    assert message.reply_to == ["billing@a-charging.example"]
    assert message.subject == "Invoice INV-2026-000001 from A charging B.V."
    assert "total EUR 14.93" in message.body
    stored = dict(
        DocumentFile.objects.filter(document_id=doc.pk).values_list("filename", "content")
    )
    assert [(name, kind) for name, _, kind in message.attachments] == [
        ("INV-2026-000001.pdf", "application/pdf"),
        ("INV-2026-000001.ubl.xml", "application/xml"),
    ]
    for name, content, _ in message.attachments:
        assert content == bytes(stored[name])
    entry = AuditEntry.objects.get(tenant_id=tenant.pk, action="document.deliver")
    assert entry.object_id == str(doc.pk) and entry.actor_name == "invoicing worker"
    assert list(Delivery.objects.values_list("to_email", "status", "actor_name")) == [
        ("dana@example.com", "SENT", "invoicing worker")
    ]


def test_a_redelivered_task_does_not_mail_twice() -> None:
    doc = finalized(OperatorFactory(), [L("12.34")])
    assert invoicing.document_deliver(document_id=doc.pk, actor=WORKER) is not None
    assert invoicing.document_deliver(document_id=doc.pk, actor=WORKER) is None
    assert len(mail.outbox) == 1
    assert Delivery.objects.filter(document_id=doc.pk).count() == 1


def test_subject_and_body_in_the_documents_language() -> None:
    doc = finalized(OperatorFactory(), [L("1234.56")], language="nl")
    invoicing.document_deliver(document_id=doc.pk, actor=WORKER)
    message = mail.outbox[0]
    assert message.subject == "Factuur INV-2026-000001 van A charging B.V."
    assert message.body.startswith("Beste Driver Dana,")
    assert "totaal EUR 1.493,82" in message.body
    assert "Met vriendelijke groet," in message.body


@override_settings(EMAIL_BACKEND="tests.invoicing.test_delivery.RefusingSmtp")
def test_failed_smtp_is_a_failed_row_with_the_error() -> None:
    tenant = OperatorFactory()
    doc = finalized(tenant, [L("12.34")])
    row = invoicing.document_deliver(document_id=doc.pk, actor=WORKER)
    assert row is not None and row.status == "FAILED"
    assert row.error.startswith("SMTPRecipientsRefused")
    assert "mailbox unavailable" in row.error
    assert len(mail.outbox) == 0
    # not SENT: the next attempt tries again
    assert Delivery.objects.filter(document_id=doc.pk, status="FAILED").count() == 1


def test_resend_to_another_address_is_audited() -> None:
    tenant = OperatorFactory()
    doc = finalized(tenant, [L("12.34")])
    invoicing.document_deliver(document_id=doc.pk, actor=WORKER)
    row = invoicing.document_resend(
        tenant_id=tenant.pk, document_id=doc.pk, actor=CLERK, to_email="finance@dana.example"
    )
    assert row.status == "SENT" and row.to_email == "finance@dana.example"
    assert [m.to for m in mail.outbox] == [["dana@example.com"], ["finance@dana.example"]]
    entry = AuditEntry.objects.get(tenant_id=tenant.pk, action="document.resend")
    assert entry.after["to"] == "finance@dana.example" and entry.after["status"] == "SENT"
    rows = invoicing.document_deliveries_list(tenant_id=tenant.pk, document_id=doc.pk)
    assert [(r.to_email, r.status, r.actor_name) for r in rows] == [
        ("dana@example.com", "SENT", "invoicing worker"),
        ("finance@dana.example", "SENT", "clerk@a-charging.example"),
    ]


def test_resend_refuses_a_bad_address_a_draft_and_another_tenant() -> None:
    tenant, other = OperatorFactory(), OperatorFactory()
    doc = finalized(tenant, [L("12.34")])
    with pytest.raises(ValidationFailed, match="not an e-mail address"):
        invoicing.document_resend(
            tenant_id=tenant.pk, document_id=doc.pk, actor=CLERK, to_email="not-an-address"
        )
    with pytest.raises(NotFound):
        invoicing.document_resend(tenant_id=other.pk, document_id=doc.pk, actor=CLERK)
    draft = finalized(tenant, [L("1.00")], status=DocumentStatus.DRAFT)
    with pytest.raises(invoicing.DocumentNotFinalized):
        invoicing.document_resend(tenant_id=tenant.pk, document_id=draft.pk, actor=CLERK)
    no_address = finalized(tenant, [L("1.00")], email="", number="INV-2026-000002")
    with pytest.raises(ValidationFailed, match="no e-mail address"):
        invoicing.document_resend(tenant_id=tenant.pk, document_id=no_address.pk, actor=CLERK)
    assert mail.outbox == []
    assert not Delivery.objects.exists()
    assert not AuditEntry.objects.filter(action="document.resend").exists()


def test_a_buyer_tenant_sees_no_deliveries() -> None:
    seller, buyer = OperatorFactory(), OperatorFactory()
    doc = finalized(seller, [L("12.34")], buyer_tenant=buyer)
    invoicing.document_deliver(document_id=doc.pk, actor=WORKER)
    assert invoicing.document_deliveries_list(tenant_id=buyer.pk, document_id=doc.pk) == []
    assert len(invoicing.document_deliveries_list(tenant_id=seller.pk, document_id=doc.pk)) == 1


def test_the_tasks_render_then_deliver() -> None:
    """The thin tasks (ids in, one service call) as the worker runs them."""
    doc = finalized(OperatorFactory(), [L("12.34")])
    tasks.render_files([doc.pk])
    tasks.render_files([doc.pk])  # redelivered: nothing new
    assert DocumentFile.objects.filter(document_id=doc.pk).count() == 3
    tasks.deliver(doc.pk)
    tasks.deliver(doc.pk)  # redelivered: not mailed twice
    assert len(mail.outbox) == 1
    assert list(Delivery.objects.values_list("status", "actor_name")) == [
        ("SENT", "invoicing worker")
    ]


def test_a_document_without_due_date_asks_to_pay_without_a_date() -> None:
    doc = finalized(OperatorFactory(), [L("12.34")], due_days=None)
    invoicing.document_files_render(document_id=doc.pk)
    pdf = DocumentFile.objects.get(document_id=doc.pk, kind="PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(bytes(pdf.content))).pages)
    assert "Please pay EUR 14.93 to A charging B.V., stating INV-2026-000001." in text
