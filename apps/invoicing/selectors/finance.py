"""The read side of the finance export (BILLING.md section 5, ADR 0039): which rated lines a
tenant has not exported yet, aggregated in SQL, and the journal they make through the
tenant's GL mapping.

Set-based SQL over `apps.rating.api.RATED_LINE_TABLE` and `apps.charging.api.CDR_TABLE`
(ADR 0035: invoicing reads other apps' rows in bulk by table, never by model). The same
statements run on PostgreSQL and SQLite: on SQLite a decimal column is stored as a REAL, so
sums are taken as integers of the column's smallest unit (`_sum`) and single values read as
text (`_num`): no float ever reaches Python.

Which lines, for tenant T, period end E and cutoff C:
- T's own rated lines (REVENUE for retail and wholesale, COST for reimbursement payouts) and
  the wholesale lines another tenant rated with T as the buyer (COST);
- not own-charge (the CPO and the eMSP are one: no revenue; counted apart in the preview);
- whose CDR ended before E and that were rated before C;
- not in any of T's export batches yet (`ExportedLine`, unique per tenant and rated line).
Earlier periods' lines that were rated after their batch's cutoff (late CDRs) fall in the
next batch by these rules alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.charging import api as charging_api
from apps.common.errors import NotFound
from apps.invoicing.contracts import ExclusionKind, GlComponent, GlRole
from apps.invoicing.models import (
    ExportBatch,
    ExportedLine,
    ExportFile,
    ExportFileChunk,
    FinanceAdjustment,
    FinanceExclusion,
    GlMapping,
)
from apps.rating import api as rating_api

UNMAPPED = "UNMAPPED"
ZERO = Decimal(0)
AMOUNT_PLACES = 4
KWH_PLACES = 6
# The rated line's columns per journal component (VAT is the line's VAT).
COMPONENT_COLUMNS = (
    (GlComponent.ENERGY, "energy"),
    (GlComponent.TIME, "time"),
    (GlComponent.PARKING, "parking"),
    (GlComponent.FIXED, "fixed"),
    (GlComponent.RESERVATION, "reservation"),
    (GlComponent.ADJUSTMENT, "adjustment"),
    (GlComponent.VAT, "vat"),
)
MANUAL = "MANUAL"  # the role of a manual adjustment's journal line


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GlMappingRow:
    id: int
    engine: str
    role: str
    component: str
    vat_category: str
    account: str
    cost_centre: str
    description: str


@dataclass(frozen=True, slots=True)
class ExclusionRow:
    id: int
    kind: str
    value: str
    reason: str
    created_by_name: str
    created_at: datetime
    retired_at: datetime | None
    retired_by_name: str


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    id: int
    period_start: datetime
    period_end: datetime
    amount: Decimal
    currency: str
    account: str
    cost_centre: str
    vat_class: str
    counterparty: str
    reason: str
    author_name: str
    created_at: datetime
    batch_number: int | None


@dataclass(slots=True)
class JournalLine:
    """One line of the journal: an amount on an account, debit or credit (one is zero).
    `kwh` sits on ENERGY lines only, so the journal's kWh add up to the CDRs' kWh once per
    role; `cdr_ids` are the CDRs behind the line (sorted), the trace back from the ERP."""

    role: str
    component: str
    account: str
    cost_centre: str
    vat_class: str
    counterparty: str
    currency: str
    amount: Decimal = ZERO  # signed: positive on the role's natural side
    kwh: Decimal = ZERO
    rated_lines: int = 0
    cdr_ids: list[int] = field(default_factory=list)
    adjustment_ids: list[int] = field(default_factory=list)

    @property
    def debit(self) -> Decimal:
        return self.signed_for_side()[0]

    @property
    def credit(self) -> Decimal:
        return self.signed_for_side()[1]

    def _debit_side(self) -> bool:
        # REVENUE books on the credit side, COST and manual adjustments on the debit side; a
        # negative sum (reversals, a negative adjustment) moves to the other side, positive.
        natural_debit = self.role != GlRole.REVENUE.value
        return natural_debit == (self.amount >= 0)

    def signed_for_side(self) -> tuple[Decimal, Decimal]:
        a = abs(self.amount)
        return (a, ZERO) if self._debit_side() else (ZERO, a)


@dataclass(frozen=True, slots=True)
class Total:
    debit: Decimal
    credit: Decimal
    kwh: Decimal
    lines: int


@dataclass(frozen=True, slots=True)
class ExcludedRow:
    exclusion_id: int
    kind: str
    value: str
    reason: str
    currency: str
    amount: Decimal  # what it left out (net, or the account's amount)
    rated_lines: int


@dataclass(frozen=True, slots=True)
class FinancePreview:
    """What a batch for `[period_start, period_end)` would post if posted at `cutoff`."""

    tenant_id: int
    period_start: datetime
    period_end: datetime
    cutoff: datetime
    journal: tuple[JournalLine, ...]
    # key -> currency -> Total; keys: account, cost centre, VAT class, counterparty
    per_account: dict[str, dict[str, Total]]
    per_cost_centre: dict[str, dict[str, Total]]
    per_vat_class: dict[str, dict[str, Total]]
    per_counterparty: dict[str, dict[str, Total]]
    totals: dict[str, dict[str, str]]  # currency -> debit, credit (as strings)
    excluded: tuple[ExcludedRow, ...]
    adjustments: tuple[AdjustmentRow, ...]
    own_charge_lines: int
    own_charge_net: dict[str, Decimal]
    rated_lines: int
    cdr_ids: tuple[int, ...]  # the CDRs it exports (not those excluded)
    energy_kwh: dict[str, Decimal]  # per role
    unmapped: bool


@dataclass(frozen=True, slots=True)
class ExportFileRow:
    kind: str
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ExportBatchRow:
    id: int
    number: int
    period_start: datetime
    period_end: datetime
    cutoff: datetime
    posted_by_name: str
    line_count: int
    cdr_count: int
    energy_kwh: Decimal
    totals: dict[str, Any]
    created_at: datetime
    files: tuple[ExportFileRow, ...]


# --- SQL helpers -----------------------------------------------------------------------------


def _sqlite() -> bool:
    return connection.vendor == "sqlite"


def _sum(expr: str, places: int) -> str:
    """SUM of a decimal column, exact on both databases (see the module docstring)."""
    if _sqlite():
        return f"SUM(CAST(ROUND(({expr}) * {10**places}) AS INTEGER))"
    return f"SUM({expr})"


def _num(expr: str) -> str:
    return f"CAST({expr} AS TEXT)" if _sqlite() else expr


def dec(value: Any, places: int) -> Decimal:
    """A value `_sum` or `_num` returned, as a Decimal with `places` decimals."""
    q = Decimal(1).scaleb(-places)
    if value is None:
        return ZERO.quantize(q)
    if _sqlite():
        if isinstance(value, int):
            return Decimal(value).scaleb(-places).quantize(q)
        return Decimal(str(value)).quantize(q)
    return Decimal(value).quantize(q)


def dt_param(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def dt_value(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    assert parsed is not None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _ids_agg(expr: str) -> str:
    if _sqlite():
        return f"GROUP_CONCAT(DISTINCT {expr})"
    return f"ARRAY_AGG(DISTINCT {expr})"


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, str):
        return sorted(int(v) for v in value.split(",") if v)
    return sorted(int(v) for v in value)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


# The lines tenant %(t)s exports: its side of each line (role, counterparty), the VAT
# category; `own_charge` kept as a column so the preview can count what it skips.
_BASE = """
SELECT rl.id AS rated_line_id, rl.cdr_id AS cdr_id, rl.engine AS engine,
    rl.currency AS currency, rl.own_charge AS own_charge,
    CASE WHEN rl.tenant_id = %(t)s AND rl.engine <> 'REIMBURSEMENT'
              AND (rl.buyer_tenant_id IS NULL OR rl.buyer_tenant_id <> rl.tenant_id)
              THEN 'REVENUE'
         ELSE 'COST' END AS role,
    CASE WHEN rl.tenant_id <> %(t)s OR rl.buyer_tenant_id = %(t)s THEN 'PARTY'
         WHEN rl.engine = 'RETAIL' THEN 'CUSTOMER'
         WHEN rl.engine = 'WHOLESALE' THEN 'PARTY'
         ELSE 'PAYEE' END AS cp_kind,
    CASE WHEN rl.tenant_id <> %(t)s OR rl.buyer_tenant_id = %(t)s THEN rl.seller_party_id
         WHEN rl.engine = 'RETAIL' THEN rl.buyer_customer_id
         WHEN rl.engine = 'WHOLESALE' THEN rl.buyer_party_id
         ELSE rl.seller_payee_id END AS cp_id,
    CASE WHEN rl.vat_rate = 0 AND (rl.vat_exemption_reason <> '' OR rl.vat_source = 'HCC_EXEMPT')
         THEN 'E' WHEN rl.vat_rate = 0 THEN 'Z' ELSE 'S' END AS vat_category,
    rl.vat_rate AS vat_rate, rl.energy_kwh AS energy_kwh,
    rl.energy AS energy, rl.time AS time, rl.parking AS parking, rl.fixed AS fixed,
    rl.reservation AS reservation, rl.adjustment AS adjustment, rl.vat AS vat,
    rl.total_excl_vat AS total_excl_vat
FROM {rated} rl JOIN {cdr} c ON c.id = rl.cdr_id
WHERE (rl.tenant_id = %(t)s OR (rl.engine = 'WHOLESALE' AND rl.buyer_tenant_id = %(t)s))
  AND c.end_date_time < %(end)s AND rl.created_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM {exported} x
                  WHERE x.tenant_id = %(t)s AND x.rated_line_id = rl.id)
"""


def base_sql() -> str:
    return _BASE.format(
        rated=_q(rating_api.RATED_LINE_TABLE),
        cdr=_q(charging_api.CDR_TABLE),
        exported=_q(ExportedLine._meta.db_table),
    )


def base_params(tenant_id: int, period_end: datetime, cutoff: datetime) -> dict[str, Any]:
    return {"t": tenant_id, "end": dt_param(period_end), "cutoff": dt_param(cutoff)}


def exclusion_filter(exclusions: list[ExclusionRow]) -> tuple[str, dict[str, Any]]:
    """SQL (over the base's columns) that keeps lines no counterparty exclusion matches."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, e in enumerate(exclusions):
        if e.kind == ExclusionKind.ACCOUNT.value or not e.value.isdigit():
            continue
        parts.append(f"(b.cp_kind = %(xk{i})s AND b.cp_id = %(xv{i})s)")
        params[f"xk{i}"] = e.kind
        params[f"xv{i}"] = int(e.value)
    if not parts:
        return "", params
    return " AND NOT (" + " OR ".join(parts) + ")", params


# --- GL mapping, exclusions, adjustments -----------------------------------------------------


def gl_mapping_list(*, tenant_id: int) -> list[GlMappingRow]:
    return [
        GlMappingRow(**r)
        for r in GlMapping.objects.for_tenant(tenant_id).values(
            "id",
            "engine",
            "role",
            "component",
            "vat_category",
            "account",
            "cost_centre",
            "description",
        )
    ]


class GlResolver:
    """The most specific mapping row for (role, component, engine, VAT category): a row
    naming the engine beats one naming the VAT category, which beats one naming neither;
    none: the account UNMAPPED."""

    def __init__(self, rows: list[GlMappingRow]) -> None:
        self._rows: dict[tuple[str, str, str, str], GlMappingRow] = {
            (r.role, r.component, r.engine, r.vat_category): r for r in rows
        }
        self._cache: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def __call__(
        self, role: str, component: str, engine: str, vat_category: str
    ) -> tuple[str, str]:
        key = (role, component, engine, vat_category)
        hit = self._cache.get(key)
        if hit is None:
            hit = (UNMAPPED, "")
            for e, v in ((engine, vat_category), (engine, ""), ("", vat_category), ("", "")):
                row = self._rows.get((role, component, e, v))
                if row is not None:
                    hit = (row.account, row.cost_centre)
                    break
            self._cache[key] = hit
        return hit


def _exclusion_row(r: dict[str, Any]) -> ExclusionRow:
    return ExclusionRow(**r)


_EXCLUSION_FIELDS = (
    "id",
    "kind",
    "value",
    "reason",
    "created_by_name",
    "created_at",
    "retired_at",
    "retired_by_name",
)


def finance_exclusion_list(*, tenant_id: int, include_retired: bool = True) -> list[ExclusionRow]:
    qs = FinanceExclusion.objects.for_tenant(tenant_id)
    if not include_retired:
        qs = qs.filter(retired_at__isnull=True)
    return [_exclusion_row(r) for r in qs.order_by("-id").values(*_EXCLUSION_FIELDS)]


def _adjustment_rows(qs: Any) -> list[AdjustmentRow]:
    return [
        AdjustmentRow(
            id=r["id"],
            period_start=r["period_start"],
            period_end=r["period_end"],
            amount=r["amount"],
            currency=str(r["amount_currency"]),
            account=r["account"],
            cost_centre=r["cost_centre"],
            vat_class=r["vat_class"],
            counterparty=r["counterparty"],
            reason=r["reason"],
            author_name=r["author_name"],
            created_at=r["created_at"],
            batch_number=r["exported__batch__number"],
        )
        for r in qs.values(
            "id",
            "period_start",
            "period_end",
            "amount",
            "amount_currency",
            "account",
            "cost_centre",
            "vat_class",
            "counterparty",
            "reason",
            "author_name",
            "created_at",
            "exported__batch__number",
        )
    ]


def finance_adjustment_list(
    *, tenant_id: int, limit: int = 200, after_id: int | None = None
) -> list[AdjustmentRow]:
    """Newest first (keyset: the `limit` older than `after_id`)."""
    qs = FinanceAdjustment.objects.for_tenant(tenant_id).order_by("-id")
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    return _adjustment_rows(qs[:limit])


def pending_adjustments(*, tenant_id: int, period_end: datetime) -> list[AdjustmentRow]:
    """Adjustments not exported yet whose period starts before `period_end`, oldest first."""
    qs = (
        FinanceAdjustment.objects.for_tenant(tenant_id)
        .filter(exported__isnull=True, period_start__lt=period_end)
        .order_by("id")
    )
    return _adjustment_rows(qs)


# --- the preview ---------------------------------------------------------------------------


def _groups(
    tenant_id: int, period_end: datetime, cutoff: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The unexported lines aggregated per (role, engine, counterparty, currency, VAT
    category and rate): own-charge groups apart."""
    sums = ", ".join(f"{_sum('b.' + col, AMOUNT_PLACES)} AS {col}" for _, col in COMPONENT_COLUMNS)
    sql = f"""
SELECT b.own_charge, b.role, b.engine, b.cp_kind, b.cp_id, b.currency, b.vat_category,
    {_num("b.vat_rate")} AS vat_rate, COUNT(*) AS n, {_ids_agg("b.cdr_id")} AS cdr_ids,
    {_sum("b.energy_kwh", KWH_PLACES)} AS kwh, {_sum("b.total_excl_vat", AMOUNT_PLACES)} AS net,
    {sums}
FROM ({base_sql()}) b
GROUP BY b.own_charge, b.role, b.engine, b.cp_kind, b.cp_id, b.currency, b.vat_category,
    b.vat_rate
"""
    with connection.cursor() as cur:
        cur.execute(sql, base_params(tenant_id, period_end, cutoff))
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    billed: list[dict[str, Any]] = []
    own: list[dict[str, Any]] = []
    for r in rows:
        r["vat_rate"] = dec(r["vat_rate"], 2)
        r["kwh"] = dec(r["kwh"], KWH_PLACES)
        r["net"] = dec(r["net"], AMOUNT_PLACES)
        for _, col in COMPONENT_COLUMNS:
            r[col] = dec(r[col], AMOUNT_PLACES)
        r["cdr_ids"] = _ids(r["cdr_ids"])
        (own if r["own_charge"] else billed).append(r)
    return billed, own


def vat_class(category: str, rate: Decimal) -> str:
    """ "S21", "S5.5", "E0", "Z0": the category and the rate without trailing zeros."""
    text = format(rate.normalize(), "f") if rate else "0"
    return f"{category}{text}"


def counterparty(kind: str, pk: Any) -> str:
    return f"{kind}:{pk}" if pk is not None else f"{kind}:-"


def _totals(journal: list[JournalLine], key: Any) -> dict[str, dict[str, Total]]:
    acc: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for j in journal:
        k = key(j)
        t = acc[k].setdefault(j.currency, [ZERO, ZERO, ZERO, 0])
        d, c = j.signed_for_side()
        t[0] += d
        t[1] += c
        t[2] += j.kwh
        t[3] += 1
    return {k: {cur: Total(*acc[k][cur]) for cur in sorted(acc[k])} for k in sorted(acc)}


def journal_sort_key(j: JournalLine) -> tuple[str, ...]:
    return (j.currency, j.account, j.cost_centre, j.vat_class, j.counterparty, j.component, j.role)


def finance_preview(
    *,
    tenant_id: int,
    period_start: datetime,
    period_end: datetime,
    now: datetime | None = None,
) -> FinancePreview:
    """What posting `[period_start, period_end)` now would export (nothing is written)."""
    cutoff = now or timezone.now()
    groups, own = _groups(tenant_id, period_end, cutoff)
    resolve = GlResolver(gl_mapping_list(tenant_id=tenant_id))
    exclusions = finance_exclusion_list(tenant_id=tenant_id, include_retired=False)
    by_cp = {(e.kind, e.value): e for e in exclusions if e.kind != ExclusionKind.ACCOUNT.value}
    by_account = {e.value: e for e in exclusions if e.kind == ExclusionKind.ACCOUNT.value}
    excluded: dict[tuple[int, str], list[Any]] = {}
    lines: dict[tuple[str, ...], JournalLine] = {}
    cdrs: set[int] = set()
    kwh: dict[str, Decimal] = defaultdict(lambda: ZERO)
    n_lines = 0
    for g in groups:
        hit = by_cp.get((g["cp_kind"], str(g["cp_id"])))
        if hit is not None:
            e = excluded.setdefault((hit.id, g["currency"]), [hit, ZERO, 0])
            e[1] += g["net"]
            e[2] += g["n"]
            continue
        n_lines += g["n"]
        cdrs.update(g["cdr_ids"])
        kwh[g["role"]] += g["kwh"]
        vc = vat_class(g["vat_category"], g["vat_rate"])
        cp = counterparty(g["cp_kind"], g["cp_id"])
        for component, col in COMPONENT_COLUMNS:
            amount = g[col]
            energy_line = component is GlComponent.ENERGY and g["kwh"] != 0
            if amount == 0 and not energy_line:
                continue
            account, centre = resolve(g["role"], component.value, g["engine"], g["vat_category"])
            if account in by_account:
                e = excluded.setdefault(
                    (by_account[account].id, g["currency"]), [by_account[account], ZERO, 0]
                )
                e[1] += amount
                e[2] += g["n"]
                continue
            key = (g["role"], component.value, account, centre, vc, cp, g["currency"])
            j = lines.get(key)
            if j is None:
                j = lines[key] = JournalLine(
                    role=g["role"],
                    component=component.value,
                    account=account,
                    cost_centre=centre,
                    vat_class=vc,
                    counterparty=cp,
                    currency=g["currency"],
                )
            j.amount += amount
            if component is GlComponent.ENERGY:
                j.kwh += g["kwh"]
            j.rated_lines += g["n"]
            j.cdr_ids = sorted(set(j.cdr_ids) | set(g["cdr_ids"]))
    adjustments = pending_adjustments(tenant_id=tenant_id, period_end=period_end)
    for a in adjustments:
        key = (
            MANUAL,
            GlComponent.ADJUSTMENT.value,
            a.account,
            a.cost_centre,
            a.vat_class,
            a.counterparty,
            a.currency,
        )
        j = lines.get(key)
        if j is None:
            j = lines[key] = JournalLine(
                role=MANUAL,
                component=GlComponent.ADJUSTMENT.value,
                account=a.account,
                cost_centre=a.cost_centre,
                vat_class=a.vat_class,
                counterparty=a.counterparty,
                currency=a.currency,
            )
        j.amount += a.amount
        j.adjustment_ids.append(a.id)
    journal = sorted(lines.values(), key=journal_sort_key)
    currency_totals: dict[str, dict[str, str]] = {}
    for cur, t in _totals(journal, lambda j: "all").get("all", {}).items():
        currency_totals[cur] = {"debit": str(t.debit), "credit": str(t.credit)}
    own_net: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for g in own:
        own_net[g["currency"]] += g["net"]
    return FinancePreview(
        tenant_id=tenant_id,
        period_start=period_start,
        period_end=period_end,
        cutoff=cutoff,
        journal=tuple(journal),
        per_account=_totals(journal, lambda j: j.account),
        per_cost_centre=_totals(journal, lambda j: j.cost_centre),
        per_vat_class=_totals(journal, lambda j: j.vat_class),
        per_counterparty=_totals(journal, lambda j: j.counterparty),
        totals=currency_totals,
        excluded=tuple(
            ExcludedRow(
                exclusion_id=e.id,
                kind=e.kind,
                value=e.value,
                reason=e.reason,
                currency=cur,
                amount=amount,
                rated_lines=n,
            )
            for (_, cur), (e, amount, n) in sorted(excluded.items())
        ),
        adjustments=tuple(adjustments),
        own_charge_lines=sum(g["n"] for g in own),
        own_charge_net=dict(sorted(own_net.items())),
        rated_lines=n_lines,
        cdr_ids=tuple(sorted(cdrs)),
        energy_kwh=dict(sorted(kwh.items())),
        unmapped=any(j.account == UNMAPPED for j in journal),
    )


# --- batches -------------------------------------------------------------------------------


def _batch_rows(qs: Any) -> list[ExportBatchRow]:
    batches = list(
        qs.values(
            "id",
            "number",
            "period_start",
            "period_end",
            "cutoff",
            "posted_by_name",
            "line_count",
            "cdr_count",
            "energy_kwh",
            "totals",
            "created_at",
        )
    )
    files: dict[int, list[ExportFileRow]] = defaultdict(list)
    for f in (
        ExportFile.objects.filter(batch_id__in=[b["id"] for b in batches])
        .order_by("batch_id", "kind")
        .values("batch_id", "kind", "filename", "sha256", "size")
    ):
        files[f.pop("batch_id")].append(ExportFileRow(**f))
    return [ExportBatchRow(**b, files=tuple(files[b["id"]])) for b in batches]


def export_batch_list(
    *, tenant_id: int, limit: int = 100, after_id: int | None = None
) -> list[ExportBatchRow]:
    """Newest first (keyset on id: the `limit` older than `after_id`)."""
    qs = ExportBatch.objects.for_tenant(tenant_id).order_by("-id")
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    return _batch_rows(qs[:limit])


def export_batch_get(*, tenant_id: int, batch_id: int) -> ExportBatchRow:
    rows = _batch_rows(ExportBatch.objects.for_tenant(tenant_id).filter(pk=batch_id))
    if not rows:
        raise NotFound(f"no export batch {batch_id} in this tenant")
    return rows[0]


@dataclass(frozen=True, slots=True)
class ExportFileStream:
    """One stored export file: its name, size and SHA-256, and its bytes one stored chunk (at
    most EXPORT_FILE_CHUNK_BYTES) at a time, each read with its own query when it is needed:
    the whole file is never in memory (ADR 0039). `chunks` for a WSGI or test response,
    `achunks` under ASGI (Django joins a synchronous iterator in memory before it serves it
    asynchronously)."""

    filename: str
    size: int
    sha256: str
    chunks: Iterator[bytes]
    achunks: AsyncIterator[bytes]


def _chunk(pk: int) -> bytes:
    return bytes(ExportFileChunk.objects.filter(pk=pk).values_list("content", flat=True).get())


def _chunks(chunk_ids: list[int]) -> Iterator[bytes]:
    for pk in chunk_ids:
        yield _chunk(pk)


async def _achunks(chunk_ids: list[int]) -> AsyncIterator[bytes]:
    read = sync_to_async(_chunk)
    for pk in chunk_ids:
        yield await read(pk)


def export_file_open(*, tenant_id: int, batch_id: int, kind: str) -> ExportFileStream:
    """One file of a batch of this tenant (NotFound otherwise), to stream."""
    row = (
        ExportFile.objects.for_tenant(tenant_id)
        .filter(batch_id=batch_id, kind=kind)
        .values_list("filename", "size", "sha256")
        .first()
    )
    if row is None:
        raise NotFound(f"no {kind} file of export batch {batch_id} in this tenant")
    ids = list(
        ExportFileChunk.objects.for_tenant(tenant_id)
        .filter(batch_id=batch_id, kind=kind)
        .order_by("seq")
        .values_list("id", flat=True)
    )
    return ExportFileStream(row[0], row[1], row[2], _chunks(ids), _achunks(ids))
