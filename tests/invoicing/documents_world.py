"""Drafts written straight with the ORM (the runs area makes them in production): a document
with lines of given nets and VAT rates, its totals and VAT breakdown by EN 16931
(apps.invoicing.arithmetic), for the tests of finalizing, discarding and crediting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.invoicing.arithmetic import TaxedLine, document_totals, line_vat_category
from apps.invoicing.contracts import DocumentType, LineKind
from apps.invoicing.models import Document, DocumentLine, VatBreakdown

# March 2026 in Amsterdam (UTC+1): its period in UTC, and a moment after its grace period.
PERIOD_START = datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
PERIOD_END = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 00:00 CEST
AFTER_GRACE = PERIOD_END + timedelta(days=6)
HOUR = timedelta(hours=1)


def draft(
    tenant: Any,
    lines: Sequence[tuple[str, str] | tuple[str, str, str]] = (("10.00", "21"),),
    *,
    doc_type: DocumentType = DocumentType.CUSTOMER_INVOICE,
    currency: str = "EUR",
    buyer_name: str = "Driver Dana",
    period_end: datetime | None = PERIOD_END,
    rated_lines: Sequence[Any] = (),
    reverse_charge: bool = False,
    **fields: Any,
) -> Document:
    """A DRAFT with one line per (net, VAT rate[, exemption reason]); `rated_lines` (if
    given) are put on the lines in order, with their CDRs."""
    taxed = []
    for spec in lines:
        net, rate = Decimal(spec[0]), Decimal(spec[1])
        reason = spec[2] if len(spec) > 2 else ""
        cat, r, why = line_vat_category(
            vat_rate=rate, exemption_reason=reason, reverse_charge=reverse_charge
        )
        taxed.append(TaxedLine(net=net, category=cat, rate=r, exemption_reason=why))
    totals = document_totals(taxed, currency)
    kind = {
        DocumentType.CUSTOMER_INVOICE: "CUSTOMER",
        DocumentType.EMSP_INVOICE: "PARTY",
        DocumentType.SELF_BILLING: "PAYEE",
    }[doc_type]
    doc = Document.objects.create(
        tenant=tenant,
        doc_type=doc_type.value,
        currency=currency,
        counterparty_kind=kind,
        period_start=PERIOD_START if period_end is not None else None,
        period_end=period_end,
        seller={"name": tenant.name, "country": "NL"},
        buyer={"name": buyer_name, "country": "NL"},
        net_total=totals.net_total,
        vat_total=totals.vat_total,
        total=totals.total,
        line_count=len(taxed),
        energy_kwh=Decimal("10") * len(taxed),
        **fields,
    )
    DocumentLine.objects.bulk_create(
        [
            DocumentLine(
                tenant=tenant,
                document=doc,
                position=i,
                kind=LineKind.CORRECTION.value if t.net < 0 else LineKind.SESSION.value,
                rated_line=rated_lines[i - 1] if i <= len(rated_lines) else None,
                cdr_id=rated_lines[i - 1].cdr_id if i <= len(rated_lines) else None,
                description=f"Session {i}",
                session_start=PERIOD_START + i * HOUR,
                session_end=PERIOD_START + (i + 1) * HOUR,
                location="Damrak 1, Amsterdam",
                evse="NL*AAA*E1",
                energy_kwh=Decimal("10"),
                duration_hours=Decimal("1"),
                energy=t.net,
                net=t.net,
                vat_category=t.category.value,
                vat_rate=t.rate,
                exemption_reason=t.exemption_reason,
            )
            for i, t in enumerate(taxed, start=1)
        ]
    )
    VatBreakdown.objects.bulk_create(
        [
            VatBreakdown(
                tenant=tenant,
                document=doc,
                category=g.category.value,
                rate=g.rate,
                taxable=g.taxable,
                vat=g.vat,
                exemption_reason=g.exemption_reason,
            )
            for g in totals.groups
        ]
    )
    return doc
