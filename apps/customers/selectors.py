"""Reads of the customers app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from apps.common.errors import NotFound
from apps.common.services import version_tag
from apps.customers.contracts import (
    ContractRecord,
    ContractTerms,
    ContractVersionRecord,
    CustomerKind,
    CustomerRecord,
    RetailPackageRecord,
    UserGroupRecord,
)
from apps.customers.models import Contract, Customer, RetailPackage, UserGroup


def _customer(c: Customer) -> CustomerRecord:
    return CustomerRecord(
        id=c.pk,
        country_code=c.party.country_code,
        party_id=c.party.party_id,
        kind=CustomerKind(c.kind),
        name=c.name,
        email=c.email,
        vat_number=c.vat_number,
        address=c.address,
        postal_code=c.postal_code,
        city=c.city,
        country=c.country,
        external_ref=c.external_ref,
        created_at=c.created_at,
        last_updated=c.updated_at,
        etag=version_tag(c),
    )


def customer_get(*, tenant_id: int, customer_id: int) -> CustomerRecord:
    c = (
        Customer.objects.for_tenant(tenant_id)
        .select_related("party")
        .filter(pk=customer_id)
        .first()
    )
    if c is None:
        raise NotFound(f"no customer {customer_id} in this tenant")
    return _customer(c)


def customer_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    external_ref: str | None = None,
    updated_since: datetime | None = None,
) -> list[CustomerRecord]:
    qs = Customer.objects.for_tenant(tenant_id).select_related("party")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if external_ref:
        qs = qs.filter(external_ref=external_ref)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return [_customer(c) for c in qs.order_by("id")[:limit]]


def _contract(c: Contract, versions: tuple[ContractVersionRecord, ...] = ()) -> ContractRecord:
    return ContractRecord(
        id=c.pk,
        customer_id=c.customer_id,
        token_id=c.token_id,
        token_uid=c.token.uid,
        reference=c.reference,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
        last_updated=c.updated_at,
        etag=version_tag(c),
        version=c.version,
        retail_package_id=c.retail_package_id,
        user_group_id=c.user_group_id,
        versions=versions,
    )


def _version(c: Contract) -> ContractVersionRecord:
    return ContractVersionRecord(
        id=c.pk,
        version=c.version,
        customer_id=c.customer_id,
        token_id=c.token_id,
        retail_package_id=c.retail_package_id,
        user_group_id=c.user_group_id,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
    )


def contract_get(*, tenant_id: int, contract_id: int) -> ContractRecord:
    """One version of a contract, with every version of its reference (oldest first)."""
    c = (
        Contract.objects.for_tenant(tenant_id)
        .select_related("token")
        .filter(pk=contract_id)
        .first()
    )
    if c is None:
        raise NotFound(f"no contract {contract_id} in this tenant")
    versions = Contract.objects.for_tenant(tenant_id).filter(reference=c.reference)
    return _contract(c, tuple(_version(v) for v in versions.order_by("version")))


def contract_version_at(*, tenant_id: int, reference: str, at: datetime) -> ContractRecord | None:
    """The version of contract `reference` in force at `at` ([valid_from, valid_until))."""
    c = (
        Contract.objects.for_tenant(tenant_id)
        .select_related("token")
        .filter(reference=reference, valid_from__lte=at)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .first()
    )
    return None if c is None else _contract(c)


def contract_list(
    *,
    tenant_id: int,
    after_id: int | None,
    limit: int,
    customer_id: int | None = None,
    token_id: int | None = None,
    reference: str | None = None,
) -> list[ContractRecord]:
    qs = Contract.objects.for_tenant(tenant_id).select_related("token")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if token_id is not None:
        qs = qs.filter(token_id=token_id)
    if reference:
        qs = qs.filter(reference=reference)
    return [_contract(c) for c in qs.order_by("id")[:limit]]


def customer_search(
    *,
    tenant_id: int,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
    search: str | None = None,
) -> list[CustomerRecord]:
    """The portal's customer list: name, e-mail or CRM reference contain `search`. By id:
    the first `limit` after `after_id`, or the last `limit` before `before_id` (a previous
    page), always in id order."""
    from django.db.models import Q

    qs = Customer.objects.for_tenant(tenant_id).select_related("party")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(email__icontains=search)
            | Q(external_ref__icontains=search)
        )
    if before_id is not None:
        return [_customer(c) for c in list(qs.order_by("-id")[:limit])[::-1]]
    return [_customer(c) for c in qs.order_by("id")[:limit]]


def contracts_in_force(
    *, keys: Iterable[tuple[int, datetime]]
) -> dict[tuple[int, datetime], ContractTerms]:
    """(token id, at) -> the contract version valid at that moment ([valid_from,
    valid_until)); keys without one are left out. One query for the batch."""
    wanted = set(keys)
    if not wanted:
        return {}
    by_token: dict[int, list[tuple[datetime, datetime | None, ContractTerms]]] = {}
    rows = Contract.objects.filter(token_id__any=[t for t, _ in wanted]).values_list(
        "token_id",
        "valid_from",
        "valid_until",
        "pk",
        "tenant_id",
        "customer_id",
        "customer__party_id",
        "retail_package_id",
        "user_group_id",
    )
    for token_id, start, until, pk, tenant_id, customer_id, party_id, package, group in rows:
        by_token.setdefault(token_id, []).append(
            (start, until, ContractTerms(pk, tenant_id, customer_id, party_id, package, group))
        )
    out: dict[tuple[int, datetime], ContractTerms] = {}
    for token_id, at in wanted:
        for start, until, terms in by_token.get(token_id, ()):
            if start <= at and (until is None or at < until):
                out[(token_id, at)] = terms
                break
    return out


def _package(p: RetailPackage) -> RetailPackageRecord:
    return RetailPackageRecord(
        id=p.pk,
        name=p.name,
        description=p.description,
        created_at=p.created_at,
        last_updated=p.updated_at,
    )


def retail_package_get(*, tenant_id: int, package_id: int) -> RetailPackageRecord:
    p = RetailPackage.objects.for_tenant(tenant_id).filter(pk=package_id).first()
    if p is None:
        raise NotFound(f"no retail package {package_id} in this tenant")
    return _package(p)


def retail_package_list(
    *, tenant_id: int, after_id: int | None = None, limit: int = 100
) -> list[RetailPackageRecord]:
    qs = RetailPackage.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_package(p) for p in qs.order_by("id")[:limit]]


def _group(g: UserGroup) -> UserGroupRecord:
    return UserGroupRecord(id=g.pk, name=g.name, created_at=g.created_at, last_updated=g.updated_at)


def user_group_get(*, tenant_id: int, group_id: int) -> UserGroupRecord:
    g = UserGroup.objects.for_tenant(tenant_id).filter(pk=group_id).first()
    if g is None:
        raise NotFound(f"no user group {group_id} in this tenant")
    return _group(g)


def user_group_list(
    *, tenant_id: int, after_id: int | None = None, limit: int = 100
) -> list[UserGroupRecord]:
    qs = UserGroup.objects.for_tenant(tenant_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return [_group(g) for g in qs.order_by("id")[:limit]]
