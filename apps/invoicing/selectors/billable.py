"""The unbilled rated lines of a tenant, read set-based for billing runs (ADR 0035, ADR 0036).

One SQL statement per document type over the rated lines' and CDRs' tables (the other apps
export their table names; invoicing imports no model of theirs), ordered by document group
(counterparty, currency) so a run can stream it: on PostgreSQL through a server-side cursor,
on SQLite (development) read at once.

A line is billable for a run of frequency F over `[start, end)` when it is the tenant's, of
the document type's engine, its CDR ended before `end`, its counterparty is billed at
frequency F (its billing profile; MONTHLY without one), and no active document line holds
it. Lines whose CDR ended before `start` go on the document's LATE section.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from apps.charging.api import CDR_TABLE
from apps.invoicing.contracts import CounterpartyKind, DocumentType, Frequency
from apps.invoicing.models import BillingProfile, DocumentLine
from apps.rating.api import RATED_LINE_TABLE
from apps.tariffs.contracts import BillingEngine


@dataclass(frozen=True, slots=True)
class DocSpec:
    """How one document type is drawn from rated lines."""

    doc_type: DocumentType
    engine: BillingEngine
    kind: CounterpartyKind
    group_column: str  # the rated line's counterparty column
    profile_column: str  # the billing profile's column of that counterparty
    extra_where: str = ""


SPECS: tuple[DocSpec, ...] = (
    DocSpec(
        DocumentType.CUSTOMER_INVOICE,
        BillingEngine.RETAIL,
        CounterpartyKind.CUSTOMER,
        "buyer_customer_id",
        "customer_id",
    ),
    DocSpec(
        DocumentType.EMSP_INVOICE,
        BillingEngine.WHOLESALE,
        CounterpartyKind.PARTY,
        "buyer_party_id",
        "party_id",
        # The CPO tenant's own eMSP: one company, never invoiced to itself. A line the
        # tenant bought (a roaming partner's CDR, ADR 0041: buyer_tenant = itself) is a
        # cost the partner invoices outside the platform.
        "AND NOT rl.own_charge"
        " AND (rl.buyer_tenant_id IS NULL OR rl.buyer_tenant_id <> rl.tenant_id)",
    ),
    DocSpec(
        DocumentType.SELF_BILLING,
        BillingEngine.REIMBURSEMENT,
        CounterpartyKind.PAYEE,
        "seller_payee_id",
        "payee_id",
    ),
)


@dataclass(frozen=True, slots=True)
class BillableLine:
    rated_line_id: int
    cdr_id: int
    reversal: bool
    currency: str
    buyer_tenant_id: int | None
    energy_kwh: Decimal
    fixed: Decimal
    energy: Decimal
    time: Decimal
    parking: Decimal
    reservation: Decimal
    adjustment: Decimal
    net: Decimal  # the rated line's total excl. VAT
    vat_rate: Decimal
    exemption_reason: str
    reason: str
    session_start: datetime
    session_end: datetime
    duration_hours: Decimal
    cdr_ocpi_id: str
    location_name: str
    location_address: str
    location_city: str
    evse: str


@dataclass(frozen=True, slots=True)
class BillableGroup:
    """The lines of one future document: one counterparty, one currency."""

    counterparty_id: int
    currency: str
    lines: tuple[BillableLine, ...]


_AMOUNTS = ("energy_kwh", "fixed", "energy", "time", "parking", "reservation", "adjustment")


def _json(path: tuple[str, ...]) -> str:
    if connection.vendor == "postgresql":
        head = "c.data" + "".join(f"->'{p}'" for p in path[:-1])
        return f"COALESCE({head}->>'{path[-1]}', '')"
    return f"COALESCE(json_extract(c.data, '$.{'.'.join(path)}'), '')"


def _from_where(spec: DocSpec) -> str:
    qn = connection.ops.quote_name
    return f"""
        FROM {qn(RATED_LINE_TABLE)} rl
        JOIN {qn(CDR_TABLE)} c ON c.id = rl.cdr_id
        LEFT JOIN {qn(BillingProfile._meta.db_table)} bp
            ON bp.tenant_id = rl.tenant_id AND bp.{spec.profile_column} = rl.{spec.group_column}
        WHERE rl.tenant_id = %(tenant)s
          AND rl.engine = %(engine)s
          AND rl.{spec.group_column} IS NOT NULL
          AND c.end_date_time < %(end)s
          AND COALESCE(bp.frequency, %(default_frequency)s) = %(frequency)s
          {spec.extra_where}
          AND NOT EXISTS (
              SELECT 1 FROM {qn(DocumentLine._meta.db_table)} dl
              WHERE dl.rated_line_id = rl.id AND dl.active
          )
    """


def _params(
    spec: DocSpec, tenant_id: int, frequency: Frequency | str, end: datetime
) -> dict[str, Any]:
    return {
        "tenant": tenant_id,
        "engine": spec.engine.value,
        "end": end if connection.vendor == "postgresql" else _sqlite_datetime(end),
        "frequency": str(frequency),
        "default_frequency": Frequency.MONTHLY.value,
    }


def _sqlite_datetime(value: datetime) -> str:
    # Django stores aware datetimes on SQLite as naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def billable_group_count(
    *, tenant_id: int, spec: DocSpec, frequency: Frequency | str, end: datetime
) -> int:
    """How many documents the billable lines of `spec` make (for a run's progress)."""
    sql = (
        f"SELECT COUNT(*) FROM (SELECT DISTINCT rl.{spec.group_column}, rl.currency "
        f"{_from_where(spec)}) g"
    )
    with connection.cursor() as cur:
        cur.execute(sql, _params(spec, tenant_id, frequency, end))
        row = cur.fetchone()
    return int(row[0]) if row else 0


_SELECT = """
    SELECT rl.{group}, rl.currency, rl.id, rl.cdr_id, rl.kind, rl.buyer_tenant_id,
           rl.energy_kwh, rl.fixed, rl.energy, rl.time, rl.parking, rl.reservation,
           rl.adjustment, rl.total_excl_vat, rl.vat_rate, rl.vat_exemption_reason, rl.reason,
           c.start_date_time, c.end_date_time, c.total_time_hours, c.ocpi_id,
           {name}, {address}, {city}, {evse_id}, {evse_uid}
"""


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # SQLite: an int or a float holding a short decimal


def _dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _line(r: tuple[Any, ...]) -> BillableLine:
    return BillableLine(
        rated_line_id=r[2],
        cdr_id=r[3],
        reversal=r[4] == "REVERSAL",
        currency=r[1],
        buyer_tenant_id=r[5],
        energy_kwh=_dec(r[6]),
        fixed=_dec(r[7]),
        energy=_dec(r[8]),
        time=_dec(r[9]),
        parking=_dec(r[10]),
        reservation=_dec(r[11]),
        adjustment=_dec(r[12]),
        net=_dec(r[13]),
        vat_rate=_dec(r[14]),
        exemption_reason=r[15] or "",
        reason=r[16] or "",
        session_start=_dt(r[17]),
        session_end=_dt(r[18]),
        duration_hours=_dec(r[19]),
        cdr_ocpi_id=r[20] or "",
        location_name=str(r[21] or ""),
        location_address=str(r[22] or ""),
        location_city=str(r[23] or ""),
        evse=str(r[24] or r[25] or ""),
    )


def billable_groups(
    *,
    tenant_id: int,
    spec: DocSpec,
    frequency: Frequency | str,
    end: datetime,
    chunk: int = 5000,
) -> Iterator[BillableGroup]:
    """The billable lines of `spec`, one group (future document) at a time, in the order
    of counterparty and currency; inside a group the lines in their document order: the
    sessions that ended earliest first (the caller puts late sessions on their section)."""
    sql = (
        _SELECT.format(
            group=spec.group_column,
            name=_json(("cdr_location", "name")),
            address=_json(("cdr_location", "address")),
            city=_json(("cdr_location", "city")),
            evse_id=_json(("cdr_location", "evse_id")),
            evse_uid=_json(("cdr_location", "evse_uid")),
        )
        + _from_where(spec)
        + f" ORDER BY rl.{spec.group_column}, rl.currency, c.end_date_time, rl.id"
    )
    params = _params(spec, tenant_id, frequency, end)
    rows: Iterable[tuple[Any, ...]]
    if connection.vendor == "postgresql":
        rows = _stream(sql, params, chunk)
    else:
        # SQLite (development): at once, so the run's writes never meet an open read.
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
    key: tuple[int, str] | None = None
    lines: list[BillableLine] = []
    for r in rows:
        k = (r[0], r[1])
        if k != key:
            if key is not None and lines:
                yield BillableGroup(key[0], key[1], tuple(lines))
            key, lines = k, []
        lines.append(_line(r))
    if key is not None and lines:
        yield BillableGroup(key[0], key[1], tuple(lines))


def _stream(sql: str, params: dict[str, Any], chunk: int) -> Iterator[tuple[Any, ...]]:
    """A server-side cursor (WITH HOLD outside a transaction: it outlives the run's
    per-batch commits)."""
    with connection.chunked_cursor() as cur:
        cur.execute(sql, params)
        while True:
            batch = cur.fetchmany(chunk)
            if not batch:
                return
            yield from batch


def _related(field: str) -> Any:
    return BillingProfile._meta.get_field(field).related_model


def counterparties(kind: CounterpartyKind, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Name, address, VAT number, e-mail (and for a customer whether it is a company) of
    counterparties, read through the billing profile's relations (no import of the other
    apps' models). One query."""
    wanted = sorted(set(ids))
    if kind is CounterpartyKind.CUSTOMER:
        rows = _related("customer").objects.filter(pk__in=wanted)
        fields = ("id", "kind", "name", "email", "vat_number", "address", "postal_code", "city")
        out = {}
        for r in rows.values(*fields, "country"):
            r["business"] = r.pop("kind") == "company"
            out[r["id"]] = r
        return out
    if kind is CounterpartyKind.PAYEE:
        fields = ("id", "name", "email", "vat_number", "address", "postal_code", "city", "country")
        out = {}
        for r in _related("payee").objects.filter(pk__in=wanted).values(*fields):
            r["business"] = bool(r["vat_number"])
            out[r["id"]] = r
        return out
    out = {}
    for r in _related("party").objects.filter(pk__in=wanted).values("id", "name", "country_code"):
        out[r["id"]] = {"id": r["id"], "name": r["name"], "country": r["country_code"]}
        out[r["id"]]["business"] = True
    return out


def profiles(kind: CounterpartyKind, tenant_id: int, ids: Iterable[int]) -> dict[int, Any]:
    """The tenant's billing profiles of these counterparties, by counterparty id."""
    column = {
        CounterpartyKind.CUSTOMER: "customer_id",
        CounterpartyKind.PARTY: "party_id",
        CounterpartyKind.PAYEE: "payee_id",
    }[kind]
    qs = BillingProfile.objects.for_tenant(tenant_id).filter(**{f"{column}__in": sorted(set(ids))})
    return {getattr(p, column): p for p in qs}


def tenant_name(tenant_id: int) -> str:
    operator = _related("tenant")
    row = operator.objects.filter(pk=tenant_id).values_list("name", flat=True).first()
    return str(row or "")


def tenants_with_rated_lines() -> list[int]:
    """Tenants that have rated at least one line (one index probe each)."""
    qn = connection.ops.quote_name
    operator = _related("tenant")
    table = qn(operator._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT o.id FROM {table} o WHERE EXISTS "
            f"(SELECT 1 FROM {qn(RATED_LINE_TABLE)} rl WHERE rl.tenant_id = o.id) ORDER BY o.id"
        )
        return [r[0] for r in cur.fetchall()]
