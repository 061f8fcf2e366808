"""Scenario builders for the rating tests: a CPO tenant with a station, an eMSP (the same
tenant, or another marketplace tenant), a driver on a retail package, tariffs per engine,
billing rules and CDRs with real OCPI charging periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from djmoney.money import Money

from apps.charging.models import Cdr
from apps.customers.models import Contract, Customer, RetailPackage, UserGroup
from apps.locations.models import ChargeStation, Connector
from apps.parties.models import Operator, Party
from apps.rating.models import (
    BillingRule,
    BillingRuleVersion,
    CpoContract,
    CpoContractVersion,
    Payee,
    PayeeAssignment,
)
from apps.tariffs.models import Tariff, TariffVersion
from apps.tokens.models import Token
from tests.factories import (
    CdrFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    ContractFactory,
    CustomerFactory,
    EmspFactory,
    OperatorFactory,
    PartyFactory,
    TokenFactory,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Amsterdam
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class World:
    cpo_tenant: Operator
    cpo_party: Party
    station: ChargeStation
    connector: Connector
    emsp_tenant: Operator
    emsp_party: Party  # the eMSP as the CPO tenant knows it (own identity or partner row)
    emsp_own_party: Party  # the eMSP's own identity in its tenant
    token: Token
    customer: Customer
    package: RetailPackage | None
    group: UserGroup | None
    contract: Contract

    @property
    def marketplace(self) -> bool:
        return self.emsp_tenant.pk != self.cpo_tenant.pk


def world(
    *,
    marketplace: bool = False,
    cpo_vat: str | None = None,
    emsp_vat: str | None = None,
    package: bool = True,
    group: bool = False,
) -> World:
    cpo_tenant = OperatorFactory()
    cpo_party = PartyFactory(tenant=cpo_tenant, vat_rate=_dec(cpo_vat))
    connector = ConnectorFactory(
        evse__charge_station__location__party=cpo_party,
    )
    station = connector.evse.charge_station
    if marketplace:
        emsp_tenant = OperatorFactory(marketplace=True)
        cpo_tenant.marketplace = True
        cpo_tenant.save()
        emsp_own = EmspFactory(tenant=emsp_tenant, vat_rate=_dec(emsp_vat))
        emsp_party = EmspFactory(
            tenant=cpo_tenant,
            kind="PARTNER",
            country_code=emsp_own.country_code,
            party_id=emsp_own.party_id,
        )
    else:
        emsp_tenant = cpo_tenant
        emsp_own = emsp_party = EmspFactory(tenant=cpo_tenant, vat_rate=_dec(emsp_vat))
    pkg = RetailPackage.objects.create(tenant=emsp_tenant, name="Basic") if package else None
    grp = UserGroup.objects.create(tenant=emsp_tenant, name="Fleet") if group else None
    token = TokenFactory(party=emsp_own)
    customer = CustomerFactory(party=emsp_own)
    contract = ContractFactory(
        customer=customer,
        token=token,
        retail_package=pkg,
        user_group=grp,
        valid_from=EPOCH,
    )
    return World(
        cpo_tenant=cpo_tenant,
        cpo_party=cpo_party,
        station=station,
        connector=connector,
        emsp_tenant=emsp_tenant,
        emsp_party=emsp_party,
        emsp_own_party=emsp_own,
        token=token,
        customer=customer,
        package=pkg,
        group=grp,
        contract=contract,
    )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def ocpi_tariff(
    components: list[dict[str, Any]], *, currency: str = "EUR", **extra: Any
) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "T",
        "currency": currency,
        "elements": [{"price_components": components}],
        "last_updated": "2026-01-01T00:00:00Z",
        **extra,
    }


def energy(price: str, vat: str | None = None, step: int = 1) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "ENERGY", "price": Decimal(price), "step_size": step}
    if vat is not None:
        c["vat"] = Decimal(vat)
    return c


def flat(price: str, vat: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "FLAT", "price": Decimal(price), "step_size": 0}
    if vat is not None:
        c["vat"] = Decimal(vat)
    return c


def time_(price: str, vat: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": "TIME", "price": Decimal(price), "step_size": 1}
    if vat is not None:
        c["vat"] = Decimal(vat)
    return c


def tariff(
    tenant: Operator,
    party: Party,
    engine: str,
    components: list[dict[str, Any]],
    *,
    currency: str = "EUR",
    effective_from: datetime = EPOCH,
) -> TariffVersion:
    t = Tariff.objects.create(
        tenant=tenant,
        party=party,
        ocpi_id=f"{engine[:3]}-{Tariff.objects.count() + 1}",
        currency=currency,
        engine=engine,
    )
    return tariff_version(t, components, effective_from=effective_from)


def tariff_version(
    t: Tariff, components: list[dict[str, Any]], *, effective_from: datetime
) -> TariffVersion:
    return TariffVersion.objects.create(
        tenant=t.tenant,
        tariff=t,
        version=t.versions.count() + 1,
        effective_from=effective_from,
        ocpi=ocpi_tariff(components, currency=t.currency),
    )


def rule(
    tenant: Operator,
    engine: str,
    *,
    tariff_version: TariffVersion | None = None,
    name: str | None = None,
    effective_from: datetime = EPOCH,
    **terms: Any,
) -> BillingRuleVersion:
    r = BillingRule.objects.create(
        tenant=tenant,
        engine=engine,
        name=name or f"{engine} {BillingRule.objects.count() + 1}",
    )
    return rule_version(r, tariff_version=tariff_version, effective_from=effective_from, **terms)


def rule_version(
    r: BillingRule,
    *,
    tariff_version: TariffVersion | None = None,
    effective_from: datetime,
    **terms: Any,
) -> BillingRuleVersion:
    terms.setdefault("cpo_scope", "ANY")
    terms.setdefault("emsp_scope", "ANY")
    for key in ("markup_per_kwh", "margin_per_session", "margin_per_kwh"):
        if isinstance(terms.get(key), str):
            terms[key] = Money(Decimal(terms[key]), terms.pop("currency", "EUR"))
    return BillingRuleVersion.objects.create(
        tenant=r.tenant,
        rule=r,
        version=r.versions.count() + 1,
        effective_from=effective_from,
        tariff=None if tariff_version is None else tariff_version.tariff,
        **terms,
    )


def cpo_contract(
    tenant: Operator, party: Party, *, vat_rate: str | None = None, rounding: str = "ROUND_HALF_UP"
) -> CpoContractVersion:
    c = CpoContract.objects.create(tenant=tenant, party=party, reference=f"CPO-{party.pk}")
    return CpoContractVersion.objects.create(
        tenant=tenant,
        contract=c,
        version=1,
        effective_from=EPOCH,
        vat_rate=_dec(vat_rate),
        rounding_mode=rounding,
    )


def payee(w: World, *, kind: str = "HOME", effective_from: datetime = EPOCH) -> Payee:
    p = Payee.objects.create(tenant=w.cpo_tenant, kind=kind, name="Home owner")
    PayeeAssignment.objects.create(
        tenant=w.cpo_tenant, charge_station=w.station, payee=p, effective_from=effective_from
    )
    return p


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cdr(
    w: World,
    *,
    kwh: str = "10",
    hours: str = "1",
    start: datetime = T0,
    tariff_version: TariffVersion | None = None,
    exact: dict[str, Any] | None = None,
    hcc: str = "",
    currency: str = "EUR",
    token: bool = True,
    own: bool | None = None,
) -> Cdr:
    """A CDR of one charging period (ENERGY kWh, TIME hours) at the world's station. Its
    billing columns as attribution writes them: the token's eMSP (own, or the marketplace
    tenant), contract and customer."""
    end = start + timedelta(hours=float(hours))
    session = ChargingSessionFactory(
        connector=w.connector,
        started_at=start,
        ended_at=end,
    )
    data = {
        "id": "X",
        "start_date_time": _iso(start),
        "end_date_time": _iso(end),
        "currency": currency,
        "charging_periods": [
            {
                "start_date_time": _iso(start),
                "dimensions": [
                    {"type": "ENERGY", "volume": float(kwh)},
                    {"type": "TIME", "volume": float(hours)},
                ],
            }
        ],
    }
    billing: dict[str, Any] = {}
    if token:
        source = "MARKETPLACE" if w.marketplace else "OWN"
        if own is False:
            source = "PARTNER"
        billing = {
            "token": w.token,
            "token_source": source,
            "emsp_party": w.emsp_party,
            "emsp_tenant": w.emsp_tenant,
            "contract": w.contract,
            "customer": w.customer,
        }
    annotations: dict[str, Any] = {"time_zone": "Europe/Amsterdam"}
    if exact is not None:
        annotations["pricing"] = {"exact": exact}
    return CdrFactory(
        session=session,
        tenant=w.cpo_tenant,
        party=w.cpo_party,
        start_date_time=start,
        end_date_time=end,
        currency=currency,
        total_energy_kwh=Decimal(kwh),
        total_time_hours=Decimal(hours),
        tariff_version=tariff_version,
        hcc=hcc,
        data=data,
        annotations=annotations,
        **billing,
    )
