"""The read side of billing runs and billing profiles: a run and its progress, the runs of a
tenant, the drafts a run made, the tenant's billing profiles."""

from __future__ import annotations

from typing import Any

from apps.common.errors import NotFound
from apps.invoicing.contracts import (
    BillingProfileRef,
    BillingRunRef,
    CounterpartyKind,
    RunDocumentRow,
)
from apps.invoicing.models import BillingProfile, BillingRun, Document

_RUN_FIELDS = (
    "id",
    "tenant_id",
    "frequency",
    "period_start",
    "period_end",
    "trigger",
    "status",
    "groups_total",
    "groups_done",
    "documents_created",
    "lines_billed",
    "actor_name",
    "started_at",
    "finished_at",
    "error",
    "created_at",
)


def _run(r: dict[str, Any]) -> BillingRunRef:
    return BillingRunRef(**r)


def billing_run_get(*, tenant_id: int, run_id: int) -> BillingRunRef:
    row = BillingRun.objects.for_tenant(tenant_id).filter(pk=run_id).values(*_RUN_FIELDS).first()
    if row is None:
        raise NotFound(f"no billing run {run_id} in this tenant")
    return _run(row)


def billing_run_list(
    *,
    tenant_id: int,
    status: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[BillingRunRef]:
    """The tenant's runs by id (keyset: `after_id`, `limit`), or newest first (the portal)."""
    qs = BillingRun.objects.for_tenant(tenant_id)
    if status:
        qs = qs.filter(status=status)
    if after_id is not None:
        qs = qs.filter(pk__lt=after_id) if newest_first else qs.filter(pk__gt=after_id)
    qs = qs.order_by("-pk" if newest_first else "pk")
    if limit is not None:
        qs = qs[:limit]
    return [_run(r) for r in qs.values(*_RUN_FIELDS)]


def billing_run_documents(*, tenant_id: int, run_id: int, limit: int = 500) -> list[RunDocumentRow]:
    """The documents a run made (drafts, and what became of them), by id."""
    qs = (
        Document.objects.for_tenant(tenant_id)
        .filter(billing_run_id=run_id)
        .order_by("pk")
        .values(
            "id",
            "doc_type",
            "status",
            "number",
            "counterparty_kind",
            "buyer",
            "seller",
            "currency",
            "net_total",
            "vat_total",
            "total",
            "line_count",
            "has_late_section",
        )[:limit]
    )
    return [
        RunDocumentRow(
            id=r["id"],
            doc_type=r["doc_type"],
            status=r["status"],
            number=r["number"],
            counterparty_kind=r["counterparty_kind"],
            buyer_name=str((r["buyer"] or {}).get("name", "")),
            seller_name=str((r["seller"] or {}).get("name", "")),
            currency=r["currency"],
            net_total=r["net_total"],
            vat_total=r["vat_total"],
            total=r["total"],
            line_count=r["line_count"],
            has_late_section=r["has_late_section"],
        )
        for r in qs
    ]


_NAME = {
    CounterpartyKind.CUSTOMER: "customer__name",
    CounterpartyKind.PARTY: "party__name",
    CounterpartyKind.PAYEE: "payee__name",
}


def billing_profile_list(
    *,
    tenant_id: int,
    kind: CounterpartyKind | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[BillingProfileRef]:
    """The tenant's billing profiles by id (keyset)."""
    qs = BillingProfile.objects.for_tenant(tenant_id).select_related("customer", "party", "payee")
    if kind is not None:
        qs = qs.filter(kind=kind.value)
    if after_id is not None:
        qs = qs.filter(pk__gt=after_id)
    qs = qs.order_by("pk")
    if limit is not None:
        qs = qs[:limit]
    out = []
    for p in qs:
        other = p.customer or p.party or p.payee
        out.append(profile_ref(p, getattr(other, "name", "")))
    return out


def profile_ref(p: BillingProfile, name: str) -> BillingProfileRef:
    return BillingProfileRef(
        id=p.pk,
        kind=p.kind,
        counterparty_id=p.customer_id or p.party_id or p.payee_id or 0,
        counterparty_name=name,
        frequency=p.frequency,
        language=p.language,
        email=p.email,
        legal_name=p.legal_name,
        vat_number=p.vat_number,
        address=p.address,
        postal_code=p.postal_code,
        city=p.city,
        country=p.country,
        updated_at=p.updated_at,
    )
