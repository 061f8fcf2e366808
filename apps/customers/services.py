from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import check_version, upsert, validated_save
from apps.customers import selectors
from apps.customers.contracts import (
    ContractRecord,
    CustomerRecord,
    RetailPackageRecord,
    UserGroupRecord,
)
from apps.customers.models import Contract, Customer, RetailPackage, UserGroup
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
# What a contract version says; a change of any of them is a new version (ADR 0027).
VERSIONED_FIELDS = ("customer_id", "token_id", "retail_package_id", "user_group_id", "valid_until")


@transaction.atomic
def customer_upsert(*, tenant_id: int, external_ref: str, **values: object) -> int:
    """Create or update the customer the CRM knows as `external_ref`."""
    return upsert(
        Customer, lookup={"tenant_id": tenant_id, "external_ref": external_ref}, values=values
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


# -- Contracts: versions of one reference, never overlapping for one token ----------------


def _check_links(tenant_id: int, values: dict[str, Any]) -> None:
    """Every id a version names belongs to this tenant (each problem at its own path)."""
    problems = []
    checks: tuple[tuple[str, Any, str], ...] = (
        ("customer_id", Customer, "customer"),
        ("retail_package_id", RetailPackage, "retail package"),
        ("user_group_id", UserGroup, "user group"),
    )
    for field, model, label in checks:
        pk = values.get(field)
        if pk is not None and not model.objects.for_tenant(tenant_id).filter(pk=pk).exists():
            problems.append(Problem(f"$.{field}", f"no {label} {pk} in this tenant"))
    token_id = values.get("token_id")
    if token_id is not None:
        try:
            tokens_api.token_get(tenant_id=tenant_id, token_id=token_id)
        except NotFound:
            problems.append(Problem("$.token_id", f"no token {token_id} in this tenant"))
    if problems:
        raise ValidationFailed("invalid contract", problems=tuple(problems))


def _check_validity(valid_from: datetime, valid_until: datetime | None, path: str) -> None:
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed(
            "invalid contract", problems=(Problem("$.valid_until", f"must be after {path}"),)
        )


def _stamp(at: datetime | None) -> str:
    return "open end" if at is None else at.isoformat()


def _refuse_overlap(
    tenant_id: int,
    token_id: int,
    valid_from: datetime,
    valid_until: datetime | None,
    exclude: tuple[int, ...] = (),
) -> None:
    """Conflict naming the first version of another contract (or of this one) on the same
    token whose validity overlaps [valid_from, valid_until). Call with the token locked."""
    qs = Contract.objects.for_tenant(tenant_id).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=valid_from), token_id=token_id
    )
    if valid_until is not None:
        qs = qs.filter(valid_from__lt=valid_until)
    other = qs.exclude(pk__in=exclude).order_by("valid_from", "pk").first()
    if other is not None:
        raise Conflict(
            f"token {token_id} is already under contract {other.reference!r} version "
            f"{other.version} (id {other.pk}) from {_stamp(other.valid_from)} until "
            f"{_stamp(other.valid_until)}: one token's contracts must not overlap",
            problems=(Problem("$.valid_from", f"overlaps contract {other.reference!r}"),),
        )


def _lock_tokens(tenant_id: int, token_ids: set[int]) -> None:
    """Row locks on the tokens (ordered by id), so two writers of one token's contracts
    check for overlaps one after the other."""
    missing = token_ids - tokens_api.token_lock(tenant_id=tenant_id, token_ids=sorted(token_ids))
    if missing:
        raise ValidationFailed(
            "invalid contract",
            problems=tuple(
                Problem("$.token_id", f"no token {t} in this tenant") for t in sorted(missing)
            ),
        )


def _save(contract: Contract) -> None:
    try:
        with transaction.atomic():
            validated_save(contract)
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a writer we missed
        raise Conflict(f"the contract overlaps another one of token {contract.token_id}") from exc


@transaction.atomic
def contract_create(
    *,
    tenant_id: int,
    customer_id: int,
    token_id: int,
    values: dict[str, Any],
    actor: Actor,
) -> ContractRecord:
    """Version 1 of a new contract `values["reference"]` from `valid_from`."""
    fields = {"customer_id": customer_id, "token_id": token_id, **values}
    _check_links(tenant_id, fields)
    if values.get("valid_from") is None:
        raise ValidationFailed(
            "invalid contract", problems=(Problem("$.valid_from", "this field is required"),)
        )
    _lock_tokens(tenant_id, {token_id})
    ref = values.get("reference")
    if ref and Contract.objects.for_tenant(tenant_id).filter(reference=ref).exists():
        raise Conflict(f"a contract with reference {ref!r} exists")
    contract = Contract(
        tenant_id=tenant_id,
        customer_id=customer_id,
        token_id=token_id,
        reference=values.get("reference", ""),
        version=1,
        retail_package_id=values.get("retail_package_id"),
        user_group_id=values.get("user_group_id"),
        valid_from=values["valid_from"],
        valid_until=values.get("valid_until"),
    )
    _check_validity(values["valid_from"], values.get("valid_until"), "valid_from")
    _refuse_overlap(tenant_id, token_id, values["valid_from"], values.get("valid_until"))
    _save(contract)
    record = selectors.contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    _audit(tenant_id, actor, "contract.create", "contract", contract.pk, after=record)
    return record


def _unchanged(latest: Contract, fields: dict[str, Any]) -> bool:
    return all(getattr(latest, f) == fields[f] for f in VERSIONED_FIELDS)


@transaction.atomic
def contract_version_add(
    *,
    tenant_id: int,
    contract_id: int,
    effective_from: datetime,
    values: dict[str, Any],
    actor: Actor,
    if_match: str | None = None,
    now: datetime | None = None,
) -> ContractRecord:
    """A new version of the contract that `contract_id` (any of its versions) belongs to,
    from `effective_from` on, with `values` (any of VERSIONED_FIELDS) changed and the rest
    as the latest version says. The latest version ends at `effective_from` (its
    `valid_until` is the only field of a version that ever changes, and only to shorten it
    from now on); an earlier moment than `now` is refused, so the version in force at a past
    moment never changes. Nothing to change: the latest version, unchanged."""
    now = now or timezone.now()
    base = Contract.objects.for_tenant(tenant_id).filter(pk=contract_id).first()
    if base is None:
        raise NotFound(f"no contract {contract_id} in this tenant")
    check_version(base, if_match)
    _check_links(tenant_id, values)
    latest = (
        Contract.objects.for_tenant(tenant_id)
        .filter(reference=base.reference)
        .order_by("-version")
        .first()
    )
    assert latest is not None
    _lock_tokens(tenant_id, {latest.token_id, values.get("token_id", latest.token_id)})
    latest = Contract.objects.select_for_update().get(pk=latest.pk)  # re-read under the lock
    fields = {f: values.get(f, getattr(latest, f)) for f in VERSIONED_FIELDS}
    in_force = latest.valid_until is None or effective_from < latest.valid_until
    if in_force and _unchanged(latest, fields):
        return selectors.contract_get(tenant_id=tenant_id, contract_id=latest.pk)
    if effective_from < now:
        raise ValidationFailed(
            "invalid contract version",
            problems=(
                Problem(
                    "$.effective_from",
                    f"must not be before now ({now.isoformat()}): the version in force at a "
                    "past moment never changes",
                ),
            ),
        )
    if effective_from <= latest.valid_from:
        raise ValidationFailed(
            "invalid contract version",
            problems=(
                Problem(
                    "$.effective_from",
                    f"must be after the start of version {latest.version} "
                    f"({latest.valid_from.isoformat()})",
                ),
            ),
        )
    if not in_force and "valid_until" not in values:
        fields["valid_until"] = None  # after a gap: open-ended unless said otherwise
    _check_validity(effective_from, fields["valid_until"], "effective_from")
    before = selectors.contract_get(tenant_id=tenant_id, contract_id=latest.pk)
    if in_force:
        latest.valid_until = effective_from
        latest.save(update_fields=["valid_until", "updated_at"])
    _refuse_overlap(
        tenant_id, fields["token_id"], effective_from, fields["valid_until"], (latest.pk,)
    )
    contract = Contract(
        tenant_id=tenant_id,
        reference=latest.reference,
        version=latest.version + 1,
        valid_from=effective_from,
        **fields,
    )
    _save(contract)
    record = selectors.contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    _audit(
        tenant_id,
        actor,
        "contract.version_add",
        "contract",
        contract.pk,
        before=before,
        after=record,
    )
    return record


@transaction.atomic
def contract_update(
    *,
    tenant_id: int,
    contract_id: int,
    if_match: str | None,
    values: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> ContractRecord:
    """The REST API's PATCH: a new version from `values["effective_from"]` (default: now)
    with the changed fields (`contract_version_add`). A reference or a version's start never
    changes: a different one is refused with the reason."""
    now = now or timezone.now()
    values = dict(values)
    current = selectors.contract_get(tenant_id=tenant_id, contract_id=contract_id)
    problems = []
    ref = values.pop("reference", current.reference)
    if ref != current.reference:
        problems.append(
            Problem("$.reference", "a contract's reference never changes: create a new contract")
        )
    valid_from = values.pop("valid_from", current.valid_from)
    if valid_from != current.valid_from:
        problems.append(
            Problem(
                "$.valid_from",
                "a version's start never changes: send effective_from to start a new version",
            )
        )
    if problems:
        raise ValidationFailed("invalid contract change", problems=tuple(problems))
    effective_from = values.pop("effective_from", None) or now
    return contract_version_add(
        tenant_id=tenant_id,
        contract_id=contract_id,
        effective_from=effective_from,
        values=values,
        actor=actor,
        if_match=if_match,
        now=now,
    )


CONTRACT_UPSERT = Actor.system("contract upsert")


@transaction.atomic
def contract_upsert(
    *,
    tenant_id: int,
    reference: str,
    actor: Actor = CONTRACT_UPSERT,
    now: datetime | None = None,
    **values: Any,
) -> int:
    """The contract the CRM knows as `reference`: created (version 1 from `valid_from`) when
    new; otherwise a new version from `effective_from` (default: now) when a versioned field
    differs from the latest version, else unchanged. Returns the latest version's id."""
    latest = (
        Contract.objects.for_tenant(tenant_id)
        .filter(reference=reference)
        .order_by("-version")
        .first()
    )
    if latest is None:
        customer_id, token_id = values.pop("customer_id"), values.pop("token_id")
        values.pop("effective_from", None)
        return contract_create(
            tenant_id=tenant_id,
            customer_id=customer_id,
            token_id=token_id,
            values={"reference": reference, **values},
            actor=actor,
        ).id
    values.pop("valid_from", None)
    effective_from = values.pop("effective_from", None) or now or timezone.now()
    return contract_version_add(
        tenant_id=tenant_id,
        contract_id=latest.pk,
        effective_from=effective_from,
        values=values,
        actor=actor,
        now=now,
    ).id


# -- Retail packages and user groups -------------------------------------------------------


def _named_unique(model: Any, tenant_id: int, name: str, exclude: int | None, label: str) -> None:
    qs = model.objects.for_tenant(tenant_id).filter(name=name)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise Conflict(
            f"a {label} named {name!r} exists",
            problems=(Problem("$.name", f"a {label} named {name!r} exists"),),
        )


@transaction.atomic
def retail_package_create(
    *, tenant_id: int, name: str, description: str = "", actor: Actor
) -> RetailPackageRecord:
    _named_unique(RetailPackage, tenant_id, name, None, "retail package")
    package = RetailPackage(tenant_id=tenant_id, name=name, description=description)
    validated_save(package)
    record = selectors.retail_package_get(tenant_id=tenant_id, package_id=package.pk)
    _audit(tenant_id, actor, "retail_package.create", "retail_package", package.pk, after=record)
    return record


@transaction.atomic
def retail_package_rename(
    *,
    tenant_id: int,
    package_id: int,
    name: str,
    description: str | None = None,
    actor: Actor,
) -> RetailPackageRecord:
    package = (
        RetailPackage.objects.for_tenant(tenant_id).select_for_update().filter(pk=package_id)
    ).first()
    if package is None:
        raise NotFound(f"no retail package {package_id} in this tenant")
    _named_unique(RetailPackage, tenant_id, name, package.pk, "retail package")
    before = selectors.retail_package_get(tenant_id=tenant_id, package_id=package.pk)
    package.name = name
    if description is not None:
        package.description = description
    validated_save(package)
    record = selectors.retail_package_get(tenant_id=tenant_id, package_id=package.pk)
    _audit(
        tenant_id,
        actor,
        "retail_package.rename",
        "retail_package",
        package.pk,
        before=before,
        after=record,
    )
    return record


@transaction.atomic
def user_group_create(*, tenant_id: int, name: str, actor: Actor) -> UserGroupRecord:
    _named_unique(UserGroup, tenant_id, name, None, "user group")
    group = UserGroup(tenant_id=tenant_id, name=name)
    validated_save(group)
    record = selectors.user_group_get(tenant_id=tenant_id, group_id=group.pk)
    _audit(tenant_id, actor, "user_group.create", "user_group", group.pk, after=record)
    return record


@transaction.atomic
def user_group_rename(*, tenant_id: int, group_id: int, name: str, actor: Actor) -> UserGroupRecord:
    group = UserGroup.objects.for_tenant(tenant_id).select_for_update().filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"no user group {group_id} in this tenant")
    _named_unique(UserGroup, tenant_id, name, group.pk, "user group")
    before = selectors.user_group_get(tenant_id=tenant_id, group_id=group.pk)
    group.name = name
    validated_save(group)
    record = selectors.user_group_get(tenant_id=tenant_id, group_id=group.pk)
    _audit(
        tenant_id,
        actor,
        "user_group.rename",
        "user_group",
        group.pk,
        before=before,
        after=record,
    )
    return record
