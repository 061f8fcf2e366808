"""What the renderers need of one finalized document, read once (three statements) into plain
frozen dataclasses: the header, the seller / buyer snapshots, the lines and the VAT
breakdown. The renderers never touch the ORM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils.dateparse import parse_datetime

from apps.common.errors import Conflict, NotFound
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


# The reads are raw SQL through Django's connection (three statements: the document with its
# settings and the document it credits, its active lines, its VAT breakdown): with the ORM
# (five queries, model instances) reading took most of a UBL render's CPU, about 4.7 of
# 5.3 ms per document (docs/benchmarks.md, "Invoicing"). Decimals are read as text and
# quantized to their column's places, datetimes parsed where the driver gives text (SQLite):
# the values are the ones the ORM gives on both databases.
_HEADER_SQL = """
SELECT d.id, d.tenant_id, d.status, d.number, d.doc_type, d.issue_date, d.due_date,
    d.period_start, d.period_end, d.currency, d.language, d.seller, d.buyer, d.email,
    CAST(d.net_total AS TEXT), CAST(d.vat_total AS TEXT), CAST(d.total AS TEXT),
    CAST(d.energy_kwh AS TEXT), d.has_late_section, d.reason, d.finalized_at,
    s.timezone, s.iban, s.bic, o.number, o.issue_date
FROM {document} d
LEFT JOIN {settings} s ON s.tenant_id = d.tenant_id
LEFT JOIN {document} o ON o.id = d.credits_id
WHERE d.id = %s
"""
_LINES_SQL = """
SELECT position, section, kind, description, session_start, session_end, location, evse,
    CAST(energy_kwh AS TEXT), CAST(duration_hours AS TEXT), CAST(fixed AS TEXT),
    CAST(energy AS TEXT), CAST(time AS TEXT), CAST(parking AS TEXT),
    CAST(reservation AS TEXT), CAST(adjustment AS TEXT), CAST(net AS TEXT), vat_category,
    CAST(vat_rate AS TEXT), exemption_reason
FROM {line} WHERE document_id = %s AND active = %s ORDER BY position
"""
_VAT_SQL = """
SELECT category, CAST(rate AS TEXT), CAST(taxable AS TEXT), CAST(vat AS TEXT), exemption_reason
FROM {vat} WHERE document_id = %s ORDER BY category, rate
"""
_AMOUNT_PLACES = Decimal("0.0001")
_KWH_PLACES = Decimal("0.000001")
_RATE_PLACES = Decimal("0.01")
_ZERO = Decimal(0)


def _sql(template: str) -> str:
    q = connection.ops.quote_name
    return template.format(
        document=q(Document._meta.db_table),
        settings=q(InvoicingSettings._meta.db_table),
        line=q(DocumentLine._meta.db_table),
        vat=q(VatBreakdown._meta.db_table),
    )


def _dec(value: Any, places: Decimal) -> Decimal:
    """A decimal column read as text (PostgreSQL: at its scale already; SQLite: a REAL's
    text) at its places, as the ORM gives it."""
    return Decimal(value).quantize(places)


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))  # SQLite: text, UTC
    assert parsed is not None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(json.loads(value) if isinstance(value, str | bytes) else value)


def document_data(document_id: int) -> DocumentData:
    """Read one finalized document, its active lines and VAT breakdown, with its settings
    and the document it credits (three statements)."""
    with connection.cursor() as cur:
        cur.execute(_sql(_HEADER_SQL), [document_id])
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"No document {document_id}.")
        (
            pk,
            tenant_id,
            status,
            number,
            doc_type,
            issue_date_v,
            due_date_v,
            period_start,
            period_end,
            currency,
            language,
            seller_v,
            buyer_v,
            email,
            net_total,
            vat_total,
            total,
            energy_kwh,
            has_late_section,
            reason,
            finalized_at,
            tz_name,
            settings_iban,
            settings_bic,
            credits_number,
            credits_issue_date,
        ) = row
        if status != DocumentStatus.FINALIZED or not number:
            raise DocumentNotFinalized(
                f"Document {pk} is {str(status).lower()}: only a finalized document "
                "has files (a draft gets them when it is finalized)."
            )
        cur.execute(_sql(_LINES_SQL), [document_id, True])
        line_rows = cur.fetchall()
        cur.execute(_sql(_VAT_SQL), [document_id])
        vat_rows = cur.fetchall()
    tz = ZoneInfo(tz_name or DEFAULT_TIMEZONE)
    lines = []
    for x in line_rows:
        amounts = [_dec(v, _AMOUNT_PLACES) for v in x[10:16]]
        lines.append(
            LineData(
                position=x[0],
                section=x[1],
                kind=x[2],
                description=x[3],
                session_start=_dt(x[4]),
                session_end=_dt(x[5]),
                location=x[6],
                evse=x[7],
                energy_kwh=_dec(x[8], _KWH_PLACES),
                duration_hours=_dec(x[9], _KWH_PLACES),
                components=tuple(
                    (name, value)
                    for name, value in zip(COMPONENTS, amounts, strict=True)
                    if value != 0
                ),
                net=_dec(x[16], _AMOUNT_PLACES),
                vat_category=x[17],
                vat_rate=_dec(x[18], _RATE_PLACES),
                exemption_reason=x[19],
            )
        )
    groups = tuple(
        VatGroupData(
            category=category,
            rate=_dec(rate, _RATE_PLACES),
            taxable=_dec(taxable, _AMOUNT_PLACES),
            vat=_dec(vat, _AMOUNT_PLACES),
            exemption_reason=exemption_reason,
        )
        for category, rate, taxable, vat, exemption_reason in vat_rows
    )
    seller = PartyData.of(_json(seller_v))
    buyer = PartyData.of(_json(buyer_v))
    # Who is paid: the seller (on a self-billing statement, the payee). The tenant's own
    # account from its settings when the seller is the tenant and its snapshot has none.
    iban, bic = seller.iban, seller.bic
    if not iban and tz_name is not None and doc_type != DocumentType.SELF_BILLING:
        iban = (settings_iban or "").replace(" ", "").upper()
        bic = (settings_bic or "").replace(" ", "").upper()
    finalized = _dt(finalized_at)
    issue_date = _day(issue_date_v) or (finalized.astimezone(tz).date() if finalized else None)
    if issue_date is None:
        raise DocumentNotFinalized(f"Document {number} has no issue date.")
    return DocumentData(
        id=pk,
        tenant_id=tenant_id,
        doc_type=DocumentType(doc_type),
        type_code=TYPE_CODES[DocumentType(doc_type)],
        number=number,
        issue_date=issue_date,
        due_date=_day(due_date_v),
        period_start=_local_day(_dt(period_start), tz, end=False),
        period_end=_local_day(_dt(period_end), tz, end=True),
        currency=currency.upper(),
        language=language or "en",
        timezone=tz,
        seller=seller,
        buyer=buyer,
        lines=tuple(lines),
        groups=groups,
        net_total=_dec(net_total, _AMOUNT_PLACES),
        vat_total=_dec(vat_total, _AMOUNT_PLACES),
        total=_dec(total, _AMOUNT_PLACES),
        energy_kwh=_dec(energy_kwh, _KWH_PLACES),
        has_late_section=bool(has_late_section),
        credits_number=credits_number or "",
        credits_issue_date=_day(credits_issue_date),
        reason=reason,
        payment_iban=iban,
        payment_bic=bic,
        email=email,
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
