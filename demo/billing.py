"""The demo tenants' billing set-up (issue 17, docs/billing.md), so the sessions of `make run`
are rated (wholesale and retail) from the start:

- each CPO tenant: a CPO contract with its own CPO identity (its country's standard VAT
  rate: NL 21 %, DE 19 %; HALF_UP), a wholesale rule pricing every session with its
  station tariff, a "Standard" retail package
  with a cost-plus 5 % retail rule, and its simulator cards under contracts on that package
  (the cards its own eMSP role issues, `demo.data.SIMULATOR_ID_TAGS`);
- each eMSP tenant: a "Standard" package (its drivers' contracts are on it) and the same
  cost-plus rule.

Idempotent: what exists is left as it is. Reimbursement needs a payee on a station: none in
the demo (the portal's Billing pages add one).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from apps.common.contracts import Actor
from apps.customers import api as customers
from apps.parties import api as parties
from apps.rating import api as rating
from apps.rating.contracts import BillingRuleTerms, EmspScope, RoundingMode, RulePricing
from apps.tariffs import api as tariffs
from apps.tariffs.contracts import BillingEngine
from apps.tokens import api as tokens

DEMO = Actor.system("demo data")
PACKAGE = "Standard"
MARKUP_PERCENT = Decimal("5")
VAT_RATES = {"NL": Decimal("21.00"), "DE": Decimal("19.00")}  # the standard rates


def package_ensure(tenant_id: int) -> int:
    """The tenant's "Standard" retail package (created once)."""
    found = [
        p
        for p in customers.retail_package_list(tenant_id=tenant_id, limit=1000)
        if p.name == PACKAGE
    ]
    if found:
        return found[0].id
    return customers.retail_package_create(
        tenant_id=tenant_id,
        name=PACKAGE,
        description="Every driver: the CPO's price plus 5 %",
        actor=DEMO,
    ).id


def _rule_ensure(
    tenant_id: int, engine: BillingEngine, name: str, terms: BillingRuleTerms, since: datetime
) -> None:
    existing = rating.billing_rule_list(
        tenant_id=tenant_id, at=timezone.now(), engine=engine, include_retired=True
    )
    if any(r.name == name for r in existing):
        return
    rating.billing_rule_create(
        tenant_id=tenant_id,
        engine=engine,
        name=name,
        terms=terms,
        effective_from=since,
        actor=DEMO,
        now=timezone.now(),
        reason="demo set-up",
    )


def _retail_rule_ensure(tenant_id: int, package_id: int, since: datetime) -> None:
    _rule_ensure(
        tenant_id,
        BillingEngine.RETAIL,
        "Standard package: cost plus 5 %",
        BillingRuleTerms(
            emsp_scope=EmspScope.RETAIL_PACKAGE,
            emsp_scope_value=str(package_id),
            pricing=RulePricing.COST_PLUS,
            currency="EUR",
            markup_percent=MARKUP_PERCENT,
        ),
        since,
    )


def cpo_billing_load(
    *, tenant_id: int, country: str, party_code: str, sim_uids: tuple[str, ...], since: datetime
) -> None:
    """A CPO tenant's contract, rules, package and simulator-card contracts."""
    if not rating.cpo_contract_list(tenant_id=tenant_id, limit=1000):
        rating.cpo_contract_create(
            tenant_id=tenant_id,
            country_code=country,
            party_id=party_code,
            reference=f"{party_code}-OWN",
            effective_from=since,
            terms={
                "vat_country": country,
                "vat_rate": VAT_RATES[country],
                "rounding_mode": RoundingMode.HALF_UP.value,
            },
            actor=DEMO,
        )
    wholesale = tariffs.tariff_list(
        tenant_id=tenant_id, after_id=None, limit=1, at=timezone.now(), engine="WHOLESALE"
    )
    if wholesale:
        _rule_ensure(
            tenant_id,
            BillingEngine.WHOLESALE,
            "Every session: station tariff",
            BillingRuleTerms(pricing=RulePricing.TARIFF, tariff_id=wholesale[0].platform_id),
            since,
        )
    package_id = package_ensure(tenant_id)
    _retail_rule_ensure(tenant_id, package_id, since)
    emsp = parties.parties_of_tenant(tenant_id=tenant_id)
    emsp_pk = next(p.id for p in emsp if p.role.value == "EMSP" and p.party_id == party_code)
    customer_id = customers.customer_upsert(
        tenant_id=tenant_id,
        external_ref=f"CRM-{party_code}-FLEET",
        party_id=emsp_pk,
        kind="company",
        name=f"{party_code} test fleet",
    )
    ids = tokens.token_ids_by_uid(tenant_id=tenant_id, uids=list(sim_uids))
    for uid in sim_uids:
        for token_id in ids.get(uid, []):
            customers.contract_upsert(
                tenant_id=tenant_id,
                reference=f"{party_code}-SIM-{uid}",
                customer_id=customer_id,
                token_id=token_id,
                valid_from=since,
                retail_package_id=package_id,
                actor=DEMO,
            )


def emsp_billing_load(*, tenant_id: int, package_id: int, since: datetime) -> None:
    """An eMSP tenant's cost-plus rule on its package (its contracts are on it)."""
    _retail_rule_ensure(tenant_id, package_id, since)


# The first station of each CPO tenant is a host's charger (a site host the CPO reimburses):
# the owner is paid 0.25 EUR per kWh minus the CPO's margin of 0.02 EUR per kWh, on a
# self-billing statement (docs/billing.md).
OWNER_RATE = "0.25"
OWNER_MARGIN_PER_KWH = Decimal("0.02")
OWNER_IBANS = {"NL": "NL91ABNA0417164300", "DE": "DE89370400440532013000"}


def reimbursement_load(
    *,
    tenant_id: int,
    cpo_party_id: int,
    country: str,
    party_code: str,
    station_id: int,
    since: datetime,
) -> None:
    """The owner's rate (a REIMBURSEMENT tariff), the rule that pays it minus the margin, and
    the payee on the station, all in force since `since` (the demo's set-up date)."""
    tariff_id = tariffs.tariff_upsert(
        tenant_id=tenant_id,
        party_id=cpo_party_id,
        ocpi_id=f"{party_code}-OWNER-RATE",
        name="Site host rate",
        currency="EUR",
        type="REGULAR",
        engine=BillingEngine.REIMBURSEMENT.value,
    )
    if not tariffs.tariff_versions_count(tariff_id=tariff_id):
        tariffs.tariff_version_add(
            tariff_id=tariff_id,
            ocpi={
                "country_code": country,
                "party_id": party_code,
                "id": f"{party_code}-OWNER-RATE",
                "currency": "EUR",
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}
                ],
                "last_updated": "2026-01-01T00:00:00Z",
            },
            effective_from=since,
            now=since,
        )
    _rule_ensure(
        tenant_id,
        BillingEngine.REIMBURSEMENT,
        "Site hosts: their rate minus 2 ct/kWh",
        BillingRuleTerms(
            pricing=RulePricing.TARIFF,
            tariff_id=tariff_id,
            margin_per_kwh=OWNER_MARGIN_PER_KWH,
        ),
        since,
    )
    ref = f"{party_code}-HOST-1"
    if not any(p.external_ref == ref for p in rating.payee_list(tenant_id=tenant_id)):
        payee = rating.payee_create(
            tenant_id=tenant_id,
            values={
                "kind": "SITE_HOST",
                "name": "Café De Hoek" if country == "NL" else "Bäckerei am Platz",
                "email": f"host1@{party_code.lower()}.example",
                "iban": OWNER_IBANS[country],
                "country": country,
                "external_ref": ref,
            },
            actor=DEMO,
        )
        rating.payee_assign(
            tenant_id=tenant_id,
            station_id=station_id,
            payee_id=payee.id,
            effective_from=since,
            actor=DEMO,
            now=since,
        )
