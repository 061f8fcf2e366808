"""A finalized document's files: the Factur-X PDF, the UBL 2.1 and the CII e-invoice (area
"files", ADR 0038). Rendered once after finalizing (the `invoicing.render_files` task) and
stored with their SHA-256; a download returns the stored bytes, so it is byte-identical
every time. Both XMLs are validated against their official schemas before they are stored:
a document that does not validate is a bug and stores nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction

from apps.common.errors import NotFound
from apps.invoicing import jobs
from apps.invoicing.contracts import DeliveryStatus, DocumentStatus, FileKind
from apps.invoicing.models import Delivery, Document, DocumentFile
from apps.invoicing.render import cii, pdf, ubl
from apps.invoicing.render.data import (
    CONTENT_TYPES,
    DocumentData,
    DocumentNotFinalized,
    document_data,
    file_name,
)
from apps.invoicing.selectors.files import visible_document

KINDS = (FileKind.PDF, FileKind.UBL, FileKind.CII)


@dataclass(frozen=True, slots=True)
class FileContent:
    """One stored file of a document, with its bytes."""

    document_id: int
    number: str
    kind: str  # FileKind
    filename: str
    content_type: str
    content: bytes
    sha256: str
    size: int


class FileCorrupted(RuntimeError):
    """Stored bytes whose SHA-256 is not the stored one (never expected: an alarm)."""


def render(
    data: DocumentData, kinds: tuple[FileKind, ...], cii_xml: bytes | None = None
) -> dict[FileKind, bytes]:
    """The bytes of `kinds` for `data`, the XMLs validated. The PDF embeds the CII (the
    stored one when given)."""
    out: dict[FileKind, bytes] = {}
    if FileKind.UBL in kinds:
        xml = ubl.ubl_xml(data)
        ubl.ubl_check(xml)
        out[FileKind.UBL] = xml
    if FileKind.CII in kinds or (FileKind.PDF in kinds and cii_xml is None):
        cii_xml = cii.cii_xml(data)
        cii.cii_check(cii_xml)
        if FileKind.CII in kinds:
            out[FileKind.CII] = cii_xml
    if FileKind.PDF in kinds:
        assert cii_xml is not None
        out[FileKind.PDF] = pdf.facturx_pdf(data, cii_xml)
    return out


def document_files_render(*, document_id: int) -> list[str]:
    """Render and store the files of finalized document `document_id` that it does not have
    yet (idempotent: a repeated task or a download racing the task stores each kind once).
    The first time, when the document has an e-mail address and no SENT delivery, its
    delivery is queued after commit. Returns the kinds stored by this call."""
    with transaction.atomic():
        # The row lock serializes renderers of one document (a finalized row is never
        # updated, so the lock blocks nothing else).
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            raise NotFound(f"No document {document_id}.")
        if document.status != DocumentStatus.FINALIZED:
            raise DocumentNotFinalized(
                f"Document {document_id} is {document.status.lower()}: only a finalized "
                "document has files."
            )
        have = set(
            DocumentFile.objects.filter(document_id=document_id).values_list("kind", flat=True)
        )
        missing = tuple(k for k in KINDS if k not in have)
        if not missing:
            return []
        stored_cii = None
        if FileKind.PDF in missing and FileKind.CII in have:  # the PDF embeds the stored CII
            stored_cii = bytes(
                DocumentFile.objects.values_list("content", flat=True).get(
                    document_id=document_id, kind=FileKind.CII
                )
            )
        files = render(document_data(document_id), missing, stored_cii)
        DocumentFile.objects.bulk_create(
            [
                DocumentFile(
                    tenant_id=document.tenant_id,
                    document_id=document_id,
                    kind=kind.value,
                    filename=file_name(document.number, kind),
                    content_type=CONTENT_TYPES[kind],
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content),
                )
                for kind, content in files.items()
            ]
        )
        sent = Delivery.objects.filter(document_id=document_id, status=DeliveryStatus.SENT)
        if document.email and not sent.exists():
            jobs.deliver_enqueue(document_id)
    return [k.value for k in files]


def document_file_get(*, tenant_id: int, document_id: int, kind: str) -> FileContent:
    """The stored file `kind` (PDF, UBL, CII) of a document that tenant `tenant_id` may
    read. A draft has none (DocumentNotFinalized); a finalized document whose files are not
    rendered yet gets them now. The bytes are checked against the stored SHA-256."""
    file_kind = FileKind(kind)
    document = visible_document(tenant_id=tenant_id, document_id=document_id)
    if document.status != DocumentStatus.FINALIZED:
        raise DocumentNotFinalized(
            f"Document {document_id} is {document.status.lower()}: it has no files until it "
            "is finalized."
        )
    row = DocumentFile.objects.filter(document_id=document_id, kind=file_kind).first()
    if row is None:
        document_files_render(document_id=document_id)
        row = DocumentFile.objects.get(document_id=document_id, kind=file_kind)
    content = bytes(row.content)
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise FileCorrupted(f"{row.filename}: stored bytes do not match their SHA-256")
    return FileContent(
        document_id=document_id,
        number=document.number,
        kind=row.kind,
        filename=row.filename,
        content_type=row.content_type,
        content=content,
        sha256=row.sha256,
        size=row.size,
    )
