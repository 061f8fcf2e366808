"""Billing runs, documents (invoices, self-billing statements, credit notes), their lines, VAT
breakdown, files and deliveries; the universal CDR record; the finance export (BILLING.md
sections 4 and 5, ADR 0035).

Amounts are `Decimal`s beside the document's one `currency` (ADR 0020's second rule: documents
and their lines are written in bulk by billing runs); finance adjustments, typed in by a
person one at a time, use django-money.
"""

from __future__ import annotations

from typing import TypedDict

from django.db import models
from djmoney.models.fields import MoneyField

from apps.common.models import AppendOnlyModel, TenantOwnedModel, choices, in_enum
from apps.invoicing.contracts import (
    CounterpartyKind,
    DeliveryStatus,
    DocumentStatus,
    DocumentType,
    ExclusionKind,
    ExportFileKind,
    FileKind,
    Frequency,
    GlComponent,
    GlRole,
    LineKind,
    LineSection,
    RunStatus,
    RunTrigger,
    VatCategory,
)


class _Digits(TypedDict):
    max_digits: int
    decimal_places: int


AMOUNT: _Digits = {"max_digits": 18, "decimal_places": 4}  # rounded to the minor unit
VAT_RATE: _Digits = {"max_digits": 5, "decimal_places": 2}  # percent
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch"), ("fr", "Français")]


class InvoicingSettings(TenantOwnedModel):
    """One per tenant: who the tenant is on its documents (the seller; the buyer on
    self-billing statements), how its numbers look and how long a run waits for late CDRs."""

    legal_name = models.CharField(max_length=200, blank=True)  # empty: the operator's name
    address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    vat_number = models.CharField(max_length=32, blank=True)
    company_id = models.CharField(max_length=64, blank=True)  # chamber of commerce number
    email = models.EmailField(blank=True)  # reply-to of sent documents
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    timezone = models.CharField(max_length=64, default="Europe/Amsterdam")  # periods' days
    default_language = models.CharField(max_length=2, choices=LANGUAGES, default="en")
    grace_days = models.PositiveSmallIntegerField(default=5)  # wait for late CDRs
    payment_terms_days = models.PositiveSmallIntegerField(default=14)
    year_in_prefix = models.BooleanField(default=True)  # INV-2026-000001; the series per year
    prefix_customer_invoice = models.CharField(max_length=16, default="INV")
    prefix_emsp_invoice = models.CharField(max_length=16, default="EMSP")
    prefix_self_billing = models.CharField(max_length=16, default="SB")
    prefix_credit_note = models.CharField(max_length=16, default="CN")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="invoicing_settings_one_per_tenant")
        ]


class BillingProfile(TenantOwnedModel):
    """How one counterparty is billed, where it differs from the defaults: the frequency of
    its documents, their language and address, the e-mail they go to. Exactly one of
    customer, party and payee. No profile: monthly, the tenant's language, the counterparty's
    own details."""

    kind = models.CharField(max_length=8, choices=choices(CounterpartyKind))
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payee = models.ForeignKey(
        "rating.Payee", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    frequency = models.CharField(
        max_length=8, choices=choices(Frequency), default=Frequency.MONTHLY.value
    )
    language = models.CharField(max_length=2, choices=LANGUAGES, blank=True)
    email = models.EmailField(blank=True)
    legal_name = models.CharField(max_length=200, blank=True)
    vat_number = models.CharField(max_length=32, blank=True)
    address = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="CUSTOMER",
                        customer__isnull=False,
                        party__isnull=True,
                        payee__isnull=True,
                    )
                    | models.Q(
                        kind="PARTY", customer__isnull=True, party__isnull=False, payee__isnull=True
                    )
                    | models.Q(
                        kind="PAYEE", customer__isnull=True, party__isnull=True, payee__isnull=False
                    )
                ),
                name="billing_profile_one_counterparty",
            ),
            models.CheckConstraint(
                condition=in_enum("frequency", Frequency), name="billing_profile_frequency_valid"
            ),
            models.UniqueConstraint(
                fields=["tenant", "customer"],
                condition=models.Q(customer__isnull=False),
                name="billing_profile_customer_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "party"],
                condition=models.Q(party__isnull=False),
                name="billing_profile_party_unique",
            ),
            models.UniqueConstraint(
                fields=["tenant", "payee"],
                condition=models.Q(payee__isnull=False),
                name="billing_profile_payee_unique",
            ),
        ]


class BillingRun(TenantOwnedModel):
    """One run of one tenant over one period and frequency: collects the unbilled rated lines
    of sessions that ended before `period_end` into drafts (those that ended before
    `period_start` on their "late sessions" section). Progress is `groups_done` of
    `groups_total` (one group: one future document)."""

    frequency = models.CharField(max_length=8, choices=choices(Frequency))
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    trigger = models.CharField(max_length=8, choices=choices(RunTrigger))
    status = models.CharField(
        max_length=8, choices=choices(RunStatus), default=RunStatus.QUEUED.value
    )
    groups_total = models.PositiveIntegerField(default=0)
    groups_done = models.PositiveIntegerField(default=0)
    documents_created = models.PositiveIntegerField(default=0)
    lines_billed = models.PositiveIntegerField(default=0)
    started_by = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=254, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="billing_run_period_ordered",
            ),
            models.CheckConstraint(
                condition=in_enum("status", RunStatus), name="billing_run_status_valid"
            ),
            # Beat on several machines, or twice: one scheduled run per period.
            models.UniqueConstraint(
                fields=["tenant", "frequency", "period_start"],
                condition=models.Q(trigger="SCHEDULE"),
                name="billing_run_scheduled_once",
            ),
        ]


class Document(TenantOwnedModel):
    """An invoice, self-billing statement or credit note. A DRAFT has no number and may be
    discarded; FINALIZED gets the next number of its gapless series inside the finalizing
    transaction and is immutable from then on (PostgreSQL trigger); nothing is deleted.

    `seller` and `buyer` are snapshots (name, address, VAT number, ...) taken when the draft
    is made, so the document never changes when a customer moves. On a self-billing
    statement the seller is the payee (the charger owner) and the buyer the tenant.
    Totals follow EN 16931: `net_total` = sum of line nets, `vat_total` = sum of the VAT
    breakdown (per rate group, on the sum of its lines), `total` = net_total + vat_total."""

    doc_type = models.CharField(max_length=16, choices=choices(DocumentType))
    status = models.CharField(
        max_length=10, choices=choices(DocumentStatus), default=DocumentStatus.DRAFT.value
    )
    number = models.CharField(max_length=40, blank=True)
    billing_run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)  # set when finalized
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="en")
    counterparty_kind = models.CharField(max_length=8, choices=choices(CounterpartyKind))
    buyer_customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    buyer_party = models.ForeignKey(
        "parties.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payee = models.ForeignKey(
        "rating.Payee", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The platform tenant that receives it (a marketplace eMSP): it sees the document too.
    buyer_tenant = models.ForeignKey(
        "parties.Operator", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seller = models.JSONField(default=dict)
    buyer = models.JSONField(default=dict)
    email = models.EmailField(blank=True)  # where it is delivered
    net_total = models.DecimalField(**AMOUNT, default=0)
    vat_total = models.DecimalField(**AMOUNT, default=0)
    total = models.DecimalField(**AMOUNT, default=0)
    line_count = models.PositiveIntegerField(default=0)
    energy_kwh = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    has_late_section = models.BooleanField(default=False)
    # Credit notes: the finalized document they correct, and why.
    credits = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_by_name = models.CharField(max_length=254, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by_name = models.CharField(max_length=254, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_by_name = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "doc_type", "number"],
                condition=~models.Q(number=""),
                name="document_number_unique",
            ),
            models.CheckConstraint(
                condition=in_enum("doc_type", DocumentType), name="document_type_valid"
            ),
            models.CheckConstraint(
                condition=in_enum("status", DocumentStatus), name="document_status_valid"
            ),
            # A number exactly when finalized.
            models.CheckConstraint(
                condition=(models.Q(status="FINALIZED") & ~models.Q(number=""))
                | (~models.Q(status="FINALIZED") & models.Q(number="")),
                name="document_number_iff_finalized",
            ),
            models.CheckConstraint(
                condition=(models.Q(doc_type="CREDIT_NOTE") & models.Q(credits__isnull=False))
                | (~models.Q(doc_type="CREDIT_NOTE") & models.Q(credits__isnull=True)),
                name="document_credit_note_references",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "doc_type", "status"], name="document_type_status"),
            models.Index(
                fields=["buyer_tenant", "status"],
                condition=models.Q(buyer_tenant__isnull=False),
                name="document_buyer_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.pk}"


class DocumentLine(TenantOwnedModel):
    """One line of a document: one rated line of one session (or its reversal), or a credit
    note's credit of a finalized line. Amounts are positive on invoices for what the buyer
    owes and on credit notes for what is credited; a CORRECTION line is negative.
    `active` goes False only when its draft is discarded: then its rated line may be billed
    again. A rated line is on at most one active line (unique), so it is never billed
    twice; a finalized line is never credited twice (unique `credited_line`)."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    section = models.CharField(
        max_length=8, choices=choices(LineSection), default=LineSection.PERIOD.value
    )
    kind = models.CharField(max_length=10, choices=choices(LineKind))
    active = models.BooleanField(default=True)
    rated_line = models.ForeignKey(
        "rating.RatedLine", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cdr = models.ForeignKey(
        "charging.Cdr", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credited_line = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=300, blank=True)
    session_start = models.DateTimeField(null=True, blank=True)
    session_end = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=300, blank=True)  # name, address, city
    evse = models.CharField(max_length=64, blank=True)
    energy_kwh = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    duration_hours = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    fixed = models.DecimalField(**AMOUNT, default=0)
    energy = models.DecimalField(**AMOUNT, default=0)
    time = models.DecimalField(**AMOUNT, default=0)
    parking = models.DecimalField(**AMOUNT, default=0)
    reservation = models.DecimalField(**AMOUNT, default=0)
    adjustment = models.DecimalField(**AMOUNT, default=0)
    net = models.DecimalField(**AMOUNT)  # the rated line's rounded total excl. VAT
    vat_category = models.CharField(max_length=2, choices=choices(VatCategory))
    vat_rate = models.DecimalField(**VAT_RATE)
    exemption_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["document_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "position"], name="document_line_position_unique"
            ),
            models.UniqueConstraint(
                fields=["rated_line"],
                condition=models.Q(active=True, rated_line__isnull=False),
                name="document_line_rated_line_once",
            ),
            models.UniqueConstraint(
                fields=["credited_line"],
                condition=models.Q(active=True, credited_line__isnull=False),
                name="document_line_credited_once",
            ),
            models.CheckConstraint(
                condition=in_enum("vat_category", VatCategory),
                name="document_line_vat_category_valid",
            ),
        ]
        indexes = [models.Index(fields=["cdr"], name="document_line_cdr")]


class VatBreakdown(TenantOwnedModel):
    """EN 16931 BG-23: per VAT category and rate, the sum of its line nets (`taxable`) and
    the VAT on that sum, rounded once."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="vat_breakdown")
    category = models.CharField(max_length=2, choices=choices(VatCategory))
    rate = models.DecimalField(**VAT_RATE)
    taxable = models.DecimalField(**AMOUNT)
    vat = models.DecimalField(**AMOUNT)
    exemption_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["document_id", "category", "rate"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "category", "rate"], name="vat_breakdown_unique"
            )
        ]


class DocumentFile(AppendOnlyModel):
    """A finalized document's file, stored once with its SHA-256: a download is these bytes."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="files")
    kind = models.CharField(max_length=8, choices=choices(FileKind))
    filename = models.CharField(max_length=120)
    content_type = models.CharField(max_length=64)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["document_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["document", "kind"], name="document_file_once"),
        ]


class Delivery(AppendOnlyModel):
    """Each e-mail of a document (first send and every resend), and how it went."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="deliveries")
    to_email = models.EmailField()
    status = models.CharField(max_length=8, choices=choices(DeliveryStatus))
    error = models.TextField(blank=True)
    actor_name = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["document_id", "id"]


class CdrRecord(AppendOnlyModel):
    """The universal record (BILLING.md section 5): one JSON document per CDR and tenant with
    the OCPI CDR and what each engine made of it for that tenant (rated lines, rules, VAT,
    flags, document links). Immutable: when any of that changes, the next export writes a
    new `version`; the newest is current."""

    cdr = models.ForeignKey("charging.Cdr", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    payload = models.JSONField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["cdr_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "cdr", "version"], name="cdr_record_version_unique"
            )
        ]


class GlMapping(TenantOwnedModel):
    """The tenant's chart-of-accounts mapping: which GL account and cost centre a rated
    line's component books to. Empty `engine` or `vat_category` matches any; the most
    specific row wins; nothing matching books to the account "UNMAPPED" (shown in the
    preview)."""

    engine = models.CharField(max_length=16, blank=True)
    role = models.CharField(max_length=8, choices=choices(GlRole))
    component = models.CharField(max_length=12, choices=choices(GlComponent))
    vat_category = models.CharField(max_length=2, blank=True)
    account = models.CharField(max_length=32)
    cost_centre = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["role", "component", "engine", "vat_category"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "engine", "role", "component", "vat_category"],
                name="gl_mapping_unique",
            ),
            models.CheckConstraint(condition=in_enum("role", GlRole), name="gl_mapping_role"),
            models.CheckConstraint(
                condition=in_enum("component", GlComponent), name="gl_mapping_component"
            ),
        ]


class FinanceExclusion(TenantOwnedModel):
    """Finance leaves what this matches out of the export (an account, a customer, a party, a
    payee), with a reason. Retired, not deleted: `retired_at`."""

    kind = models.CharField(max_length=8, choices=choices(ExclusionKind))
    value = models.CharField(max_length=64)
    reason = models.CharField(max_length=300)
    created_by_name = models.CharField(max_length=254, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by_name = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=in_enum("kind", ExclusionKind), name="finance_exclusion_kind"
            )
        ]


class FinanceAdjustment(AppendOnlyModel):
    """A manual journal amount finance adds to a period (append-only: a mistake is corrected
    by another adjustment). Exported once, with the first batch whose period covers it."""

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    amount = MoneyField(max_digits=18, decimal_places=4, default_currency=None)
    account = models.CharField(max_length=32)
    cost_centre = models.CharField(max_length=32, blank=True)
    vat_class = models.CharField(max_length=8, blank=True)
    counterparty = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)
    author = models.ForeignKey(
        "parties.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=254)

    class Meta:
        ordering = ["-id"]


class ExportBatch(AppendOnlyModel):
    """A posted finance export: journal lines (CSV and JSON) and the universal records of its
    CDRs, immutable. Posting the same period again returns this batch (same bytes). It holds
    the rated lines of sessions that ended in its period and were rated before `cutoff`, and
    earlier periods' lines not exported yet (late CDRs): a rated line is in one batch only."""

    number = models.PositiveIntegerField()  # 1, 2, ... per tenant
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    cutoff = models.DateTimeField()
    posted_by_name = models.CharField(max_length=254)
    line_count = models.PositiveIntegerField()
    cdr_count = models.PositiveIntegerField()
    energy_kwh = models.DecimalField(max_digits=18, decimal_places=6)
    totals = models.JSONField(default=dict)  # per currency: debit, credit

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="export_batch_number"),
            models.UniqueConstraint(
                fields=["tenant", "period_start", "period_end"], name="export_batch_period_once"
            ),
        ]


class ExportFile(AppendOnlyModel):
    """One file of an export batch: its name, size and the SHA-256 of its whole bytes. The
    bytes are its `ExportFileChunk` rows (batch, kind) in `seq` order (ADR 0039): a month's
    records file is hundreds of MB gzipped, more than one bytea value can be sent as."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="files")
    kind = models.CharField(max_length=16, choices=choices(ExportFileKind))
    filename = models.CharField(max_length=120)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "kind"], name="export_file_once")]


class ExportFileChunk(AppendOnlyModel):
    """A piece of at most EXPORT_FILE_CHUNK_BYTES of an export file, written while the batch
    is built (before its ExportFile row, which holds the whole file's size and SHA-256)."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=choices(ExportFileKind))
    seq = models.PositiveIntegerField()
    content = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "kind", "seq"], name="export_file_chunk_once")
        ]


class ExportedLine(AppendOnlyModel):
    """Which batch exported a rated line for this tenant (the seller and the buying tenant
    each export it once, on their own side)."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="+")
    rated_line = models.ForeignKey("rating.RatedLine", on_delete=models.PROTECT, related_name="+")
    cdr = models.ForeignKey("charging.Cdr", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "rated_line"], name="exported_line_once_per_tenant"
            )
        ]


class ExportedAdjustment(AppendOnlyModel):
    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="+")
    adjustment = models.OneToOneField(
        FinanceAdjustment, on_delete=models.PROTECT, related_name="exported"
    )
