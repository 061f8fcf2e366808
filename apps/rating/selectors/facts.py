"""What the three engines need to know of a batch of CDRs, read in bulk: a few queries per
batch, none per CDR (other apps through their `api`).

Each CDR gets two views for the rule matcher (`billing.rating.match.SessionFacts`):
- `cpo`: as the CPO tenant (the CDR's tenant) sees it, for wholesale and reimbursement;
- `emsp`: as the eMSP tenant (`cdr.emsp_tenant`) sees it, for retail. It scopes on its own
  eMSP party, contract, retail package and user group; on the CPO side only the country,
  and the CPO party, location and station when the station is its own (another tenant's
  ids mean nothing in its rules).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from apps.charging import api as charging_api
from apps.charging.contracts import CdrForRating, CdrKind, TokenSource
from apps.customers import api as customers_api
from apps.customers.contracts import ContractTerms
from apps.locations import api as locations_api
from apps.locations.contracts import StationContext
from apps.parties import api as parties_api
from apps.rating.contracts import CpoContractTerms
from apps.rating.selectors.contracts import cpo_contracts_terms
from apps.rating.selectors.payees import payees_in_force
from apps.tariffs import api as tariffs_api
from billing.rating.match import SessionFacts


@dataclass(frozen=True, slots=True)
class CdrFacts:
    cdr: CdrForRating
    cpo: SessionFacts
    emsp: SessionFacts | None  # None: no eMSP tenant on this platform (no retail)
    contract: ContractTerms | None  # the eMSP tenant's contract in force at the start
    payee_id: int | None  # the station's payee in force at the start (reimbursement)
    cpo_contract: CpoContractTerms | None  # the CPO tenant's contract with the CPO party
    emsp_contract: CpoContractTerms | None  # the eMSP tenant's contract with the CPO party
    cpo_party_vat: Decimal | None
    emsp_party_vat: Decimal | None  # the retail seller's (the contract's eMSP party)

    @property
    def own_charge(self) -> bool:
        return self.cdr.token_source == TokenSource.OWN.value


def _local(start: datetime, time_zone: str | None) -> datetime:
    if not time_zone:
        return start
    return start.astimezone(ZoneInfo(time_zone))


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _view(
    cdr: CdrForRating,
    ctx: StationContext | None,
    local: datetime,
    *,
    own_station: bool,
    emsp_party: int | None,
    contract: ContractTerms | None,
    tariff_code: int | None,
) -> SessionFacts:
    """The session as one tenant's rules see it: the CPO side (the country always; the
    CPO party, location and station when the station is the tenant's own) and the eMSP
    side (the tenant's own contract, package and group; none when it is another's)."""
    country = ""
    if ctx is not None and ctx.cdr_location:
        country = str(ctx.cdr_location.get("country") or "")
    elif ctx is None:
        country = cdr.country  # a roaming partner's CDR: its own cdr_location
    return SessionFacts(
        start=cdr.start,
        local_start=local,
        country=country,
        cpo_party=str(cdr.party_id) if own_station else None,
        location=_str(ctx.location_id if ctx is not None else None) if own_station else None,
        station=_str(cdr.charge_station_id) if own_station else None,
        tariff_code=_str(tariff_code) if own_station else None,
        emsp_party=_str(emsp_party),
        contract=None if contract is None else str(contract.contract_id),
        retail_package=None if contract is None else _str(contract.retail_package_id),
        user_group=None if contract is None else _str(contract.user_group_id),
    )


def cdr_facts(*, cdr_ids: Iterable[int]) -> list[CdrFacts]:
    """The facts of the original CDRs among `cdr_ids` (credit CDRs are not rated), by id."""
    cdrs = [c for c in charging_api.cdrs_for_rating(cdr_ids=cdr_ids) if c.kind == CdrKind.ORIGINAL]
    if not cdrs:
        return []
    stations = locations_api.station_contexts(
        station_ids=[c.charge_station_id for c in cdrs if c.charge_station_id is not None]
    )
    contracts = customers_api.contracts_in_force(
        keys=[(c.token_id, c.start) for c in cdrs if c.token_id is not None and c.emsp_tenant_id]
    )
    code_keys = [
        (c.charge_station_id, c.connector_id, c.start)
        for c in cdrs
        if c.charge_station_id is not None
    ]
    codes = tariffs_api.tariff_codes_in_force(keys=code_keys)
    payees = payees_in_force(
        keys=[(c.charge_station_id, c.start) for c in cdrs if c.charge_station_id is not None]
    )
    contract_keys = [(c.tenant_id, c.party_id, c.start) for c in cdrs]
    contract_keys += [(c.emsp_tenant_id, c.party_id, c.start) for c in cdrs if c.emsp_tenant_id]
    cpo_contracts = cpo_contracts_terms(keys=contract_keys)
    party_ids = {c.party_id for c in cdrs} | {t.emsp_party_id for t in contracts.values()}
    vats = parties_api.party_vat_rates(party_ids=party_ids)
    out = []
    for c in cdrs:
        ctx = stations.get(c.charge_station_id) if c.charge_station_id is not None else None
        local = _local(c.start, c.time_zone or (ctx.time_zone if ctx else None))
        contract = None
        if c.token_id is not None and c.emsp_tenant_id is not None:
            found = contracts.get((c.token_id, c.start))
            if found is not None and found.tenant_id == c.emsp_tenant_id:
                contract = found
        own_emsp = c.emsp_tenant_id == c.tenant_id
        code = codes.get((c.charge_station_id, c.connector_id, c.start))  # type: ignore[arg-type]
        cpo = _view(
            c,
            ctx,
            local,
            own_station=True,
            emsp_party=c.emsp_party_id,
            contract=contract if own_emsp else None,
            tariff_code=code,
        )
        emsp = None
        if c.emsp_tenant_id is not None:
            emsp = _view(
                c,
                ctx,
                local,
                own_station=own_emsp,
                emsp_party=None if contract is None else contract.emsp_party_id,
                contract=contract,
                tariff_code=code,
            )
        out.append(
            CdrFacts(
                cdr=c,
                cpo=cpo,
                emsp=emsp,
                contract=contract,
                payee_id=None
                if c.charge_station_id is None
                else payees.get((c.charge_station_id, c.start)),
                cpo_contract=cpo_contracts.get((c.tenant_id, c.party_id, c.start)),
                emsp_contract=None
                if c.emsp_tenant_id is None
                else cpo_contracts.get((c.emsp_tenant_id, c.party_id, c.start)),
                cpo_party_vat=vats.get(c.party_id),
                emsp_party_vat=None if contract is None else vats.get(contract.emsp_party_id),
            )
        )
    return out
