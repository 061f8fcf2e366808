"""The read side of rated lines: a CDR's rated views, lines per period, the wholesale
settlement report (BILLING.md section 1; docs/billing.md "Seeing the money").

Who sees what: a tenant sees the lines it rated (`tenant`), and the wholesale lines another
tenant rated with it as the buyer (`buyer_tenant`: a marketplace eMSP's cost), without the
seller's rule. Nothing else: not the seller's reimbursement lines, not another eMSP's
retail price.

Periods are by `created_at` (when a line was rated, the rating service's clock), half open
`[from, to)`: a report of a closed period never changes, and a reversal written later
counts in the period it was written, like a late CDR.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Case, Count, F, Q, QuerySet, Sum, When
from django.db.models.functions import Abs

from apps.rating.contracts import (
    CdrRatedViews,
    EngineTotal,
    EngineView,
    LineKind,
    RatedLineRow,
    SettlementReport,
    SettlementRow,
    SettlementSide,
)
from apps.rating.models import RatedLine
from apps.rating.selectors.flags import rating_flag_rows
from apps.tariffs.contracts import BillingEngine
from billing.pricing.compiled import minor_unit

DIMENSIONS = ("fixed", "energy", "time", "parking", "reservation", "adjustment")
ENGINE_ORDER = (BillingEngine.RETAIL, BillingEngine.WHOLESALE, BillingEngine.REIMBURSEMENT)
ZERO = Decimal(0)

_FIELDS = (
    "id",
    "cdr_id",
    "tenant_id",
    "engine",
    "seq",
    "kind",
    "reverses_id",
    "reason",
    "seller_party_id",
    "seller_party__country_code",
    "seller_party__party_id",
    "seller_payee_id",
    "seller_payee__name",
    "buyer_party_id",
    "buyer_party__country_code",
    "buyer_party__party_id",
    "buyer_customer_id",
    "buyer_customer__name",
    "buyer_tenant_id",
    "own_charge",
    "rule_version__rule_id",
    "rule_version__rule__name",
    "rule_version__version",
    "tariff_version__tariff__ocpi_id",
    "tariff_version__version",
    "currency",
    "rounding_mode",
    "energy_kwh",
    "time_hours",
    "parking_hours",
    *DIMENSIONS,
    *(f"{d}_exact" for d in DIMENSIONS),
    "total_excl_vat",
    "vat_rate",
    "vat_source",
    "vat_exemption_reason",
    "vat",
    "total_incl_vat",
    "hcc",
    "rated_by",
    "created_at",
)


def visible_to(tenant_id: int) -> Q:
    """The lines `tenant_id` may see: its own, and wholesale lines it buys."""
    return Q(tenant_id=tenant_id) | Q(
        engine=BillingEngine.WHOLESALE.value, buyer_tenant_id=tenant_id
    )


def _party(country: str | None, party: str | None) -> str:
    return f"{country}*{party}" if country and party else ""


def _row(r: dict[str, Any], viewer: int) -> RatedLineRow:
    seller_side = r["tenant_id"] == viewer
    return RatedLineRow(
        id=r["id"],
        cdr_id=r["cdr_id"],
        engine=r["engine"],
        seq=r["seq"],
        kind=r["kind"],
        reverses_id=r["reverses_id"],
        reason=r["reason"],
        viewer_side="SELLER" if seller_side else "BUYER",
        seller=_party(r["seller_party__country_code"], r["seller_party__party_id"])
        or (r["seller_payee__name"] or ""),
        seller_party_id=r["seller_party_id"],
        seller_payee_id=r["seller_payee_id"],
        buyer=_party(r["buyer_party__country_code"], r["buyer_party__party_id"])
        or (r["buyer_customer__name"] or ""),
        buyer_party_id=r["buyer_party_id"],
        buyer_customer_id=r["buyer_customer_id"],
        buyer_tenant_id=r["buyer_tenant_id"],
        own_charge=r["own_charge"],
        rule_id=r["rule_version__rule_id"] if seller_side else None,
        rule=r["rule_version__rule__name"] if seller_side else None,
        rule_version=r["rule_version__version"] if seller_side else None,
        tariff=r["tariff_version__tariff__ocpi_id"],
        tariff_version=r["tariff_version__version"],
        currency=r["currency"],
        rounding_mode=r["rounding_mode"],
        energy_kwh=r["energy_kwh"],
        time_hours=r["time_hours"],
        parking_hours=r["parking_hours"],
        amounts={d: r[d] for d in DIMENSIONS},
        exact={d: r[f"{d}_exact"] for d in DIMENSIONS},
        total_excl_vat=r["total_excl_vat"],
        vat_rate=r["vat_rate"],
        vat_source=r["vat_source"],
        vat_exemption_reason=r["vat_exemption_reason"],
        vat=r["vat"],
        total_incl_vat=r["total_incl_vat"],
        hcc=r["hcc"],
        rated_by=r["rated_by"],
        created_at=r["created_at"],
    )


def totals_per_currency(lines: list[RatedLineRow]) -> tuple[EngineTotal, ...]:
    """The sum of `lines` per currency (reversals are negative: the sum is what is in
    force), currencies in alphabetical order, never added together."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for line in lines:
        s = sums[line.currency]
        s[0] += line.total_excl_vat
        s[1] += line.vat
        s[2] += line.total_incl_vat
    return tuple(EngineTotal(c, *sums[c]) for c in sorted(sums))


def _cdr_sides(cdr_id: int) -> tuple[int, int | None] | None:
    """(CPO tenant, eMSP tenant) of a CDR, read through the rated line's foreign key (the
    CDR model is charging's: the relation, not an import)."""
    cdr_model: Any = RatedLine._meta.get_field("cdr").related_model
    row = cdr_model.objects.filter(pk=cdr_id).values_list("tenant_id", "emsp_tenant_id").first()
    return None if row is None else (row[0], row[1])


def cdr_rated_views(*, tenant_id: int, cdr_id: int) -> CdrRatedViews:
    """The rated views of one CDR the tenant may see. The CDR's CPO tenant sees wholesale
    and reimbursement (and retail when it is the eMSP too); a marketplace eMSP tenant sees
    the wholesale lines it pays (without the CPO's rule) and its retail lines; any other
    tenant sees no view at all."""
    sides = _cdr_sides(cdr_id)
    if sides is None:
        return CdrRatedViews(cdr_id=cdr_id, views=())
    cpo_tenant, emsp_tenant = sides
    engines: list[BillingEngine] = []
    for engine in ENGINE_ORDER:
        if engine is BillingEngine.RETAIL and emsp_tenant == tenant_id:
            engines.append(engine)
        elif engine is BillingEngine.WHOLESALE and tenant_id in (cpo_tenant, emsp_tenant):
            engines.append(engine)
        elif engine is BillingEngine.REIMBURSEMENT and cpo_tenant == tenant_id:
            engines.append(engine)
    rows = [
        _row(r, tenant_id)
        for r in RatedLine.objects.filter(visible_to(tenant_id), cdr_id=cdr_id)
        .order_by("engine", "seq")
        .values(*_FIELDS)
    ]
    flags = rating_flag_rows(tenant_id=tenant_id, cdr_id=cdr_id, status=None, limit=100)
    views = []
    for engine in ENGINE_ORDER:
        lines = [r for r in rows if r.engine == engine.value]
        engine_flags = tuple(f for f in flags if f.engine == engine.value)
        if engine not in engines and not lines and not engine_flags:
            continue
        views.append(
            EngineView(
                engine=engine.value,
                lines=tuple(lines),
                totals=totals_per_currency(lines),
                flags=engine_flags,
            )
        )
    return CdrRatedViews(cdr_id=cdr_id, views=tuple(views))


def _lines(
    tenant_id: int,
    engine: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
) -> QuerySet[RatedLine]:
    qs = RatedLine.objects.filter(visible_to(tenant_id))
    if engine:
        qs = qs.filter(engine=engine)
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    return qs


def rated_line_rows(
    *,
    tenant_id: int,
    limit: int,
    after_id: int | None = None,
    engine: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    cdr_id: int | None = None,
) -> list[RatedLineRow]:
    """The lines the tenant may see, in the order they were written (id; keyset: the
    `limit` after `after_id`), rated in `[created_from, created_before)`."""
    qs = _lines(tenant_id, engine, created_from, created_before)
    if cdr_id is not None:
        qs = qs.filter(cdr_id=cdr_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_row(r, tenant_id) for r in qs.order_by("id").values(*_FIELDS)[:limit]]


def settlement_report(
    *,
    tenant_id: int,
    period_from: datetime,
    period_to: datetime,
    party_id: int | None = None,
    side: SettlementSide = SettlementSide.RECEIVABLE,
) -> SettlementReport:
    """Wholesale lines written in `[period_from, period_to)` per counterparty (RECEIVABLE:
    the buyer eMSP of the tenant's lines; PAYABLE: the seller CPO of marketplace lines the
    tenant buys), currency and own-charge, reversals included (their amounts are negative;
    their kWh count negative). `party_id` narrows to one counterparty."""
    qs = RatedLine.objects.filter(
        engine=BillingEngine.WHOLESALE.value,
        created_at__gte=period_from,
        created_at__lt=period_to,
    )
    if side is SettlementSide.RECEIVABLE:
        qs, party = qs.filter(tenant_id=tenant_id), "buyer_party"
    else:
        qs, party = (
            qs.filter(buyer_tenant_id=tenant_id).exclude(tenant_id=tenant_id),
            "seller_party",
        )
    if party_id is not None:
        qs = qs.filter(**{f"{party}_id": party_id})
    signed_kwh = Case(
        When(kind=LineKind.REVERSAL.value, then=-Abs(F("energy_kwh"))),
        default=F("energy_kwh"),
    )
    grouped = (
        qs.values(
            f"{party}_id",
            f"{party}__country_code",
            f"{party}__party_id",
            f"{party}__name",
            "currency",
            "own_charge",
        )
        .annotate(
            cdrs=Count("cdr_id", distinct=True),
            kwh=Sum(signed_kwh),
            excl=Sum("total_excl_vat"),
            vat_sum=Sum("vat"),
            incl=Sum("total_incl_vat"),
        )
        .order_by(f"{party}__country_code", f"{party}__party_id", "currency", "own_charge")
    )
    rows = tuple(
        SettlementRow(
            party_id=g[f"{party}_id"],
            party=_party(g[f"{party}__country_code"], g[f"{party}__party_id"]),
            party_name=g[f"{party}__name"] or "",
            currency=g["currency"],
            own_charge=g["own_charge"],
            cdrs=g["cdrs"],
            energy_kwh=Decimal(g["kwh"] or 0),
            total_excl_vat=Decimal(g["excl"] or 0),
            vat=Decimal(g["vat_sum"] or 0),
            total_incl_vat=Decimal(g["incl"] or 0),
        )
        for g in grouped
    )
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for row in rows:
        if row.own_charge:
            continue
        s = sums[row.currency]
        s[0] += row.total_excl_vat
        s[1] += row.vat
        s[2] += row.total_incl_vat
    return SettlementReport(
        tenant_id=tenant_id,
        side=side,
        period_from=period_from,
        period_to=period_to,
        rows=rows,
        totals=tuple(EngineTotal(c, *sums[c]) for c in sorted(sums)),
    )


def settlement_parties(*, tenant_id: int, side: SettlementSide) -> list[tuple[int, str]]:
    """The counterparties of the tenant's wholesale lines (id, "NL*BBB name"), for a
    filter."""
    qs = RatedLine.objects.filter(engine=BillingEngine.WHOLESALE.value)
    if side is SettlementSide.RECEIVABLE:
        qs, party = qs.filter(tenant_id=tenant_id), "buyer_party"
    else:
        qs, party = (
            qs.filter(buyer_tenant_id=tenant_id).exclude(tenant_id=tenant_id),
            "seller_party",
        )
    rows = (
        qs.filter(**{f"{party}__isnull": False})
        .values_list(
            f"{party}_id", f"{party}__country_code", f"{party}__party_id", f"{party}__name"
        )
        .distinct()
        .order_by(f"{party}__country_code", f"{party}__party_id")
    )
    return [(pid, f"{_party(cc, p)} {name}".strip()) for pid, cc, p, name in rows]


SETTLEMENT_CSV_COLUMNS = (
    "side",
    "period_from",
    "period_to",
    "party",
    "party_name",
    "currency",
    "own_charge",
    "cdrs",
    "energy_kwh",
    "total_excl_vat",
    "vat",
    "total_incl_vat",
)
WH = Decimal("0.001")


def _minor(amount: Decimal, currency: str) -> str:
    """An amount in the currency's minor unit (the lines' amounts already are: exact)."""
    return f"{amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), ROUND_HALF_UP):f}"


def settlement_csv_rows(report: SettlementReport) -> Iterator[list[str]]:
    """The report's CSV (one format for the portal's export and the REST API): the header,
    then one row per counterparty x currency x own-charge; amounts in the currency's minor
    unit, kWh to the Wh; no total rows (never one across currencies)."""
    yield list(SETTLEMENT_CSV_COLUMNS)
    for r in report.rows:
        yield [
            report.side.value,
            report.period_from.isoformat(),
            report.period_to.isoformat(),
            r.party,
            r.party_name,
            r.currency,
            "yes" if r.own_charge else "no",
            str(r.cdrs),
            f"{r.energy_kwh.quantize(WH, ROUND_HALF_UP):f}",
            _minor(r.total_excl_vat, r.currency),
            _minor(r.vat, r.currency),
            _minor(r.total_incl_vat, r.currency),
        ]
