"""Finalized documents written straight with the ORM for the files area's tests: a draft with
its lines and VAT breakdown (the arithmetic module computes them), then numbered and
finalized the way finalizing does it (lines first, then the status: the PostgreSQL guards
allow lines only while the document is a draft)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.invoicing.arithmetic import TaxedLine, document_totals
from apps.invoicing.contracts import DocumentStatus, DocumentType, VatCategory
from apps.invoicing.models import Document, DocumentLine, VatBreakdown

PERIOD_START = datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 2026, Amsterdam midnight
PERIOD_END = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 2026, Amsterdam midnight
ISSUE = date(2026, 4, 6)

SELLER = {
    "name": "A charging B.V.",
    "address": "Stationsplein 1",
    "postal_code": "1012 AB",
    "city": "Amsterdam",
    "country": "NL",
    "vat_number": "NL004495445B01",
    "company_id": "12345678",
    "email": "billing@a-charging.example",
    "iban": "NL91ABNA0417164300",
    "bic": "ABNANL2A",
}
BUYER = {
    "id": "C-42",
    "name": "Driver Dana",
    "address": "Keizersgracht 100",
    "postal_code": "1015 AA",
    "city": "Amsterdam",
    "country": "NL",
    "email": "dana@example.com",
}
BUYER_DE_BUSINESS = {
    "id": "P-7",
    "name": "Roaming GmbH",
    "address": "Hauptstraße 5",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "vat_number": "DE136695976",
    "email": "ap@roaming.example",
}


@dataclass(frozen=True)
class L:
    """One line: its net, VAT, energy and components (all energy unless given)."""

    net: str
    rate: str = "21"
    category: VatCategory = VatCategory.STANDARD
    reason: str = ""
    kwh: str = "10"
    section: str = "PERIOD"
    kind: str = "SESSION"
    location: str = "Stationsplein 1, Amsterdam"
    time: str = "0"


def finalized(
    tenant: Any,
    lines: list[L],
    *,
    doc_type: DocumentType = DocumentType.CUSTOMER_INVOICE,
    number: str = "INV-2026-000001",
    language: str = "en",
    currency: str = "EUR",
    seller: dict[str, Any] | None = None,
    buyer: dict[str, Any] | None = None,
    email: str = "dana@example.com",
    credits: Document | None = None,
    buyer_tenant: Any = None,
    status: DocumentStatus = DocumentStatus.FINALIZED,
    due_days: int | None = 14,
) -> Document:
    totals = document_totals(
        [
            TaxedLine(
                Decimal(x.net),
                x.category,
                Decimal(x.rate) if x.category == "S" else Decimal(0),
                x.reason,
            )
            for x in lines
        ],
        currency,
    )
    doc = Document.objects.create(
        tenant=tenant,
        doc_type=doc_type.value,
        currency=currency,
        language=language,
        counterparty_kind="CUSTOMER",
        seller=seller if seller is not None else SELLER,
        buyer=buyer if buyer is not None else BUYER,
        email=email,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        net_total=totals.net_total,
        vat_total=totals.vat_total,
        total=totals.total,
        line_count=len(lines),
        energy_kwh=sum((Decimal(x.kwh) for x in lines), Decimal(0)),
        has_late_section=any(x.section == "LATE" for x in lines),
        credits=credits,
        reason="Wrong tariff" if credits else "",
        buyer_tenant=buyer_tenant,
    )
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    DocumentLine.objects.bulk_create(
        DocumentLine(
            tenant=tenant,
            document=doc,
            position=i,
            section=x.section,
            kind=x.kind,
            description="",
            session_start=start + timedelta(days=i),
            session_end=start + timedelta(days=i, hours=1, minutes=30),
            location=x.location,
            evse="NL*AAA*E1",
            energy_kwh=Decimal(x.kwh),
            duration_hours=Decimal("1.5"),
            energy=Decimal(x.net) - Decimal(x.time),
            time=Decimal(x.time),
            net=Decimal(x.net),
            vat_category=x.category.value,
            vat_rate=Decimal(x.rate) if x.category == "S" else Decimal(0),
            exemption_reason=x.reason,
        )
        for i, x in enumerate(lines, start=1)
    )
    VatBreakdown.objects.bulk_create(
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
    )
    if status == DocumentStatus.FINALIZED:
        Document.objects.filter(pk=doc.pk).update(
            status=DocumentStatus.FINALIZED.value,
            number=number,
            issue_date=ISSUE,
            due_date=ISSUE + timedelta(days=due_days) if due_days is not None else None,
            finalized_at=datetime(2026, 4, 6, 9, 0, tzinfo=UTC),
            finalized_by_name="test",
        )
    doc.refresh_from_db()
    return doc
