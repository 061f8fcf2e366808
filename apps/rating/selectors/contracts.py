"""Reads of CPO contracts: records for the portal and the REST API, and the terms in force
that rating reads (`cpo_contract_terms`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from apps.common.errors import NotFound
from apps.rating.contracts import (
    CpoContractRecord,
    CpoContractTerms,
    CpoContractVersionRecord,
    RoundingMode,
)
from apps.rating.models import CpoContract, CpoContractVersion


def _version(v: CpoContractVersion) -> CpoContractVersionRecord:
    return CpoContractVersionRecord(
        id=v.pk,
        version=v.version,
        effective_from=v.effective_from,
        vat_country=v.vat_country,
        vat_rate=v.vat_rate,
        rounding_mode=RoundingMode(v.rounding_mode),
        payee_name=v.payee_name,
        payee_iban=v.payee_iban,
        payee_bic=v.payee_bic,
        payee_address=v.payee_address,
        created_at=v.created_at,
    )


def _record(c: CpoContract, versions: Iterable[CpoContractVersion]) -> CpoContractRecord:
    return CpoContractRecord(
        id=c.pk,
        reference=c.reference,
        party_pk=c.party_id,
        country_code=c.party.country_code,
        party_id=c.party.party_id,
        party_name=c.party.name,
        versions=tuple(_version(v) for v in versions),
        created_at=c.created_at,
        last_updated=c.updated_at,
    )


def cpo_contract_get(*, tenant_id: int, contract_id: int) -> CpoContractRecord:
    """One CPO contract with all its versions (oldest first)."""
    c = CpoContract.objects.for_tenant(tenant_id).select_related("party").filter(pk=contract_id)
    contract = c.first()
    if contract is None:
        raise NotFound(f"no CPO contract {contract_id} in this tenant")
    return _record(contract, contract.versions.order_by("version"))


def cpo_contract_list(
    *, tenant_id: int, after_id: int | None = None, limit: int = 100
) -> list[CpoContractRecord]:
    """The tenant's CPO contracts by id, each with its versions (two queries)."""
    qs = CpoContract.objects.for_tenant(tenant_id).select_related("party")
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    contracts = list(qs.order_by("id")[:limit])
    versions: dict[int, list[CpoContractVersion]] = {}
    for v in CpoContractVersion.objects.filter(contract__in=contracts).order_by("version"):
        versions.setdefault(v.contract_id, []).append(v)
    return [_record(c, versions.get(c.pk, ())) for c in contracts]


def _terms(v: CpoContractVersion) -> CpoContractTerms:
    return CpoContractTerms(
        contract_id=v.contract_id,
        version_id=v.pk,
        vat_country=v.vat_country,
        vat_rate=v.vat_rate,
        rounding_mode=RoundingMode(v.rounding_mode),
    )


def cpo_contract_terms(*, tenant_id: int, party_id: int, at: datetime) -> CpoContractTerms | None:
    """The terms of the tenant's contract with CPO party `party_id` (its pk) in force at
    `at`: the latest version effective at or before it. None: no contract, or none yet."""
    v = (
        CpoContractVersion.objects.filter(
            contract__tenant_id=tenant_id, contract__party_id=party_id, effective_from__lte=at
        )
        .order_by("-effective_from")
        .first()
    )
    return None if v is None else _terms(v)


def cpo_contracts_terms(
    *, keys: Iterable[tuple[int, int, datetime]]
) -> dict[tuple[int, int, datetime], CpoContractTerms | None]:
    """`cpo_contract_terms` of many (tenant id, party pk, at) in one query (a rating batch)."""
    keys = list(dict.fromkeys(keys))
    by_pair: dict[tuple[int, int], list[CpoContractVersion]] = {}
    if keys:
        for v in (
            CpoContractVersion.objects.filter(
                contract__tenant_id__in={k[0] for k in keys},
                contract__party_id__in={k[1] for k in keys},
            )
            .select_related("contract")
            .order_by("effective_from")
        ):
            by_pair.setdefault((v.contract.tenant_id, v.contract.party_id), []).append(v)
    found: dict[tuple[int, int, datetime], CpoContractTerms | None] = {}
    for tenant_id, party_id, at in keys:
        in_force = None
        for v in by_pair.get((tenant_id, party_id), ()):
            if v.effective_from > at:
                break
            in_force = v
        found[(tenant_id, party_id, at)] = None if in_force is None else _terms(in_force)
    return found
