"""Reads of a document's stored files (without their bytes) and its deliveries, for the
portal's document page and the REST API (area "files", ADR 0038)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from apps.common.errors import NotFound
from apps.invoicing.contracts import DocumentStatus
from apps.invoicing.models import Delivery, Document, DocumentFile


@dataclass(frozen=True, slots=True)
class FileRow:
    kind: str  # FileKind
    filename: str
    content_type: str
    sha256: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    document_id: int
    to_email: str
    status: str  # DeliveryStatus
    error: str
    actor_name: str
    created_at: datetime


def delivery_row(d: Delivery) -> DeliveryRow:
    return DeliveryRow(
        id=d.pk,
        document_id=d.document_id,
        to_email=d.to_email,
        status=d.status,
        error=d.error,
        actor_name=d.actor_name,
        created_at=d.created_at,
    )


def visible_document(*, tenant_id: int, document_id: int) -> Document:
    """The document if tenant `tenant_id` may read it: its own, or one addressed to it as
    the buyer tenant (finalized only). NotFound otherwise: the same answer for "no such
    document" and "not yours"."""
    document = (
        Document.objects.filter(pk=document_id)
        .filter(
            Q(tenant_id=tenant_id) | Q(buyer_tenant_id=tenant_id, status=DocumentStatus.FINALIZED)
        )
        .first()
    )
    if document is None:
        raise NotFound(f"No document {document_id}.")
    return document


def document_files_list(*, tenant_id: int, document_id: int) -> list[FileRow]:
    """The stored files of a document tenant `tenant_id` may read (NotFound otherwise)."""
    visible_document(tenant_id=tenant_id, document_id=document_id)
    return [
        FileRow(*row)
        for row in DocumentFile.objects.filter(document_id=document_id)
        .order_by("kind")
        .values_list("kind", "filename", "content_type", "sha256", "size", "created_at")
    ]


def document_deliveries_list(
    *, tenant_id: int, document_id: int, after_id: int | None = None, limit: int | None = None
) -> list[DeliveryRow]:
    """The deliveries of a document of tenant `tenant_id`, oldest first (keyset paged by
    id). Only the issuing tenant sees them (they hold its customers' addresses): a buyer
    tenant gets none; NotFound when the document is not visible at all."""
    document = visible_document(tenant_id=tenant_id, document_id=document_id)
    if document.tenant_id != tenant_id:
        return []
    rows = Delivery.objects.filter(document_id=document_id).order_by("id")
    if after_id is not None:
        rows = rows.filter(id__gt=after_id)
    if limit is not None:
        rows = rows[:limit]
    return [delivery_row(d) for d in rows]


@dataclass(frozen=True, slots=True)
class FilesPanel:
    """What the portal shows of one document's files and deliveries."""

    document_id: int
    number: str
    status: str  # DocumentStatus
    doc_type: str  # DocumentType
    email: str
    own: bool  # the tenant issued it (a buyer tenant only reads it)
    files: tuple[FileRow, ...]
    deliveries: tuple[DeliveryRow, ...]


def document_files_panel(*, tenant_id: int, document_id: int) -> FilesPanel:
    """A document's files and (for its issuer) deliveries; NotFound when not visible."""
    document = visible_document(tenant_id=tenant_id, document_id=document_id)
    own = document.tenant_id == tenant_id
    return FilesPanel(
        document_id=document.pk,
        number=document.number,
        status=document.status,
        doc_type=document.doc_type,
        email=document.email if own else "",
        own=own,
        files=tuple(document_files_list(tenant_id=tenant_id, document_id=document_id)),
        deliveries=tuple(document_deliveries_list(tenant_id=tenant_id, document_id=document_id)),
    )
