"""CPO contracts: the agreement between the tenant and a CPO party (its own identity or a
partner): VAT country and rate, rounding mode, payee details (BILLING.md section 3). The
terms are append-only versions; a change is a new version from a moment on (not before
now: the terms in force for a past session never change). Every change is audited."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.contracts import Actor
from apps.common.errors import Conflict, NotFound, Problem, ValidationFailed
from apps.common.services import validated_save
from apps.parties import api as parties_api
from apps.parties.contracts import PartyRole
from apps.rating.contracts import CpoContractRecord, RoundingMode
from apps.rating.models import CpoContract, CpoContractVersion
from apps.rating.selectors import contracts as selectors
from apps.rating.services.iban import iban_normalize, iban_problem

# The terms a version says; a new version copies the latest one's and changes those given.
TERMS = (
    "vat_country",
    "vat_rate",
    "rounding_mode",
    "payee_name",
    "payee_iban",
    "payee_bic",
    "payee_address",
)
_HUNDRED = Decimal(100)


def terms_problems(values: dict[str, Any]) -> list[Problem]:
    """What is wrong with the terms in `values` (each at `$.<field>`); normalizes the IBAN,
    BIC and country in place."""
    problems = []
    rate = values.get("vat_rate")
    if rate is not None:
        try:
            rate = Decimal(str(rate))
        except InvalidOperation:
            rate = None
            problems.append(Problem("$.vat_rate", "must be a decimal number"))
        if rate is not None:
            if not (0 <= rate <= _HUNDRED) or rate.as_tuple().exponent < -2:  # type: ignore[operator]
                problems.append(
                    Problem("$.vat_rate", "must be a percentage from 0 to 100, 2 decimals at most")
                )
            values["vat_rate"] = rate
    mode = values.get("rounding_mode")
    if mode is not None and mode not in {m.value for m in RoundingMode}:
        modes = ", ".join(m.value for m in RoundingMode)
        problems.append(Problem("$.rounding_mode", f"must be one of {modes}"))
    country = values.get("vat_country")
    if country:
        values["vat_country"] = country = str(country).upper()
        if len(country) != 2 or not country.isalpha():
            problems.append(Problem("$.vat_country", "an ISO 3166-1 alpha-2 code, e.g. NL"))
    iban = values.get("payee_iban")
    if iban:
        values["payee_iban"] = iban = iban_normalize(str(iban))
        why = iban_problem(iban)
        if why:
            problems.append(Problem("$.payee_iban", why))
    bic = values.get("payee_bic")
    if bic:
        values["payee_bic"] = bic = str(bic).replace(" ", "").upper()
        if len(bic) not in (8, 11) or not bic.isalnum() or not bic[:6].isalpha():
            problems.append(Problem("$.payee_bic", "a BIC has 8 or 11 letters and digits"))
    return problems


def _check_terms(values: dict[str, Any]) -> None:
    problems = terms_problems(values)
    if problems:
        raise ValidationFailed("invalid CPO contract terms", problems=tuple(problems))


def _audit(tenant_id: int, actor: Actor, action: str, pk: int, *, before: Any, after: Any) -> None:
    parties_api.audit(tenant_id, actor, action, "cpo_contract", pk, before=before, after=after)


@transaction.atomic
def cpo_contract_create(
    *,
    tenant_id: int,
    country_code: str,
    party_id: str,
    reference: str,
    effective_from: datetime,
    terms: dict[str, Any],
    actor: Actor,
) -> CpoContractRecord:
    """A CPO contract with the tenant's CPO party `country_code*party_id` (own or partner)
    and its first version from `effective_from`. One contract per party and tenant."""
    terms = {k: v for k, v in terms.items() if k in TERMS}
    _check_terms(terms)
    party_pk = parties_api.party_pk_for_tenant(
        tenant_id=tenant_id,
        country_code=country_code,
        party_id=party_id,
        role=PartyRole.CPO,
        path="$.party_id",
    )
    if CpoContract.objects.for_tenant(tenant_id).filter(party_id=party_pk).exists():
        raise Conflict(
            f"a CPO contract with {country_code}*{party_id} exists: add a version to it",
            problems=(Problem("$.party_id", "this party has a CPO contract"),),
        )
    if CpoContract.objects.for_tenant(tenant_id).filter(reference=reference).exists():
        raise Conflict(
            f"a CPO contract with reference {reference!r} exists",
            problems=(Problem("$.reference", "taken"),),
        )
    contract = CpoContract(tenant_id=tenant_id, party_id=party_pk, reference=reference)
    validated_save(contract)
    version = CpoContractVersion(
        tenant_id=tenant_id,
        contract=contract,
        version=1,
        effective_from=effective_from,
        created_by_id=actor.user_id,
        **terms,
    )
    validated_save(version)
    record = selectors.cpo_contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    _audit(tenant_id, actor, "cpo_contract.create", contract.pk, before=None, after=record)
    return record


@transaction.atomic
def cpo_contract_version_add(
    *,
    tenant_id: int,
    contract_id: int,
    effective_from: datetime,
    terms: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> CpoContractRecord:
    """A new version of the contract from `effective_from` (not before `now`, and after the
    latest version's start): the latest version's terms with those in `terms` changed."""
    now = now or timezone.now()
    contract = (
        CpoContract.objects.for_tenant(tenant_id).select_for_update().filter(pk=contract_id)
    ).first()
    if contract is None:
        raise NotFound(f"no CPO contract {contract_id} in this tenant")
    terms = {k: v for k, v in terms.items() if k in TERMS}
    _check_terms(terms)
    latest = contract.versions.order_by("-version").first()
    assert latest is not None  # created with its first version
    if effective_from < now:
        raise ValidationFailed(
            "invalid CPO contract version",
            problems=(
                Problem(
                    "$.effective_from",
                    f"must not be before now ({now.isoformat()}): the terms in force for a "
                    "past session never change",
                ),
            ),
        )
    if effective_from <= latest.effective_from:
        raise ValidationFailed(
            "invalid CPO contract version",
            problems=(
                Problem(
                    "$.effective_from",
                    f"must be after the start of version {latest.version} "
                    f"({latest.effective_from.isoformat()})",
                ),
            ),
        )
    before = selectors.cpo_contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    values = {f: getattr(latest, f) for f in TERMS} | terms
    version = CpoContractVersion(
        tenant_id=tenant_id,
        contract=contract,
        version=latest.version + 1,
        effective_from=effective_from,
        created_by_id=actor.user_id,
        **values,
    )
    validated_save(version)
    contract.save(update_fields=["updated_at"])
    record = selectors.cpo_contract_get(tenant_id=tenant_id, contract_id=contract.pk)
    _audit(
        tenant_id,
        actor,
        "cpo_contract.version_add",
        contract.pk,
        before=before.versions[-1],
        after=record.versions[-1],
    )
    return record
