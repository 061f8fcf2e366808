"""Gapless document numbers (ADR 0037): one django-sequences row per tenant x document type
(x year, where the tenant puts the year in its prefix), incremented inside the caller's
finalizing transaction.

The increment is an upsert on the sequence row (`INSERT ... ON CONFLICT DO UPDATE` on
PostgreSQL): it holds the row's lock until the caller commits, so concurrent finalizers of
the same series wait for each other and take consecutive numbers; a caller that rolls back
gives its numbers back with the row's old value (no gap, no repeat). Call these only inside
`transaction.atomic()` and only when the document is sure to be finalized in it.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from sequences import get_next_values

from apps.invoicing.contracts import DocumentType, InvoicingSettingsRef

SERIES_PREFIX = "invoicing"


def prefix_of(settings: InvoicingSettingsRef, doc_type: DocumentType | str) -> str:
    return {
        DocumentType.CUSTOMER_INVOICE: settings.prefix_customer_invoice,
        DocumentType.EMSP_INVOICE: settings.prefix_emsp_invoice,
        DocumentType.SELF_BILLING: settings.prefix_self_billing,
        DocumentType.CREDIT_NOTE: settings.prefix_credit_note,
    }[DocumentType(doc_type)]


def series_name(*, tenant_id: int, doc_type: DocumentType | str, year: int | None) -> str:
    """`invoicing/<tenant_id>/<doc_type>/<year or "all">`: the django-sequences row name."""
    return f"{SERIES_PREFIX}/{tenant_id}/{DocumentType(doc_type).value}/{year or 'all'}"


def number_text(*, prefix: str, year: int | None, n: int) -> str:
    """`INV-2026-000042` (year in prefix) or `INV-000042`."""
    return f"{prefix}-{year}-{n:06d}" if year else f"{prefix}-{n:06d}"


def next_numbers(
    *,
    tenant_id: int,
    doc_type: DocumentType | str,
    issue_date: date,
    settings: InvoicingSettingsRef,
    count: int,
) -> list[str]:
    """The next `count` numbers of the series, reserved as one block with one locked
    sequence update (the bulk finalize's chunk: one statement for hundreds of documents).
    `issue_date` is the local date of issue (the tenant's timezone): its year names the
    series when the year is in the prefix."""
    if count <= 0:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document numbers are taken only inside the finalizing transaction")
    year = issue_date.year if settings.year_in_prefix else None
    values = get_next_values(count, series_name(tenant_id=tenant_id, doc_type=doc_type, year=year))
    prefix = prefix_of(settings, doc_type)
    return [number_text(prefix=prefix, year=year, n=n) for n in values]


def next_number(
    *,
    tenant_id: int,
    doc_type: DocumentType | str,
    issue_date: date,
    settings: InvoicingSettingsRef,
) -> str:
    """The next number of the series, inside the caller's transaction."""
    return next_numbers(
        tenant_id=tenant_id, doc_type=doc_type, issue_date=issue_date, settings=settings, count=1
    )[0]
