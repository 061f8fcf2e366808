"""Billing runs: a tenant's unbilled rated lines -> draft documents (ADR 0035, ADR 0036).

A run covers one frequency and one period `[start, end)` of the tenant's local days. It
takes every unbilled rated line (as of the run) whose CDR ended before `end` and whose
counterparty is billed at that frequency; those whose CDR ended before `start` go on the
document's LATE section. One document per counterparty and currency and document type.

Idempotent: the lines are read set-based, one statement per document type, and written a
batch of document groups per transaction, with the run's progress in the same transaction.
A rated line is on at most one active document line (a unique index): a redelivered or
repeated run finds the lines an earlier attempt billed already taken and bills only the
rest; a batch that meets a line another writer took in between is retried group by group,
and a group that still conflicts is left for the next run. Nothing is billed twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.common.bulk import insert_rows_returning
from apps.common.contracts import Actor
from apps.common.errors import Conflict, Problem, ValidationFailed
from apps.invoicing import arithmetic, jobs
from apps.invoicing.contracts import (
    CounterpartyKind,
    DocumentStatus,
    Frequency,
    InvoicingSettingsRef,
    LineKind,
    LineSection,
    RunStatus,
    RunTrigger,
)
from apps.invoicing.models import (
    BillingProfile,
    BillingRun,
    Document,
    DocumentLine,
    InvoicingSettings,
    VatBreakdown,
)
from apps.invoicing.periods import Period, period_of_day, previous_period
from apps.invoicing.selectors import billable
from apps.invoicing.selectors.billable import BillableGroup, BillableLine, DocSpec
from apps.invoicing.services.settings import invoicing_settings_get
from apps.parties import api as parties_api

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("invoicing scheduler")
BATCH_LINES = 5000  # lines per write transaction (a batch of whole document groups)
BATCH_GROUPS = 500  # documents per write transaction
_LIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


def _actor_name(actor: Actor) -> str:
    if actor.name:
        return actor.name[:254]
    if actor.user_id is not None:
        return f"user {actor.user_id}"
    return ""


# -- start and schedule ------------------------------------------------------------------------


def _create_run(
    *, tenant_id: int, actor: Actor, period: Period, trigger: RunTrigger, now: datetime
) -> BillingRun:
    run = BillingRun.objects.create(
        tenant_id=tenant_id,
        frequency=period.frequency.value,
        period_start=period.start,
        period_end=period.end,
        trigger=trigger.value,
        status=RunStatus.QUEUED.value,
        started_by_id=actor.user_id,
        actor_name=_actor_name(actor),
    )
    parties_api.audit(
        tenant_id,
        actor,
        "billing_run.start",
        "billing_run",
        run.pk,
        before=None,
        after={
            "frequency": run.frequency,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "trigger": run.trigger,
            "at": now.isoformat(),
        },
    )
    jobs.billing_run_enqueue(run.pk)
    return run


@transaction.atomic
def billing_run_start(
    *,
    tenant_id: int,
    actor: Actor,
    frequency: Frequency | str,
    period_start: date,
    now: datetime | None = None,
) -> int:
    """Start a MANUAL run over the period of `frequency` containing the local day
    `period_start` (the tenant's timezone). Refuses a period that has not ended yet, and a
    second run of the same period while one is queued or running. The task is queued when
    the transaction commits."""
    now = now or timezone.now()
    try:
        f = Frequency(frequency)
    except ValueError:
        raise ValidationFailed(
            "invalid billing run",
            problems=(Problem("$.frequency", "one of " + ", ".join(x.value for x in Frequency)),),
        ) from None
    if not 2000 <= period_start.year <= 9000:
        raise ValidationFailed(
            "invalid billing run", problems=(Problem("$.period_start", "a day from 2000 on"),)
        )
    settings = invoicing_settings_get(tenant_id=tenant_id)
    period = period_of_day(f, period_start, settings.timezone)
    if period.end > now:
        raise ValidationFailed(
            "the period has not ended",
            problems=(
                Problem(
                    "$.period_start",
                    f"the {f.value.lower()} period {period.first_day} to {period.last_day} "
                    f"ends at {period.end.isoformat()} ({settings.timezone} midnight); "
                    "a run can start after it ends",
                ),
            ),
        )
    # Serialise starts of a tenant with saved settings (its settings row); without one two
    # simultaneous starts may both pass: harmless, a rated line is billed once anyway.
    InvoicingSettings.objects.for_tenant(tenant_id).select_for_update().first()
    live = (
        BillingRun.objects.for_tenant(tenant_id)
        .filter(frequency=f.value, period_start=period.start, status__in=_LIVE)
        .first()
    )
    if live is not None:
        raise Conflict(
            f"billing run {live.pk} of this period is {live.status.lower()}; wait for it",
            problems=(Problem("$.period_start", "a run of this period is in progress"),),
        )
    run = _create_run(
        tenant_id=tenant_id, actor=actor, period=period, trigger=RunTrigger.MANUAL, now=now
    )
    return run.pk


def _frequencies_in_use(tenant_id: int) -> list[Frequency]:
    used = {Frequency.MONTHLY}  # counterparties without a profile
    used.update(
        Frequency(f)
        for f in BillingProfile.objects.for_tenant(tenant_id)
        .values_list("frequency", flat=True)
        .distinct()
    )
    return [f for f in Frequency if f in used]


def scheduled_period(frequency: Frequency, settings: InvoicingSettingsRef, now: datetime) -> Period:
    """The latest period whose grace has passed at `now`: its end + grace_days <= now."""
    return previous_period(frequency, now - timedelta(days=settings.grace_days), settings.timezone)


def billing_runs_schedule(*, now: datetime | None = None) -> list[int]:
    """Beat: per tenant with rated lines or invoicing settings, per frequency in use, start
    the SCHEDULE run of the latest period whose end + grace has passed, unless it exists.
    Two schedulers at once make one run: the unique (tenant, frequency, period_start) of
    scheduled runs refuses the second, which skips it. Returns the new runs' ids."""
    now = now or timezone.now()
    tenants = set(billable.tenants_with_rated_lines())
    tenants.update(InvoicingSettings.objects.values_list("tenant_id", flat=True))
    created: list[int] = []
    for tenant_id in sorted(tenants):
        settings = invoicing_settings_get(tenant_id=tenant_id)
        for f in _frequencies_in_use(tenant_id):
            period = scheduled_period(f, settings, now)
            exists = BillingRun.objects.for_tenant(tenant_id).filter(
                trigger=RunTrigger.SCHEDULE.value, frequency=f.value, period_start=period.start
            )
            if exists.exists():
                continue
            try:
                with transaction.atomic():
                    run = _create_run(
                        tenant_id=tenant_id,
                        actor=SCHEDULER,
                        period=period,
                        trigger=RunTrigger.SCHEDULE,
                        now=now,
                    )
            except IntegrityError:
                continue  # another scheduler made it first
            created.append(run.pk)
    return created


# -- execute ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    run_id: int
    tenant_id: int
    frequency: str
    period_start: datetime
    period_end: datetime
    settings: InvoicingSettingsRef
    tenant: dict[str, Any]  # the tenant's snapshot (seller, or buyer of self-billing)
    actor_name: str
    now: datetime


def billing_run_execute(*, run_id: int, now: datetime | None = None) -> None:
    """Make the drafts of a run: QUEUED / RUNNING -> RUNNING -> DONE (or FAILED with the
    error). A run found RUNNING (a redelivered task) continues where it stopped; DONE and
    FAILED runs are left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            log.warning("billing run %s does not exist", run_id)
            return
        if run.status not in _LIVE:
            return
        run.status = RunStatus.RUNNING.value
        run.started_at = run.started_at or now
        run.save(update_fields=["status", "started_at", "updated_at"])
    settings = invoicing_settings_get(tenant_id=run.tenant_id)
    ctx = _Ctx(
        run_id=run.pk,
        tenant_id=run.tenant_id,
        frequency=run.frequency,
        period_start=run.period_start,
        period_end=run.period_end,
        settings=settings,
        tenant=_tenant_snapshot(settings),
        actor_name=run.actor_name or "invoicing worker",
        now=now,
    )
    try:
        _execute(ctx)
    except OperationalError:
        raise  # the task retries; the run stays RUNNING and the retry continues it
    except Exception as exc:
        log.exception("billing run %s failed", run_id)
        BillingRun.objects.filter(pk=run_id).update(
            status=RunStatus.FAILED.value,
            error=f"{type(exc).__name__}: {exc}"[:4000],
            finished_at=now,
            updated_at=now,
        )
        return
    BillingRun.objects.filter(pk=run_id).update(
        status=RunStatus.DONE.value,
        finished_at=now,
        error="",
        updated_at=now,
        groups_done=F("groups_total"),
    )


def _tenant_snapshot(settings: InvoicingSettingsRef) -> dict[str, Any]:
    return {
        "name": settings.legal_name or billable.tenant_name(settings.tenant_id),
        "address": settings.address,
        "postal_code": settings.postal_code,
        "city": settings.city,
        "country": settings.country,
        "vat_number": settings.vat_number,
        "company_id": settings.company_id,
        "email": settings.email,
        "iban": settings.iban,
        "bic": settings.bic,
    }


def _execute(ctx: _Ctx) -> None:
    done = Document.objects.filter(billing_run_id=ctx.run_id).count()
    remaining = sum(
        billable.billable_group_count(
            tenant_id=ctx.tenant_id, spec=spec, frequency=ctx.frequency, end=ctx.period_end
        )
        for spec in billable.SPECS
    )
    BillingRun.objects.filter(pk=ctx.run_id).update(
        groups_total=done + remaining, groups_done=done, updated_at=ctx.now
    )
    for spec in billable.SPECS:
        batch: list[BillableGroup] = []
        n_lines = 0
        for group in billable.billable_groups(
            tenant_id=ctx.tenant_id, spec=spec, frequency=ctx.frequency, end=ctx.period_end
        ):
            batch.append(group)
            n_lines += len(group.lines)
            if n_lines >= BATCH_LINES or len(batch) >= BATCH_GROUPS:
                _write_batch(ctx, spec, batch)
                batch, n_lines = [], 0
        _write_batch(ctx, spec, batch)


def _write_batch(ctx: _Ctx, spec: DocSpec, groups: Sequence[BillableGroup]) -> None:
    if not groups:
        return
    try:
        with transaction.atomic():
            _write(ctx, spec, groups)
        return
    except IntegrityError:
        if len(groups) == 1:
            log.info("billing run %s: a group was billed by another writer", ctx.run_id)
            return
    for group in groups:  # someone took some lines in between: each group on its own
        try:
            with transaction.atomic():
                _write(ctx, spec, [group])
        except IntegrityError:
            log.info("billing run %s: a group was billed by another writer", ctx.run_id)


def _pick(profile: BillingProfile | None, party: dict[str, Any], field: str) -> str:
    value = getattr(profile, field, "") if profile is not None else ""
    return str(value or party.get(field) or "")


def _snapshot(profile: BillingProfile | None, party: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": (profile.legal_name if profile is not None else "") or party.get("name", ""),
        "address": _pick(profile, party, "address"),
        "postal_code": _pick(profile, party, "postal_code"),
        "city": _pick(profile, party, "city"),
        "country": _pick(profile, party, "country"),
        "vat_number": _pick(profile, party, "vat_number"),
        "email": _pick(profile, party, "email"),
    }


def _description(line: BillableLine) -> str:
    if line.reversal:
        why = f": {line.reason}" if line.reason else ""
        return f"Correction of charging session {line.cdr_ocpi_id}{why}"[:300]
    return f"Charging session {line.cdr_ocpi_id}"[:300]


def _write(ctx: _Ctx, spec: DocSpec, groups: Sequence[BillableGroup]) -> None:
    ids = [g.counterparty_id for g in groups]
    parties = billable.counterparties(spec.kind, ids)
    profiles = billable.profiles(spec.kind, ctx.tenant_id, ids)
    docs: list[Document] = []
    all_lines: list[list[dict[str, Any]]] = []
    all_groups: list[tuple[arithmetic.VatGroup, ...]] = []
    for g in groups:
        party = parties.get(g.counterparty_id, {"name": ""})
        profile = profiles.get(g.counterparty_id)
        counterparty = _snapshot(profile, party)
        if spec.kind is CounterpartyKind.PAYEE:
            seller, buyer = counterparty, ctx.tenant
            reverse_charge = bool(seller["vat_number"]) and arithmetic.reverse_charge_applies(
                seller_country=seller["country"],
                buyer_country=buyer["country"],
                buyer_vat_number=buyer["vat_number"],
                buyer_is_business=True,
            )
        else:
            seller, buyer = ctx.tenant, counterparty
            reverse_charge = arithmetic.reverse_charge_applies(
                seller_country=seller["country"],
                buyer_country=buyer["country"],
                buyer_vat_number=buyer["vat_number"],
                buyer_is_business=bool(party.get("business")),
            )
        rows: list[dict[str, Any]] = []
        taxed: list[arithmetic.TaxedLine] = []
        energy = Decimal(0)
        late = False
        for position, line in enumerate(_ordered(g.lines, ctx.period_start), start=1):
            category, rate, reason = arithmetic.line_vat_category(
                vat_rate=line.vat_rate,
                exemption_reason=line.exemption_reason,
                reverse_charge=reverse_charge,
            )
            section = (
                LineSection.LATE if line.session_end < ctx.period_start else LineSection.PERIOD
            )
            late = late or section is LineSection.LATE
            sign = -1 if line.reversal else 1
            energy += line.energy_kwh
            taxed.append(arithmetic.TaxedLine(line.net, category, rate, reason))
            rows.append(
                {
                    "tenant_id": ctx.tenant_id,
                    "created_at": ctx.now,
                    "updated_at": ctx.now,
                    "position": position,
                    "section": section.value,
                    "kind": (LineKind.CORRECTION if line.reversal else LineKind.SESSION).value,
                    "active": True,
                    "rated_line_id": line.rated_line_id,
                    "cdr_id": line.cdr_id,
                    "credited_line_id": None,
                    "description": _description(line),
                    "session_start": line.session_start,
                    "session_end": line.session_end,
                    "location": ", ".join(
                        x
                        for x in (line.location_name, line.location_address, line.location_city)
                        if x
                    )[:300],
                    "evse": line.evse[:64],
                    "energy_kwh": line.energy_kwh,
                    "duration_hours": sign * line.duration_hours,
                    "fixed": line.fixed,
                    "energy": line.energy,
                    "time": line.time,
                    "parking": line.parking,
                    "reservation": line.reservation,
                    "adjustment": line.adjustment,
                    "net": line.net,
                    "vat_category": category.value,
                    "vat_rate": rate,
                    "exemption_reason": reason[:200],
                }
            )
        totals = arithmetic.document_totals(taxed, g.currency)
        language = (profile.language if profile is not None else "") or (
            ctx.settings.default_language
        )
        docs.append(
            Document(
                tenant_id=ctx.tenant_id,
                doc_type=spec.doc_type.value,
                status=DocumentStatus.DRAFT.value,
                number="",
                billing_run_id=ctx.run_id,
                period_start=ctx.period_start,
                period_end=ctx.period_end,
                currency=g.currency,
                language=language,
                counterparty_kind=spec.kind.value,
                buyer_customer_id=(
                    g.counterparty_id if spec.kind is CounterpartyKind.CUSTOMER else None
                ),
                buyer_party_id=g.counterparty_id if spec.kind is CounterpartyKind.PARTY else None,
                payee_id=g.counterparty_id if spec.kind is CounterpartyKind.PAYEE else None,
                buyer_tenant_id=(
                    g.lines[0].buyer_tenant_id if spec.kind is CounterpartyKind.PARTY else None
                ),
                seller=seller,
                buyer=buyer,
                email=counterparty["email"],
                net_total=totals.net_total,
                vat_total=totals.vat_total,
                total=totals.total,
                line_count=len(rows),
                energy_kwh=energy,
                has_late_section=late,
                created_by_name=ctx.actor_name,
            )
        )
        all_lines.append(rows)
        all_groups.append(totals.groups)
    _insert_documents(docs, ctx.now)
    line_rows: list[dict[str, Any]] = []
    vat_rows: list[dict[str, Any]] = []
    for doc, rows, vat_groups in zip(docs, all_lines, all_groups, strict=True):
        for row in rows:
            row["document_id"] = doc.pk
        line_rows.extend(rows)
        vat_rows.extend(
            {
                "tenant_id": ctx.tenant_id,
                "created_at": ctx.now,
                "updated_at": ctx.now,
                "document_id": doc.pk,
                "category": vg.category.value,
                "rate": vg.rate,
                "taxable": vg.taxable,
                "vat": vg.vat,
                "exemption_reason": vg.exemption_reason[:200],
            }
            for vg in vat_groups
        )
    _insert(DocumentLine, line_rows)
    _insert(VatBreakdown, vat_rows)
    BillingRun.objects.filter(pk=ctx.run_id).update(
        groups_done=F("groups_done") + len(docs),
        documents_created=F("documents_created") + len(docs),
        lines_billed=F("lines_billed") + len(line_rows),
        updated_at=ctx.now,
    )


def _ordered(lines: Sequence[BillableLine], period_start: datetime) -> list[BillableLine]:
    """The document's order: the period's sessions, then the late ones; each by end."""
    return sorted(
        lines, key=lambda x: (x.session_end < period_start, x.session_end, x.rated_line_id)
    )


def _fields(model: Any) -> list[tuple[str, str]]:
    return [
        (f.attname, f.column)
        for f in model._meta.concrete_fields
        if f is not model._meta.auto_field
    ]


def _insert_documents(docs: list[Document], now: datetime) -> None:
    """The documents with their ids: on PostgreSQL ids drawn from the table's sequence in
    one statement and the rows written by COPY (the per-row INSERT ... RETURNING cost a
    third of a run); elsewhere `insert_rows_returning`."""
    if connection.vendor != "postgresql":
        insert_rows_returning(Document, docs)
        return
    table = Document._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(docs)],
        )
        ids = [r[0] for r in cursor.fetchall()]
    json_fields = {
        f.attname for f in Document._meta.concrete_fields if f.get_internal_type() == "JSONField"
    }
    fields = [f.attname for f in Document._meta.concrete_fields]
    rows = []
    for doc, pk in zip(docs, ids, strict=True):
        doc.pk = pk
        doc.created_at = doc.updated_at = now
        rows.append(
            [json.dumps(getattr(doc, a)) if a in json_fields else getattr(doc, a) for a in fields]
        )
    columns = ", ".join(connection.ops.quote_name(f.column) for f in Document._meta.concrete_fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (as rating writes rated lines), bulk_create elsewhere. A rated
    line already on an active line fails the whole statement (IntegrityError)."""
    if not rows:
        return
    fields = _fields(model)
    if connection.vendor == "postgresql":
        columns = ", ".join(connection.ops.quote_name(c) for _, c in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[a] for a, _ in fields])
        return
    model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
