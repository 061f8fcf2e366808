"""What the renderers need of one finalized document, read once (three queries) into plain
frozen dataclasses: the header, the seller / buyer snapshots, the lines and the VAT
breakdown. The renderers never touch the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from apps.common.errors import Conflict
from apps.invoicing.arithmetic import quantum
from apps.invoicing.contracts import DocumentStatus, DocumentType, FileKind, LineSection
from apps.invoicing.models import Document, DocumentLine, InvoicingSettings, VatBreakdown

# UNTDID 1001: the document type codes of EN 16931 (BT-3).
TYPE_CODES = {
    DocumentType.CUSTOMER_INVOICE: "380",
    DocumentType.EMSP_INVOICE: "380",
    DocumentType.SELF_BILLING: "389",
    DocumentType.CREDIT_NOTE: "381",
}
COMPONENTS = ("fixed", "energy", "time", "parking", "reservation", "adjustment")
DEFAULT_TIMEZONE = "Europe/Amsterdam"
DEFAULT_PAYMENT_TERMS_DAYS = 14

CONTENT_TYPES = {
    FileKind.PDF: "application/pdf",
    FileKind.UBL: "application/xml",
    FileKind.CII: "application/xml",
}


def file_name(number: str, kind: FileKind) -> str:
    """`INV-2026-000001.pdf`, `INV-2026-000001.ubl.xml`, `INV-2026-000001.cii.xml`."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)
    return {
        FileKind.PDF: f"{safe}.pdf",
        FileKind.UBL: f"{safe}.ubl.xml",
        FileKind.CII: f"{safe}.cii.xml",
    }[kind]


@dataclass(frozen=True, slots=True)
class PartyData:
    name: str
    address: str
    postal_code: str
    city: str
    country: str
    vat_number: str
    company_id: str
    email: str
    iban: str
    bic: str
    reference: str

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> PartyData:
        def get(*keys: str) -> str:
            for key in keys:
                value = snapshot.get(key)
                if value not in (None, ""):
                    return str(value).strip()
            return ""

        return cls(
            name=get("name", "legal_name"),
            address=get("address", "street"),
            postal_code=get("postal_code"),
            city=get("city"),
            country=get("country", "country_code").upper()[:2],
            vat_number=get("vat_number"),
            company_id=get("company_id"),
            email=get("email"),
            iban=get("iban").replace(" ", "").upper(),
            bic=get("bic").replace(" ", "").upper(),
            reference=get("id", "reference"),
        )


@dataclass(frozen=True, slots=True)
class LineData:
    position: int
    section: str  # LineSection
    kind: str  # LineKind
    description: str
    session_start: datetime | None
    session_end: datetime | None
    location: str
    evse: str
    energy_kwh: Decimal
    duration_hours: Decimal
    components: tuple[tuple[str, Decimal], ...]  # the non-zero ones, in COMPONENTS order
    net: Decimal
    vat_category: str
    vat_rate: Decimal
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class VatGroupData:
    category: str
    rate: Decimal
    taxable: Decimal
    vat: Decimal
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class DocumentData:
    id: int
    tenant_id: int
    doc_type: DocumentType
    type_code: str
    number: str
    issue_date: date
    due_date: date | None
    period_start: date | None  # local dates; the end is the last day (inclusive)
    period_end: date | None
    currency: str
    language: str
    timezone: ZoneInfo
    seller: PartyData
    buyer: PartyData
    lines: tuple[LineData, ...]
    groups: tuple[VatGroupData, ...]
    net_total: Decimal
    vat_total: Decimal
    total: Decimal
    energy_kwh: Decimal
    has_late_section: bool
    credits_number: str
    credits_issue_date: date | None
    reason: str
    payment_iban: str
    payment_bic: str
    email: str

    @property
    def is_credit_note(self) -> bool:
        return self.doc_type == DocumentType.CREDIT_NOTE

    @property
    def is_self_billing(self) -> bool:
        return self.doc_type == DocumentType.SELF_BILLING

    def amount(self, value: Decimal) -> Decimal:
        """`value` at the currency's minor unit (the stored amounts have 4 places)."""
        return value.quantize(quantum(self.currency))

    def period_lines(self) -> tuple[LineData, ...]:
        return tuple(x for x in self.lines if x.section == LineSection.PERIOD)

    def late_lines(self) -> tuple[LineData, ...]:
        return tuple(x for x in self.lines if x.section == LineSection.LATE)


class DocumentNotFinalized(Conflict):
    """A draft or discarded document has no files."""

    code = "document_not_finalized"


def document_data(document: Document) -> DocumentData:
    """Read one finalized document's lines and VAT breakdown, with its settings."""
    if document.status != DocumentStatus.FINALIZED or not document.number:
        raise DocumentNotFinalized(
            f"Document {document.pk} is {document.status.lower()}: only a finalized document "
            "has files (a draft gets them when it is finalized)."
        )
    settings = InvoicingSettings.objects.filter(tenant_id=document.tenant_id).first()
    tz = ZoneInfo(settings.timezone if settings else DEFAULT_TIMEZONE)
    lines = tuple(
        LineData(
            position=x.position,
            section=x.section,
            kind=x.kind,
            description=x.description,
            session_start=x.session_start,
            session_end=x.session_end,
            location=x.location,
            evse=x.evse,
            energy_kwh=x.energy_kwh,
            duration_hours=x.duration_hours,
            components=tuple(
                (name, getattr(x, name)) for name in COMPONENTS if getattr(x, name) != 0
            ),
            net=x.net,
            vat_category=x.vat_category,
            vat_rate=x.vat_rate,
            exemption_reason=x.exemption_reason,
        )
        for x in DocumentLine.objects.filter(document=document, active=True).order_by("position")
    )
    groups = tuple(
        VatGroupData(
            category=g.category,
            rate=g.rate,
            taxable=g.taxable,
            vat=g.vat,
            exemption_reason=g.exemption_reason,
        )
        for g in VatBreakdown.objects.filter(document=document).order_by("category", "rate")
    )
    credits_number, credits_issue_date = "", None
    if document.credits_id is not None:
        original = Document.objects.only("number", "issue_date").get(pk=document.credits_id)
        credits_number, credits_issue_date = original.number, original.issue_date
    seller = PartyData.of(document.seller or {})
    buyer = PartyData.of(document.buyer or {})
    # Who is paid: the seller (on a self-billing statement, the payee). The tenant's own
    # account from its settings when the seller is the tenant and its snapshot has none.
    iban, bic = seller.iban, seller.bic
    if not iban and settings and document.doc_type != DocumentType.SELF_BILLING:
        iban, bic = settings.iban.replace(" ", "").upper(), settings.bic.replace(" ", "").upper()
    issue_date = document.issue_date or (
        document.finalized_at.astimezone(tz).date() if document.finalized_at else None
    )
    if issue_date is None:
        raise DocumentNotFinalized(f"Document {document.number} has no issue date.")
    return DocumentData(
        id=document.pk,
        tenant_id=document.tenant_id,
        doc_type=DocumentType(document.doc_type),
        type_code=TYPE_CODES[DocumentType(document.doc_type)],
        number=document.number,
        issue_date=issue_date,
        due_date=document.due_date,
        period_start=_local_day(document.period_start, tz, end=False),
        period_end=_local_day(document.period_end, tz, end=True),
        currency=document.currency.upper(),
        language=document.language or "en",
        timezone=tz,
        seller=seller,
        buyer=buyer,
        lines=lines,
        groups=groups,
        net_total=document.net_total,
        vat_total=document.vat_total,
        total=document.total,
        energy_kwh=document.energy_kwh,
        has_late_section=document.has_late_section,
        credits_number=credits_number,
        credits_issue_date=credits_issue_date,
        reason=document.reason,
        payment_iban=iban,
        payment_bic=bic,
        email=document.email,
    )


def _local_day(at: datetime | None, tz: ZoneInfo, *, end: bool) -> date | None:
    """A period bound as a local date; the end bound [.., end) as its last day."""
    if at is None:
        return None
    local = at.astimezone(tz)
    if end:
        at_midnight = local.time() == local.min.time()
        return date.fromordinal(local.toordinal() - 1) if at_midnight else local.date()
    return local.date()
