"""Invoices, self-billing statements and credit notes on the REST API (scope `invoices`):
list filters, a document with its lines and VAT breakdown, and the bodies of finalize,
discard and credit."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rest_framework import serializers

from apps.invoicing.contracts import DocumentDetail, DocumentRow, DocumentStatus, DocumentType
from restapi.pagination import PageQuery
from restapi.serializers.common import MAX_ID, money

_TYPES = [t.value for t in DocumentType]
_STATUSES = [s.value for s in DocumentStatus]


class DocumentListQuery(PageQuery):
    type = serializers.ChoiceField(choices=_TYPES, required=False)
    status = serializers.ChoiceField(choices=_STATUSES, required=False)
    counterparty = serializers.CharField(
        max_length=100,
        required=False,
        help_text="part of the buyer's name (the seller's on a self-billing statement)",
    )
    number = serializers.CharField(max_length=40, required=False, help_text="part of the number")
    period_from = serializers.DateTimeField(
        required=False, help_text="documents whose period starts at or after this"
    )
    period_to = serializers.DateTimeField(
        required=False, help_text="documents whose period starts before this"
    )
    billing_run_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    incoming = serializers.BooleanField(
        required=False,
        default=False,
        help_text="the finalized documents other tenants address to yours (a marketplace "
        "eMSP's purchase invoices) instead of your own",
    )


class DocumentDiscardIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="why the draft is given up")


class CreditNoteIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="why it is credited")
    line_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_null=True,
        min_length=1,
        max_length=10_000,
        help_text="the lines of the original to credit; absent or null: every line no credit "
        "note has credited yet",
    )


class DocumentOut(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(help_text=" | ".join(_TYPES))
    status = serializers.CharField(help_text=" | ".join(_STATUSES))
    number = serializers.CharField(help_text="empty until finalized")
    currency = serializers.CharField()
    counterparty_kind = serializers.CharField()
    counterparty = serializers.CharField()
    buyer_customer_id = serializers.IntegerField(allow_null=True)
    buyer_party_id = serializers.IntegerField(allow_null=True)
    payee_id = serializers.IntegerField(allow_null=True)
    buyer_tenant_id = serializers.IntegerField(allow_null=True)
    billing_run_id = serializers.IntegerField(allow_null=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    issue_date = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    net_total = money()
    vat_total = money()
    total = money()
    line_count = serializers.IntegerField()
    energy_kwh = serializers.DecimalField(max_digits=18, decimal_places=6, coerce_to_string=False)
    has_late_section = serializers.BooleanField()
    credits_id = serializers.IntegerField(
        allow_null=True, help_text="a credit note: the document it credits"
    )
    incoming = serializers.BooleanField(help_text="addressed to your tenant by another")
    created_at = serializers.DateTimeField()
    finalized_at = serializers.DateTimeField(allow_null=True)


class DocumentLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    section = serializers.CharField(help_text="PERIOD, or LATE: sessions of an earlier period")
    kind = serializers.CharField(help_text="SESSION, CORRECTION (negative) or CREDIT")
    rated_line_id = serializers.IntegerField(allow_null=True)
    cdr_id = serializers.IntegerField(allow_null=True)
    credited_line_id = serializers.IntegerField(allow_null=True)
    description = serializers.CharField()
    session_start = serializers.DateTimeField(allow_null=True)
    session_end = serializers.DateTimeField(allow_null=True)
    location = serializers.CharField()
    evse = serializers.CharField()
    energy_kwh = serializers.DecimalField(max_digits=18, decimal_places=6, coerce_to_string=False)
    duration_hours = serializers.DecimalField(
        max_digits=18, decimal_places=6, coerce_to_string=False
    )
    fixed = money()
    energy = money()
    time = money()
    parking = money()
    reservation = money()
    adjustment = money()
    net = money()
    vat_category = serializers.CharField(help_text="UNTDID 5305: S, Z, E, AE, O")
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    exemption_reason = serializers.CharField()


class VatBreakdownOut(serializers.Serializer):
    category = serializers.CharField()
    rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    taxable = money()
    vat = money()
    exemption_reason = serializers.CharField()


class DocumentDetailOut(DocumentOut):
    seller = serializers.DictField(help_text="the seller as on the document (a snapshot)")
    buyer = serializers.DictField(help_text="the buyer as on the document (a snapshot)")
    email = serializers.CharField()
    language = serializers.CharField()
    reason = serializers.CharField(help_text="a credit note's or discarded draft's reason")
    finalized_by = serializers.CharField()
    discarded_at = serializers.DateTimeField(allow_null=True)
    discarded_by = serializers.CharField()
    lines = DocumentLineOut(many=True)
    vat_breakdown = VatBreakdownOut(many=True)
    credit_notes = DocumentOut(many=True)
    original = DocumentOut(allow_null=True)


class FinalizeOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


def document_out(row: DocumentRow, viewer: int) -> dict[str, Any]:
    d = asdict(row)
    d["type"] = d.pop("doc_type")
    d["incoming"] = row.tenant_id != viewer
    d.pop("tenant_id")
    return dict(DocumentOut(d).data)


def detail_out(detail: DocumentDetail, viewer: int) -> dict[str, Any]:
    out = document_out(detail.document, viewer)
    out.update(
        seller=detail.seller,
        buyer=detail.buyer,
        email=detail.email,
        language=detail.language,
        reason=detail.reason,
        finalized_by=detail.finalized_by_name,
        discarded_at=serializers.DateTimeField().to_representation(detail.discarded_at)
        if detail.discarded_at
        else None,
        discarded_by=detail.discarded_by_name,
        lines=[
            DocumentLineOut({k: v for k, v in asdict(ln).items() if k != "active"}).data
            for ln in detail.lines
        ],
        vat_breakdown=VatBreakdownOut([asdict(v) for v in detail.vat_breakdown], many=True).data,
        credit_notes=[document_out(n, viewer) for n in detail.credit_notes],
        original=document_out(detail.original, viewer) if detail.original else None,
    )
    return out
