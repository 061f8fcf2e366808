from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, upsert, validated_save
from apps.customers import selectors
from apps.customers.contracts import ContractRecord, CustomerRecord
from apps.customers.models import Contract, Customer
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.tokens import api as tokens_api

CUSTOMER_FIELDS = (
    "kind",
    "name",
    "email",
    "vat_number",
    "address",
    "postal_code",
    "city",
    "country",
    "external_ref",
)
CONTRACT_FIELDS = ("reference", "valid_from", "valid_until")


@transaction.atomic
def customer_upsert(*, tenant_id: int, external_ref: str, **values: object) -> int:
    """Create or update the customer the CRM knows as `external_ref`."""
    return upsert(
        Customer, lookup={"tenant_id": tenant_id, "external_ref": external_ref}, values=values
    ).pk


@transaction.atomic
def contract_upsert(*, tenant_id: int, reference: str, **values: object) -> int:
    return upsert(
        Contract, lookup={"tenant_id": tenant_id, "reference": reference}, values=values
    ).pk


_audit = parties_api.audit


@transaction.atomic
def customer_create(
    *, tenant_id: int, country_code: str, party_id: str, values: dict[str, Any], actor: Actor
) -> CustomerRecord:
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=country_code,
        party_id=party_id,
        role=PartyRole.EMSP,
        path="$.party_id",
    )
    ref = values.get("external_ref") or ""
    if ref and Customer.objects.for_tenant(tenant_id).filter(external_ref=ref).exists():
        raise Conflict(f"a customer with external_ref {ref!r} exists")
    customer = Customer(tenant_id=tenant_id, party_id=party_pk)
    for field in CUSTOMER_FIELDS:
        if field in values:
            setattr(customer, field, values[field])
    validated_save(customer)
    record = selectors.customer_get(tenant_id=tenant_id, customer_id=customer.pk)
    _audit(tenant_id, actor, "customer.create", "customer", customer.pk, after=record)
    return record


@transaction.atomic
def customer_update(
    *,
    tenant_id: int,
    customer_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
) -> CustomerRecord:
    customer = (
        Customer.objects.for_tenant(tenant_id).select_for_update().filter(pk=customer_id).first()
    )
    if customer is None:
        raise NotFound(f"no customer {customer_id} in this tenant")
    check_version(customer, if_match)
    ref = values.get("external_ref")
    if (
        ref
        and Customer.objects.for_tenant(tenant_id)
        .filter(external_ref=ref)
        .exclude(pk=customer_id)
        .exists()
    ):
        raise Conflict(f"a customer with external_ref {ref!r} exists")
    changed = [f for f in CUSTOMER_FIELDS if f in values]
    before = {f: getattr(customer, f) for f in changed}
    for field in changed:
        setattr(customer, field, values[field])
    validated_save(customer)
    _audit(
        tenant_id,
        actor,
        "customer.update",
        "customer",
        customer.pk,
        before=before,
        after={f: getattr(customer, f) for f in changed},
    )
    return selectors.customer_get(tenant_id=tenant_id, customer_id=customer.pk)


def _check_links(tenant_id: int, customer_id: int | None, token_id: int | None) -> None:
    problems = []
    if (
        customer_id is not None
        and not Customer.objects.for_tenant(tenant_id).filter(pk=customer_id).exists()
    ):
        problems.append(Problem("$.customer_id", f"no customer {customer_id} in this tenant"))
    if token_id is not None:
        try:
            tokens_api.token_get(tenant_id=tenant_id, token_id=token_id)
        except NotFound:
            problems.append(Problem("$.token_id", f"no token {token_id} in this tenant"))
    if problems:
        raise ValidationFailed("invalid contract", problems=tuple(problems))


def _check_validity(contract: Contract) -> None:
    if contract.valid_until is not None and contract.valid_until <= contract.valid_from:
        raise ValidationFailed(
            "invalid contract",
            problems=(Problem("$.valid_until", "must be after valid_from"),),
        )


@transaction.atomic
def contract_create(
    *, tenant_id: int, customer_id: int, token_id: int, values: dict[str, Any], actor: Actor
) -> ContractRecord:
    _check_links(tenant_id, customer_id, token_id)
    ref = values.get("reference")
    if ref and Contract.objects.for_tenant(tenant_id).filter(reference=ref).exists():
        raise Conflict(f"a contract with reference {ref!r} exists")
    contract = Contract(tenant_id=tenant_id, customer_id=customer_id, token_id=token_id)
    for field in CONTRACT_FIELDS:
        if field in values:
            setattr(contract, field, values[field])
    _check_validity(contract)
    validated_save(contract)
    record = selectors.contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    _audit(tenant_id, actor, "contract.create", "contract", contract.pk, after=record)
    return record


@transaction.atomic
def contract_update(
    *,
    tenant_id: int,
    contract_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
) -> ContractRecord:
    contract = (
        Contract.objects.for_tenant(tenant_id).select_for_update().filter(pk=contract_id).first()
    )
    if contract is None:
        raise NotFound(f"no contract {contract_id} in this tenant")
    check_version(contract, if_match)
    _check_links(tenant_id, None, values.get("token_id"))
    ref = values.get("reference")
    if (
        ref
        and Contract.objects.for_tenant(tenant_id)
        .filter(reference=ref)
        .exclude(pk=contract_id)
        .exists()
    ):
        raise Conflict(f"a contract with reference {ref!r} exists")
    changed = [f for f in (*CONTRACT_FIELDS, "token_id") if f in values]
    before = {f: getattr(contract, f) for f in changed}
    for field in changed:
        setattr(contract, field, values[field])
    _check_validity(contract)
    validated_save(contract)
    _audit(
        tenant_id,
        actor,
        "contract.update",
        "contract",
        contract.pk,
        before=before,
        after={f: getattr(contract, f) for f in changed},
    )
    return selectors.contract_get(tenant_id=tenant_id, contract_id=contract.pk)
