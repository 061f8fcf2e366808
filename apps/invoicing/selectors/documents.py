"""The read side of documents: lists with filters and a document with its lines, VAT
breakdown, credit notes and original (ADR 0035).

Who sees what: a tenant sees its own documents (every status); a tenant that a document is
addressed to (`buyer_tenant`, a marketplace eMSP) sees it too, read only, once finalized
("incoming"). Nothing else: another tenant's document is not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from apps.common.errors import NotFound
from apps.invoicing.contracts import (
    DocumentDetail,
    DocumentLineRecord,
    DocumentRow,
    DocumentStatus,
    DocumentType,
    VatBreakdownRecord,
)
from apps.invoicing.models import Document, DocumentLine, VatBreakdown

FINALIZED = DocumentStatus.FINALIZED.value
SELF_BILLING = DocumentType.SELF_BILLING.value

_ROW_FIELDS = (
    "id",
    "tenant_id",
    "doc_type",
    "status",
    "number",
    "currency",
    "counterparty_kind",
    "buyer_customer_id",
    "buyer_party_id",
    "payee_id",
    "buyer_tenant_id",
    "billing_run_id",
    "period_start",
    "period_end",
    "issue_date",
    "due_date",
    "net_total",
    "vat_total",
    "total",
    "line_count",
    "energy_kwh",
    "has_late_section",
    "credits_id",
    "created_at",
    "finalized_at",
    "seller",
    "buyer",
)
_LINE_FIELDS = tuple(f for f in DocumentLineRecord.__dataclass_fields__)


def _name(snapshot: Any) -> str:
    if isinstance(snapshot, dict):
        return str(snapshot.get("name") or snapshot.get("legal_name") or "")
    return ""


def _row(r: dict[str, Any]) -> DocumentRow:
    # The counterparty: the buyer, but on a self-billing statement the seller (the payee).
    other = r["seller"] if r["doc_type"] == SELF_BILLING else r["buyer"]
    return DocumentRow(
        counterparty=_name(other),
        **{k: v for k, v in r.items() if k not in ("seller", "buyer")},
    )


def _visible(tenant_id: int, incoming: bool) -> QuerySet[Document]:
    if incoming:
        return Document.objects.filter(buyer_tenant_id=tenant_id, status=FINALIZED)
    return Document.objects.for_tenant(tenant_id)


def document_list(
    *,
    tenant_id: int,
    doc_type: str | None = None,
    status: str | None = None,
    counterparty: str | None = None,
    number: str | None = None,
    period: tuple[datetime | None, datetime | None] | None = None,
    billing_run_id: int | None = None,
    incoming: bool = False,
    after_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> list[DocumentRow]:
    """A page of documents, keyset on id. Newest first (the portal): the `limit` next older
    than `before_id`, or the `limit` next newer than `after_id`, shown newest first; oldest
    first (the REST API's cursor): the `limit` next after `after_id`.

    Filters: `counterparty` is part of the buyer's name (the seller's on a self-billing
    statement), `number` part of the number; `period` = [from, to) (either end None: open)
    keeps the documents whose
    period starts in it (credit notes: their original's period); `incoming` lists the
    finalized documents addressed to this tenant by other tenants instead of its own."""
    qs = _visible(tenant_id, incoming)
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if status:
        qs = qs.filter(status=status)
    if number:
        qs = qs.filter(number__icontains=number.strip())
    if counterparty:
        c = counterparty.strip()
        qs = qs.filter(
            (Q(doc_type=SELF_BILLING) & Q(seller__name__icontains=c))
            | (~Q(doc_type=SELF_BILLING) & Q(buyer__name__icontains=c))
        )
    if period is not None and period[0] is not None:
        qs = qs.filter(period_start__gte=period[0])
    if period is not None and period[1] is not None:
        qs = qs.filter(period_start__lt=period[1])
    if billing_run_id is not None:
        qs = qs.filter(billing_run_id=billing_run_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    ascending = after_id is not None or not newest_first
    rows = list(qs.order_by("id" if ascending else "-id").values(*_ROW_FIELDS)[:limit])
    if newest_first and after_id is not None:
        rows.reverse()
    return [_row(r) for r in rows]


def document_row(*, tenant_id: int, document_id: int) -> DocumentRow:
    """One document of this tenant (or addressed to it, finalized) as a list row."""
    r = (
        Document.objects.filter(
            Q(tenant_id=tenant_id) | Q(buyer_tenant_id=tenant_id, status=FINALIZED),
            pk=document_id,
        )
        .values(*_ROW_FIELDS)
        .first()
    )
    if r is None:
        raise NotFound(f"no document {document_id} in this tenant")
    return _row(r)


def document_get(*, tenant_id: int, document_id: int) -> DocumentDetail:
    """A document with its lines (in position order), VAT breakdown, credit notes (finalized
    ones, by id) and, for a credit note, its original. Another tenant's document (that is
    not addressed to this one, finalized) is not found."""
    r = (
        Document.objects.filter(
            Q(tenant_id=tenant_id) | Q(buyer_tenant_id=tenant_id, status=FINALIZED),
            pk=document_id,
        )
        .values(
            *_ROW_FIELDS,
            "email",
            "language",
            "reason",
            "created_by_name",
            "finalized_by_name",
            "discarded_at",
            "discarded_by_name",
        )
        .first()
    )
    if r is None:
        raise NotFound(f"no document {document_id} in this tenant")
    incoming = r["tenant_id"] != tenant_id
    status = r["status"]
    lines_qs = DocumentLine.objects.filter(document_id=document_id)
    if status != DocumentStatus.DISCARDED.value:
        lines_qs = lines_qs.filter(active=True)
    lines = tuple(
        DocumentLineRecord(**x) for x in lines_qs.order_by("position").values(*_LINE_FIELDS)
    )
    breakdown = tuple(
        VatBreakdownRecord(**x)
        for x in VatBreakdown.objects.filter(document_id=document_id)
        .order_by("category", "rate")
        .values("category", "rate", "taxable", "vat", "exemption_reason")
    )
    notes = Document.objects.filter(credits_id=document_id, status=FINALIZED)
    if incoming:
        notes = notes.filter(buyer_tenant_id=tenant_id)
    credit_notes = tuple(_row(x) for x in notes.order_by("id").values(*_ROW_FIELDS))
    original = None
    if r["credits_id"] is not None:
        o = Document.objects.filter(pk=r["credits_id"]).values(*_ROW_FIELDS).first()
        original = _row(o) if o is not None else None
    credited = frozenset(
        DocumentLine.objects.filter(
            credited_line__document_id=document_id, active=True
        ).values_list("credited_line_id", flat=True)
    )
    return DocumentDetail(
        document=_row({k: r[k] for k in _ROW_FIELDS}),
        seller=r["seller"] if isinstance(r["seller"], dict) else {},
        buyer=r["buyer"] if isinstance(r["buyer"], dict) else {},
        email=r["email"],
        language=r["language"],
        reason=r["reason"],
        created_by_name=r["created_by_name"],
        finalized_by_name=r["finalized_by_name"],
        discarded_at=r["discarded_at"],
        discarded_by_name=r["discarded_by_name"],
        lines=lines,
        vat_breakdown=breakdown,
        credit_notes=credit_notes,
        original=original,
        credited_line_ids=credited,
        incoming=incoming,
    )
