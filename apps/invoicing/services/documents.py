"""A document's life after its draft (ADR 0035, ADR 0037): finalize (one, or many in bulk) with
a gapless number, discard a draft, credit a finalized document (in full or some of its lines).

Every change runs in one transaction that locks the document first (`select_for_update`,
ordered by id), takes its number there (apps.invoicing.services.numbering), emits the
webhook there (the integrations outbox) and writes the audit entry there; the files are
rendered after the commit (`jobs.files_render_enqueue`). The PostgreSQL guards of migration
0001 make a finalized or discarded document, its lines and its VAT breakdown immutable, so
lines are changed before the document's status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.integrations import api as integrations_api
from apps.integrations.contracts import WebhookEventIn, WebhookEventType
from apps.invoicing import jobs
from apps.invoicing.arithmetic import TaxedLine, document_totals, round_amount
from apps.invoicing.contracts import (
    DocumentStatus,
    DocumentType,
    FinalizeResult,
    InvoicingSettingsRef,
    LineKind,
    VatCategory,
)
from apps.invoicing.models import Document, DocumentLine, VatBreakdown
from apps.invoicing.services.numbering import next_numbers
from apps.invoicing.services.settings import invoicing_settings_get
from apps.parties import api as parties_api

CHUNK = 500  # documents per transaction of a bulk finalize
REASON_MAX = 300
DRAFT = DocumentStatus.DRAFT.value
FINALIZED = DocumentStatus.FINALIZED.value
DISCARDED = DocumentStatus.DISCARDED.value
CREDIT_NOTE = DocumentType.CREDIT_NOTE.value
ZERO = Decimal(0)

# The document fields a webhook's payload and the audit entry carry.
_EVENT_FIELDS = (
    "id",
    "doc_type",
    "currency",
    "counterparty_kind",
    "buyer_customer_id",
    "buyer_party_id",
    "payee_id",
    "buyer_tenant_id",
    "billing_run_id",
    "period_start",
    "period_end",
    "net_total",
    "vat_total",
    "total",
    "line_count",
    "credits_id",
    "credits__number",
    "seller",
    "buyer",
)


def actor_name(actor: Actor) -> str:
    """How a document names who made it, finalized or discarded it."""
    if actor.name:
        return actor.name
    return f"user {actor.user_id}" if actor.user_id is not None else ""


def tenant_settings(tenant_id: int) -> InvoicingSettingsRef:
    """The tenant's invoicing settings, or the defaults when it has none."""
    return invoicing_settings_get(tenant_id=tenant_id)


def tenant_timezone(*, tenant_id: int) -> str:
    """The tenant's timezone (IANA name): its periods' days and its documents' dates."""
    return tenant_settings(tenant_id).timezone


def local_date(moment: datetime, settings: InvoicingSettingsRef) -> date:
    return moment.astimezone(ZoneInfo(settings.timezone)).date()


def grace_ends(period_end: datetime, settings: InvoicingSettingsRef) -> datetime:
    """When a draft of a period that ended at `period_end` may be finalized: late CDRs of
    the period have had `grace_days` to arrive."""
    return period_end + timedelta(days=settings.grace_days)


def _grace_problem(
    period_end: datetime | None, doc_type: str, settings: InvoicingSettingsRef, now: datetime
) -> str | None:
    if doc_type == CREDIT_NOTE or period_end is None:
        return None
    ends = grace_ends(period_end, settings)
    if now >= ends:
        return None
    return (
        f"its period ended on {local_date(period_end, settings).isoformat()}; it may be "
        f"finalized from {local_date(ends, settings).isoformat()} "
        f"({ends.isoformat()}), after the grace period of {settings.grace_days} day(s) "
        "for late CDRs"
    )


def _name(snapshot: Any) -> str:
    return str(snapshot.get("name") or "") if isinstance(snapshot, dict) else ""


def _event_data(row: dict[str, Any], number: str, issue: date, due: date) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["doc_type"],
        "number": number,
        "issue_date": issue.isoformat(),
        "due_date": due.isoformat(),
        "currency": row["currency"],
        "net_total": round_amount(row["net_total"], row["currency"]),
        "vat_total": round_amount(row["vat_total"], row["currency"]),
        "total": round_amount(row["total"], row["currency"]),
        "line_count": row["line_count"],
        "counterparty_kind": row["counterparty_kind"],
        "buyer_customer_id": row["buyer_customer_id"],
        "buyer_party_id": row["buyer_party_id"],
        "payee_id": row["payee_id"],
        "billing_run_id": row["billing_run_id"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "credits": row["credits_id"],
        "credits_number": row["credits__number"] or None,
        "buyer_name": _name(row["buyer"]),
        "seller_name": _name(row["seller"]),
    }


def _event(
    tenant_id: int, row: dict[str, Any], number: str, issue: date, due: date, now: datetime
) -> WebhookEventIn:
    kind = (
        WebhookEventType.CREDIT_NOTE_FINALIZED
        if row["doc_type"] == CREDIT_NOTE
        else WebhookEventType.INVOICE_FINALIZED
    )
    return WebhookEventIn(
        tenant_id=tenant_id,
        type=kind,
        key=f"document:{row['id']}",
        occurred_at=now,
        data=_event_data(row, number, issue, due),
    )


@dataclass(frozen=True, slots=True)
class _Numbered:
    id: int
    number: str


def _write_finalized(
    numbered: Sequence[_Numbered], *, issue: date, due: date, who: str, now: datetime
) -> None:
    """Set number, dates and status of locked drafts: one UPDATE ... FROM (VALUES ...) on
    PostgreSQL; `bulk_update` elsewhere (the SQLite quick start)."""
    if not numbered:
        return
    if connection.vendor == "postgresql":
        table = Document._meta.db_table
        values = ", ".join(["(%s::bigint, %s)"] * len(numbered))
        params: list[Any] = [FINALIZED, issue, due, now, who, now]
        for n in numbered:
            params += [n.id, n.number]
        params.append(DRAFT)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS d SET status = %s, number = v.number, issue_date = %s, "
                "due_date = %s, finalized_at = %s, finalized_by_name = %s, updated_at = %s "
                f"FROM (VALUES {values}) AS v(id, number) "
                "WHERE d.id = v.id AND d.status = %s",
                params,
            )
            written = cursor.rowcount
    else:
        docs = []
        for n in numbered:
            doc = Document(pk=n.id, status=FINALIZED, number=n.number)
            doc.issue_date, doc.due_date = issue, due
            doc.finalized_at, doc.finalized_by_name, doc.updated_at = now, who, now
            docs.append(doc)
        written = Document.objects.bulk_update(
            docs,
            [
                "status",
                "number",
                "issue_date",
                "due_date",
                "finalized_at",
                "finalized_by_name",
                "updated_at",
            ],
        )
    if written != len(numbered):  # the rows are locked: this cannot happen
        raise RuntimeError(f"finalized {written} of {len(numbered)} locked drafts")


def _number_and_write(
    tenant_id: int,
    rows: list[dict[str, Any]],
    *,
    settings: InvoicingSettingsRef,
    actor: Actor,
    now: datetime,
) -> list[_Numbered]:
    """Number locked drafts (per type, in id order, one block per type), write them, emit
    their webhooks and queue their files; inside the caller's transaction."""
    issue = local_date(now, settings)
    due = issue + timedelta(days=settings.payment_terms_days)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        by_type[row["doc_type"]].append(row)
    numbered: list[_Numbered] = []
    numbers: dict[int, str] = {}
    for doc_type in sorted(by_type):  # one lock order for every finalizer: no deadlock
        group = by_type[doc_type]
        taken = next_numbers(
            tenant_id=tenant_id,
            doc_type=doc_type,
            issue_date=issue,
            settings=settings,
            count=len(group),
        )
        for row, number in zip(group, taken, strict=True):
            numbered.append(_Numbered(row["id"], number))
            numbers[row["id"]] = number
    numbered.sort(key=lambda n: n.id)
    _write_finalized(numbered, issue=issue, due=due, who=actor_name(actor), now=now)
    integrations_api.webhook_events_emit(
        events=[_event(tenant_id, r, numbers[r["id"]], issue, due, now) for r in rows], now=now
    )
    jobs.files_render_enqueue([n.id for n in numbered])
    return numbered


def _line_problems(tenant_id: int, rows: list[dict[str, Any]]) -> dict[int, str]:
    """Drafts that may not be finalized for what their lines hold: none (an empty draft),
    or totals that are not those of their lines (EN 16931 BR-CO-10)."""
    sums = {
        r["document_id"]: r
        for r in DocumentLine.objects.filter(
            tenant_id=tenant_id, document_id__in=[r["id"] for r in rows], active=True
        )
        .values("document_id")
        .annotate(n=Count("id"), net=Sum("net"))
    }
    problems = {}
    for row in rows:
        found = sums.get(row["id"])
        if found is None or found["n"] == 0:
            problems[row["id"]] = "it has no lines"
        elif found["n"] != row["line_count"] or found["net"] != row["net_total"]:
            problems[row["id"]] = (
                f"its totals ({row['line_count']} lines, net {row['net_total']}) are not those "
                f"of its lines ({found['n']} lines, net {found['net']})"
            )
    return problems


def _locked(tenant_id: int, document_id: int) -> Document:
    doc = (
        Document.objects.for_tenant(tenant_id)
        .select_for_update(of=("self",))
        .filter(pk=document_id)
        .first()
    )
    if doc is None:
        raise NotFound(f"no document {document_id} in this tenant")
    return doc


def _check_breakdown(doc: Document) -> None:
    """A draft's stored totals and VAT breakdown must be those of its lines (EN 16931)."""
    lines = [
        TaxedLine(
            net=line.net,
            category=VatCategory(line.vat_category),
            rate=line.vat_rate,
            exemption_reason=line.exemption_reason,
        )
        for line in DocumentLine.objects.filter(document_id=doc.pk, active=True)
    ]
    if not lines:
        raise ValidationFailed(
            f"document {doc.pk} cannot be finalized: it has no lines",
            problems=(Problem("$.lines", "a document needs at least one line"),),
        )
    try:
        totals = document_totals(lines, doc.currency)
    except ValueError as exc:
        raise Conflict(f"document {doc.pk} cannot be finalized: {exc}") from exc
    stored = {
        (b.category, b.rate): (b.taxable, b.vat)
        for b in VatBreakdown.objects.filter(document_id=doc.pk)
    }
    computed = {(g.category.value, g.rate): (g.taxable, g.vat) for g in totals.groups}
    if (doc.net_total, doc.vat_total, doc.total, doc.line_count) != (
        totals.net_total,
        totals.vat_total,
        totals.total,
        len(lines),
    ) or stored != computed:
        raise Conflict(
            f"document {doc.pk} cannot be finalized: its totals or VAT breakdown are not "
            f"those of its lines (net {totals.net_total}, VAT {totals.vat_total}, total "
            f"{totals.total} in {len(totals.groups)} VAT group(s))"
        )


def _event_row(tenant_id: int, document_id: int) -> dict[str, Any]:
    return Document.objects.for_tenant(tenant_id).filter(pk=document_id).values(*_EVENT_FIELDS)[0]


def _finalize_locked(
    doc: Document,
    *,
    settings: InvoicingSettingsRef,
    actor: Actor,
    now: datetime,
    audit: bool = True,
) -> str:
    """Number and finalize a locked, checked draft; audit it (unless the caller's own
    entry says it, as a credit note's does). Returns its number."""
    row = _event_row(doc.tenant_id, doc.pk)
    [numbered] = _number_and_write(doc.tenant_id, [row], settings=settings, actor=actor, now=now)
    if not audit:
        return numbered.number
    after = (
        Document.objects.filter(pk=doc.pk)
        .values("number", "issue_date", "due_date", "total", "currency")
        .get()
    )
    parties_api.audit(
        doc.tenant_id,
        actor,
        "document.finalize",
        "document",
        doc.pk,
        before={"status": DRAFT},
        after={"status": FINALIZED, "doc_type": doc.doc_type, **after},
    )
    return numbered.number


@transaction.atomic
def document_finalize(
    *, tenant_id: int, document_id: int, actor: Actor, now: datetime | None = None
) -> str:
    """Finalize one draft of this tenant: its number is the next of its series, its issue
    date today in the tenant's timezone, its due date `payment_terms_days` later. Refused:
    another tenant's document (not found), a document that is not a draft, a draft still in
    its period's grace period (the error names the date it may be finalized from), a draft
    without lines or whose totals are not those of its lines. Returns the number."""
    now = now or timezone.now()
    doc = _locked(tenant_id, document_id)
    if doc.status != DRAFT:
        raise Conflict(
            f"document {doc.pk} is {doc.status.lower()}"
            + (f" ({doc.number})" if doc.number else "")
            + ": only a draft can be finalized"
        )
    settings = tenant_settings(tenant_id)
    why = _grace_problem(doc.period_end, doc.doc_type, settings, now)
    if why:
        raise Conflict(
            f"document {doc.pk} cannot be finalized yet: {why}",
            problems=(Problem("$.period_end", why),),
        )
    _check_breakdown(doc)
    return _finalize_locked(doc, settings=settings, actor=actor, now=now)


def _chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def documents_finalize(
    *,
    tenant_id: int,
    actor: Actor,
    document_ids: Iterable[int] | None = None,
    run_id: int | None = None,
    now: datetime | None = None,
    chunk_size: int = CHUNK,
) -> FinalizeResult:
    """Finalize many drafts of this tenant (the given ids, or every draft of billing run
    `run_id`): one transaction per chunk of `chunk_size` documents in id order, each with one
    locking SELECT, one block of numbers per document type (one locked sequence update, so
    the series stays gapless: the block is taken and used in the chunk's transaction), one
    UPDATE ... FROM (VALUES ...), one webhook INSERT and one audit entry. Numbers follow
    document ids. Documents that are not this tenant's drafts, are still in their grace
    period or have no lines are left as they are and listed in `refused` with why."""
    now = now or timezone.now()
    if (document_ids is None) == (run_id is None):
        raise ValueError("give document_ids or run_id")
    if run_id is not None:
        ids = list(
            Document.objects.for_tenant(tenant_id)
            .filter(billing_run_id=run_id, status=DRAFT)
            .order_by("id")
            .values_list("id", flat=True)
        )
    else:
        ids = sorted(set(document_ids or ()))
    settings = tenant_settings(tenant_id)
    finalized: list[tuple[int, str]] = []
    refused: list[tuple[int, str]] = []
    chunks = 0
    for chunk in _chunks(ids, chunk_size):
        chunks += 1
        done, skipped = _finalize_chunk(tenant_id, chunk, settings=settings, actor=actor, now=now)
        finalized += done
        refused += skipped
    return FinalizeResult(finalized=tuple(finalized), refused=tuple(sorted(refused)), chunks=chunks)


@transaction.atomic
def _finalize_chunk(
    tenant_id: int,
    ids: list[int],
    *,
    settings: InvoicingSettingsRef,
    actor: Actor,
    now: datetime,
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    rows = list(
        Document.objects.for_tenant(tenant_id)
        .select_for_update(of=("self",))
        .filter(pk__in=ids)
        .order_by("id")
        .values(*_EVENT_FIELDS, "status")
    )
    found = {r["id"] for r in rows}
    refused = [(i, "no such document in this tenant") for i in ids if i not in found]
    drafts = []
    for row in rows:
        if row["status"] != DRAFT:
            refused.append((row["id"], f"it is {row['status'].lower()}"))
            continue
        why = _grace_problem(row["period_end"], row["doc_type"], settings, now)
        if why:
            refused.append((row["id"], why))
            continue
        drafts.append(row)
    problems = _line_problems(tenant_id, drafts) if drafts else {}
    refused += list(problems.items())
    drafts = [r for r in drafts if r["id"] not in problems]
    if not drafts:
        return [], refused
    numbered = _number_and_write(tenant_id, drafts, settings=settings, actor=actor, now=now)
    parties_api.audit(
        tenant_id,
        actor,
        "document.finalize",
        "document",
        numbered[0].id,
        before={"status": DRAFT, "documents": len(numbered)},
        after={
            "status": FINALIZED,
            "issue_date": local_date(now, settings),
            "documents": [{"id": n.id, "number": n.number} for n in numbered],
        },
    )
    return [(n.id, n.number) for n in numbered], refused


@transaction.atomic
def document_discard(
    *,
    tenant_id: int,
    document_id: int,
    actor: Actor,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Give up a draft: its lines go inactive first (their rated lines are free for the next
    run), then the draft becomes DISCARDED, kept with who, when and why. Only a draft."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "a reason is required", problems=(Problem("$.reason", "say why it is discarded"),)
        )
    doc = _locked(tenant_id, document_id)
    if doc.status != DRAFT:
        raise Conflict(
            f"document {doc.pk} is {doc.status.lower()}: only a draft can be discarded"
            + ("; issue a credit note instead" if doc.status == FINALIZED else "")
        )
    freed = DocumentLine.objects.filter(document_id=doc.pk, active=True).update(
        active=False, updated_at=now
    )
    who = actor_name(actor)
    Document.objects.filter(pk=doc.pk, status=DRAFT).update(
        status=DISCARDED,
        discarded_at=now,
        discarded_by_name=who,
        reason=reason[:REASON_MAX],
        updated_at=now,
    )
    parties_api.audit(
        tenant_id,
        actor,
        "document.discard",
        "document",
        doc.pk,
        before={"status": DRAFT},
        after={"status": DISCARDED, "reason": reason[:REASON_MAX], "lines_freed": freed},
    )


_COPIED_LINE_FIELDS = (
    "section",
    "cdr_id",
    "description",
    "session_start",
    "session_end",
    "location",
    "evse",
    "energy_kwh",
    "duration_hours",
    "fixed",
    "energy",
    "time",
    "parking",
    "reservation",
    "adjustment",
    "net",
    "vat_category",
    "vat_rate",
    "exemption_reason",
)


@transaction.atomic
def credit_note_create(
    *,
    tenant_id: int,
    document_id: int,
    actor: Actor,
    reason: str,
    line_ids: list[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Credit a finalized invoice or statement of this tenant: in full (every line no credit
    note has credited yet) or the lines `line_ids` of it. The credit note copies the credited
    lines (CREDIT lines, amounts as on the original: what is credited), gets its totals and
    VAT breakdown by EN 16931 and is finalized at once in the CREDIT_NOTE series, pointing at
    the original. A line is never credited twice (and the database refuses it too: unique
    `credited_line`). Returns the credit note's id."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    problems = []
    if not reason:
        problems.append(Problem("$.reason", "say why it is credited"))
    if line_ids is not None and not line_ids:
        problems.append(Problem("$.line_ids", "choose at least one line (or none: all)"))
    if line_ids is not None and len(set(line_ids)) != len(line_ids):
        problems.append(Problem("$.line_ids", "a line is named twice"))
    if problems:
        raise ValidationFailed("invalid credit note", problems=tuple(problems))
    original = _locked(tenant_id, document_id)
    if original.doc_type == CREDIT_NOTE:
        raise Conflict(f"document {original.pk} is a credit note: credit notes are not credited")
    if original.status != FINALIZED:
        raise Conflict(
            f"document {original.pk} is {original.status.lower()}: only a finalized document "
            "can be credited" + ("; discard the draft instead" if original.status == DRAFT else "")
        )
    lines = {
        ln.pk: ln
        for ln in DocumentLine.objects.filter(document_id=original.pk, active=True).order_by(
            "position"
        )
    }
    credited = dict(
        DocumentLine.objects.filter(credited_line_id__in=list(lines), active=True).values_list(
            "credited_line_id", "document__number"
        )
    )
    if line_ids is None:
        chosen = [pk for pk in lines if pk not in credited]
        if not chosen:
            raise Conflict(
                f"document {original.number} is credited in full already "
                f"({', '.join(sorted(set(credited.values())))})"
            )
    else:
        unknown = [pk for pk in line_ids if pk not in lines]
        if unknown:
            raise ValidationFailed(
                "invalid credit note",
                problems=(
                    Problem(
                        "$.line_ids",
                        f"not lines of {original.number}: {', '.join(map(str, unknown))}",
                    ),
                ),
            )
        twice = [pk for pk in line_ids if pk in credited]
        if twice:
            raise Conflict(
                f"line(s) {', '.join(map(str, twice))} of {original.number} are credited already"
                f" ({', '.join(sorted({credited[pk] for pk in twice}))})",
                problems=(Problem("$.line_ids", "credited already"),),
            )
        chosen = sorted(line_ids, key=lambda pk: lines[pk].position)
    picked = [lines[pk] for pk in chosen]
    totals = document_totals(
        [
            TaxedLine(
                net=ln.net,
                category=VatCategory(ln.vat_category),
                rate=ln.vat_rate,
                exemption_reason=ln.exemption_reason,
            )
            for ln in picked
        ],
        original.currency,
    )
    note = Document.objects.create(
        tenant_id=tenant_id,
        doc_type=CREDIT_NOTE,
        status=DRAFT,
        period_start=original.period_start,
        period_end=original.period_end,
        currency=original.currency,
        language=original.language,
        counterparty_kind=original.counterparty_kind,
        buyer_customer_id=original.buyer_customer_id,
        buyer_party_id=original.buyer_party_id,
        payee_id=original.payee_id,
        buyer_tenant_id=original.buyer_tenant_id,
        seller=original.seller,
        buyer=original.buyer,
        email=original.email,
        net_total=totals.net_total,
        vat_total=totals.vat_total,
        total=totals.total,
        line_count=len(picked),
        energy_kwh=sum((ln.energy_kwh for ln in picked), ZERO),
        has_late_section=any(ln.section == "LATE" for ln in picked),
        credits=original,
        reason=reason[:REASON_MAX],
        created_by_name=actor_name(actor),
    )
    DocumentLine.objects.bulk_create(
        [
            DocumentLine(
                tenant_id=tenant_id,
                document=note,
                position=position,
                kind=LineKind.CREDIT.value,
                credited_line_id=ln.pk,
                **{f: getattr(ln, f) for f in _COPIED_LINE_FIELDS},
            )
            for position, ln in enumerate(picked, start=1)
        ]
    )
    VatBreakdown.objects.bulk_create(
        [
            VatBreakdown(
                tenant_id=tenant_id,
                document=note,
                category=g.category.value,
                rate=g.rate,
                taxable=g.taxable,
                vat=g.vat,
                exemption_reason=g.exemption_reason,
            )
            for g in totals.groups
        ]
    )
    settings = tenant_settings(tenant_id)
    number = _finalize_locked(note, settings=settings, actor=actor, now=now, audit=False)
    parties_api.audit(
        tenant_id,
        actor,
        "credit_note.create",
        "document",
        note.pk,
        before=None,
        after={
            "status": FINALIZED,
            "number": number,
            "issue_date": local_date(now, settings),
            "credits": original.number,
            "credits_id": original.pk,
            "reason": reason[:REASON_MAX],
            "lines": chosen,
            "full": line_ids is None,
            "total": totals.total,
            "currency": original.currency,
        },
    )
    return note.pk
