"""A document's files and deliveries on the REST API (scope `invoices`, ADR 0038): the
stored bytes with the right content type and their SHA-256 as ETag (twice the same; 304 on
If-None-Match), a draft's 409, the deliveries log and resend (audited, 201 / 422), another
tenant's 404, a buyer tenant's read-only view, and the scope."""

from __future__ import annotations

import hashlib

import pytest
from django.core import mail

from apps.invoicing.contracts import DocumentStatus, DocumentType
from apps.invoicing.models import Delivery, DocumentFile
from apps.parties.models import AuditEntry
from tests.api.conftest import World, key_with
from tests.invoicing.files_world import L, finalized

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "content_type", "filename"),
    [
        ("pdf", "application/pdf", "INV-2026-000001.pdf"),
        ("ubl", "application/xml", "INV-2026-000001.ubl.xml"),
        ("cii", "application/xml", "INV-2026-000001.cii.xml"),
    ],
)
def test_file_downloads_are_the_stored_bytes_with_their_sha_as_etag(
    world_a: World, kind: str, content_type: str, filename: str
) -> None:
    doc = finalized(world_a.tenant, [L("12.34")])
    client = world_a.client()
    first = client.get(f"/api/v1/documents/{doc.pk}/{kind}")
    again = client.get(f"/api/v1/documents/{doc.pk}/{kind}", HTTP_ACCEPT=content_type)
    assert first.status_code == again.status_code == 200
    stored = DocumentFile.objects.get(document_id=doc.pk, kind=kind.upper())
    assert first["Content-Type"] == content_type
    assert first["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert first["ETag"] == again["ETag"] == f'"{stored.sha256}"'
    assert first.content == again.content == bytes(stored.content)
    assert hashlib.sha256(first.content).hexdigest() == stored.sha256
    cached = client.get(f"/api/v1/documents/{doc.pk}/{kind}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert cached.status_code == 304 and cached.content == b""


def test_a_draft_has_no_files_409(world_a: World) -> None:
    draft = finalized(world_a.tenant, [L("1.00")], status=DocumentStatus.DRAFT)
    r = world_a.client().get(f"/api/v1/documents/{draft.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert r.status_code == 409
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["type"] == "urn:evcharge:problem:document_not_finalized"
    assert not DocumentFile.objects.filter(document_id=draft.pk).exists()


def test_resend_and_the_deliveries_log(world_a: World) -> None:
    doc = finalized(world_a.tenant, [L("12.34")])
    client = world_a.client()
    r = client.post(
        f"/api/v1/documents/{doc.pk}/deliveries", {"to_email": "ap@dana.example"}, format="json"
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["to_email"], body["status"], body["error"]) == ("ap@dana.example", "SENT", "")
    assert body["actor"].startswith("API key ")
    assert [m.to for m in mail.outbox] == [["ap@dana.example"]]
    assert [a[0] for a in mail.outbox[0].attachments] == [
        "INV-2026-000001.pdf",
        "INV-2026-000001.ubl.xml",
    ]
    assert (
        client.post(f"/api/v1/documents/{doc.pk}/deliveries", {}, format="json").status_code == 201
    )
    page = client.get(f"/api/v1/documents/{doc.pk}/deliveries?limit=1").json()
    assert [d["to_email"] for d in page["data"]] == ["ap@dana.example"]
    rest = client.get(
        f"/api/v1/documents/{doc.pk}/deliveries?limit=1&cursor={page['next_cursor']}"
    ).json()
    assert [d["to_email"] for d in rest["data"]] == ["dana@example.com"]
    assert rest["next_cursor"] is None
    assert AuditEntry.objects.filter(tenant=world_a.tenant, action="document.resend").count() == 2


def test_resend_refuses_a_bad_address_with_422(world_a: World) -> None:
    doc = finalized(world_a.tenant, [L("12.34")])
    r = world_a.client().post(
        f"/api/v1/documents/{doc.pk}/deliveries", {"to_email": "nope"}, format="json"
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "$.to_email"
    assert not Delivery.objects.exists() and mail.outbox == []


def test_another_tenants_document_is_404_and_a_buyer_tenant_reads_only(
    world_a: World, world_b: World
) -> None:
    theirs = finalized(world_b.tenant, [L("12.34")])
    for path in ("pdf", "ubl", "cii", "deliveries"):
        r = world_a.client().get(f"/api/v1/documents/{theirs.pk}/{path}")
        assert r.status_code == 404, path
    r = world_a.client().post(f"/api/v1/documents/{theirs.pk}/deliveries", {}, format="json")
    assert r.status_code == 404
    marketplace = finalized(
        world_b.tenant,
        [L("5.00")],
        doc_type=DocumentType.EMSP_INVOICE,
        number="EMSP-2026-000001",
        buyer_tenant=world_a.tenant,
    )
    assert world_a.client().get(f"/api/v1/documents/{marketplace.pk}/ubl").status_code == 200
    assert (
        world_a.client().get(f"/api/v1/documents/{marketplace.pk}/deliveries").json()["data"] == []
    )
    r = world_a.client().post(f"/api/v1/documents/{marketplace.pk}/deliveries", {}, format="json")
    assert r.status_code == 404
    assert not Delivery.objects.exists()


def test_scopes(world_a: World) -> None:
    doc = finalized(world_a.tenant, [L("12.34")])
    reader = world_a.client(key_with(world_a.tenant.pk, "invoices:read"))
    other = world_a.client(key_with(world_a.tenant.pk, "tokens:read", "tokens:write"))
    assert reader.get(f"/api/v1/documents/{doc.pk}/pdf").status_code == 200
    assert (
        reader.post(f"/api/v1/documents/{doc.pk}/deliveries", {}, format="json").status_code == 403
    )
    assert other.get(f"/api/v1/documents/{doc.pk}/pdf").status_code == 403
    assert not Delivery.objects.exists()
