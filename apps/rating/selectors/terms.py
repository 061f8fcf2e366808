"""CPO contract terms and payees in force, in bulk, as the engines read them.

Area "rate" wrote these minimal versions so the engines run before area "cust"'s
`selectors/contracts.py` and `selectors/payees.py` are merged; the lead keeps one of each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from apps.rating.contracts import CpoContractTerms, RoundingMode
from apps.rating.models import CpoContractVersion, PayeeAssignment


def cpo_contracts_in_force(
    *, keys: Iterable[tuple[int, int, datetime]]
) -> dict[tuple[int, int, datetime], CpoContractTerms]:
    """(tenant id, CPO party id, at) -> the tenant's contract version with that party in
    force at `at` (the latest effective at or before it); keys without one are left out."""
    wanted = set(keys)
    if not wanted:
        return {}
    versions: dict[tuple[int, int], list[tuple[datetime, CpoContractTerms]]] = {}
    rows = (
        CpoContractVersion.objects.filter(contract__party_id__in={p for _, p, _ in wanted})
        .order_by("effective_from")
        .values_list(
            "contract__tenant_id",
            "contract__party_id",
            "effective_from",
            "contract_id",
            "pk",
            "vat_country",
            "vat_rate",
            "rounding_mode",
        )
    )
    for tenant_id, party_id, start, contract_id, pk, country, rate, mode in rows:
        versions.setdefault((tenant_id, party_id), []).append(
            (start, CpoContractTerms(contract_id, pk, country, rate, RoundingMode(mode)))
        )
    out: dict[tuple[int, int, datetime], CpoContractTerms] = {}
    for key in wanted:
        found = None
        for start, terms in versions.get((key[0], key[1]), ()):
            if start > key[2]:
                break
            found = terms
        if found is not None:
            out[key] = found
    return out


def cpo_contract_terms(*, tenant_id: int, party_id: int, at: datetime) -> CpoContractTerms | None:
    """The tenant's CPO contract version with `party_id` in force at `at`, if any."""
    key = (tenant_id, party_id, at)
    return cpo_contracts_in_force(keys=[key]).get(key)


def payees_in_force(
    *, keys: Iterable[tuple[int, datetime]]
) -> dict[tuple[int, datetime], int | None]:
    """(charge station id, at) -> the payee assigned to the station at `at` (the latest
    assignment effective at or before it; None when none is, or it removed the payee)."""
    wanted = set(keys)
    if not wanted:
        return {}
    history: dict[int, list[tuple[datetime, int | None]]] = {}
    rows = (
        PayeeAssignment.objects.filter(charge_station_id__in={s for s, _ in wanted})
        .order_by("effective_from")
        .values_list("charge_station_id", "effective_from", "payee_id")
    )
    for station_id, start, payee_id in rows:
        history.setdefault(station_id, []).append((start, payee_id))
    out: dict[tuple[int, datetime], int | None] = {}
    for station_id, at in wanted:
        payee = None
        for start, payee_id in history.get(station_id, ()):
            if start > at:
                break
            payee = payee_id
        out[(station_id, at)] = payee
    return out
