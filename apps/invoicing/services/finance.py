"""The finance side (BILLING.md section 5, ADR 0039): the GL mapping, exclusions and manual
adjustments, and posting an export batch (journal CSV and JSON plus the universal records).

Posting `[period_start, period_end)` at `now` (the cutoff):
- the same period posted before: that batch, as it is (same bytes, nothing written);
- else the preview at the cutoff becomes batch `number` = the tenant's next; its rated lines
  (those no exclusion leaves out) are marked exported with one INSERT ... SELECT (unique per
  tenant and rated line: a line, and so a CDR's lines, is never in two batches); its pending
  adjustments are marked exported; the universal records of its CDRs are stored (a new
  version where they changed) and written, sorted by CDR id, into RECORDS_JSONL (gzip),
  a part of 500 CDRs at a time, into chunks of EXPORT_FILE_CHUNK_BYTES (ADR 0039): no file
  is held whole in memory; the file rows hold name, size and SHA-256.
- a dry run builds the same preview and hashes the exact bytes it would write, and writes
  nothing.
Files hold no timestamp but the batch's own fields (period, cutoff, number): the bytes are a
function of the data.
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from djmoney.money import Money

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.invoicing.contracts import ExclusionKind, ExportFileKind, GlComponent, GlRole
from apps.invoicing.models import (
    ExportBatch,
    ExportedAdjustment,
    ExportedLine,
    ExportFile,
    FinanceAdjustment,
    FinanceExclusion,
    GlMapping,
)
from apps.invoicing.selectors import finance as selectors
from apps.invoicing.selectors.finance import FinancePreview, JournalLine
from apps.invoicing.services import records
from apps.invoicing.services.chunks import ChunkWriter, GzipChunkWriter, WrittenFile
from apps.parties import api as parties_api
from apps.tariffs.contracts import BillingEngine

_LOCK_CLASS = 0x4649  # "FI": the advisory lock space of the finance export (one per tenant)
CSV_COLUMNS = (
    "batch",
    "line",
    "role",
    "component",
    "account",
    "cost_centre",
    "vat_class",
    "counterparty",
    "currency",
    "debit",
    "credit",
    "kwh",
    "rated_lines",
    "cdr_ids",
    "adjustment_ids",
)


def _actor_name(actor: Actor) -> str:
    if actor.name:
        return actor.name[:254]
    if actor.user_id is not None:
        user_model: Any = FinanceAdjustment._meta.get_field("author").related_model
        email = user_model.objects.filter(pk=actor.user_id).values_list("email", flat=True).first()
        return (email or f"user {actor.user_id}")[:254]
    return ""


def _audit(tenant_id: int, actor: Actor, action: str, kind: str, pk: int, **kw: Any) -> None:
    parties_api.audit(tenant_id, actor, action, kind, pk, **kw)


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, problems=(Problem(path, message),))


# --- GL mapping ------------------------------------------------------------------------------


@transaction.atomic
def gl_mapping_set(
    *,
    tenant_id: int,
    actor: Actor,
    engine: str,
    role: str,
    component: str,
    vat_category: str,
    account: str,
    cost_centre: str = "",
    description: str = "",
) -> selectors.GlMappingRow:
    """Create or change the mapping row of (engine, role, component, VAT category); empty
    engine or VAT category: any. Rows are changed, never deleted; for each amount the most
    specific row wins (`selectors.GlResolver`)."""
    engine, vat_category = engine.strip().upper(), vat_category.strip().upper()
    account, cost_centre = account.strip(), cost_centre.strip()
    problems = []
    if engine and engine not in {e.value for e in BillingEngine}:
        problems.append(
            Problem("$.engine", "must be empty (any), RETAIL, WHOLESALE or REIMBURSEMENT")
        )
    if role not in {r.value for r in GlRole}:
        problems.append(Problem("$.role", "must be REVENUE or COST"))
    if component not in {c.value for c in GlComponent}:
        names = ", ".join(c.value for c in GlComponent)
        problems.append(Problem("$.component", f"must be one of {names}"))
    if vat_category and vat_category not in {"S", "Z", "E", "AE", "O"}:
        problems.append(Problem("$.vat_category", "must be empty (any), S, Z, E, AE or O"))
    if not account:
        problems.append(Problem("$.account", "an account is required"))
    elif account == selectors.UNMAPPED:
        problems.append(Problem("$.account", "UNMAPPED is what no mapping means"))
    if len(account) > 32 or len(cost_centre) > 32:
        problems.append(Problem("$.account", "account and cost centre: at most 32 characters"))
    if problems:
        raise ValidationFailed("invalid GL mapping", problems=tuple(problems))
    key = {"engine": engine, "role": role, "component": component, "vat_category": vat_category}
    row = GlMapping.objects.for_tenant(tenant_id).select_for_update().filter(**key).first()
    before = None
    if row is None:
        row = GlMapping(tenant_id=tenant_id, **key)
    else:
        before = {"account": row.account, "cost_centre": row.cost_centre}
    row.account, row.cost_centre, row.description = account, cost_centre, description[:200]
    row.save()
    after = {**key, "account": account, "cost_centre": cost_centre, "description": row.description}
    _audit(tenant_id, actor, "gl_mapping.set", "gl_mapping", row.pk, before=before, after=after)
    return selectors.GlMappingRow(id=row.pk, **after)


# --- exclusions and adjustments --------------------------------------------------------------


@transaction.atomic
def finance_exclusion_add(
    *, tenant_id: int, actor: Actor, kind: str, value: str, reason: str
) -> selectors.ExclusionRow:
    """Leave an account, a customer, a party or a payee out of the export (from the next
    preview on). Customer, party and payee: their rated lines stay unexported (a later batch
    takes them once the exclusion is retired). Account: the amounts it would book are left
    out; the rated lines are exported without them."""
    value, reason = value.strip(), reason.strip()
    problems = []
    if kind not in {k.value for k in ExclusionKind}:
        problems.append(Problem("$.kind", "must be ACCOUNT, CUSTOMER, PARTY or PAYEE"))
    if not value:
        problems.append(Problem("$.value", "a value is required"))
    elif kind != ExclusionKind.ACCOUNT.value and not value.isdigit():
        problems.append(Problem("$.value", f"the id of the {kind.lower()} (a number)"))
    if not reason:
        problems.append(Problem("$.reason", "say why it is left out"))
    if problems:
        raise ValidationFailed("invalid exclusion", problems=tuple(problems))
    active = FinanceExclusion.objects.for_tenant(tenant_id).filter(
        kind=kind, value=value, retired_at__isnull=True
    )
    if active.exists():
        raise Conflict(
            f"{kind} {value} is excluded already",
            problems=(Problem("$.value", "excluded already"),),
        )
    row = FinanceExclusion.objects.create(
        tenant_id=tenant_id,
        kind=kind,
        value=value,
        reason=reason[:300],
        created_by_name=_actor_name(actor),
    )
    after = {"kind": kind, "value": value, "reason": row.reason}
    _audit(tenant_id, actor, "finance_exclusion.add", "finance_exclusion", row.pk, after=after)
    return _exclusion(tenant_id, row.pk)


def _exclusion(tenant_id: int, pk: int) -> selectors.ExclusionRow:
    for r in selectors.finance_exclusion_list(tenant_id=tenant_id):
        if r.id == pk:
            return r
    raise NotFound(f"no exclusion {pk} in this tenant")


@transaction.atomic
def finance_exclusion_retire(
    *, tenant_id: int, actor: Actor, exclusion_id: int, now: datetime | None = None
) -> selectors.ExclusionRow:
    now = now or timezone.now()
    row = (
        FinanceExclusion.objects.for_tenant(tenant_id)
        .select_for_update()
        .filter(pk=exclusion_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no exclusion {exclusion_id} in this tenant")
    if row.retired_at is not None:
        raise Conflict(f"exclusion {exclusion_id} is retired already")
    row.retired_at, row.retired_by_name = now, _actor_name(actor)
    row.save(update_fields=["retired_at", "retired_by_name", "updated_at"])
    _audit(
        tenant_id,
        actor,
        "finance_exclusion.retire",
        "finance_exclusion",
        row.pk,
        before={"kind": row.kind, "value": row.value, "retired_at": None},
        after={"kind": row.kind, "value": row.value, "retired_at": now},
    )
    return _exclusion(tenant_id, row.pk)


@transaction.atomic
def finance_adjustment_add(
    *,
    tenant_id: int,
    actor: Actor,
    period_start: datetime,
    period_end: datetime,
    amount: Money,
    account: str,
    cost_centre: str = "",
    vat_class: str = "",
    counterparty: str = "",
    reason: str,
) -> selectors.AdjustmentRow:
    """A manual journal amount (positive: a debit on `account`, negative: a credit),
    append-only: a mistake is corrected by another adjustment. Exported once, by the first
    batch whose period ends after its period starts."""
    account, reason = account.strip(), reason.strip()
    problems = []
    if period_end <= period_start:
        problems.append(Problem("$.period_end", "must be after period_start"))
    value = amount.amount if isinstance(amount, Money) else None
    if not isinstance(value, Decimal) or value == 0:
        problems.append(Problem("$.amount", "a non-zero amount"))
    elif value != value.quantize(Decimal("0.0001")):
        problems.append(Problem("$.amount", "at most 4 decimals"))
    if not account:
        problems.append(Problem("$.account", "an account is required"))
    if not reason:
        problems.append(Problem("$.reason", "say why"))
    for path, text, size in (
        ("$.account", account, 32),
        ("$.cost_centre", cost_centre, 32),
        ("$.vat_class", vat_class, 8),
        ("$.counterparty", counterparty, 100),
    ):
        if len(text) > size:
            problems.append(Problem(path, f"at most {size} characters"))
    if problems:
        raise ValidationFailed("invalid adjustment", problems=tuple(problems))
    row = FinanceAdjustment.objects.create(
        tenant_id=tenant_id,
        period_start=period_start,
        period_end=period_end,
        amount=amount,  # type: ignore[misc]  # django-money takes Money
        account=account,
        cost_centre=cost_centre.strip(),
        vat_class=vat_class.strip(),
        counterparty=counterparty.strip(),
        reason=reason[:300],
        author_id=actor.user_id,
        author_name=_actor_name(actor) or "unknown",
    )
    after = {
        "period_start": period_start,
        "period_end": period_end,
        "amount": str(row.amount.amount),
        "currency": str(row.amount.currency),
        "account": account,
        "reason": row.reason,
    }
    _audit(tenant_id, actor, "finance_adjustment.add", "finance_adjustment", row.pk, after=after)
    return selectors._adjustment_rows(FinanceAdjustment.objects.filter(pk=row.pk))[0]


# --- files -----------------------------------------------------------------------------------


def _journal_dict(j: JournalLine, n: int) -> dict[str, Any]:
    debit, credit = j.signed_for_side()
    return {
        "line": n,
        "role": j.role,
        "component": j.component,
        "account": j.account,
        "cost_centre": j.cost_centre,
        "vat_class": j.vat_class,
        "counterparty": j.counterparty,
        "currency": j.currency,
        "debit": str(debit),
        "credit": str(credit),
        "kwh": str(j.kwh),
        "rated_lines": j.rated_lines,
        "cdr_ids": list(j.cdr_ids),
        "adjustment_ids": list(j.adjustment_ids),
    }


def _header(tenant_id: int, number: int, preview: FinancePreview) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "number": number,
        "period_start": preview.period_start,
        "period_end": preview.period_end,
        "cutoff": preview.cutoff,
    }


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What `export_batch_post` did (or, `dry_run`, would do): the batch (None on a dry
    run), its number, the preview it posts and its files (name, size, SHA-256: the bytes
    are stored in chunks and read with `selectors.export_file_open`); `existing`: the period
    was posted before and this is that batch, unchanged."""

    batch: selectors.ExportBatchRow | None
    number: int
    dry_run: bool
    existing: bool
    preview: FinancePreview | None
    files: tuple[selectors.ExportFileRow, ...]


def _journal_files(tenant_id: int, number: int, preview: FinancePreview) -> tuple[bytes, bytes]:
    """The journal CSV and JSON (one row per journal line: small)."""
    header = _header(tenant_id, number, preview)
    journal = [_journal_dict(j, i) for i, j in enumerate(preview.journal, start=1)]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in journal:
        w.writerow(
            [
                number,
                *(row[c] for c in CSV_COLUMNS[1:12]),
                row["rated_lines"],
                " ".join(str(i) for i in row["cdr_ids"]),
                " ".join(str(i) for i in row["adjustment_ids"]),
            ]
        )
    csv_bytes = out.getvalue().encode("utf-8")
    json_bytes = records.canonical(
        {
            "batch": header,
            "journal": journal,
            "totals": preview.totals,
            "energy_kwh": preview.energy_kwh,
            "excluded": [
                {
                    "exclusion_id": e.exclusion_id,
                    "kind": e.kind,
                    "value": e.value,
                    "reason": e.reason,
                    "currency": e.currency,
                    "amount": e.amount,
                    "rated_lines": e.rated_lines,
                }
                for e in preview.excluded
            ],
            "own_charge_lines_skipped": preview.own_charge_lines,
        }
    )
    return csv_bytes, json_bytes


def _write_files(
    tenant_id: int,
    batch_id: int | None,
    number: int,
    preview: FinancePreview,
    now: datetime,
) -> tuple[WrittenFile, ...]:
    """Build the batch's three files and write them in chunks (`batch_id` None: a dry run,
    counted and hashed only). The universal records of the batch's CDRs are built a part
    at a time (sorted by CDR id); each part's new versions are stored (not on a dry run)
    and its JSON lines go through gzip into the records file's chunks, then it is dropped."""
    stem = f"export-{number:06d}-{preview.period_start:%Y%m%d}-{preview.period_end:%Y%m%d}"
    csv_bytes, json_bytes = _journal_files(tenant_id, number, preview)
    written = []
    for kind, name, data in (
        (ExportFileKind.JOURNAL_CSV, f"{stem}-journal.csv", csv_bytes),
        (ExportFileKind.JOURNAL_JSON, f"{stem}-journal.json", json_bytes),
    ):
        sink = ChunkWriter(tenant_id=tenant_id, batch_id=batch_id, kind=kind.value, filename=name)
        sink.write(data)
        written.append(sink.close())
    gz = GzipChunkWriter(
        ChunkWriter(
            tenant_id=tenant_id,
            batch_id=batch_id,
            kind=ExportFileKind.RECORDS_JSONL.value,
            filename=f"{stem}-records.jsonl.gz",
        )
    )
    with closing(
        records.cdr_records_plan_parts(tenant_id=tenant_id, cdr_ids=preview.cdr_ids)
    ) as parts:
        for part in parts:
            if batch_id is not None:
                records.records_write(tenant_id, part, now)
            gz.write(
                b"".join(
                    b'{"cdr_id":%d,"record":%s,"sha256":"%s","version":%d}\n'
                    % (cid, data, digest.encode(), version)
                    for cid, version, digest, data, _ in part
                )
            )
    written.append(gz.close())
    return tuple(written)


# --- posting ---------------------------------------------------------------------------------


def _lock(tenant_id: int) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: one writer at a time already
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, tenant_id])


def _existing(tenant_id: int, period_start: datetime, period_end: datetime) -> ExportResult | None:
    batch = (
        ExportBatch.objects.for_tenant(tenant_id)
        .filter(period_start=period_start, period_end=period_end)
        .first()
    )
    if batch is None:
        return None
    row = selectors.export_batch_get(tenant_id=tenant_id, batch_id=batch.pk)
    return ExportResult(row, batch.number, False, True, None, row.files)


def _mark_lines(tenant_id: int, batch_id: int, preview: FinancePreview, now: datetime) -> int:
    """Record the batch's rated lines in ExportedLine, set-based, in two statements: first
    the lines to mark into a temporary table, then one INSERT from it. One `INSERT ... SELECT`
    whose NOT EXISTS reads the table it inserts into made PostgreSQL scan that growing table
    once per line (a nested-loop anti join planned for an empty table): quadratic, more than
    8 minutes for a month of 1,000,000 CDRs (docs/benchmarks.md, "Invoicing")."""
    exclusions = selectors.finance_exclusion_list(tenant_id=tenant_id, include_retired=False)
    where, xparams = selectors.exclusion_filter(exclusions)
    table = connection.ops.quote_name(ExportedLine._meta.db_table)
    staged = connection.ops.quote_name("invoicing_export_staged")
    params = {
        **selectors.base_params(tenant_id, preview.period_end, preview.cutoff),
        **xparams,
        "no": False,
    }
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {staged}")
        cur.execute(
            f"CREATE TEMPORARY TABLE {staged} AS SELECT b.rated_line_id, b.cdr_id "
            f"FROM ({selectors.base_sql()}) b WHERE b.own_charge = %(no)s{where}",
            params,
        )
        cur.execute(
            f"INSERT INTO {table} (tenant_id, created_at, updated_at, batch_id, rated_line_id, "
            f"cdr_id) SELECT %(t)s, %(now)s, %(now)s, %(batch)s, rated_line_id, cdr_id "
            f"FROM {staged}",
            {"t": tenant_id, "now": selectors.dt_param(now), "batch": batch_id},
        )
        marked = int(cur.rowcount)
        cur.execute(f"DROP TABLE {staged}")
        return marked


def export_batch_post(
    *,
    tenant_id: int,
    period_start: datetime,
    period_end: datetime,
    actor: Actor,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ExportResult:
    """Post (or, `dry_run`, only show) the export batch of `[period_start, period_end)`."""
    now = now or timezone.now()
    if period_end <= period_start:
        raise _invalid("$.period_end", "must be after period_start")
    if period_end > now:
        raise _invalid(
            "$.period_end",
            f"the period has not ended yet (it ends {period_end:%Y-%m-%d %H:%M} UTC)",
        )
    with transaction.atomic():
        if not dry_run:
            _lock(tenant_id)
        existing = _existing(tenant_id, period_start, period_end)
        if existing is not None:
            return existing
        number = (
            ExportBatch.objects.for_tenant(tenant_id).aggregate(n=Max("number"))["n"] or 0
        ) + 1
        preview = selectors.finance_preview(
            tenant_id=tenant_id, period_start=period_start, period_end=period_end, now=now
        )
        if dry_run:
            written = _write_files(tenant_id, None, number, preview, now)
            return ExportResult(None, number, True, False, preview, _rows(written))
        kwh = sum(preview.energy_kwh.values(), Decimal(0))
        batch = ExportBatch.objects.create(
            tenant_id=tenant_id,
            number=number,
            period_start=period_start,
            period_end=period_end,
            cutoff=preview.cutoff,
            posted_by_name=_actor_name(actor) or "unknown",
            line_count=preview.rated_lines,
            cdr_count=len(preview.cdr_ids),
            energy_kwh=kwh,
            totals=preview.totals,
        )
        marked = _mark_lines(tenant_id, batch.pk, preview, now)
        if marked != preview.rated_lines:  # a writer between the preview and the insert
            raise Conflict(
                f"the period's lines changed while posting ({marked} vs {preview.rated_lines})"
            )
        ExportedAdjustment.objects.bulk_create(
            [
                ExportedAdjustment(tenant_id=tenant_id, batch=batch, adjustment_id=a.id)
                for a in preview.adjustments
            ]
        )
        written = _write_files(tenant_id, batch.pk, number, preview, now)
        ExportFile.objects.bulk_create(
            [
                ExportFile(
                    tenant_id=tenant_id,
                    batch=batch,
                    kind=f.kind,
                    filename=f.filename,
                    sha256=f.sha256,
                    size=f.size,
                )
                for f in written
            ]
        )
        _audit(
            tenant_id,
            actor,
            "export_batch.post",
            "export_batch",
            batch.pk,
            after={
                "number": number,
                "period_start": period_start,
                "period_end": period_end,
                "cutoff": preview.cutoff,
                "rated_lines": preview.rated_lines,
                "cdrs": len(preview.cdr_ids),
                "totals": preview.totals,
                "files": {f.kind: f.sha256 for f in written},
            },
        )
        row = selectors.export_batch_get(tenant_id=tenant_id, batch_id=batch.pk)
    return ExportResult(row, number, False, False, preview, row.files)


def _rows(written: tuple[WrittenFile, ...]) -> tuple[selectors.ExportFileRow, ...]:
    return tuple(
        selectors.ExportFileRow(f.kind, f.filename, f.sha256, f.size)
        for f in sorted(written, key=lambda f: f.kind)
    )


def journal_json(preview: FinancePreview) -> list[dict[str, Any]]:
    """The preview's journal as JSON-safe rows (the REST API and the portal's diff)."""
    return json.loads(
        records.canonical([_journal_dict(j, i) for i, j in enumerate(preview.journal, 1)])
    )
