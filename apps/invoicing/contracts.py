"""Public shapes of invoicing: billing runs, documents (invoices, statements, credit notes),
their files and deliveries, the universal CDR record and the finance export (BILLING.md
sections 4 and 5, ADR 0035)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class DocumentType(enum.StrEnum):
    """Each type has its own gapless number series per tenant (and year, where configured)."""

    CUSTOMER_INVOICE = "CUSTOMER_INVOICE"  # retail: the eMSP tenant to its customer
    EMSP_INVOICE = "EMSP_INVOICE"  # wholesale: the CPO tenant to an eMSP party (not own-charge)
    SELF_BILLING = "SELF_BILLING"  # reimbursement: issued by the tenant on the owner's behalf
    CREDIT_NOTE = "CREDIT_NOTE"  # corrects a finalized document of any type above


class DocumentStatus(enum.StrEnum):
    DRAFT = "DRAFT"  # no number; its lines hold their rated lines (nobody else bills them)
    FINALIZED = "FINALIZED"  # numbered and immutable (PostgreSQL trigger)
    DISCARDED = "DISCARDED"  # a draft given up: its rated lines are free again; kept, never deleted


class Frequency(enum.StrEnum):
    MONTHLY = "MONTHLY"
    WEEKLY = "WEEKLY"  # ISO weeks, Monday to Monday
    DAILY = "DAILY"


class RunTrigger(enum.StrEnum):
    SCHEDULE = "SCHEDULE"  # Celery beat, once per tenant x frequency x period
    MANUAL = "MANUAL"  # portal or REST


class RunStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class LineSection(enum.StrEnum):
    PERIOD = "PERIOD"  # sessions that ended in the document's period
    LATE = "LATE"  # sessions of a period whose run was already made ("late sessions")


class LineKind(enum.StrEnum):
    SESSION = "SESSION"  # one rated line of one session
    CORRECTION = "CORRECTION"  # a reversal rated line (re-rating) billed after the original
    CREDIT = "CREDIT"  # a credit note's line, crediting a finalized line


class VatCategory(enum.StrEnum):
    """UNTDID 5305 as EN 16931 uses it (BT-118 / BT-151)."""

    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"  # e.g. HCC_E home charging: 0 % with an exemption reason
    REVERSE_CHARGE = "AE"  # EU business buyer in another member state
    OUTSIDE_SCOPE = "O"


class FileKind(enum.StrEnum):
    PDF = "PDF"  # for people; Factur-X (PDF/A-3 with the CII inside)
    UBL = "UBL"  # UBL 2.1, EN 16931 / Peppol BIS Billing 3.0
    CII = "CII"  # UN/CEFACT CII, EN 16931 (the XML inside the Factur-X PDF)


class DeliveryStatus(enum.StrEnum):
    SENT = "SENT"
    FAILED = "FAILED"


class CounterpartyKind(enum.StrEnum):
    CUSTOMER = "CUSTOMER"  # customers.Customer (retail)
    PARTY = "PARTY"  # parties.Party, an eMSP (wholesale)
    PAYEE = "PAYEE"  # rating.Payee, a charger owner (reimbursement)


class GlRole(enum.StrEnum):
    """Which side of a rated line the tenant is on."""

    REVENUE = "REVENUE"  # the tenant sells: retail, wholesale to an eMSP
    COST = "COST"  # the tenant pays: reimbursement to an owner, wholesale bought (marketplace)


class GlComponent(enum.StrEnum):
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"
    FIXED = "FIXED"
    RESERVATION = "RESERVATION"
    ADJUSTMENT = "ADJUSTMENT"  # mark-ups and margins of the rule
    VAT = "VAT"


class ExclusionKind(enum.StrEnum):
    ACCOUNT = "ACCOUNT"
    CUSTOMER = "CUSTOMER"
    PARTY = "PARTY"
    PAYEE = "PAYEE"


class ExportFileKind(enum.StrEnum):
    JOURNAL_CSV = "JOURNAL_CSV"
    JOURNAL_JSON = "JOURNAL_JSON"
    RECORDS_JSONL = "RECORDS_JSONL"  # the universal records of the batch's CDRs, one per line


# -- area "docs": finalize, credit notes, document reads -----------------------------------


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """One document in a list: enough for a row of the portal's table or the REST list."""

    id: int
    tenant_id: int
    doc_type: str
    status: str
    number: str
    currency: str
    counterparty_kind: str
    counterparty: str  # the buyer's name (the seller's on a self-billing statement)
    buyer_customer_id: int | None
    buyer_party_id: int | None
    payee_id: int | None
    buyer_tenant_id: int | None
    billing_run_id: int | None
    period_start: datetime | None
    period_end: datetime | None
    issue_date: date | None
    due_date: date | None
    net_total: Decimal
    vat_total: Decimal
    total: Decimal
    line_count: int
    energy_kwh: Decimal
    has_late_section: bool
    credits_id: int | None
    created_at: datetime
    finalized_at: datetime | None


@dataclass(frozen=True, slots=True)
class DocumentLineRecord:
    id: int
    position: int
    section: str
    kind: str
    active: bool
    rated_line_id: int | None
    cdr_id: int | None
    credited_line_id: int | None
    description: str
    session_start: datetime | None
    session_end: datetime | None
    location: str
    evse: str
    energy_kwh: Decimal
    duration_hours: Decimal
    fixed: Decimal
    energy: Decimal
    time: Decimal
    parking: Decimal
    reservation: Decimal
    adjustment: Decimal
    net: Decimal
    vat_category: str
    vat_rate: Decimal
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class VatBreakdownRecord:
    category: str
    rate: Decimal
    taxable: Decimal
    vat: Decimal
    exemption_reason: str


@dataclass(frozen=True, slots=True)
class DocumentDetail:
    """A document with its lines (active ones; a discarded draft's, inactive), its VAT
    breakdown, the credit notes that credit it and the original a credit note credits.
    `incoming`: the viewer is the buying tenant (a marketplace eMSP), read only."""

    document: DocumentRow
    seller: dict[str, Any]
    buyer: dict[str, Any]
    email: str
    language: str
    reason: str
    created_by_name: str
    finalized_by_name: str
    discarded_at: datetime | None
    discarded_by_name: str
    lines: tuple[DocumentLineRecord, ...]
    vat_breakdown: tuple[VatBreakdownRecord, ...]
    credit_notes: tuple[DocumentRow, ...]
    original: DocumentRow | None
    credited_line_ids: frozenset[int]  # lines of this document some credit note credits
    incoming: bool


@dataclass(frozen=True, slots=True)
class FinalizeResult:
    """What a bulk finalize did: the documents it numbered (id, number, in id order) and the
    ones it left as they were, with why (not a draft, in the grace period, no lines)."""

    finalized: tuple[tuple[int, str], ...]
    refused: tuple[tuple[int, str], ...]
    chunks: int


# -- area "runs": settings, billing profiles, billing runs -------------------------------------


@dataclass(frozen=True, slots=True)
class InvoicingSettingsRef:
    """A tenant's invoicing settings (the defaults when it has saved none: `saved` False)."""

    tenant_id: int
    saved: bool
    legal_name: str
    address: str
    postal_code: str
    city: str
    country: str
    vat_number: str
    company_id: str
    email: str
    iban: str
    bic: str
    timezone: str
    default_language: str
    grace_days: int
    payment_terms_days: int
    year_in_prefix: bool
    prefix_customer_invoice: str
    prefix_emsp_invoice: str
    prefix_self_billing: str
    prefix_credit_note: str

    def prefix(self, doc_type: DocumentType | str) -> str:
        return {
            DocumentType.CUSTOMER_INVOICE: self.prefix_customer_invoice,
            DocumentType.EMSP_INVOICE: self.prefix_emsp_invoice,
            DocumentType.SELF_BILLING: self.prefix_self_billing,
            DocumentType.CREDIT_NOTE: self.prefix_credit_note,
        }[DocumentType(doc_type)]


INVOICING_SETTINGS_FIELDS = (
    "legal_name",
    "address",
    "postal_code",
    "city",
    "country",
    "vat_number",
    "company_id",
    "email",
    "iban",
    "bic",
    "timezone",
    "default_language",
    "grace_days",
    "payment_terms_days",
    "year_in_prefix",
    "prefix_customer_invoice",
    "prefix_emsp_invoice",
    "prefix_self_billing",
    "prefix_credit_note",
)


@dataclass(frozen=True, slots=True)
class BillingProfileRef:
    """How one counterparty is billed (a saved profile)."""

    id: int
    kind: str  # CounterpartyKind
    counterparty_id: int
    counterparty_name: str
    frequency: str
    language: str
    email: str
    legal_name: str
    vat_number: str
    address: str
    postal_code: str
    city: str
    country: str
    updated_at: datetime


BILLING_PROFILE_FIELDS = (
    "frequency",
    "language",
    "email",
    "legal_name",
    "vat_number",
    "address",
    "postal_code",
    "city",
    "country",
)


@dataclass(frozen=True, slots=True)
class BillingRunRef:
    """One billing run and its progress."""

    id: int
    tenant_id: int
    frequency: str
    period_start: datetime
    period_end: datetime
    trigger: str
    status: str
    groups_total: int
    groups_done: int
    documents_created: int
    lines_billed: int
    actor_name: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    created_at: datetime

    @property
    def live(self) -> bool:
        return self.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value)

    @property
    def percent(self) -> int:
        if self.status == RunStatus.DONE.value:
            return 100
        if not self.groups_total:
            return 0
        return min(100, self.groups_done * 100 // self.groups_total)


@dataclass(frozen=True, slots=True)
class RunDocumentRow:
    """A document a billing run made (for the run's page)."""

    id: int
    doc_type: str
    status: str
    number: str
    counterparty_kind: str
    buyer_name: str
    seller_name: str
    currency: str
    net_total: Decimal
    vat_total: Decimal
    total: Decimal
    line_count: int
    has_late_section: bool
