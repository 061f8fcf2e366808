"""The portal's document files panel (area "files", ADR 0038): the list of stored files with
their sizes and SHA-256, downloads byte-identical with the stored bytes, the deliveries log
and the Send again form (clear errors, INVOICING_EDIT only), other tenants' documents not
found, a draft's panel without files."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from apps.common.contracts import Actor
from apps.invoicing import api as invoicing
from apps.invoicing.contracts import DocumentStatus, DocumentType
from apps.invoicing.models import Delivery, DocumentFile
from apps.parties.models import AuditEntry
from tests.factories import MembershipFactory, OperatorFactory, UserFactory
from tests.invoicing.files_world import L, finalized
from tests.portal.world import signed_in_client

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("_locmem"),
]


@pytest.fixture
def _locmem() -> Any:
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


def _client(tenant: Any, role: str) -> Any:
    user = UserFactory(username=f"{role}@{tenant.slug}.test", email=f"{role}@{tenant.slug}.test")
    MembershipFactory(user=user, tenant=tenant, role=role)
    return signed_in_client(user)


def _url(name: str, tenant: Any, *args: Any) -> str:
    return reverse(f"portal:{name}", args=[tenant.slug, *args])


def test_files_page_lists_files_with_size_and_sha_and_downloads_are_the_stored_bytes() -> None:
    tenant = OperatorFactory(slug="alpha")
    doc = finalized(tenant, [L("12.34")])
    invoicing.document_files_render(document_id=doc.pk)
    client = _client(tenant, "finance")
    body = client.get(_url("invoicing_document_files", tenant, doc.pk)).content.decode()
    for f in DocumentFile.objects.filter(document_id=doc.pk):
        assert f.filename in body and f.sha256 in body
    assert 'data-testid="resend"' in body
    pdf_url = _url("invoicing_document_file", tenant, doc.pk, "pdf")
    assert pdf_url in body
    first, again = client.get(pdf_url), client.get(pdf_url)
    stored = DocumentFile.objects.get(document_id=doc.pk, kind="PDF")
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first["Content-Disposition"] == 'attachment; filename="INV-2026-000001.pdf"'
    assert first["ETag"] == f'"{stored.sha256}"'
    assert first.content == again.content == bytes(stored.content)
    assert hashlib.sha256(first.content).hexdigest() == stored.sha256
    ubl = client.get(_url("invoicing_document_file", tenant, doc.pk, "ubl"))
    assert ubl["Content-Type"] == "application/xml" and ubl.content.startswith(b"<?xml")


def test_send_again_with_a_bad_address_says_why_and_sends_nothing() -> None:
    tenant = OperatorFactory(slug="alpha")
    doc = finalized(tenant, [L("12.34")])
    client = _client(tenant, "finance")
    page = _url("invoicing_document_files", tenant, doc.pk)
    r = client.post(
        _url("invoicing_document_resend", tenant, doc.pk), {"to_email": "nope", "next": page}
    )
    assert r.status_code == 302 and r["Location"] == page
    body = client.get(page).content.decode()
    assert "Not sent: address: enter a valid e-mail address" in body
    assert not Delivery.objects.exists()


def test_send_again_sends_logs_and_audits() -> None:
    tenant = OperatorFactory(slug="alpha")
    doc = finalized(tenant, [L("12.34")])
    client = _client(tenant, "finance")
    page = _url("invoicing_document_files", tenant, doc.pk)
    client.post(_url("invoicing_document_resend", tenant, doc.pk), {"to_email": "", "next": page})
    client.post(
        _url("invoicing_document_resend", tenant, doc.pk),
        {"to_email": "finance@dana.example", "next": page},
    )
    assert list(Delivery.objects.order_by("id").values_list("to_email", "status")) == [
        ("dana@example.com", "SENT"),
        ("finance@dana.example", "SENT"),
    ]
    assert AuditEntry.objects.filter(tenant=tenant, action="document.resend").count() == 2
    assert set(Delivery.objects.values_list("actor_name", flat=True)) == {"finance@alpha.test"}
    body = client.get(page).content.decode()
    assert "Sent to finance@dana.example." in body
    assert body.count('data-testid="delivery-') == 2
    assert "Send again" in body


def test_support_reads_but_cannot_send() -> None:
    tenant = OperatorFactory(slug="alpha")
    doc = finalized(tenant, [L("12.34")])
    client = _client(tenant, "support")
    body = client.get(_url("invoicing_document_files", tenant, doc.pk)).content.decode()
    assert 'data-testid="files"' in body and 'data-testid="resend"' not in body
    r = client.post(_url("invoicing_document_resend", tenant, doc.pk), {"to_email": ""})
    assert r.status_code == 403
    assert not Delivery.objects.exists()


def test_another_tenants_document_is_not_found() -> None:
    mine, theirs = OperatorFactory(slug="alpha"), OperatorFactory(slug="beta")
    doc = finalized(theirs, [L("12.34")])
    client = _client(mine, "platform_admin")
    for name, args in [
        ("invoicing_document_files", [doc.pk]),
        ("invoicing_document_file", [doc.pk, "pdf"]),
    ]:
        r = client.get(_url(name, mine, *args))
        assert r.status_code == 404, name
        assert b"INV-2026-000001" not in r.content
    r = client.post(_url("invoicing_document_resend", mine, doc.pk), {"to_email": ""})
    assert r.status_code == 404
    assert not Delivery.objects.exists() and not DocumentFile.objects.exists()


def test_a_draft_has_no_files_and_no_download() -> None:
    tenant = OperatorFactory(slug="alpha")
    draft = finalized(tenant, [L("12.34")], status=DocumentStatus.DRAFT)
    client = _client(tenant, "finance")
    body = client.get(_url("invoicing_document_files", tenant, draft.pk)).content.decode()
    assert "A draft has no files" in body and 'data-testid="resend"' not in body
    r = client.get(_url("invoicing_document_file", tenant, draft.pk, "pdf"))
    assert r.status_code == 409
    assert b"it has no files until it is finalized" in r.content


def test_a_buyer_tenant_downloads_but_sees_no_deliveries_and_cannot_send() -> None:
    seller, buyer = OperatorFactory(slug="alpha"), OperatorFactory(slug="beta")
    doc = finalized(
        seller,
        [L("12.34")],
        doc_type=DocumentType.EMSP_INVOICE,
        number="EMSP-2026-000001",
        buyer_tenant=buyer,
    )
    invoicing.document_deliver(document_id=doc.pk, actor=Actor.system("invoicing worker"))
    client = _client(buyer, "platform_admin")
    body = client.get(_url("invoicing_document_files", buyer, doc.pk)).content.decode()
    assert "EMSP-2026-000001.pdf" in body
    assert 'data-testid="deliveries"' not in body and "dana@example.com" not in body
    assert 'data-testid="resend"' not in body
    r = client.get(_url("invoicing_document_file", buyer, doc.pk, "ubl"))
    assert r.status_code == 200 and b"EMSP-2026-000001" in r.content
    r = client.post(_url("invoicing_document_resend", buyer, doc.pk), {"to_email": ""})
    assert r.status_code == 404
    assert Delivery.objects.count() == 1
